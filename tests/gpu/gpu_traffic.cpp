// Test helpers: GPU-mode traffic shared by the suites of each data path.
#include "gpu_traffic.hpp"

#include "device_buffer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

namespace ringpipe::test {
namespace {

int pred_of(const Ring& ring) { return (ring.rank() - 1 + ring.world_size()) % ring.world_size(); }

}  // namespace

std::uint64_t gpu_seed(int from, Tag tag, std::size_t size) {
  return (std::uint64_t(from) << 40) ^ (std::uint64_t(tag) << 24) ^ size;
}

void exchange_on_stream(Ring& ring, std::size_t size, cudaStream_t stream) {
  DeviceBuffer out(size), in(size + 64);
  out.fill(size, gpu_seed(ring.rank(), 3, size));
  in.fill(0, 0);
  Request received = ring.pred().irecv(in.data(), in.size(), 3, Stream{stream});
  Request sent = ring.succ().isend(out.data(), size, 3, Stream{stream});
  received.wait();
  sent.wait();
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(received.bytes(), size);
  EXPECT_EQ(in.count_wrong(size, gpu_seed(pred_of(ring), 3, size)), 0u) << "size " << size;
  EXPECT_TRUE(in.untouched_from(size)) << "bytes past the message were written, size " << size;
}

void exchange_tags_in_reverse(Ring& ring, int count, std::size_t size) {
  std::vector<std::unique_ptr<DeviceBuffer>> out, in;
  std::vector<Request> receives(static_cast<std::size_t>(count)), sends;
  for (int k = 0; k < count; ++k) {
    out.push_back(std::make_unique<DeviceBuffer>(size));
    in.push_back(std::make_unique<DeviceBuffer>(size));
    out.back()->fill(size, gpu_seed(ring.rank(), k, size));
  }
  for (int k = count - 1; k >= 0; --k) {
    receives[k] = ring.pred().irecv(in[k]->data(), size, static_cast<Tag>(k));
  }
  for (int k = 0; k < count; ++k) {
    sends.push_back(ring.succ().isend(out[k]->data(), size, static_cast<Tag>(k)));
  }
  for (Request& request : sends) request.wait();
  for (int k = 0; k < count; ++k) {
    receives[k].wait();
    EXPECT_EQ(in[k]->count_wrong(size, gpu_seed(pred_of(ring), k, size)), 0u) << "tag " << k;
  }
}

void exchange_behind_stream_work(Ring& ring, int count, std::size_t size) {
  // A 256 MiB memset takes tens of microseconds: a copy not ordered after it would overtake it.
  constexpr std::size_t kSlowWorkBytes = std::size_t{256} << 20;
  std::array<cudaStream_t, 3> streams{};
  for (int s = 0; s < 2; ++s) {
    ASSERT_EQ(cudaStreamCreateWithFlags(&streams[s], cudaStreamNonBlocking), cudaSuccess);
  }
  std::vector<std::unique_ptr<DeviceBuffer>> slow_work, staged, out, in;
  for (std::size_t s = 0; s < streams.size(); ++s) {
    slow_work.push_back(std::make_unique<DeviceBuffer>(kSlowWorkBytes));
  }
  for (int k = 0; k < count; ++k) {
    staged.push_back(std::make_unique<DeviceBuffer>(size));
    out.push_back(std::make_unique<DeviceBuffer>(size));
    in.push_back(std::make_unique<DeviceBuffer>(size));
    staged.back()->fill(size, gpu_seed(ring.rank(), k, size));
    out.back()->fill(size, ~gpu_seed(ring.rank(), k, size));  // not what must arrive
  }
  const auto stream_of = [&](int k) { return streams[static_cast<std::size_t>(k) % 3]; };
  const auto slow = [&](int k) {
    ASSERT_EQ(cudaMemsetAsync(slow_work[static_cast<std::size_t>(k) % 3]->data(), k, kSlowWorkBytes,
                              stream_of(k)),
              cudaSuccess);
  };
  std::vector<Request> receives, sends;
  for (int k = count - 1; k >= 0; --k) {
    slow(k);
    ASSERT_EQ(cudaMemsetAsync(in[k]->data(), 0x5a, size, stream_of(k)), cudaSuccess);
    receives.push_back(
        ring.pred().irecv(in[k]->data(), size, static_cast<Tag>(k), Stream{stream_of(k)}));
  }
  for (int k = 0; k < count; ++k) {
    slow(k);
    ASSERT_EQ(cudaMemcpyAsync(out[k]->data(), staged[k]->data(), size, cudaMemcpyDeviceToDevice,
                              stream_of(k)),
              cudaSuccess);
    sends.push_back(
        ring.succ().isend(out[k]->data(), size, static_cast<Tag>(k), Stream{stream_of(k)}));
  }
  for (Request& request : sends) request.wait();
  for (Request& request : receives) request.wait();
  for (int k = 0; k < count; ++k) {
    EXPECT_EQ(in[k]->count_wrong(size, gpu_seed(pred_of(ring), k, size)), 0u)
        << "message " << k << " on stream " << k % 3;
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int s = 0; s < 2; ++s) ASSERT_EQ(cudaStreamDestroy(streams[s]), cudaSuccess);
}

}  // namespace ringpipe::test
