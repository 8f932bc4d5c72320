// ringpipe-info: joins the ring and says, for this rank, how each edge is carried (neighbour,
// host, data path, transports), then probes it: a ring step (send to the successor while
// receiving from the predecessor) with a small and a large message, every byte checked. With
// --json each rank prints one line of JSON instead: the edges with their counters after the
// probe (Ring::stats), and the probe's results.
//
//   ringpipe-run -n 4 -- ringpipe-info [--device cpu|gpu] [--iters N] [--json]
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>
#include <ringpipe/stats.hpp>

#include "buffer.hpp"
#include "cli.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t kSmall = 8;
constexpr std::size_t kLarge = std::size_t{4} << 20;
constexpr ringpipe::Tag kProbeTag = 7;

void print_edge(ringpipe::Ring& ring, const char* side, ringpipe::PipeGroup& edge) {
  const ringpipe::LinkInfo info = ring.link_info(edge);
  std::printf("  %s: rank %d on %s, %s\n", side, info.peer, info.peer_host.c_str(),
              info.describe().c_str());
}

// A JSON string literal.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

std::string json_direction(const ringpipe::DirectionStats& direction) {
  std::string failures, buckets;
  for (std::size_t code = 0; code < ringpipe::kErrcCount; ++code) {
    failures += (code == 0 ? "" : ",") +
                json_string(ringpipe::to_string(static_cast<ringpipe::Errc>(code))) + ":" +
                std::to_string(direction.failures[code]);
  }
  for (std::size_t i = 0; i < ringpipe::kLatencyBuckets; ++i) {
    buckets += (i == 0 ? "" : ",") + std::to_string(direction.latency_buckets[i]);
  }
  return "{\"messages\":" + std::to_string(direction.messages) +
         ",\"bytes\":" + std::to_string(direction.bytes) +
         ",\"in_flight\":" + std::to_string(direction.in_flight) + ",\"failures\":{" + failures +
         "},\"latency_sum_ns\":" + std::to_string(direction.latency_sum_ns) +
         ",\"latency_buckets\":[" + buckets + "]}";
}

std::string json_single_copy(const ringpipe::SingleCopyPaths& paths) {
  return std::string("{\"registered\":") + (paths.registered ? "true" : "false") +
         ",\"plain\":" + (paths.plain ? "true" : "false") +
         ",\"registered_min_bytes\":" + std::to_string(paths.registered_min_bytes) +
         ",\"plain_min_bytes\":" + std::to_string(paths.plain_min_bytes) +
         ",\"plain_max_bytes\":" + std::to_string(paths.plain_max_bytes) +
         ",\"why_not\":" + json_string(paths.why_not) + "}";
}

std::string json_edge(const ringpipe::EdgeStats& edge) {
  std::string transports;
  for (const std::string& transport : edge.link.transports) {
    transports += (transports.empty() ? "" : ",") + json_string(transport);
  }
  const std::string last_error =
      edge.last_error ? "{\"code\":" + json_string(ringpipe::to_string(edge.last_error->code)) +
                            ",\"message\":" + json_string(edge.last_error->message) + "}"
                      : std::string("null");
  return "{\"edge\":" + json_string(edge.edge) + ",\"peer\":" + std::to_string(edge.peer) +
         ",\"peer_host\":" + json_string(edge.link.peer_host) +
         ",\"data_path\":" + json_string(ringpipe::to_string(edge.link.data_path)) +
         ",\"transports\":[" + transports +
         "],\"single_copy\":" + json_single_copy(edge.link.single_copy) +
         ",\"send\":" + json_direction(edge.send) + ",\"recv\":" + json_direction(edge.recv) +
         ",\"last_error\":" + last_error + "}";
}

// One line, so the ranks' lines stay whole in a shared output.
void print_json(ringpipe::Ring& ring, double small, double large, bool intact) {
  const ringpipe::RingStats stats = ring.stats();
  std::string edges;
  for (const ringpipe::EdgeStats& edge : stats.edges) {
    edges += (edges.empty() ? "" : ",") + json_edge(edge);
  }
  const std::string line =
      "{\"rank\":" + std::to_string(stats.rank) +
      ",\"world_size\":" + std::to_string(stats.world_size) +
      ",\"comm_device\":" + json_string(ringpipe::to_string(ring.comm_device())) +
      ",\"rendezvous_seconds\":" + json_number(stats.rendezvous_seconds) +
      ",\"liveness_beats_missed\":" + std::to_string(stats.liveness_beats_missed) + ",\"edges\":[" +
      edges + "],\"probe\":{\"small_bytes\":" + std::to_string(kSmall) +
      ",\"small_us\":" + json_number(small * 1e6) + ",\"large_bytes\":" + std::to_string(kLarge) +
      ",\"large_gbps\":" + json_number(kLarge / large / 1e9) +
      ",\"intact\":" + (intact ? "true" : "false") + "}}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
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
  bool json = false;
  ringpipe_cli::Parser parser(
      "ringpipe-info", "[--device cpu|gpu] [--iters N] [--json]",
      "Joins the ring described by the environment (start it under ringpipe-run, torchrun, ...)\n"
      "and prints, per rank, how each edge is carried and a quick probe of it.\n");
  parser.add("--device", "cpu|gpu", "host or CUDA device buffers (default: RINGPIPE_COMM_DEVICE)",
             ringpipe_cli::one_of(device, {"cpu", "gpu"}));
  parser.add("--iters", "N", "timed ring steps of each probe (default 20)",
             ringpipe_cli::integer(iterations, 1, 100000));
  parser.add_flag("--json",
                  "one line of JSON per rank instead: each edge's data path,\n"
                  "transports and counters after the probe",
                  json);
  if (const std::optional<int> status = parser.parse(argc, argv)) return *status;
  try {
    ringpipe::Options options = ringpipe::Options::from_env();
    if (!device.empty()) options.comm_device = ringpipe::parse_comm_device(device, "--device");
    ringpipe::Ring ring(options);
    if (!json) {
      std::printf("rank %d of %d, %s mode\n", ring.rank(), ring.world_size(),
                  std::string(ringpipe::to_string(ring.comm_device())).c_str());
      print_edge(ring, "pred", ring.pred());
      print_edge(ring, "succ", ring.succ());
    }
    double small = 0, large = 0;
    const bool intact =
        probe(ring, kSmall, iterations, small) && probe(ring, kLarge, iterations, large);
    if (json) {
      print_json(ring, small, large, intact);
      return intact ? 0 : 1;
    }
    std::printf("  ring step: %zu B %.2f us, %zu MiB %.2f GB/s, data %s\n", kSmall, small * 1e6,
                kLarge >> 20, kLarge / large / 1e9, intact ? "intact" : "WRONG");
    return intact ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ringpipe-info: %s\n", error.what());
  }
  return 1;
}
