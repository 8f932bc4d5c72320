// ring_bw: result collection around the ring.
#include "ring_collect.hpp"

#include "tags.hpp"

#include <ringpipe/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace ring_bw {
namespace {

// A preamble line is ~120 bytes; the bound keeps the gather's receive buffers small.
constexpr std::size_t kMaxLineBytes = 512;

using Message = std::vector<std::byte>;

// Layout: wrong_bytes, cpu_percent, then the samples, in native byte order: a ring's ranks
// share one ABI.
constexpr std::size_t kHeaderBytes = sizeof(std::uint64_t) + sizeof(double);

Message encode(const SizeResults& results) {
  Message message(kHeaderBytes + results.seconds.size() * sizeof(double));
  std::memcpy(message.data(), &results.wrong_bytes, sizeof results.wrong_bytes);
  std::memcpy(message.data() + sizeof results.wrong_bytes, &results.cpu_percent,
              sizeof results.cpu_percent);
  if (!results.seconds.empty()) {
    std::memcpy(message.data() + kHeaderBytes, results.seconds.data(),
                results.seconds.size() * sizeof(double));
  }
  return message;
}

SizeResults decode(const Message& message) {
  SizeResults results;
  std::memcpy(&results.wrong_bytes, message.data(), sizeof results.wrong_bytes);
  std::memcpy(&results.cpu_percent, message.data() + sizeof results.wrong_bytes,
              sizeof results.cpu_percent);
  results.seconds.resize((message.size() - kHeaderBytes) / sizeof(double));
  if (!results.seconds.empty()) {
    std::memcpy(results.seconds.data(), message.data() + kHeaderBytes,
                results.seconds.size() * sizeof(double));
  }
  return results;
}

// Every rank sends results of the same length, so any other length is a bug worth stopping on.
void expect_length(const ringpipe::PipeGroup& edge, std::size_t received, std::size_t expected) {
  if (received != expected) {
    throw ringpipe::Error(ringpipe::Errc::ProtocolMismatch,
                          "rank " + std::to_string(edge.rank()) + ": results from rank " +
                              std::to_string(edge.peer()) + " are " + std::to_string(received) +
                              " bytes, expected " + std::to_string(expected));
  }
}

// Sends before receiving, so that with one rank, rank 0 can send to itself over the self-loop.
Message lap_at_rank0(ringpipe::Ring& ring, const Message& own, std::size_t capacity,
                     ringpipe::Tag tag) {
  ringpipe::Request sent = ring.host_succ().isend(own.data(), own.size(), tag);
  Message back(capacity);
  back.resize(ring.host_pred().recv(back.data(), back.size(), tag));
  sent.wait();
  return back;
}

Message to_message(const std::string& text) {
  const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
  return Message(bytes, bytes + text.size());
}

}  // namespace

std::optional<SizeResults> reduce_to_rank0(ringpipe::Ring& ring, const SizeResults& local) {
  const Message own = encode(local);
  if (ring.rank() == 0) {
    const Message combined = lap_at_rank0(ring, own, own.size(), kResultsTag);
    expect_length(ring.host_pred(), combined.size(), own.size());
    return decode(combined);
  }
  Message incoming(own.size());
  expect_length(ring.host_pred(),
                ring.host_pred().recv(incoming.data(), incoming.size(), kResultsTag), own.size());
  SizeResults combined = decode(incoming);
  combined.wrong_bytes += local.wrong_bytes;
  combined.cpu_percent = std::max(combined.cpu_percent, local.cpu_percent);
  for (std::size_t i = 0; i < combined.seconds.size(); ++i) {
    combined.seconds[i] = std::max(combined.seconds[i], local.seconds[i]);
  }
  const Message outgoing = encode(combined);
  ring.host_succ().send(outgoing.data(), outgoing.size(), kResultsTag);
  return std::nullopt;
}

std::string gather_lines_to_rank0(ringpipe::Ring& ring, const std::string& line) {
  const std::string own = line.substr(0, kMaxLineBytes - 1) + "\n";
  if (ring.rank() == 0) {
    const auto capacity = static_cast<std::size_t>(ring.world_size()) * kMaxLineBytes;
    const Message all = lap_at_rank0(ring, to_message(own), capacity, kPreambleTag);
    return std::string(reinterpret_cast<const char*>(all.data()), all.size());
  }
  // Ranks 0 .. rank-1 have each added one line.
  std::string text(static_cast<std::size_t>(ring.rank()) * kMaxLineBytes, '\0');
  text.resize(ring.host_pred().recv(text.data(), text.size(), kPreambleTag));
  text += own;
  ring.host_succ().send(text.data(), text.size(), kPreambleTag);
  return {};
}

std::uint64_t broadcast_from_rank0(ringpipe::Ring& ring, std::uint64_t value) {
  const int last = ring.world_size() - 1;
  if (ring.rank() > 0) ring.host_pred().recv(&value, sizeof value, kVerdictTag);
  // The lap stops at the last rank: rank 0 already knows the value.
  if (ring.rank() < last) ring.host_succ().send(&value, sizeof value, kVerdictTag);
  return value;
}

}  // namespace ring_bw
