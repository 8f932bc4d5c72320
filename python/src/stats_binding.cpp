// ringpipe Python: RingStats as plain Python dicts.
#include "stats_binding.hpp"

#include <pybind11/stl.h>

#include <string>

namespace ringpipe::python {
namespace {

py::dict direction_to_dict(const DirectionStats& direction) {
  py::dict failures;
  for (std::size_t code = 0; code < kErrcCount; ++code) {
    failures[py::str(std::string(to_string(static_cast<Errc>(code))))] = direction.failures[code];
  }
  py::dict result;
  result["messages"] = direction.messages;
  result["bytes"] = direction.bytes;
  result["in_flight"] = direction.in_flight;
  result["failures"] = failures;
  result["latency_buckets"] = py::list(py::cast(direction.latency_buckets));
  result["latency_sum_ns"] = direction.latency_sum_ns;
  return result;
}

py::dict edge_to_dict(const EdgeStats& edge) {
  py::dict result;
  result["peer"] = edge.peer;
  result["peer_host"] = edge.link.peer_host;
  result["data_path"] = std::string(to_string(edge.link.data_path));
  result["transports"] = edge.link.transports;
  result["send"] = direction_to_dict(edge.send);
  result["recv"] = direction_to_dict(edge.recv);
  if (edge.last_error) {
    py::dict error;
    error["code"] = std::string(to_string(edge.last_error->code));
    error["message"] = edge.last_error->message;
    result["last_error"] = error;
  } else {
    result["last_error"] = py::none();
  }
  return result;
}

}  // namespace

py::dict stats_to_dict(const RingStats& stats) {
  py::dict edges;
  for (const EdgeStats& edge : stats.edges) edges[py::str(edge.edge)] = edge_to_dict(edge);
  py::dict result;
  result["rank"] = stats.rank;
  result["world_size"] = stats.world_size;
  result["rendezvous_seconds"] = stats.rendezvous_seconds;
  result["liveness_beats_missed"] = stats.liveness_beats_missed;
  result["edges"] = edges;
  return result;
}

}  // namespace ringpipe::python
