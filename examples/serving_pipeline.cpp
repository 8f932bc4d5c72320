// serving_pipeline: the traffic of pipeline-parallel LLM serving, over a ringpipe ring.
//
// Rank 0 holds the first stage: each step it originates the activations of K micro-batches and
// sends them to rank 1. Every later rank receives a micro-batch from its predecessor, applies its
// stage and passes the result on. The last rank samples token ids from each micro-batch and sends
// them to its successor, which is rank 0 because the ring wraps around, in time for the next
// step. With one rank, rank 0 is every stage and the tokens travel over the self-loop.
//
// The same code runs in both modes: in GPU mode (RINGPIPE_COMM_DEVICE=gpu) the activations live
// in CUDA memory and travel over pred()/succ(), the token ids stay in host memory on
// host_pred()/host_succ(); only the allocation differs. The stages "compute" on a host copy.
//
// Every message is checked against what it must contain; a mismatch or error exits 1.
//
//   ringpipe-run -n 4 -- serving_pipeline --steps 3 --micro-batches 4 --bytes 1M
//   ringpipe-run -n 2 --comm-device gpu -- serving_pipeline
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>

#include "buffer.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kTokensPerMicroBatch = 16;
// Llama 3's vocabulary, so the ids look like real ones.
constexpr std::uint64_t kVocabularySize = 128256;
// Activations of micro-batch k use tag k and its tokens kTokenTag + k, so the two never match.
constexpr ringpipe::Tag kTokenTag = 1u << 16;
constexpr int kMaxMicroBatches = 1024;
constexpr int kMaxSteps = 1'000'000;
constexpr std::uint64_t kMaxActivationBytes = std::uint64_t{1} << 30;

using Element = std::uint16_t;  // an fp16-sized activation value
using Tokens = std::array<std::int64_t, kTokensPerMicroBatch>;

struct Config {
  int steps = 3;
  int micro_batches = 4;
  std::size_t activation_bytes = std::size_t{1} << 20;
};

std::uint64_t mix(std::uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t seed_of(int step, int micro_batch) {
  return mix((static_cast<std::uint64_t>(step) << 32) | static_cast<std::uint32_t>(micro_batch));
}

// What stage `stage` outputs for element i: the input, plus one per stage it went through. The
// input differs per step and micro-batch, so a stale or misrouted message cannot pass.
Element activation_after(int stage, std::uint64_t seed, std::size_t i) {
  return static_cast<Element>((mix(seed ^ i) >> 48) + static_cast<std::uint64_t>(stage) + 1);
}

Tokens sample_tokens(std::uint64_t seed, int last_rank) {
  Tokens tokens;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const std::uint64_t draw = mix(seed ^ (static_cast<std::uint64_t>(last_rank) << 40) ^ t);
    tokens[t] = static_cast<std::int64_t>(draw % kVocabularySize);
  }
  return tokens;
}

// One micro-batch's activation buffer, in host memory or (GPU mode) CUDA memory with a host
// copy to compute on. One spare element: a message longer than expected arrives whole and is
// reported as a wrong size, instead of failing as truncated.
class Activation {
 public:
  Activation(std::size_t elements, ringpipe::CommDevice device)
      : capacity_bytes_((elements + 1) * sizeof(Element)),
        buffer_(device == ringpipe::CommDevice::Gpu
                    ? message_buffer::make_device_buffer(capacity_bytes_)
                    : message_buffer::make_host_buffer(capacity_bytes_)) {}
  [[nodiscard]] std::size_t capacity_bytes() const { return capacity_bytes_; }
  // What the ring sends from and receives into.
  [[nodiscard]] void* message() { return buffer_->data(); }
  // The host copy, and moving it to and from the message (nothing to do in host memory).
  [[nodiscard]] Element* elements() { return reinterpret_cast<Element*>(buffer_->host()); }
  [[nodiscard]] const Element* elements() const {
    return reinterpret_cast<const Element*>(buffer_->host());
  }
  void to_message(std::size_t bytes) { buffer_->upload(bytes); }
  void from_message(std::size_t bytes) { buffer_->download(bytes); }

 private:
  std::size_t capacity_bytes_;
  std::unique_ptr<message_buffer::Buffer> buffer_;
};

// Data that is not what the pipeline must produce; the message says where and how.
struct Mismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check_size(std::size_t got, std::size_t expected, const std::string& where) {
  if (got != expected) {
    throw Mismatch(where + ": " + std::to_string(got) + " bytes, expected " +
                   std::to_string(expected));
  }
}

