// ringpipe: a Ring's single-copy sends and receives between processes of one host: when a send
// goes as a descriptor, and the receives whose data is still to be copied.
#pragma once

#include "single_copy/descriptor.hpp"
#include "single_copy/peer_reader.hpp"
#include "single_copy/probe.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace ringpipe::ucx {

class UcxRequest;

// What one edge's probe found: how this rank's sends may reach the neighbour, and how its
// receives read the neighbour's memory.
struct EdgeCopyPaths {
  bool send_read_process = false;  // the neighbour can process_vm_readv this rank
  bool send_mapped_file = false;   // the neighbour can map this rank's registered buffers
  bool receives = false;           // this rank can read the neighbour: descriptors may come
  pid_t peer_pid = 0;
  std::uint64_t peer_nonce = 0;  // marks the neighbour's descriptors
  std::string why_not;           // what the probe said against a path, "" if nothing
};

class SingleCopy {
 public:
  // `registered_min_bytes`: from a registered buffer; `plain_min_bytes` to `plain_max_bytes`:
  // from other memory.
  SingleCopy(bool enabled, std::size_t registered_min_bytes, std::size_t plain_min_bytes,
             std::size_t plain_max_bytes);
  SingleCopy(const SingleCopy&) = delete;
  SingleCopy& operator=(const SingleCopy&) = delete;

  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  [[nodiscard]] std::size_t registered_min_bytes() const noexcept { return registered_min_; }
  [[nodiscard]] std::size_t plain_min_bytes() const noexcept { return plain_min_; }
  [[nodiscard]] std::size_t plain_max_bytes() const noexcept { return plain_max_; }
  // The smallest message that may go as a descriptor on an edge with `paths`.
  [[nodiscard]] std::size_t threshold(const EdgeCopyPaths& paths) const noexcept;

  // The sender's decision: fills `descriptor` (but its token) and returns true if a message of
  // `bytes` from `data` goes as a descriptor on an edge with `paths`.
  bool plan(const EdgeCopyPaths& paths, const void* data, std::size_t bytes,
            single_copy::Descriptor& descriptor) const;
  // A token for a sender's ack; unique among the sends in flight.
  std::uint32_t next_token() noexcept { return ++token_; }
  // This rank's nonce, which its descriptors carry (its probe hello told the neighbours).
  void set_nonce(std::uint64_t nonce) noexcept { nonce_ = nonce; }

  // Receives whose descriptor arrived wait here for the next progress round, which copies
  // their data outside UCX's callbacks.
  void enqueue(UcxRequest* request) noexcept;
  void remove(UcxRequest* request) noexcept;
  // Copies the data of every queued receive and acknowledges it.
  void run_pending();

  [[nodiscard]] single_copy::PeerReader& reader() noexcept { return reader_; }

 private:
  bool enabled_;
  std::size_t registered_min_;
  std::size_t plain_min_;
  std::size_t plain_max_;
  std::uint32_t token_ = 0;
  std::uint64_t nonce_ = 0;
  UcxRequest* first_ = nullptr;  // the queue, linked through the requests
  UcxRequest* last_ = nullptr;
  single_copy::PeerReader reader_;
};

}  // namespace ringpipe::ucx
