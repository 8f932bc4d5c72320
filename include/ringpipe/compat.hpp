// ringpipe: the API of FlexLLMGen's dist_utils, over one process-wide Ring.
#pragma once

#include <ringpipe/export.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/pipe_group.hpp>
#include <ringpipe/ring.hpp>

#include <sstream>
#include <string>
#include <string_view>

namespace ringpipe {

// Joins the process-wide ring. comm_device is "cpu" or "gpu" (else Error{InvalidArgument};
// "gpu" without GPU support: Error{Unsupported}). The arguments place the rank; only timeouts,
// progress mode, interface, job id and a launcher's listen fd come from the environment (see
// Options::from_env()). Like the seed, it then calls suppress_output(rank). Calling it twice
// throws Error{InvalidArgument}.
RINGPIPE_API void initialize_distributed(const std::string& head_ip, int port, int world_size,
                                         int rank, int local_rank, const std::string& comm_device);

// The edge this rank receives on, from its predecessor.
RINGPIPE_API PipeGroup& get_pipeline_parallel_pred_group();
// The edge this rank sends on, to its successor.
RINGPIPE_API PipeGroup& get_pipeline_parallel_succ_group();
// "cpu" or "gpu".
RINGPIPE_API std::string get_comm_device();
// The process-wide ring itself (for link_info, rank, ...).
RINGPIPE_API Ring& get_ring();
// Closes the process-wide ring (also done at exit) and restores standard output;
// initialize_distributed may be called again.
RINGPIPE_API void finalize_distributed();

// From now on only rank 0's standard output is shown: other ranks' stdout goes to /dev/null.
// print(true, ...) still prints from any rank, prefixed "rank #N: ". With force_default true
// nothing is discarded and every print() counts as forced. Standard error is never suppressed.
RINGPIPE_API void suppress_output(int rank, bool force_default = false);

namespace detail {
RINGPIPE_API void print_line(bool force, std::string_view line);
}

// Prints its arguments like Python's print (separated by spaces, then a newline): from any
// rank when `force` is true (prefixed "rank #N: "), else only where output is not suppressed.
template <typename... Args>
void print(bool force, const Args&... args) {
  std::ostringstream line;
  const char* separator = "";
  ((line << separator << args, separator = " "), ...);
  detail::print_line(force, line.str());
}

}  // namespace ringpipe
