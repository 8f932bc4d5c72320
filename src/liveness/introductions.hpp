// ringpipe: accepts the predecessor's liveness connection among any number of strangers.
//
// The listener is bound to every interface, so anyone may connect while the ring forms. Every
// connection gets its own short deadline to introduce itself, all of them at once, and at most
// kMaxIntroductions wait at a time (the quietest goes first when more arrive): silent or
// hostile connections cannot delay the neighbour that speaks.
#pragma once

#include "deadline.hpp"
#include "liveness/wire.hpp"
#include "net/socket.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace ringpipe::liveness {

inline constexpr std::size_t kMaxIntroductions = 64;
// A connection that does not introduce itself within this long is dropped.
inline constexpr std::chrono::milliseconds kIntroductionTimeout{1000};

struct Introduced {
  net::Socket socket;
  Hello hello;
};

// Accepts connections on `listener` (non-blocking afterwards) until one sends a Hello that
// `wanted` accepts, and returns it; the others are dropped and logged. Throws Error{Timeout}
// naming `who` (what is awaited) when the deadline passes first.
Introduced accept_introduced(const net::Socket& listener,
                             const std::function<bool(const Hello&)>& wanted,
                             const detail::Deadline& deadline, const std::string& who);

}  // namespace ringpipe::liveness
