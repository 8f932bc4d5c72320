// ringpipe: Error and the names of its codes.
#include <ringpipe/error.hpp>

#include <string>

namespace ringpipe {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::InvalidArgument:
      return "InvalidArgument";
    case Errc::Timeout:
      return "Timeout";
    case Errc::PeerFailed:
      return "PeerFailed";
    case Errc::Stalled:
      return "Stalled";
    case Errc::Closed:
      return "Closed";
    case Errc::Truncated:
      return "Truncated";
    case Errc::AuthFailed:
      return "AuthFailed";
    case Errc::ProtocolMismatch:
      return "ProtocolMismatch";
    case Errc::Unsupported:
      return "Unsupported";
    case Errc::Internal:
      return "Internal";
  }
  return "Unknown";
}

Error::Error(Errc code, const std::string& message)
    : std::runtime_error(std::string(to_string(code)) + ": " + message), code_(code) {}

std::string_view Error::message() const noexcept {
  const std::string_view text = what();
  const std::size_t prefix = to_string(code_).size() + 2;
  return text.size() >= prefix ? text.substr(prefix) : text;
}

}  // namespace ringpipe
