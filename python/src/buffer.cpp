// ringpipe Python: finding the memory of torch tensors, CUDA arrays, DLPack and buffer objects.
#include "buffer.hpp"

#include <ringpipe/error.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ringpipe::python {
namespace {

std::string type_name(py::handle object) { return Py_TYPE(object.ptr())->tp_name; }

[[noreturn]] void invalid(const std::string& message) {
  throw Error(Errc::InvalidArgument, message);
}

// torch.Tensor, once torch has been imported (an object cannot be a tensor before), cached.
PyTypeObject* torch_tensor_type() {
  static PyObject* tensor_type = nullptr;  // a strong reference kept for the process's life
  if (tensor_type != nullptr) return reinterpret_cast<PyTypeObject*>(tensor_type);
  PyObject* modules = PySys_GetObject("modules");                                // borrowed
  PyObject* torch = modules ? PyDict_GetItemString(modules, "torch") : nullptr;  // borrowed
  if (torch == nullptr) return nullptr;
  PyObject* type = PyObject_GetAttrString(torch, "Tensor");
  if (type == nullptr || !PyType_Check(type)) {
    PyErr_Clear();  // torch is still being imported
    Py_XDECREF(type);
    return nullptr;
  }
  tensor_type = type;
  return reinterpret_cast<PyTypeObject*>(tensor_type);
}

// The tensor attributes read on every operation, as interned names: a lookup by a C string
// builds a new name each time and misses the type's attribute cache (measured: ~0.6 us of a
// ~3 us 8 B round trip).
struct TorchNames {
  PyObject* is_contiguous = PyUnicode_InternFromString("is_contiguous");
  PyObject* is_cuda = PyUnicode_InternFromString("is_cuda");
  PyObject* is_cpu = PyUnicode_InternFromString("is_cpu");
  PyObject* data_ptr = PyUnicode_InternFromString("data_ptr");
  PyObject* numel = PyUnicode_InternFromString("numel");
  PyObject* element_size = PyUnicode_InternFromString("element_size");
};

const TorchNames& torch_names() {
  static const TorchNames* names = new TorchNames;  // kept for the process's life
  return *names;
}

py::object call_method(py::handle object, PyObject* name) {
  return py::reinterpret_steal<py::object>(PyObject_CallMethodNoArgs(object.ptr(), name));
}

py::object get_attribute(py::handle object, PyObject* name) {
  return py::reinterpret_steal<py::object>(PyObject_GetAttr(object.ptr(), name));
}

// The result of a call above; a Python error it raised goes on as py::error_already_set.
template <typename T>
T value_of(const py::object& result) {
  if (!result) throw py::error_already_set();
  return result.cast<T>();
}

bool is_torch_tensor(py::handle object) {
  PyTypeObject* type = torch_tensor_type();
  return type != nullptr && PyObject_TypeCheck(object.ptr(), type);
}

[[noreturn]] void wrong_memory(const std::string& what, Memory memory) {
  if (memory == Memory::Host) {
    invalid(what +
            " holds CUDA memory, but this edge moves host memory: use a ring in GPU mode "
            "(comm_device='gpu') for CUDA buffers, or copy it to the host first (tensor.cpu())");
  }
  invalid(what +
          " holds host memory, but this GPU-mode edge moves CUDA memory: move it to the GPU "
          "(tensor.cuda()), or send host data over ring.host_succ / ring.host_pred");
}

// True when `strides` (in bytes) describe a C-contiguous layout of `shape`; dimensions of
// size 1 may have any stride.
bool c_contiguous(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& strides,
                  std::int64_t itemsize) {
  std::int64_t expected = itemsize;
  for (std::size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0) return true;
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::string format_shape(const std::vector<std::int64_t>& values) {
  std::string text = "(";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(values[i]);
  }
  return text + (values.size() == 1 ? ",)" : ")");
}

// Layout of the DLPack ABI (dlpack.h, versions 0.5-0.8), which no Debian package ships.
struct DLDevice {
  std::int32_t device_type;
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // in elements; null: compact row-major
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
constexpr std::int32_t kDLCPU = 1;
constexpr std::int32_t kDLCUDA = 2;
constexpr std::int32_t kDLCUDAHost = 3;

}  // namespace

BufferArg BufferArg::from(py::handle object, Access access, Memory memory) {
  if (is_torch_tensor(object)) return from_torch(object, memory);
  if (PyObject_CheckBuffer(object.ptr())) return from_buffer_protocol(object, access, memory);
  if (py::hasattr(object, "__cuda_array_interface__")) {
    return from_cuda_array_interface(object, access, memory);
  }
  if (py::hasattr(object, "__dlpack__")) return from_dlpack(object, memory);
  throw py::type_error(
      "ringpipe moves the memory of a torch.Tensor, a NumPy array, a buffer-protocol object "
      "(bytearray, memoryview) or, in GPU mode, a __cuda_array_interface__ or DLPack object; "
      "got " +
      type_name(object));
}

BufferArg BufferArg::from_torch(py::handle tensor, Memory memory) {
  const TorchNames& names = torch_names();
  if (!value_of<bool>(call_method(tensor, names.is_contiguous))) {
    invalid("the tensor is not contiguous (shape " +
            py::str(tensor.attr("shape")).cast<std::string>() + ", stride " +
            py::str(tensor.attr("stride")()).cast<std::string>() +
            "): ringpipe moves a tensor's own memory and never copies it behind your back; pass "
            "tensor.contiguous() (a copy; receive into a contiguous tensor and copy_() it "
            "into a view)");
  }
  const bool cuda = value_of<bool>(get_attribute(tensor, names.is_cuda));
  if (!cuda && !value_of<bool>(get_attribute(tensor, names.is_cpu))) {
    invalid("the tensor is on device " + py::str(tensor.attr("device")).cast<std::string>() +
            ": ringpipe moves CPU tensors, and CUDA tensors in GPU mode");
  }
  if (cuda != (memory == Memory::Cuda)) {
    wrong_memory("the tensor (" + py::str(tensor.attr("device")).cast<std::string>() + ")", memory);
  }
  BufferArg buffer;
  buffer.owner_ = py::reinterpret_borrow<py::object>(tensor);
  buffer.data_ =
      reinterpret_cast<void*>(value_of<std::uintptr_t>(call_method(tensor, names.data_ptr)));
  buffer.nbytes_ = value_of<std::size_t>(call_method(tensor, names.numel)) *
                   value_of<std::size_t>(call_method(tensor, names.element_size));
  if (cuda) {
    // The tensor's current stream, as torch.distributed's NCCL backend orders by.
    py::object stream =
        py::module_::import("torch.cuda").attr("current_stream")(tensor.attr("device"));
    buffer.stream_ = reinterpret_cast<void*>(stream.attr("cuda_stream").cast<std::uintptr_t>());
  }
  return buffer;
}

BufferArg BufferArg::from_cuda_array_interface(py::handle object, Access access, Memory memory) {
  const std::string what = "the " + type_name(object) + " (__cuda_array_interface__)";
  if (memory == Memory::Host) wrong_memory(what, memory);
  const py::dict interface = object.attr("__cuda_array_interface__");
  const py::tuple data = interface["data"];
  if (access == Access::Write && data[1].cast<bool>()) {
    invalid(what + " is read-only and cannot receive: pass a writable array");
  }
  const std::string typestr = interface["typestr"].cast<std::string>();
  const std::int64_t itemsize = std::stoll(typestr.substr(2));
  std::vector<std::int64_t> shape;
  for (py::handle extent : interface["shape"].cast<py::tuple>()) {
    shape.push_back(extent.cast<std::int64_t>());
  }
  if (interface.contains("strides") && !interface["strides"].is_none()) {
    std::vector<std::int64_t> strides;
    for (py::handle stride : interface["strides"].cast<py::tuple>()) {
      strides.push_back(stride.cast<std::int64_t>());
    }
    if (!c_contiguous(shape, strides, itemsize)) {
      invalid(what + " is not C-contiguous (shape " + format_shape(shape) + ", strides " +
              format_shape(strides) + "): pass a contiguous copy");
    }
  }
  BufferArg buffer;
  buffer.owner_ = py::reinterpret_borrow<py::object>(object);
  buffer.data_ = reinterpret_cast<void*>(data[0].cast<std::uintptr_t>());
  buffer.nbytes_ = static_cast<std::size_t>(itemsize);
  for (std::int64_t extent : shape) buffer.nbytes_ *= static_cast<std::size_t>(extent);
  // Version 3's stream: 1 is the legacy default stream, 2 the per-thread one (cudaStreamPerThread).
  if (interface.contains("stream") && !interface["stream"].is_none()) {
    const auto stream = interface["stream"].cast<std::uintptr_t>();
    buffer.stream_ = stream == 1 ? nullptr : reinterpret_cast<void*>(stream);
  }
  return buffer;
}

BufferArg BufferArg::from_dlpack(py::handle object, Memory memory) {
  const std::string what = "the " + type_name(object) + " (DLPack)";
  const auto device = object.attr("__dlpack_device__")().cast<py::tuple>();
  const auto device_type = device[0].cast<std::int32_t>();
  const bool cuda = device_type == kDLCUDA;
  if (!cuda && device_type != kDLCPU && device_type != kDLCUDAHost) {
    invalid(what + " is on DLPack device type " + std::to_string(device_type) +
            ": ringpipe moves host memory, and CUDA memory in GPU mode");
  }
  if (cuda != (memory == Memory::Cuda)) wrong_memory(what, memory);
  // No stream argument: the producer orders its data before CUDA's legacy default stream,
  // which is the stream the transfer is then ordered on.
  py::capsule capsule = object.attr("__dlpack__")();
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) throw py::error_already_set();
  const DLTensor& tensor = managed->dl_tensor;
  const std::int64_t itemsize = (tensor.dtype.bits * tensor.dtype.lanes + 7) / 8;
  std::vector<std::int64_t> shape(tensor.shape, tensor.shape + tensor.ndim);
  if (tensor.strides != nullptr) {
    std::vector<std::int64_t> strides;
    for (std::int32_t i = 0; i < tensor.ndim; ++i) strides.push_back(tensor.strides[i] * itemsize);
    if (!c_contiguous(shape, strides, itemsize)) {
      invalid(what + " is not C-contiguous (shape " + format_shape(shape) +
              "): pass a "
              "contiguous copy");
    }
  }
  BufferArg buffer;
  // The capsule stays unconsumed, so dropping it returns the tensor to its producer.
  buffer.owner_ = std::move(capsule);
  buffer.data_ = static_cast<char*>(tensor.data) + tensor.byte_offset;
  buffer.nbytes_ = static_cast<std::size_t>(itemsize);
  for (std::int64_t extent : shape) buffer.nbytes_ *= static_cast<std::size_t>(extent);
  return buffer;
}

