// ringpipe: the messages of GPU mode, sent over an edge's host link. The receiver always
// matches a Descriptor by tag and answers with a Reply; what moves the data depends on the path.
//
// CUDA IPC:
//   sender                                   receiver
//   isend: record event on stream,           irecv: record event on stream
//          Descriptor ------------------->   matches it (edge, direction, tag); the copies
//                                            matched in one progress pass are enqueued
//                                            together on the edge's copy stream, after both
//                                            events,
//   request completes  <------------------   Reply "copied" once its copy has finished
//
// NCCL (no tags, operations match in order):
//          Descriptor ------------------->   irecv matches it: ncclRecv enqueued, turn n
//   ncclSend enqueued in turn order <-----   Reply "go" with turn n
//   each side completes when its operation has finished on the communicator's stream
//
// Both sides run one build of ringpipe (the rendezvous checks the version), so the structs
// travel as they are in memory.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringpipe::gpu {

inline constexpr std::uint32_t kDescriptorMagic = 0x44475052;  // "RPGD"
inline constexpr std::uint32_t kReplyMagic = 0x52475052;       // "RPGR"

enum class SourceKind : std::uint32_t {
  IpcHandle = 1,    // another process: open `memory` and `event`
  SameProcess = 2,  // a 1-rank ring: `pointer` and `event_pointer` are this process's own
  Nccl = 3,         // the data follows through the edge's NCCL communicator
};

struct Descriptor {
  std::uint32_t magic = kDescriptorMagic;
  SourceKind kind = SourceKind::IpcHandle;
  std::uint64_t sequence = 0;  // the sender's message number; the Reply names it
  std::uint64_t bytes = 0;
  std::uint64_t buffer_id = 0;      // the sender's allocation: the receiver caches its mapping
  std::uint64_t offset = 0;         // of the data within that allocation
  std::uint64_t pointer = 0;        // SameProcess only
  std::uint64_t event_pointer = 0;  // SameProcess only
  std::uint32_t event_slot = 0;     // the sender's event: the receiver caches it by slot
  // The sender's stream (cudaStreamGetId), when known: of several messages from one stream,
  // the receiver waits only for the newest one's event.
  std::uint32_t stream_known = 0;
  std::uint64_t stream_id = 0;
  cudaIpcMemHandle_t memory{};
  cudaIpcEventHandle_t event{};
};

enum class ReplyStatus : std::uint32_t {
  Copied = 1,     // the data landed; the sender's buffer is free
  Truncated = 2,  // the receive buffer was too small (`capacity` says how large it was)
  Failed = 3,     // the receiver could not copy (e.g. could not open the IPC handle)
  Dropped = 4,    // the receiver's request was cancelled before it copied
  Go = 5,         // NCCL: the receive is enqueued; enqueue the send in turn `turn`
};

// The status a reply carries, as this build reads it: a value it does not know (a damaged
// reply) reads as Failed.
constexpr ReplyStatus known_status(ReplyStatus status) noexcept {
  switch (status) {
    case ReplyStatus::Copied:
    case ReplyStatus::Truncated:
    case ReplyStatus::Failed:
    case ReplyStatus::Dropped:
    case ReplyStatus::Go:
      return status;
  }
  return ReplyStatus::Failed;
}

struct Reply {
  std::uint32_t magic = kReplyMagic;
  ReplyStatus status = ReplyStatus::Copied;
  std::uint64_t sequence = 0;
  std::uint64_t capacity = 0;
  std::uint64_t turn = 0;  // Go only
};

}  // namespace ringpipe::gpu
