// ringpipe: one rank's side of the rendezvous.
#include "rendezvous/client.hpp"

#include <ringpipe/error.hpp>

namespace ringpipe::rendezvous {
namespace {

Errc errc_from_wire(std::uint16_t code) {
  const auto errc = static_cast<Errc>(code);
  switch (errc) {
    case Errc::InvalidArgument:
    case Errc::Timeout:
    case Errc::PeerFailed:
    case Errc::Stalled:
    case Errc::Closed:
    case Errc::Truncated:
    case Errc::AuthFailed:
    case Errc::ProtocolMismatch:
    case Errc::Unsupported:
    case Errc::Internal:
      return errc;
  }
  return Errc::ProtocolMismatch;
}

}  // namespace

RendezvousClient::RendezvousClient(const std::string& head, std::uint16_t port,
                                   const detail::Deadline& deadline)
    : head_("rendezvous head " + head + ":" + std::to_string(port)),
      socket_(connect_to(head, port, deadline)) {}

Peers RendezvousClient::join(const Hello& hello, const detail::Deadline& deadline) {
  send_all(socket_.fd(), encode(hello), deadline, head_);
  return decode_peers(expect(FrameType::Peers, deadline));
}

void RendezvousClient::ready(const detail::Deadline& deadline) {
  send_all(socket_.fd(), encode_empty(FrameType::Ready), deadline, head_);
  expect(FrameType::Go, deadline);
}

std::vector<std::byte> RendezvousClient::expect(FrameType type, const detail::Deadline& deadline) {
  std::byte header_bytes[kHeaderSize];
  try {
    recv_exact(socket_.fd(), header_bytes, deadline, head_);
  } catch (const Error& error) {
    if (error.code() == Errc::Timeout) {
      throw Error(Errc::Timeout, "the " + head_ + " did not answer within " +
                                     detail::format_seconds(deadline.elapsed_s()) +
                                     " (are all ranks started?)");
    }
    throw;
  }
  const FrameHeader header = decode_header(header_bytes);
  std::vector<std::byte> payload(header.payload_size);
  recv_exact(socket_.fd(), payload, deadline, head_);
  if (header.type == FrameType::Error) {
    const ErrorReply reply = decode_error(payload);
    throw Error(errc_from_wire(reply.code), reply.message);
  }
  if (header.type != type) {
    throw Error(Errc::ProtocolMismatch,
                "the " + head_ + " sent frame type " +
                    std::to_string(static_cast<int>(header.type)) + " where type " +
                    std::to_string(static_cast<int>(type)) + " was expected");
  }
  return payload;
}

}  // namespace ringpipe::rendezvous
