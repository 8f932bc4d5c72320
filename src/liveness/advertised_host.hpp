// ringpipe: the address at which neighbours reach this rank's liveness listener.
#pragma once

#include <ringpipe/options.hpp>

#include <string>

namespace ringpipe::liveness {

// The address, of `local`'s family, of the first interface Options::ifname selects (the data's
// network), else `local`, the address this rank reached the head from. A loopback address there
// is only right when the head itself was named as loopback (a ring on one host); otherwise (a
// host name that /etc/hosts maps to 127.0.1.1 on rank 0's own host) other hosts could not use
// it, and the host's name is what they can resolve.
std::string advertised_host(const Options& options, const std::string& local);

}  // namespace ringpipe::liveness
