// ringpipe: the part of the environment that tunes a rank rather than placing it in a ring.
#pragma once

#include <ringpipe/options.hpp>

namespace ringpipe::detail {

// Reads timeouts, progress mode, interface, job id, token and listen fd (see Options::from_env),
// for callers that get the ring's shape from elsewhere, such as initialize_distributed. Throws
// Error{InvalidArgument} naming a malformed variable.
void read_tuning_from_env(Options& options);

}  // namespace ringpipe::detail
