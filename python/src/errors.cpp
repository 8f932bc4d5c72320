// ringpipe Python: ringpipe::Error raised as the ringpipe.errors class of its code.
#include "errors.hpp"

#include <ringpipe/error.hpp>

#include <array>
#include <exception>
#include <string>

namespace ringpipe::python {
namespace {

namespace py = pybind11;

constexpr std::array kCodes = {
    Errc::InvalidArgument, Errc::Timeout,   Errc::PeerFailed, Errc::Stalled,
    Errc::Closed,          Errc::Truncated, Errc::AuthFailed, Errc::ProtocolMismatch,
    Errc::Unsupported,     Errc::Internal,
};

// Strong references held for the process's life: the translator may run during shutdown.
std::array<PyObject*, kCodes.size()> error_classes{};

PyObject* class_of(Errc code) {
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i] == code) return error_classes[i];
  }
  return error_classes[kCodes.size() - 1];  // Internal
}

}  // namespace

void register_error_translator() {
  const py::module_ errors = py::module_::import("ringpipe.errors");
  const py::object class_for_code = errors.attr("class_for_code");
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    error_classes[i] = class_for_code(std::string(to_string(kCodes[i]))).release().ptr();
  }
  py::register_exception_translator([](std::exception_ptr raised) {
    try {
      if (raised) std::rethrow_exception(raised);
    } catch (const Error& error) {
      PyErr_SetString(class_of(error.code()), error.what());
    }
  });
}

}  // namespace ringpipe::python
