// ringpipe Python: RingStats as plain Python dicts.
#pragma once

#include <ringpipe/stats.hpp>

#include <pybind11/pybind11.h>

namespace ringpipe::python {

namespace py = pybind11;

// {"rank", "world_size", "rendezvous_seconds", "liveness_beats_missed", "edges": {name: {...}}}
// (see Ring.stats in _ringpipe.pyi). Needs the GIL.
py::dict stats_to_dict(const RingStats& stats);

}  // namespace ringpipe::python
