// Ring::stats() on real rings: counts and bytes exact, failures by cause, requests in flight,
// and a Prometheus text that a strict reader accepts.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>
#include <ringpipe/stats.hpp>

#include "expect_error.hpp"
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;
using test::count_wrong;
using test::fill_pattern;
using test::run_ring;

const EdgeStats& edge_of(const RingStats& stats, const std::string& name) {
  for (const EdgeStats& edge : stats.edges) {
    if (edge.edge == name) return edge;
  }
  throw std::runtime_error("no edge " + name);
}

std::uint64_t failures_of(const DirectionStats& direction, Errc code) {
  return direction.failures[static_cast<std::size_t>(code)];
}

std::uint64_t histogram_count(const DirectionStats& direction) {
  return std::accumulate(direction.latency_buckets.begin(), direction.latency_buckets.end(),
                         std::uint64_t{0});
}

// A strict reader of the text exposition format: every sample is `name{labels} value`, every
// family has HELP and TYPE before its samples, counters end in _total, and each histogram's
// buckets are cumulative with +Inf equal to _count. Returns what it found wrong.
std::vector<std::string> prometheus_problems(const std::string& text) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  // Histogram series (labels without le) -> bucket counts in order, and their _count.
  std::map<std::string, std::vector<std::pair<std::string, double>>> buckets;
  std::map<std::string, double> counts;
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$)");
  const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      words >> name;
      helped.insert(name);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      if (!helped.count(name)) problems.push_back("TYPE before HELP: " + line);
      if (type != "counter" && type != "gauge" && type != "histogram") {
        problems.push_back("unknown type: " + line);
      }
      if (type == "counter" && !name.ends_with("_total")) {
        problems.push_back("counter without _total: " + line);
      }
      types[name] = type;
      continue;
    }
    std::smatch match;
    if (!std::regex_match(line, match, sample)) {
      problems.push_back("not a sample line: " + line);
      continue;
    }
    std::string name = match[1];
    const std::string labels = match[2];
    const std::string value_text = match[3];
    // The labels must be nothing but comma-separated name="value" pairs.
    std::string rest = labels, series, le;
    std::smatch pair;
    while (!rest.empty()) {
      if (!std::regex_search(rest, pair, label) || pair.position(0) != 0) {
        problems.push_back("bad labels: " + line);
        break;
      }
      if (pair[1] == "le") {
        le = pair[2];
      } else {
        series += pair.str(0) + ",";
      }
      rest = pair.suffix();
      if (!rest.empty() && rest[0] == ',') rest.erase(0, 1);
    }
    double value = 0;
    try {
      std::size_t used = 0;
      value = std::stod(value_text, &used);
      if (used != value_text.size()) throw std::invalid_argument(value_text);
    } catch (const std::exception&) {
      problems.push_back("bad value: " + line);
    }
    std::string family = name;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.substr(0, name.size() - std::min(name.size(), suffix.size()));
      if (name.ends_with(suffix) && types.count(base) && types[base] == "histogram") family = base;
    }
    if (!types.count(family)) {
      problems.push_back("sample before its HELP and TYPE: " + line);
      continue;
    }
    if (family != name && name.ends_with("_bucket")) {
      if (le.empty()) problems.push_back("bucket without le: " + line);
      buckets[family + "{" + series].emplace_back(le, value);
    } else if (family != name && name.ends_with("_count")) {
      counts[family + "{" + series] = value;
    }
  }
  for (const auto& [series, list] : buckets) {
    double previous = 0;
    double previous_bound = -1;
    for (const auto& [le, count] : list) {
      const double bound = le == "+Inf" ? 1e300 : std::stod(le);
      if (bound <= previous_bound) problems.push_back("buckets out of order: " + series);
      if (count < previous) problems.push_back("buckets not cumulative: " + series);
      previous = count;
      previous_bound = bound;
    }
    if (list.empty() || list.back().first != "+Inf") {
      problems.push_back("no +Inf bucket: " + series);
    } else if (!counts.count(series) || counts[series] != list.back().second) {
      problems.push_back("+Inf bucket differs from _count: " + series);
    }
  }
  return problems;
}

