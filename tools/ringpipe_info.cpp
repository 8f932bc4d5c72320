// ringpipe-info: joins the ring and says, for this rank, how each edge is carried (neighbour,
// host, data path, transports), then probes it: a ring step (send to the successor while
// receiving from the predecessor) with a small and a large message, every byte checked.
//
//   ringpipe-run -n 4 -- ringpipe-info [--device cpu|gpu] [--iters N]
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>

#include "buffer.hpp"
#include "cli.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

namespace {

constexpr std::size_t kSmall = 8;
constexpr std::size_t kLarge = std::size_t{4} << 20;
constexpr ringpipe::Tag kProbeTag = 7;

void print_edge(ringpipe::Ring& ring, const char* side, ringpipe::PipeGroup& edge) {
  const ringpipe::LinkInfo info = ring.link_info(edge);
  std::printf("  %s: rank %d on %s, %s\n", side, info.peer, info.peer_host.c_str(),
              info.describe().c_str());
}

// Mean seconds of one ring step of `bytes`; false if any byte arrived wrong.
bool probe(ringpipe::Ring& ring, std::size_t bytes, int iterations, double& seconds) {
  const bool gpu = ring.comm_device() == ringpipe::CommDevice::Gpu;
  const auto make = gpu ? message_buffer::make_device_buffer : message_buffer::make_host_buffer;
  const std::unique_ptr<message_buffer::Buffer> out = make(bytes), in = make(bytes);
  for (std::size_t i = 0; i < bytes; ++i) {
    out->host()[i] =
        static_cast<std::byte>((i * 131 + static_cast<std::size_t>(ring.rank())) & 0xff);
  }
  out->upload(bytes);
  const auto step = [&] {
    ringpipe::Request received = ring.pred().irecv(in->data(), bytes, kProbeTag);
    ring.succ().send(out->data(), bytes, kProbeTag);
    received.wait();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: connections, mappings, pools
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) step();
  seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
  in->download(bytes);
  const auto pred = static_cast<std::size_t>(ring.pred().peer());
  for (std::size_t i = 0; i < bytes; ++i) {
    if (in->host()[i] != static_cast<std::byte>((i * 131 + pred) & 0xff)) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string device;
  int iterations = 20;
  ringpipe_cli::Parser parser(
      "ringpipe-info", "[--device cpu|gpu] [--iters N]",
      "Joins the ring described by the environment (start it under ringpipe-run, torchrun, ...)\n"
      "and prints, per rank, how each edge is carried and a quick probe of it.\n");
  parser.add("--device", "cpu|gpu", "host or CUDA device buffers (default: RINGPIPE_COMM_DEVICE)",
             ringpipe_cli::one_of(device, {"cpu", "gpu"}));
  parser.add("--iters", "N", "timed ring steps of each probe (default 20)",
             ringpipe_cli::integer(iterations, 1, 100000));
  if (const std::optional<int> status = parser.parse(argc, argv)) return *status;
  try {
    ringpipe::Options options = ringpipe::Options::from_env();
    if (!device.empty()) options.comm_device = ringpipe::parse_comm_device(device, "--device");
    ringpipe::Ring ring(options);
    std::printf("rank %d of %d, %s mode\n", ring.rank(), ring.world_size(),
                std::string(ringpipe::to_string(ring.comm_device())).c_str());
    print_edge(ring, "pred", ring.pred());
    print_edge(ring, "succ", ring.succ());
    double small = 0, large = 0;
    const bool intact =
        probe(ring, kSmall, iterations, small) && probe(ring, kLarge, iterations, large);
    std::printf("  ring step: %zu B %.2f us, %zu MiB %.2f GB/s, data %s\n", kSmall, small * 1e6,
                kLarge >> 20, kLarge / large / 1e9, intact ? "intact" : "WRONG");
    return intact ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ringpipe-info: %s\n", error.what());
  }
  return 1;
}