BufferArg BufferArg::from_buffer_protocol(py::handle object, Access access, Memory memory) {
  const std::string what = "the " + type_name(object) + " object";
  if (memory == Memory::Cuda) wrong_memory(what, memory);
  BufferArg buffer;
  if (PyObject_GetBuffer(object.ptr(), &buffer.view_, PyBUF_RECORDS_RO) != 0) {
    throw py::error_already_set();
  }
  buffer.has_view_ = true;
  buffer.owner_ = py::reinterpret_borrow<py::object>(object);
  if (access == Access::Write && buffer.view_.readonly) {
    invalid(what +
            " is read-only and cannot receive: pass a writable buffer (a bytearray, "
            "numpy.empty(...), a tensor)");
  }
  if (!PyBuffer_IsContiguous(&buffer.view_, 'C')) {
    invalid(what +
            " is not C-contiguous: ringpipe moves an object's own memory and never copies "
            "it behind your back; pass numpy.ascontiguousarray(x) (a copy)");
  }
  buffer.data_ = buffer.view_.buf;
  buffer.nbytes_ = static_cast<std::size_t>(buffer.view_.len);
  return buffer;
}

BufferArg::BufferArg(BufferArg&& other) noexcept
    : owner_(std::move(other.owner_)),
      view_(other.view_),
      has_view_(std::exchange(other.has_view_, false)),
      data_(other.data_),
      nbytes_(other.nbytes_),
      stream_(other.stream_) {}

BufferArg& BufferArg::operator=(BufferArg&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    view_ = other.view_;
    has_view_ = std::exchange(other.has_view_, false);
    data_ = other.data_;
    nbytes_ = other.nbytes_;
    stream_ = other.stream_;
  }
  return *this;
}

BufferArg::~BufferArg() { release(); }

void BufferArg::release() noexcept {
  if (has_view_) {
    PyBuffer_Release(&view_);
    has_view_ = false;
  }
  owner_ = py::object();
}

}  // namespace ringpipe::python
