// Test helpers of the rendezvous tests with real rank processes (see multiproc.hpp).
//
// In a rank process, join_and_report() joins with Options::from_env() and prints one line
//   OUTCOME <Errc name | OK> <what()>
// plus `HEAD <host>:<port>`, and verify_one_round() prints `ROUND verified` once the rank
// exchanged intact data with its neighbours. In the parent, the checks below read those lines
// back per rank. The raw TCP clients let a rank process talk to the head as a stray, broken or
// hostile client would.
#pragma once

#include <ringpipe/ring.hpp>

#include "multiproc.hpp"
#include "rendezvous/wire.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringpipe::test {

// --- In the rank processes ---------------------------------------------------------------------

void print_line(const std::string& line);

std::string env_or(const char* name, const char* fallback);

// Joins the ring the environment describes and prints the outcome; the ring if it formed.
std::optional<Ring> join_and_report();

// One round: every rank sends a patterned message to its successor and checks the one from its
// predecessor. Prints "ROUND verified" when the data was intact.
void verify_one_round(Ring& ring);

// --- In the parent -----------------------------------------------------------------------------

struct Outcome {
  std::string code;  // an Errc name, "OK", or "none" if the rank printed no outcome
  std::string what;
};

// The rest of the first line of `output` that starts with `tag`; "" if none does.
std::string line_after(const std::string& output, const std::string& tag);

Outcome outcome_of(const RankResult& result);

std::string describe(const RankResult& result);

// The rank exited normally, reported `code`, and its what() is "<code>: ..." containing every
// part.
::testing::AssertionResult Reported(const RankResult& result, std::string_view code,
                                    std::initializer_list<std::string> parts);

::testing::AssertionResult JoinedAndVerifiedARound(const RankResult& result);

// The rank printed its OUTCOME (or, without one, exited) within [min_s, max_s) of its spawn.
::testing::AssertionResult FinishedWithin(const RankResult& result, double min_s, double max_s);

// A rank that joined and waited fails with Timeout naming the rank that never came.
::testing::AssertionResult WaitingRankTimedOutNaming(const RankResult& result,
                                                     const std::string& missing);

// --- Raw TCP clients (rank processes) ----------------------------------------------------------

using Bytes = std::vector<std::byte>;

// A blocking TCP connection to the head, retried until `deadline`; -1 if it never succeeded.
int connect_raw(const std::string& host, std::uint16_t port,
                std::chrono::steady_clock::time_point deadline);

bool send_raw(int fd, const Bytes& bytes);

// Reads up to `size` bytes until EOF or `timeout`; what arrived.
Bytes recv_raw(int fd, std::size_t size, std::chrono::milliseconds timeout);

// True once the peer closed `fd` (EOF or reset) within `timeout`.
bool closed_by_peer_within(int fd, std::chrono::milliseconds timeout);

Bytes raw_header(std::uint32_t magic, std::uint16_t version, std::uint16_t type,
                 std::uint32_t size);

// A Hello that is right in every field the head checks, for the ring in the environment.
rendezvous::Hello plausible_hello(std::uint32_t rank);

// Answers the head's challenge on a raw connection as a rank with `token` ("" = none) of job
// `job_id` would. True once the head sent its proof (checked when both sides have a token);
// false if it answered otherwise (an Error frame) or not within `timeout` per frame.
bool authenticate_raw(int fd, std::uint64_t job_id, const std::string& token,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Reads one whole frame within `timeout`; nullopt on a malformed frame, EOF or timeout.
struct RawFrame {
  rendezvous::FrameType type;
  Bytes payload;
};
std::optional<RawFrame> read_frame_raw(int fd, std::chrono::milliseconds timeout);

// The head's answer on a raw connection: an Error frame's code and message, or nullopt.
std::optional<rendezvous::ErrorReply> read_error_reply(int fd);

// How many connections to `port` are established on the server side (accepted or still in the
// accept queue), from /proc/net/tcp; -1 if that is unreadable.
int connections_established(std::uint16_t port);

// How many connections to `port` wait with unread client data (server-side sockets, accepted or
// still in the accept queue, in state ESTABLISHED with a non-empty receive queue), from
// /proc/net/tcp; -1 if that is unreadable.
int connections_with_pending_data(std::uint16_t port);

}  // namespace ringpipe::test
