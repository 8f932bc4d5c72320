// Steady-state traffic allocates nothing: every malloc of the thread that moves the messages
// (ringpipe's, UCX's, the C++ runtime's) is counted across 10 000 messages per size and kind of
// memory (plain, registered) after a warm-up, in each rank of a real ring. UCX's own background
// thread (timers) is not counted.
#include <ringpipe/registered_buffer.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

// The process's allocator entry points, counted, then passed on to glibc's.
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void __libc_free(void* pointer);
}

namespace {
thread_local long allocations = 0;
void count() { ++allocations; }
}  // namespace

extern "C" {
void* malloc(std::size_t size) {
  count();
  return __libc_malloc(size);
}
void* calloc(std::size_t count_, std::size_t size) {
  count();
  return __libc_calloc(count_, size);
}
void* realloc(void* pointer, std::size_t size) {
  count();
  return __libc_realloc(pointer, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** pointer, std::size_t alignment, std::size_t size) {
  count();
  *pointer = __libc_memalign(alignment, size);
  return *pointer != nullptr ? 0 : ENOMEM;
}
void free(void* pointer) { __libc_free(pointer); }
}

namespace ringpipe {
namespace {

constexpr int kWarmup = 1000;
constexpr int kMessages = 10000;
// UCX's pool of descriptors for messages that arrive before their receive grows in chunks when a
// rank is descheduled and its neighbour runs ahead to a new high-water mark (seen: one chunk in
// some runs). A per-message allocation would show as thousands.
constexpr long kPoolGrowths = 8;

// Each rank sends to its successor and receives from its predecessor, `count` times.
void exchange(Ring& ring, const char* out, char* in, std::size_t size, int count) {
  for (int i = 0; i < count; ++i) {
    Request received = ring.pred().irecv(in, size, 1);
    ring.succ().send(out, size, 1);
    received.wait();
  }
}

void expect_no_allocation(Ring& ring, const char* out, char* in, std::size_t size,
                          const char* memory) {
  exchange(ring, out, in, size, kWarmup);
  const long before = allocations;
  exchange(ring, out, in, size, kMessages);
  const long during = allocations - before;
  EXPECT_LE(during, kPoolGrowths) << during << " allocations in " << kMessages << " messages of "
                                  << size << " B from " << memory << " memory";
}

// Plain memory: UCX's eager and rendezvous paths, then (1 MiB) the single copy by the receiver.
TEST(SteadyState, TenThousandMessagesAllocateNothing) {
  test::run_ring(2, [](Ring& ring) {
    ASSERT_TRUE(ring.link_info(ring.succ()).single_copy.plain);
    for (std::size_t size :
         {std::size_t{8}, std::size_t{4096}, std::size_t{65536}, std::size_t{1} << 20}) {
      std::vector<char> out(size, 'x'), in(size);
      expect_no_allocation(ring, out.data(), in.data(), size, "plain");
    }
  });
}

// Registered buffers: the receiver copies from its cached mapping of the sender's buffer.
TEST(SteadyState, TenThousandRegisteredMessagesAllocateNothing) {
  test::run_ring(2, [](Ring& ring) {
    ASSERT_TRUE(ring.link_info(ring.succ()).single_copy.registered);
    for (std::size_t size : {std::size_t{65536}, std::size_t{1} << 20}) {
      RegisteredBuffer out = ring.allocate(size);
      RegisteredBuffer in = ring.allocate(size);
      std::memset(out.data(), 'x', size);
      expect_no_allocation(ring, static_cast<const char*>(out.data()),
                           static_cast<char*>(in.data()), size, "registered");
    }
  });
}

}  // namespace
}  // namespace ringpipe
