// ringpipe Python: the memory of a Python object that a send or receive uses in place.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>

namespace ringpipe::python {

namespace py = pybind11;

// What the operation does with the memory.
enum class Access { Read, Write };
// Where the edge expects the memory: host memory, or CUDA device memory (GPU mode's edges).
enum class Memory { Host, Cuda };

// The memory of a torch.Tensor, an object with __cuda_array_interface__ or __dlpack__, or a
// buffer-protocol object (NumPy array, bytearray, memoryview), without a copy. Holds a
// reference to the object (and its buffer export, which keeps e.g. a bytearray from being
// resized) until destroyed, which needs the GIL. Bad input is ValueError/TypeError saying
// what to pass instead. Move-only.
class BufferArg {
 public:
  static BufferArg from(py::handle object, Access access, Memory memory);

  BufferArg() = default;
  BufferArg(BufferArg&& other) noexcept;
  BufferArg& operator=(BufferArg&& other) noexcept;
  BufferArg(const BufferArg&) = delete;
  BufferArg& operator=(const BufferArg&) = delete;
  ~BufferArg();

  [[nodiscard]] void* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t nbytes() const noexcept { return nbytes_; }
  // The CUDA stream the data is ordered on (a cudaStream_t; null: the legacy default stream).
  [[nodiscard]] void* stream() const noexcept { return stream_; }

 private:
  static BufferArg from_torch(py::handle tensor, Memory memory);
  static BufferArg from_cuda_array_interface(py::handle object, Access access, Memory memory);
  static BufferArg from_dlpack(py::handle object, Memory memory);
  static BufferArg from_buffer_protocol(py::handle object, Access access, Memory memory);
  void release() noexcept;

  py::object owner_;
  Py_buffer view_{};
  bool has_view_ = false;
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  void* stream_ = nullptr;
};

}  // namespace ringpipe::python
