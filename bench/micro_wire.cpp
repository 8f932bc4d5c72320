// Single-process cost of the rendezvous wire format: what the head pays per rank.
#include "rendezvous/wire.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace ringpipe::rendezvous {
namespace {

Hello typical_hello() {
  Hello hello;
  hello.library_version = "0.1.0";
  hello.world_size = 64;
  hello.rank = 17;
  hello.host = "node-17";
  hello.host_identity = "node-17/8c1c0f0e-6c2d-4b7a-9d55-0a4f3c8e2b11";
  hello.address.assign(600, std::byte{0x5a});  // a UCX worker address with shm and tcp
  return hello;
}

void BM_Wire_EncodeHello(benchmark::State& state) {
  const Hello hello = typical_hello();
  for (auto _ : state) benchmark::DoNotOptimize(encode(hello));
}
BENCHMARK(BM_Wire_EncodeHello);

void BM_Wire_DecodeHello(benchmark::State& state) {
  const std::vector<std::byte> frame = encode(typical_hello());
  const auto payload = std::span(frame).subspan(kHeaderSize);
  for (auto _ : state) {
    benchmark::DoNotOptimize(decode_header(std::span(frame).first(kHeaderSize)));
    benchmark::DoNotOptimize(decode_hello(payload));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_Wire_DecodeHello);

}  // namespace
}  // namespace ringpipe::rendezvous

BENCHMARK_MAIN();
