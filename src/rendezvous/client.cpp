// ringpipe: one rank's side of the rendezvous.
#include "rendezvous/client.hpp"

#include <ringpipe/error.hpp>

#include "rendezvous/auth.hpp"

#include <algorithm>
#include <optional>
#include <utility>

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

// Once a frame has started to arrive, the rest follows at once; and the head answers an
// Abandon at once. Either taking longer means the head is stuck.
constexpr auto kFrameTimeout = std::chrono::milliseconds(2000);
// At the rendezvous deadline the head is asked which ranks are missing; a live head answers in
// milliseconds once it runs, which on a loaded machine (ranks oversubscribing the cores,
// sanitizer builds) can take a few hundred. A stuck head holds the rank a twentieth of its
// timeout (within these bounds) past it, no longer.
constexpr auto kLeastAnswerTime = std::chrono::milliseconds(500);
constexpr auto kMostAnswerTime = std::chrono::milliseconds(2000);

}  // namespace

RendezvousClient::RendezvousClient(const std::string& head, std::uint16_t port,
                                   const detail::Deadline& deadline, std::string token)
    : head_("rendezvous head " + head + ":" + std::to_string(port)),
      token_(std::move(token)),
      socket_(net::connect_to(head, port, deadline)) {}

Peers RendezvousClient::join(const Hello& hello, const detail::Deadline& deadline) {
  authenticate(hello.job_id, deadline);
  net::send_all(socket_.fd(), encode(hello), deadline, head_);
  return decode_peers(expect(FrameType::Peers, deadline));
}

void RendezvousClient::authenticate(std::uint64_t job_id, const detail::Deadline& deadline) {
  const AuthChallenge challenge = decode_auth_challenge(expect(FrameType::AuthChallenge, deadline));
  const bool has_token = !token_.empty();
  AuthResponse response;
  response.job_id = job_id;
  response.rank_has_token = has_token;
  response.rank_nonce = fresh_nonce();
  if (has_token && challenge.head_has_token) {
    response.proof = rank_proof(token_, challenge.head_nonce, response.rank_nonce, job_id);
  }
  // Sent even when the tokens cannot match, so that the head logs why this rank left.
  net::send_all(socket_.fd(), encode(response), deadline, head_);
  if (has_token && !challenge.head_has_token) {
    throw Error(Errc::AuthFailed,
                "the " + head_ +
                    " has no token but this rank has one: give every rank, rank 0 included, "
                    "the same RINGPIPE_TOKEN (Options::token)");
  }
  if (!has_token && challenge.head_has_token) {
    throw Error(Errc::AuthFailed, "the " + head_ +
                                      " requires a token but this rank has none: set "
                                      "RINGPIPE_TOKEN (Options::token) to the job's token");
  }
  // A head that rejects this rank's proof answers with an Error frame (AuthFailed) instead.
  const AuthProof proof = decode_auth_proof(expect(FrameType::AuthProof, deadline));
  if (has_token && !same_proof(proof.proof, head_proof(token_, challenge.head_nonce,
                                                       response.rank_nonce, job_id))) {
    throw Error(Errc::AuthFailed,
                "the " + head_ +
                    " could not prove that it knows this rank's token (it has another token, or "
                    "it is not this job's head); this rank's addresses were not sent to it");
  }
}

void RendezvousClient::ready(const detail::Deadline& deadline) {
  net::send_all(socket_.fd(), encode_empty(FrameType::Ready), deadline, head_);
  expect(FrameType::Go, deadline);
}

std::vector<std::byte> RendezvousClient::expect(FrameType type, const detail::Deadline& deadline) {
  if (!net::wait_readable(socket_.fd(), deadline)) give_up(deadline);
  Frame frame = read_frame(detail::Deadline(kFrameTimeout));
  if (frame.type == FrameType::Error) throw_reply(frame.payload);
  if (frame.type != type) {
    throw Error(Errc::ProtocolMismatch,
                "the " + head_ + " sent frame type " +
                    std::to_string(static_cast<int>(frame.type)) + " where type " +
                    std::to_string(static_cast<int>(type)) + " was expected");
  }
  return std::move(frame.payload);
}

RendezvousClient::Frame RendezvousClient::read_frame(const detail::Deadline& deadline) {
  std::byte header_bytes[kHeaderSize];
  net::recv_exact(socket_.fd(), header_bytes, deadline, head_);
  const FrameHeader header = decode_header(header_bytes);
  Frame frame{header.type, std::vector<std::byte>(header.payload_size)};
  net::recv_exact(socket_.fd(), frame.payload, deadline, head_);
  return frame;
}

void RendezvousClient::throw_reply(std::span<const std::byte> payload) {
  const ErrorReply reply = decode_error(payload);
  throw Error(errc_from_wire(reply.code), reply.message);
}

void RendezvousClient::give_up(const detail::Deadline& deadline) {
  std::optional<Frame> answer;
  try {
    const auto window = std::clamp<detail::Clock::duration>(deadline.budget() / 20,
                                                            kLeastAnswerTime, kMostAnswerTime);
    const detail::Deadline answer_deadline(
        std::chrono::duration_cast<std::chrono::milliseconds>(window));
    net::send_all(socket_.fd(), encode_empty(FrameType::Abandon), answer_deadline, head_);
    answer = read_frame(answer_deadline);
  } catch (const Error&) {
    // The head is gone or stuck: this rank's own view is all there is.
  }
  if (answer && answer->type == FrameType::Error) throw_reply(answer->payload);
  throw Error(Errc::Timeout, "the " + head_ + " did not complete the rendezvous within " +
                                 detail::format_seconds(deadline.elapsed_s()) +
                                 " (are all ranks started?)");
}

}  // namespace ringpipe::rendezvous
