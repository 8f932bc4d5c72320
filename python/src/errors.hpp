// ringpipe Python: ringpipe::Error raised as the ringpipe.errors class of its code.
#pragma once

#include <pybind11/pybind11.h>

namespace ringpipe::python {

// Looks up one class of ringpipe.errors per Errc (ImportError if one is missing) and installs
// the translator of ringpipe::Error into them.
void register_error_translator();

}  // namespace ringpipe::python
