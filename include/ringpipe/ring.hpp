// ringpipe: the ring of N ranks, each linked to its predecessor and successor.
#pragma once

#include <ringpipe/export.hpp>
#include <ringpipe/link_info.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/pipe_group.hpp>
#include <ringpipe/registered_buffer.hpp>
#include <ringpipe/stats.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace ringpipe {

namespace detail {
class RingImpl;
}

// Joins the ring described by the options: performs the rendezvous (rank 0 hosts it) and
// connects to both neighbours. Construction blocks until every rank has joined, or throws
// Error (Timeout naming the missing ranks, InvalidArgument, ProtocolMismatch, ...).
// Destruction closes both edges in order: neighbours see Errc::Closed on later operations,
// and every message sent before is delivered. A rank that dies or goes silent breaks the whole
// ring: its neighbours' operations fail with Errc::PeerFailed or Errc::Stalled, every other
// rank's with PeerFailed naming it (see Options::liveness_timeout). So does a rank that fails a
// link at its end (a timed-out send): the others fail with PeerFailed naming it at once.
// Threads: use a Ring and its edges from one thread at a time; abort() alone may be called from
// any thread, at any moment. Move-only (a moved-from Ring may only be destroyed or assigned to).
class RINGPIPE_API Ring {
 public:
  explicit Ring(const Options& options);
  Ring(Ring&&) noexcept;
  Ring& operator=(Ring&&) noexcept;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  [[nodiscard]] int rank() const noexcept;
  [[nodiscard]] int world_size() const noexcept;
  [[nodiscard]] CommDevice comm_device() const noexcept;
  [[nodiscard]] const Options& options() const noexcept;

  // The edge to (rank - 1 + N) % N: this rank receives its predecessor's output here.
  [[nodiscard]] PipeGroup& pred() noexcept;
  // The edge to (rank + 1) % N: this rank sends its output to its successor here.
  [[nodiscard]] PipeGroup& succ() noexcept;

  // The same two edges for host memory. In CPU mode these are pred() and succ() themselves:
  // one edge, one tag space (tag 5 sent on succ() is received with tag 5 on the neighbour's
  // pred() or host_pred()). In GPU mode they carry host buffers (metadata, token ids) beside
  // the CUDA buffers of pred()/succ(), over the same link but in a tag space of their own: a
  // host message with tag 5 never matches a CUDA receive with tag 5, and ordering holds within
  // each of the two only.
  [[nodiscard]] PipeGroup& host_pred() noexcept;
  [[nodiscard]] PipeGroup& host_succ() noexcept;

  // How `edge` (one of this ring's four) moves its data. Throws InvalidArgument for an edge of
  // another ring.
  [[nodiscard]] LinkInfo link_info(const PipeGroup& edge) const;

  // The ring's counters since it was created: per edge and direction, messages, bytes, failures
  // by cause, requests in flight and a latency histogram; the last error; the rendezvous time
  // and missed liveness beats. Thread-safe, unlike the rest of the Ring: a scrape thread may
  // call it while another thread uses the edges (it reads each counter once; it does not
  // stop the writer, so counters of one edge may be a message apart). The Ring must outlive
  // the call. Each edge's link is as it was when the ring was joined.
  [[nodiscard]] RingStats stats() const;

  // Host memory for messages that move at memory speed between the ranks of one host: a send
  // from it (of at least Options::registered_min_bytes) is copied once, by the receiver, from
  // its mapping of the buffer. Any ring of the process may use it; it may outlive the Ring.
  // Throws as RegisteredBuffer's constructor does.
  [[nodiscard]] RegisteredBuffer allocate(std::size_t bytes);

  // Fails the whole ring on purpose, for serving stacks that restart after an error elsewhere:
  // both neighbours are told at once and pass it on, so every other rank's pending and later
  // operations fail with Errc::PeerFailed naming this rank (within milliseconds per hop); here
  // they fail with Errc::Closed. Only destruction remains useful afterwards. Idempotent.
  // Thread-safe, for a watchdog: the neighbours are told before it returns; the thread that
  // uses the Ring sees Closed from its next call on (a wait in progress fails within
  // microseconds). The Ring must outlive the call.
  void abort();

 private:
  std::unique_ptr<detail::RingImpl> impl_;
};

}  // namespace ringpipe