void check_activation(const Activation& received, std::size_t bytes, int from_stage,
                      std::uint64_t seed, const std::string& where) {
  const std::size_t elements = bytes / sizeof(Element);
  for (std::size_t i = 0; i < elements; ++i) {
    const Element expected = activation_after(from_stage, seed, i);
    if (received.elements()[i] != expected) {
      char detail[96];
      std::snprintf(detail, sizeof detail, ": first bad element %zu is 0x%04x, expected 0x%04x", i,
                    received.elements()[i], expected);
      throw Mismatch(where + detail);
    }
  }
}

void check_tokens(const Tokens& received, const Tokens& expected, const std::string& where) {
  for (std::size_t t = 0; t < expected.size(); ++t) {
    if (received[t] != expected[t]) {
      throw Mismatch(where + ": first bad token " + std::to_string(t) + " is " +
                     std::to_string(received[t]) + ", expected " + std::to_string(expected[t]));
    }
  }
}

std::string place(int step, int micro_batch, int rank, const char* message) {
  return "step " + std::to_string(step) + " micro-batch " + std::to_string(micro_batch) + " rank " +
         std::to_string(rank) + " " + message;
}

// Rank 0: originate every micro-batch, then collect the tokens the last rank sends back.
void run_first_stage(ringpipe::Ring& ring, const Config& config, int step,
                     std::vector<Activation>& activations) {
  const int last = ring.world_size() - 1;
  const auto start = std::chrono::steady_clock::now();
  const std::size_t elements = config.activation_bytes / sizeof(Element);

  // Posted before any activation leaves, so tokens never wait unmatched at rank 0.
  std::vector<Tokens> tokens_in(static_cast<std::size_t>(config.micro_batches));
  std::vector<ringpipe::Request> token_receives;
  for (int k = 0; k < config.micro_batches; ++k) {
    token_receives.push_back(ring.host_pred().irecv(&tokens_in[k], sizeof(Tokens), kTokenTag + k));
  }

  std::vector<Tokens> tokens_out(static_cast<std::size_t>(config.micro_batches));
  std::vector<ringpipe::Request> sends;
  for (int k = 0; k < config.micro_batches; ++k) {
    const std::uint64_t seed = seed_of(step, k);
    Activation& activation = activations[k];
    for (std::size_t i = 0; i < elements; ++i)
      activation.elements()[i] = activation_after(0, seed, i);
    if (last == 0) {
      // A one-rank pipeline: rank 0 is also the last stage.
      tokens_out[k] = sample_tokens(seed, last);
      sends.push_back(ring.host_succ().isend(&tokens_out[k], sizeof(Tokens), kTokenTag + k));
    } else {
      activation.to_message(config.activation_bytes);
      sends.push_back(ring.succ().isend(activation.message(), config.activation_bytes, k));
    }
  }

  for (int k = 0; k < config.micro_batches; ++k) {
    token_receives[k].wait();
    check_size(token_receives[k].bytes(), sizeof(Tokens),
               place(step, k, 0, "tokens from the last rank"));
    check_tokens(tokens_in[k], sample_tokens(seed_of(step, k), last),
                 place(step, k, 0, "tokens from the last rank"));
  }
  for (ringpipe::Request& send : sends) send.wait();

  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  std::printf(
      "step %d: %d micro-batches x %zu B through %d rank%s, %zu tokens back, verified, "
      "%.2f ms\n",
      step, config.micro_batches, config.activation_bytes, ring.world_size(),
      ring.world_size() == 1 ? "" : "s",
      static_cast<std::size_t>(config.micro_batches) * kTokensPerMicroBatch, elapsed.count());
}

// Ranks 1..N-1: receive from the previous stage, compute, pass on (or send tokens to rank 0).
void run_later_stage(ringpipe::Ring& ring, const Config& config, int step,
                     std::vector<Activation>& activations) {
  const int rank = ring.rank();
  const bool is_last = rank == ring.world_size() - 1;
  const std::size_t elements = config.activation_bytes / sizeof(Element);

  // All receives go out first: micro-batch k+1 can land while k is being computed.
  std::vector<ringpipe::Request> receives;
  for (int k = 0; k < config.micro_batches; ++k) {
    Activation& activation = activations[k];
    receives.push_back(ring.pred().irecv(activation.message(), activation.capacity_bytes(), k));
  }

  std::vector<Tokens> tokens_out(static_cast<std::size_t>(config.micro_batches));
  std::vector<ringpipe::Request> sends;
  for (int k = 0; k < config.micro_batches; ++k) {
    const std::uint64_t seed = seed_of(step, k);
    Activation& activation = activations[k];
    receives[k].wait();
    const std::string where = place(step, k, rank, "activations from the previous stage");
    check_size(receives[k].bytes(), config.activation_bytes, where);
    activation.from_message(config.activation_bytes);
    check_activation(activation, config.activation_bytes, rank - 1, seed, where);

    // The stage's "compute": deterministic, so the next stage knows what to expect.
    for (std::size_t i = 0; i < elements; ++i) ++activation.elements()[i];

    if (is_last) {
      tokens_out[k] = sample_tokens(seed, rank);
      sends.push_back(ring.host_succ().isend(&tokens_out[k], sizeof(Tokens), kTokenTag + k));
    } else {
      activation.to_message(config.activation_bytes);
      sends.push_back(ring.succ().isend(activation.message(), config.activation_bytes, k));
    }
  }
  for (ringpipe::Request& send : sends) send.wait();
}