// Sends `count` patterned messages of growing size on `out` while receiving as many on `in`;
// returns the bytes sent (the neighbour sends the same sizes).
std::uint64_t exchange(PipeGroup& out, PipeGroup& in, int count, int from, int to) {
  std::uint64_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    const std::size_t size = static_cast<std::size_t>(i) * 1000;
    std::vector<std::uint8_t> sent(size), received(size + 64);
    fill_pattern(sent.data(), size, (std::uint64_t(from) << 32) | std::uint64_t(i));
    Request receive = in.irecv(received.data(), received.size(), 4);
    Request send = out.isend(sent.data(), size, 4);
    send.wait(10s);
    receive.wait(10s);
    EXPECT_EQ(receive.bytes(), size);
    EXPECT_EQ(count_wrong(received.data(), size, (std::uint64_t(to) << 32) | std::uint64_t(i)), 0u);
    bytes += size;
  }
  return bytes;
}

TEST(Metrics, CountsAndBytesAreExactUnderPatternedTrafficInBothDirections) {
  run_ring(3, [](Ring& ring) {
    const int n = ring.world_size();
    const int pred = (ring.rank() - 1 + n) % n;
    const int succ = (ring.rank() + 1) % n;
    const std::uint64_t forward = exchange(ring.succ(), ring.pred(), 7, ring.rank(), pred);
    const std::uint64_t backward = exchange(ring.pred(), ring.succ(), 5, ring.rank(), succ);

    const RingStats stats = ring.stats();
    EXPECT_EQ(stats.rank, ring.rank());
    EXPECT_EQ(stats.world_size, 3);
    EXPECT_GT(stats.rendezvous_seconds, 0.0);
    ASSERT_EQ(stats.edges.size(), 2u);
    const EdgeStats& to_pred = edge_of(stats, "pred");
    const EdgeStats& to_succ = edge_of(stats, "succ");
    EXPECT_EQ(to_pred.peer, pred);
    EXPECT_EQ(to_succ.peer, succ);
    EXPECT_EQ(to_succ.link.data_path, DataPath::Host);
    EXPECT_FALSE(to_succ.link.transports.empty());
    EXPECT_EQ(to_succ.send.messages, 7u);
    EXPECT_EQ(to_succ.send.bytes, forward);
    EXPECT_EQ(to_pred.recv.messages, 7u);
    EXPECT_EQ(to_pred.recv.bytes, forward);
    EXPECT_EQ(to_pred.send.messages, 5u);
    EXPECT_EQ(to_pred.send.bytes, backward);
    EXPECT_EQ(to_succ.recv.messages, 5u);
    EXPECT_EQ(to_succ.recv.bytes, backward);
    for (const EdgeStats* edge : {&to_pred, &to_succ}) {
      for (const DirectionStats* direction : {&edge->send, &edge->recv}) {
        EXPECT_EQ(direction->in_flight, 0u);
        EXPECT_EQ(direction->failed(), 0u);
        EXPECT_EQ(histogram_count(*direction), direction->messages);
        EXPECT_GT(direction->latency_sum_ns, 0u);
      }
      EXPECT_FALSE(edge->last_error.has_value());
    }
  });
}

