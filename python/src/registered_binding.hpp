// ringpipe Python: registered buffers (Ring.allocate), as Python buffers, NumPy arrays and
// torch tensors.
#pragma once

#include "ring_objects.hpp"

#include <pybind11/pybind11.h>

namespace ringpipe::python {

// The RegisteredBuffer class and SingleCopyPaths.
void bind_registered(pybind11::module_& module);

// Ring methods: allocate(nbytes), allocate_array(shape, dtype), allocate_tensor(shape, dtype).
void add_allocation_methods(pybind11::class_<RingObject>& ring_class);

}  // namespace ringpipe::python