template <typename Int>
std::optional<Int> parse_number(std::string_view text, Int min, Int max) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

// "4096", "64K", "1M" (powers of 1024).
std::optional<std::size_t> parse_bytes(std::string_view text) {
  std::uint64_t unit = 1;
  if (!text.empty() && (text.back() == 'K' || text.back() == 'M' || text.back() == 'G')) {
    unit = std::uint64_t{1} << (text.back() == 'K' ? 10 : text.back() == 'M' ? 20 : 30);
    text.remove_suffix(1);
  }
  const auto count = parse_number<std::uint64_t>(text, 0, kMaxActivationBytes / unit);
  if (!count) return std::nullopt;
  return static_cast<std::size_t>(*count * unit);
}

constexpr const char* kUsage =
    "Usage: serving_pipeline [--steps N] [--micro-batches K] [--bytes SIZE]\n"
    "\n"
    "Runs the traffic of pipeline-parallel serving over the ring and checks every message.\n"
    "Start it under a launcher, e.g.  ringpipe-run -n 4 -- serving_pipeline\n"
    "\n"
    "  --steps N           decode steps (default 3)\n"
    "  --micro-batches K   micro-batches per step, 1..1024 (default 4)\n"
    "  --bytes SIZE        activation bytes per micro-batch, even, up to 1G (default 1M)\n"
    "  -h, --help          show this help\n";

// Returns the exit status to stop with, or nullopt to run.
std::optional<int> parse_args(int argc, char** argv, Config& config) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg != "--steps" && arg != "--micro-batches" && arg != "--bytes") {
      std::fprintf(stderr, "serving_pipeline: unknown option '%s'\n%s", argv[i], kUsage);
      return 2;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "serving_pipeline: %s needs a value\n", argv[i]);
      return 2;
    }
    const std::string_view value = argv[++i];
    bool valid = false;
    if (arg == "--steps") {
      const auto steps = parse_number(value, 1, kMaxSteps);
      valid = steps.has_value();
      config.steps = steps.value_or(0);
    } else if (arg == "--micro-batches") {
      const auto micro_batches = parse_number(value, 1, kMaxMicroBatches);
      valid = micro_batches.has_value();
      config.micro_batches = micro_batches.value_or(0);
    } else {
      const auto bytes = parse_bytes(value);
      valid = bytes.has_value() && *bytes % sizeof(Element) == 0;
      config.activation_bytes = bytes.value_or(0);
    }
    if (!valid) {
      std::fprintf(stderr, "serving_pipeline: invalid value '%s' for %s\n%s", argv[i], argv[i - 1],
                   kUsage);
      return 2;
    }
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Config config;
  if (const auto status = parse_args(argc, argv, config)) return *status;

  try {
    ringpipe::Ring ring(ringpipe::Options::from_env());
    // Allocated once; each step reuses them, as a server reuses its activation buffers.
    std::vector<Activation> activations;
    activations.reserve(static_cast<std::size_t>(config.micro_batches));
    for (int k = 0; k < config.micro_batches; ++k) {
      activations.emplace_back(config.activation_bytes / sizeof(Element), ring.comm_device());
    }
    for (int step = 0; step < config.steps; ++step) {
      if (ring.rank() == 0) {
        run_first_stage(ring, config, step, activations);
      } else {
        run_later_stage(ring, config, step, activations);
      }
    }
    if (ring.rank() == 0) std::printf("all %d steps verified\n", config.steps);
    return 0;
  } catch (const std::exception& error) {
    // Mismatch, ringpipe::Error, or a failed allocation of the activation buffers.
    std::fprintf(stderr, "serving_pipeline: %s\n", error.what());
  }
  return 1;
}
