// fault_times: how long the ranks of a ring take to notice a fault of one rank.
//
// The parent forks a ring of N ranks on 127.0.0.1 (before any ringpipe or UCX object exists),
// applies one fault to a victim rank while every rank streams to its successor, and reads from
// each surviving rank, through a pipe, the code and CLOCK_MONOTONIC time of its first failed
// operation. This header is what the parent and the rank processes share.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fault_times {

enum class Fault {
  Kill,   // SIGKILL
  Stop,   // SIGSTOP (killed once the run is over)
  Close,  // the victim destroys its Ring, an orderly close
  Abort,  // the victim calls Ring::abort() (only where the library has it)
};

std::string_view to_string(Fault fault);
std::optional<Fault> parse_fault(std::string_view text);

inline constexpr int kMaxWorld = 64;

struct Config {
  int world = 4;
  int victim = 1;
  int runs = 5;
  std::chrono::milliseconds liveness{2000};
  // The deadline of every wait in the ranks: a fault nothing detects ends there as Timeout.
  std::chrono::milliseconds op_timeout{10000};
  std::chrono::milliseconds warmup{300};  // streaming before the fault
  std::size_t size = 1 << 20;
  std::vector<Fault> faults = {Fault::Kill, Fault::Stop, Fault::Close};
  std::string json_path;
};

// Reads the options into `config`: 0 to run, 1 after --help or --version (printed), 2 on a
// usage error (reported on stderr).
int parse_args(int argc, char** argv, Config& config);

// One record from a rank process to the parent; smaller than PIPE_BUF, so each write is atomic
// and the ranks can share one pipe.
struct Report {
  enum Kind : std::int32_t {
    Ready = 1,    // streamed its first rounds
    Failed = 2,   // its first failed operation: code, time, what
    Faulted = 3,  // the victim closed or aborted its ring at `time_ns`
    NoJoin = 4,   // the ring did not form: what
    Corrupt = 5,  // a message arrived damaged or out of order: what
  };
  std::int32_t rank = 0;
  std::int32_t kind = 0;
  std::int32_t code = -1;  // ringpipe::Errc, or -1 for a non-ringpipe exception
  std::int32_t reserved = 0;
  std::int64_t time_ns = 0;  // CLOCK_MONOTONIC
  std::array<char, 488> what{};
};
static_assert(sizeof(Report) <= 512);

std::int64_t monotonic_ns();

// What a rank process needs; it inherits the descriptors.
struct RankPlan {
  const Config* config = nullptr;
  Fault fault = Fault::Kill;
  int rank = 0;
  std::uint16_t port = 0;
  int listen_fd = -1;  // rank 0: the rendezvous socket the parent bound
  std::uint64_t job_id = 0;
  int report_fd = -1;   // write end, shared by every rank
  int control_fd = -1;  // read end: a byte tells the victim to close or abort its ring
};

// The body of a rank process: joins, streams, reports, then waits to be killed. Never returns.
[[noreturn]] void run_rank(const RankPlan& plan);

// --- Results (fault_times_report.cpp) ----------------------------------------------------------

// The code of a survivor whose receive completed without an error but without its data.
inline constexpr std::string_view kWrongData = "WrongData";

struct Detection {
  int rank = 0;
  int distance = 0;       // hops from the victim around the ring
  bool reported = false;  // false: nothing before the harness deadline
  std::string code;       // Errc name
  double detect_ms = 0;   // from the fault
  std::string what;
};

struct RunResult {
  std::vector<Detection> survivors;
  std::string error;  // set when the run itself failed (no ring, a crash, damaged data)
};

struct ScenarioResult {
  Fault fault = Fault::Kill;
  std::vector<RunResult> runs;
};

int distance(int rank, int victim, int world);

// The table on stdout; the JSON file when the config names one.
void print_table(const Config& config, const std::vector<ScenarioResult>& scenarios);
void write_json(const Config& config, const std::vector<ScenarioResult>& scenarios);

}  // namespace fault_times
