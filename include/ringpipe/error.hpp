// ringpipe: error type shared by every part of the library.
#pragma once

#include <ringpipe/export.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace ringpipe {

// What went wrong, for callers that switch on the cause. The message carries the details.
enum class Errc {
  InvalidArgument,   // bad option, environment variable, buffer or call order
  Timeout,           // a deadline passed
  PeerFailed,        // a neighbour died or its link broke
  Stalled,           // a neighbour stopped making progress
  Closed,            // a neighbour (or this rank) closed the link in an orderly way
  Truncated,         // a message was larger than the receive buffer
  AuthFailed,        // rendezvous authentication failed
  ProtocolMismatch,  // a peer speaks another wire protocol or library version
  Unsupported,       // the requested feature is not available in this build or machine
  Internal,          // a bug or an unexpected failure of a system or transport call
};

// Stable name of a code, e.g. "PeerFailed".
RINGPIPE_API std::string_view to_string(Errc code) noexcept;

// The one exception type ringpipe throws. what() is "<Code>: <message>", where the message
// names the rank, peer, address, operation, tag and size it concerns.
class RINGPIPE_API Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message);

  [[nodiscard]] Errc code() const noexcept { return code_; }
  // what() without the leading "<Code>: ".
  [[nodiscard]] std::string_view message() const noexcept;

 private:
  Errc code_;
};

}  // namespace ringpipe