TEST(Metrics, InFlightGoesUpWhilePostedAndBackToZero) {
  run_ring(2, [](Ring& ring) {
    std::uint8_t go = 1;
    std::array<std::uint64_t, 3> values{};
    if (ring.rank() == 1) {
      ring.pred().recv(&go, 1, 1, 10s);  // rank 0 has posted its receives
      for (std::uint64_t& value : values) ring.succ().send(&value, sizeof value, 2, 10s);
      return;
    }
    std::vector<Request> pending;
    for (std::uint64_t& value : values) pending.push_back(ring.pred().irecv(&value, 8, 2));
    {
      Request dropped = ring.pred().irecv(&go, 1, 3);  // never sent: dropped unfinished
      EXPECT_EQ(edge_of(ring.stats(), "pred").recv.in_flight, 4u);
    }
    EXPECT_EQ(edge_of(ring.stats(), "pred").recv.in_flight, 3u);
    ring.succ().send(&go, 1, 1, 10s);
    for (Request& request : pending) request.wait(10s);
    const EdgeStats pred = edge_of(ring.stats(), "pred");
    EXPECT_EQ(pred.recv.in_flight, 0u);
    EXPECT_EQ(pred.recv.messages, 3u);
    EXPECT_EQ(pred.recv.failed(), 0u) << "a dropped receive is no failure";
  });
}

TEST(Metrics, FailuresAreCountedByCauseWithTheLastError) {
  run_ring(2, [](Ring& ring) {
    std::array<std::uint8_t, 16> large{};
    std::array<std::uint8_t, 4> small{};
    std::uint8_t go = 0;
    if (ring.rank() == 1) {
      ring.succ().send(large.data(), large.size(), 10, 10s);  // does not fit rank 0's buffer
      ring.pred().recv(&go, 1, 11, 10s);
      return;  // closes its ring: rank 0's pending receive fails with Closed
    }
    test::expect_error(Errc::Timeout, "timed out",
                       [&] { ring.pred().recv(&go, 1, 9, std::chrono::milliseconds(100)); });
    test::expect_error(Errc::Truncated, "does not fit",
                       [&] { ring.pred().recv(small.data(), small.size(), 10, 10s); });
    Request pending = ring.pred().irecv(&go, 1, 12);
    ring.succ().send(&go, 1, 11, 10s);
    test::expect_error(Errc::Closed, "recv on rank 0 <- pred 1", [&] { pending.wait(10s); });
    test::expect_error(Errc::Closed, "", [&] { ring.succ().send(&go, 1, 13, 10s); });

    const RingStats stats = ring.stats();
    const EdgeStats& pred = edge_of(stats, "pred");
    EXPECT_EQ(failures_of(pred.recv, Errc::Timeout), 1u);
    EXPECT_EQ(failures_of(pred.recv, Errc::Truncated), 1u);
    EXPECT_EQ(failures_of(pred.recv, Errc::Closed), 1u);
    EXPECT_EQ(pred.recv.failed(), 3u);
    EXPECT_EQ(pred.recv.messages, 0u);
    EXPECT_EQ(pred.recv.in_flight, 0u);
    ASSERT_TRUE(pred.last_error.has_value());
    EXPECT_EQ(pred.last_error->code, Errc::Closed);
    EXPECT_NE(pred.last_error->message.find("recv on rank 0 <- pred 1 tag 12"), std::string::npos)
        << pred.last_error->message;
    const EdgeStats& succ = edge_of(stats, "succ");
    EXPECT_EQ(succ.send.messages, 1u);
    EXPECT_EQ(failures_of(succ.send, Errc::Closed), 1u) << "a send refused at its post counts";
    EXPECT_EQ(succ.send.in_flight, 0u);

    const std::string text = to_prometheus(stats);
    EXPECT_NE(text.find("ringpipe_failures_total{rank=\"0\",peer=\"1\",edge=\"pred\","
                        "direction=\"recv\",cause=\"Truncated\"} 1\n"),
              std::string::npos)
        << text;
  });
}

