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

}  // namespace ringpipe
