// ringpipe Python: ringpipe.Options, with timeouts in seconds and enums as their names.
#include "options_binding.hpp"

#include "options_env.hpp"
#include "wait.hpp"

#include <ringpipe/error.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

namespace ringpipe::python {
namespace {

double to_seconds(std::chrono::milliseconds timeout) {
  return timeout == kInfinite ? std::numeric_limits<double>::infinity()
                              : static_cast<double>(timeout.count()) / 1000.0;
}

// A duration field shown in seconds.
template <std::chrono::milliseconds Options::*field>
void def_seconds(py::class_<Options>& options, const char* name, const char* doc) {
  options.def_property(
      name, [](const Options& o) { return to_seconds(o.*field); },
      [name](Options& o, double seconds) { o.*field = seconds_to_timeout(seconds, name); }, doc);
}

}  // namespace

Options options_with(const Options& base, const py::kwargs& fields) {
  py::object options = py::cast(base);
  for (const auto& [name, value] : fields) {
    const auto key = name.cast<std::string>();
    if (key.empty() || key[0] == '_' || !py::hasattr(options, key.c_str())) {
      throw py::type_error("unknown ring option '" + key + "' (see ringpipe.Options)");
    }
    options.attr(key.c_str()) = value;
  }
  return options.cast<Options>();
}

void bind_options(py::module_& module) {
  py::class_<Options> options(module, "Options", R"doc(
Everything a rank needs to join a ring (ringpipe::Options). Options() holds the defaults,
Options.from_env() what the environment says (RINGPIPE_*, then torchrun's, Open MPI's and
Slurm's variables), Options(**fields) the defaults with some fields set. Timeouts are in
seconds (math.inf: none); comm_device, progress and gpu_transport are names.)doc");
  options.def(py::init([](const py::kwargs& fields) { return options_with(Options{}, fields); }))
      .def_static("from_env", &Options::from_env,
                  "The options the environment describes (InvalidArgumentError names a bad "
                  "variable).")
      .def_static(
          "_tuning_from_env",
          [] {
            Options options;
            detail::read_tuning_from_env(options);
            return options;
          },
          "The defaults with only the tuning variables read (timeouts, progress, interface, "
          "job id, token, listen fd), as initialize_distributed() takes them.")
      .def("validate", &Options::validate,
           "Raises InvalidArgumentError naming the first inconsistent field.")
      .def_readwrite("head", &Options::head, "Rank 0's address (name or IP).")
      .def_property(
          "port", [](const Options& o) { return o.port; },
          [](Options& o, int port) {
            if (port < 0 || port > 65535) {
              throw Error(Errc::InvalidArgument,
                          "port " + std::to_string(port) + " is not in 0..65535");
            }
            o.port = static_cast<std::uint16_t>(port);
          },
          "Rendezvous port; 0 lets rank 0 pick one (one rank, or with listen_fd).")
      .def_readwrite("listen_fd", &Options::listen_fd,
                     "A socket rank 0 already listens on (-1: none).")
      .def_readwrite("world_size", &Options::world_size)
      .def_readwrite("rank", &Options::rank)
      .def_readwrite("local_rank", &Options::local_rank,
                     "Rank among this host's processes; the CUDA device in GPU mode.")
      .def_property(
          "comm_device", [](const Options& o) { return std::string(to_string(o.comm_device)); },
          [](Options& o, const std::string& name) {
            o.comm_device = parse_comm_device(name, "comm_device");
          },
          "'cpu' (host memory over UCX) or 'gpu' (CUDA memory).")
      .def_property(
          "progress", [](const Options& o) { return std::string(to_string(o.progress)); },
          [](Options& o, const std::string& name) {
            o.progress = parse_progress_mode(name, "progress");
          },
          "'busy', 'blocking' or 'adaptive' (default).")
      .def_property(
          "gpu_transport", [](const Options& o) { return std::string(to_string(o.gpu_transport)); },
          [](Options& o, const std::string& name) {
            o.gpu_transport = parse_gpu_transport(name, "gpu_transport");
          },
          "'auto', 'ipc', 'nccl' or 'ucx' (GPU mode).")
      .def_readwrite("require_fast_path", &Options::require_fast_path)
      .def_readwrite("gpu_copy_kernel", &Options::gpu_copy_kernel)
      .def_readwrite("single_copy", &Options::single_copy,
                     "Host messages to a neighbour of this host move with one copy (default).")
      .def_readwrite("registered_min_bytes", &Options::registered_min_bytes,
                     "The smallest message from Ring.allocate memory sent with one copy.")
      .def_readwrite("single_copy_min_bytes", &Options::single_copy_min_bytes,
                     "The smallest message from other memory sent with one copy.")
      .def_readwrite("single_copy_max_bytes", &Options::single_copy_max_bytes,
                     "The largest message from other memory sent with one copy.")
      .def_readwrite("ifname", &Options::ifname, "Network interface to use ('' = any).")
      .def_readwrite("job_id", &Options::job_id)
      .def_property(
          "token", [](const Options& o) { return o.token; },
          [](Options& o, const std::string& token) { o.token = token; },
          "Shared secret of the job's ranks ('' = none); never shown by repr().")
      .def("__repr__", [](const Options& o) {
        return "ringpipe.Options(head='" + o.head + "', port=" + std::to_string(o.port) +
               ", world_size=" + std::to_string(o.world_size) + ", rank=" + std::to_string(o.rank) +
               ", local_rank=" + std::to_string(o.local_rank) + ", comm_device='" +
               std::string(to_string(o.comm_device)) +
               "', token=" + (o.token.empty() ? "''" : "<set>") + ")";
      });
  def_seconds<&Options::rendezvous_timeout>(options, "rendezvous_timeout",
                                            "Seconds for the whole rendezvous.");
  def_seconds<&Options::op_timeout>(options, "op_timeout",
                                    "Default deadline (seconds) of calls given none.");
  def_seconds<&Options::liveness_timeout>(options, "liveness_timeout",
                                          "A neighbour silent this long (seconds) is Stalled.");
}

}  // namespace ringpipe::python
