// micro_ring: single-process costs that decide latency (Google Benchmark;
// --benchmark_format=json for tools):
//  - a 1-rank ring's round trip over its self-loop, 8 B and 4 KiB;
//  - posting and completing one request (a receive, then its send, tested to completion);
//  - a rendezvous of 1024 simulated ranks against one head, each rank a thread.
#include <ringpipe/ring.hpp>

#include "deadline.hpp"
#include "net/socket.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/server.hpp"
#include "ringpipe_config.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace {

using namespace ringpipe;

Ring& self_loop() {
  static Ring ring([] {
    Options options;
    options.progress = ProgressMode::BusyPoll;
    return options;
  }());
  return ring;
}

void BM_SelfLoop_RoundTrip(benchmark::State& state) {
  Ring& ring = self_loop();
  const auto bytes = static_cast<std::size_t>(state.range(0));
  std::vector<char> out(bytes, 'x'), in(bytes);
  for (auto _ : state) {
    Request received = ring.pred().irecv(in.data(), in.size(), 1);
    ring.succ().send(out.data(), bytes, 1);
    received.wait();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_SelfLoop_RoundTrip)->Arg(8)->Arg(4096);

void BM_Request_PostAndComplete(benchmark::State& state) {
  Ring& ring = self_loop();
  char out = 'x', in = 0;
  for (auto _ : state) {
    Request received = ring.pred().irecv(&in, 1, 2);
    Request sent = ring.succ().isend(&out, 1, 2);
    while (!received.test()) {
    }
    while (!sent.test()) {
    }
  }
}
BENCHMARK(BM_Request_PostAndComplete);

// Every rank of a 1024-rank ring, simulated by a thread with the real client, joins one head
// and waits for the release: the time from the first connection to the last rank released.
void BM_Rendezvous_1024Ranks(benchmark::State& state) {
  constexpr int kRanks = 1024;
  for (auto _ : state) {
    rendezvous::RendezvousServer server(
        net::listen_on("127.0.0.1", 0),
        rendezvous::ServerConfig{kRanks, 1, 0, RINGPIPE_VERSION, std::chrono::seconds(30)});
    const std::uint16_t port = server.port();
    std::atomic<bool> stop{false};
    std::thread head([&] { server.run(detail::Deadline(std::chrono::seconds(60)), stop); });
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> ranks;
    std::atomic<int> failed{0};
    for (int rank = 0; rank < kRanks; ++rank) {
      ranks.emplace_back([&, rank] {
        try {
          const detail::Deadline deadline(std::chrono::seconds(60));
          rendezvous::RendezvousClient client("127.0.0.1", port, deadline, /*token=*/"");
          rendezvous::Hello hello;
          hello.library_version = RINGPIPE_VERSION;
          hello.world_size = kRanks;
          hello.rank = static_cast<std::uint32_t>(rank);
          hello.job_id = 1;
          hello.host = "simulated";
          hello.host_identity = "simulated/boot";
          hello.address = std::vector<std::byte>(300, std::byte{1});  // a UCX address's size
          (void)client.join(hello, deadline);
          client.ready(deadline);
        } catch (...) {
          ++failed;
        }
      });
    }
    for (std::thread& rank : ranks) rank.join();
    const std::chrono::duration<double> taken = std::chrono::steady_clock::now() - start;
    head.join();
    state.SetIterationTime(taken.count());
    if (failed != 0) state.SkipWithError("some simulated ranks failed");
  }
}
BENCHMARK(BM_Rendezvous_1024Ranks)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