TEST(Metrics, PrometheusTextIsWellFormed) {
  run_ring(2, [](Ring& ring) {
    exchange(ring.succ(), ring.pred(), 4, ring.rank(), 1 - ring.rank());
    std::uint8_t byte = 0;
    test::expect_error(Errc::Timeout, "timed out",
                       [&] { ring.pred().recv(&byte, 1, 9, std::chrono::milliseconds(50)); });
    const std::string text = to_prometheus(ring.stats());
    // Neither rank closes while the other still waits for its timeout.
    Request done = ring.pred().irecv(&byte, 1, 10);
    ring.succ().send(&byte, 1, 10, 10s);
    done.wait(10s);
    const std::vector<std::string> problems = prometheus_problems(text);
    for (const std::string& problem : problems) ADD_FAILURE() << problem;
    EXPECT_TRUE(problems.empty()) << text;
    EXPECT_NE(
        text.find("ringpipe_messages_total{rank=\"" + std::to_string(ring.rank()) + "\",peer=\"" +
                  std::to_string(1 - ring.rank()) + "\",edge=\"succ\",direction=\"send\"} 4\n"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("ringpipe_operation_latency_seconds_bucket{"), std::string::npos);
    EXPECT_NE(text.find("le=\"+Inf\"} 4\n"), std::string::npos) << text;
    EXPECT_NE(text.find("ringpipe_last_error_info{"), std::string::npos) << text;
  });
}

TEST(Metrics, TheStrictReaderRejectsMalformedText) {
  EXPECT_FALSE(prometheus_problems("ringpipe_x_total{a=\"1\"} 1\n").empty()) << "no HELP/TYPE";
  EXPECT_FALSE(prometheus_problems("# HELP a_total x\n# TYPE a_total counter\n"
                                   "a_total{b=1} 1\n")
                   .empty());
  EXPECT_FALSE(prometheus_problems("# HELP h x\n# TYPE h histogram\n"
                                   "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_count{} 2\n")
                   .empty());
  EXPECT_FALSE(prometheus_problems("# HELP h x\n# TYPE h histogram\n"
                                   "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count{} 3\n")
                   .empty());
  EXPECT_TRUE(prometheus_problems("# HELP h x\n# TYPE h histogram\n"
                                  "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count{} 2\n")
                  .empty());
}

TEST(Metrics, BeatsMissedWhileANeighbourIsStoppedAreCounted) {
  test::SpawnOptions options;
  // Beats every 250 ms; a 1.2 s stop misses about four, far from the 2 s stall.
  options.customize = [](int, auto& env) { env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "2"; };
  run_ring(
      2,
      [](Ring& ring) {
        std::int32_t pid = ::getpid();
        if (ring.rank() == 1) {
          ring.succ().send(&pid, sizeof pid, 1, 10s);
          ring.pred().recv(&pid, sizeof pid, 2, 20s);  // after the stop
          return;
        }
        std::int32_t neighbour = 0;
        ring.pred().recv(&neighbour, sizeof neighbour, 1, 10s);
        const std::uint64_t before = ring.stats().liveness_beats_missed;
        ASSERT_EQ(::kill(neighbour, SIGSTOP), 0);
        std::this_thread::sleep_for(1200ms);
        ASSERT_EQ(::kill(neighbour, SIGCONT), 0);
        EXPECT_GE(ring.stats().liveness_beats_missed, before + 2);
        ring.succ().send(&pid, sizeof pid, 2, 10s);
      },
      options);
}

TEST(Metrics, StatsMayBeReadFromAnotherThreadWhileTheRingIsUsed) {
  run_ring(2, [](Ring& ring) {
    std::atomic<bool> done{false};
    std::uint64_t last_seen = 0;
    bool monotonic = true;
    std::thread scraper([&] {
      while (!done.load()) {
        const std::uint64_t messages = edge_of(ring.stats(), "succ").send.messages;
        monotonic = monotonic && messages >= last_seen;
        last_seen = messages;
        (void)to_prometheus(ring.stats());
      }
    });
    std::uint64_t value = 0;
    for (int i = 0; i < 2000; ++i) {
      Request receive = ring.pred().irecv(&value, sizeof value, 1);
      ring.succ().send(&value, sizeof value, 1, 10s);
      receive.wait(10s);
    }
    done = true;
    scraper.join();
    EXPECT_TRUE(monotonic);
    EXPECT_EQ(edge_of(ring.stats(), "succ").send.messages, 2000u);
    EXPECT_EQ(edge_of(ring.stats(), "pred").recv.messages, 2000u);
  });
}

}  // namespace
}  // namespace ringpipe
