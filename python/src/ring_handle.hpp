// ringpipe Python: a Ring shared by its Python objects, with the lock that serialises them.
#pragma once

#include "buffer.hpp"

#include <ringpipe/options.hpp>
#include <ringpipe/request.hpp>
#include <ringpipe/ring.hpp>

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <vector>

namespace ringpipe::python {

namespace py = pybind11;

// The four edges a Python Ring hands out.
enum class EdgeKind { Pred, Succ, HostPred, HostSucc };

// Owns the Ring of one Python ringpipe.Ring and of every Edge and Request made from it, so
// they stay valid objects after close() (their calls then raise ClosedError). A Ring is
// single-threaded, so every call into it holds mutex(); Python threads take it through
// RingLock, which never blocks while holding the GIL.
class RingHandle {
 public:
  explicit RingHandle(const Options& options);  // call with the GIL released
  RingHandle(const RingHandle&) = delete;
  RingHandle& operator=(const RingHandle&) = delete;
  ~RingHandle();

  // The ring; Error{Closed} once close() ran. Needs the lock.
  [[nodiscard]] Ring& ring();
  [[nodiscard]] PipeGroup& edge(EdgeKind kind) { return edge_of(ring(), kind); }
  [[nodiscard]] bool is_device_edge(EdgeKind kind) const noexcept;
  [[nodiscard]] bool closed() const noexcept { return ring_ == nullptr; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] int rank() const noexcept { return options_.rank; }
  [[nodiscard]] int world_size() const noexcept { return options_.world_size; }
  [[nodiscard]] std::mutex& mutex() noexcept { return mutex_; }

  // Keeps a send whose Python request was dropped (or whose blocking call was interrupted)
  // until it completes, with its buffer, like torch.distributed keeps unwaited work. Needs
  // the lock and the GIL.
  void adopt(Request request, BufferArg buffer);
  // Forgets the adopted sends that completed (or failed). Needs the lock and the GIL.
  void reap_adopted();

  // Closes the ring in order (see ringpipe::Ring's destructor); the adopted sends finish
  // first. Call with the GIL held and without the lock; idempotent.
  void close();

  // Ring::abort, which is safe beside a thread that uses the ring: it takes only the guard
  // against close(), so a watchdog never waits for a blocked call. Call without the GIL.
  void abort();

  // Ring::stats, safe beside a thread that uses the ring, as abort() is: a scrape thread never
  // waits for a blocked call. Error{Closed} once close() ran. Call without the GIL.
  [[nodiscard]] RingStats stats();

  static PipeGroup& edge_of(Ring& ring, EdgeKind kind);

 private:
  struct Adopted {
    Request request;
    BufferArg buffer;
  };

  std::mutex mutex_;
  std::mutex lifetime_mutex_;  // held while ring_ is replaced, and by abort()
  Options options_;
  std::unique_ptr<Ring> ring_;
  std::vector<Adopted> adopted_;
};

// Holds a RingHandle's lock. Blocks with the GIL released when another thread holds it, so a
// thread waiting for the ring never stops one that holds it from getting the GIL back.
class RingLock {
 public:
  explicit RingLock(RingHandle& handle) : lock_(handle.mutex(), std::try_to_lock) {
    if (!lock_.owns_lock()) {
      py::gil_scoped_release release;
      lock_.lock();
    }
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace ringpipe::python
