// ringpipe: finding out, once per link, whether the neighbour can read this rank's memory: the
// hello each rank sends and the verdict the neighbour returns after trying.
#pragma once

#include "single_copy/peer_reader.hpp"
#include "single_copy/registered_memory.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <type_traits>

namespace ringpipe::single_copy {

// What a rank tells a neighbour: who it is, and a page to try reading both ways.
struct Hello {
  static constexpr std::uint32_t kMagic = 0x52504831;  // "RPH1"
  std::uint32_t magic = kMagic;
  std::uint8_t enabled = 0;  // single copy is on at this rank
  std::uint8_t reserved[3] = {};
  std::int32_t pid = 0;
  std::int32_t probe_fd = -1;
  std::uint64_t probe_serial = 0;
  std::uint64_t probe_address = 0;
  std::uint64_t probe_size = 0;
  std::uint64_t probe_pattern = 0;  // the page's first eight bytes
  std::uint64_t pid_namespace = 0;
  std::uint64_t net_namespace = 0;
  char boot_id[40] = {};
};
static_assert(std::is_trivially_copyable_v<Hello>);

// The neighbour's answer: which reads of the sender's memory worked, and if not, why.
struct Verdict {
  static constexpr std::uint32_t kMagic = 0x52505631;  // "RPV1"
  std::uint32_t magic = kMagic;
  std::uint8_t read_process = 0;
  std::uint8_t mapped_file = 0;
  std::uint8_t reserved[2] = {};
  char why[184] = {};  // "" when both work

  [[nodiscard]] std::string reason() const;
};
static_assert(std::is_trivially_copyable_v<Verdict>);

// This rank's side of the probe: the page neighbours try to read, kept for the probe's length.
class ProbePage {
 public:
  explicit ProbePage(bool enabled);
  ProbePage(const ProbePage&) = delete;
  ProbePage& operator=(const ProbePage&) = delete;
  ~ProbePage();

  [[nodiscard]] const Hello& hello() const noexcept { return hello_; }

 private:
  Hello hello_;
  Region region_;
};

// Tries to read `peer`'s probe page both ways and says what worked; `own` is this rank's hello.
Verdict judge(const Hello& own, const Hello& peer, PeerReader& reader);

}  // namespace ringpipe::single_copy
