// ringpipe: one rank's side of the rendezvous.
#pragma once

#include "deadline.hpp"
#include "net/socket.hpp"
#include "rendezvous/wire.hpp"

#include <cstdint>
#include <string>

namespace ringpipe::rendezvous {

// Connects to the head, authenticates it and itself, introduces this rank and learns its
// neighbours; then takes part in the release barrier. Every step is bounded by the caller's
// deadline; an Error frame from the head is rethrown here with its code.
class RendezvousClient {
 public:
  // `token` is the job's shared secret ("" = none); it is never put in a message.
  RendezvousClient(const std::string& head, std::uint16_t port, const detail::Deadline& deadline,
                   std::string token);

  // Authenticates (see rendezvous/auth.hpp), then sends `hello` and waits for the neighbours'
  // records. The Hello, which holds this rank's addresses, goes only to a head that proved it
  // knows the token. Throws Error{AuthFailed} saying which side lacks the token or has another.
  Peers join(const Hello& hello, const detail::Deadline& deadline);
  // This rank's IP on the route to the head: where its neighbours can reach it.
  [[nodiscard]] std::string local_host() const { return net::local_host(socket_.fd()); }
  // Says this rank is connected and waits until every rank is (the release barrier).
  void ready(const detail::Deadline& deadline);

 private:
  void authenticate(std::uint64_t job_id, const detail::Deadline& deadline);
  // Reads one frame of the expected type; an Error frame throws its code and message. When the
  // deadline passes first, asks the head why (see give_up).
  std::vector<std::byte> expect(FrameType type, const detail::Deadline& deadline);
  struct Frame {
    FrameType type;
    std::vector<std::byte> payload;
  };
  Frame read_frame(const detail::Deadline& deadline);
  // Throws the Error the head sent.
  [[noreturn]] static void throw_reply(std::span<const std::byte> payload);
  // This rank's deadline passed while the head was still waiting for others. Ranks start at
  // different times, so their deadlines differ from the head's: tell the head, and throw the
  // Timeout it answers with, which names the ranks still missing.
  [[noreturn]] void give_up(const detail::Deadline& deadline);

  std::string head_;
  std::string token_;
  net::Socket socket_;
};

}  // namespace ringpipe::rendezvous
