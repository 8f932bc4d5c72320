// ringpipe Python: ringpipe.Options, with timeouts in seconds and enums as their names.
#pragma once

#include <ringpipe/options.hpp>

#include <pybind11/pybind11.h>

namespace ringpipe::python {

namespace py = pybind11;

void bind_options(py::module_& module);

// Options from the environment (Options::from_env) or the defaults, then `fields` set by
// name; an unknown name is TypeError.
Options options_with(const Options& base, const py::kwargs& fields);

}  // namespace ringpipe::python
