// ringpipe Python: registered buffers.
#include "registered_binding.hpp"

#include "ring_objects.hpp"

#include <ringpipe/link_info.hpp>
#include <ringpipe/registered_buffer.hpp>

#include <pybind11/stl.h>

#include <algorithm>
#include <cstddef>

namespace py = pybind11;

namespace ringpipe::python {
namespace {

// A NumPy array of `shape` and `dtype` over a new registered buffer, which the array keeps.
py::object registered_array(const py::object& shape, const py::object& dtype) {
  const py::module_ numpy = py::module_::import("numpy");
  const py::object type = numpy.attr("dtype")(dtype);
  const py::tuple dims = py::isinstance<py::int_>(shape) ? py::make_tuple(shape) : py::tuple(shape);
  std::size_t count = 1;
  for (const py::handle dim : dims) count *= dim.cast<std::size_t>();
  const std::size_t nbytes = count * type.attr("itemsize").cast<std::size_t>();
  // An empty array still gets a buffer, so it has an address like any other.
  const py::object buffer = py::cast(RegisteredBuffer(std::max<std::size_t>(nbytes, 1)));
  return numpy.attr("frombuffer")(buffer, type, count).attr("reshape")(dims);
}

}  // namespace

void bind_registered(py::module_& module) {
  py::class_<RegisteredBuffer>(module, "RegisteredBuffer", py::buffer_protocol(), R"doc(
Host memory that the ring's neighbours on this host map: a message sent from it moves with one
memcpy by the receiver. A writable Python buffer (memoryview(buf), numpy.frombuffer(buf)); freed
when the last reference goes.)doc")
      .def_buffer([](RegisteredBuffer& buffer) {
        return py::buffer_info(buffer.data(), 1, py::format_descriptor<std::uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(buffer.size())}, {1});
      })
      .def_property_readonly("nbytes", &RegisteredBuffer::size)
      .def("__len__", &RegisteredBuffer::size)
      .def("__repr__", [](const RegisteredBuffer& buffer) {
        return "RegisteredBuffer(nbytes=" + std::to_string(buffer.size()) + ")";
      });

  py::class_<SingleCopyPaths>(module, "SingleCopyPaths",
                              "Which host messages this rank sends on an edge move with one copy.")
      .def_readonly("registered", &SingleCopyPaths::registered,
                    "From Ring.allocate memory, from registered_min_bytes on.")
      .def_readonly("plain", &SingleCopyPaths::plain,
                    "From other memory, plain_min_bytes to plain_max_bytes (process_vm_readv).")
      .def_readonly("registered_min_bytes", &SingleCopyPaths::registered_min_bytes)
      .def_readonly("plain_min_bytes", &SingleCopyPaths::plain_min_bytes)
      .def_readonly("plain_max_bytes", &SingleCopyPaths::plain_max_bytes)
      .def_readonly("why_not", &SingleCopyPaths::why_not,
                    "What the edge's probe found against a path ('' if nothing).");
}

void add_allocation_methods(py::class_<RingObject>& ring_class) {
  ring_class
      .def(
          "allocate",
          [](const RingObject&, std::size_t nbytes) { return RegisteredBuffer(nbytes); },
          py::arg("nbytes"), R"doc(
A RegisteredBuffer of nbytes (> 0): host memory whose messages to a neighbour of this host move
with one copy, at memory speed. Any ring of the process may send from it.)doc")
      .def(
          "allocate_array",
          [](const RingObject&, const py::object& shape, const py::object& dtype) {
            return registered_array(shape, dtype);
          },
          py::arg("shape"), py::arg("dtype") = "uint8",
          "A zeroed NumPy array over registered memory (see allocate).")
      .def(
          "allocate_tensor",
          [](const RingObject&, const py::object& shape, py::object dtype) {
            const py::module_ torch = py::module_::import("torch");
            if (dtype.is_none()) dtype = torch.attr("float32");
            // NumPy's name of the torch dtype, through an empty tensor.
            const py::object numpy_type =
                torch.attr("empty")(0, py::arg("dtype") = dtype).attr("numpy")().attr("dtype");
            return torch.attr("from_numpy")(registered_array(shape, numpy_type));
          },
          py::arg("shape"), py::arg("dtype") = py::none(),
          "A zeroed torch CPU tensor (default float32) over registered memory (see allocate); "
          "it keeps the memory.");
}

}  // namespace ringpipe::python
