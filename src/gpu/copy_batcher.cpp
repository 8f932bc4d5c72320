// ringpipe: the receiver's copies of one CUDA IPC edge, grouped per progress pass.
#include "gpu/copy_batcher.hpp"

#include "gpu/cuda_check.hpp"
#include "gpu/device_request.hpp"
#include "gpu/device_scope.hpp"
#include "gpu/engine.hpp"
#include "log.hpp"

#include <algorithm>
#include <utility>

namespace ringpipe::gpu {
namespace {

// Messages copied by the copy kernel (when several are matched together): 16-byte aligned and
// not larger than this. A larger copy takes long enough to hide the per-call cost, and there
// the copy engine is faster (64 MiB on an H200: 37.7 us per message streamed by the engine,
// 39.3 us by the kernel) and leaves the SMs to the application.
constexpr std::uintptr_t kKernelAlignment = 16;
constexpr std::size_t kKernelMaxBytes = std::size_t{32} << 20;
// Enough blocks to keep the memory busy, few enough to leave room beside the application's.
constexpr int kKernelBlocksPerProcessor = 2;

}  // namespace

CopyBatcher::CopyBatcher(Engine& engine, int device, std::string edge, int peer, bool use_kernel,
                         EventPool& events)
    : engine_(engine),
      device_(device),
      edge_(std::move(edge)),
      peer_(peer),
      events_(events),
      kernel_works_(use_kernel && copy_kernel_available()) {}

CopyBatcher::~CopyBatcher() {
  if (batches_ != 0) {
    detail::log(detail::LogLevel::Info, edge_ + ": " + std::to_string(copies_) + " copies in " +
                                            std::to_string(batches_) + " batches, the largest of " +
                                            std::to_string(largest_batch_) + "; " +
                                            std::to_string(kernel_launches_) + " copy kernels");
  }
  // The engine detached the requests before this, waiting for their copies.
  const DeviceScope scope(device_);
  for (const CopyInFlight& copy : in_flight_) {
    if (copy.owns_event) (void)cudaEventDestroy(copy.done);
  }
  if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  (void)cudaGetLastError();
}

void CopyBatcher::queue(DeviceRequest& request) {
  if (batch_.empty()) engine_.flush_at_end_of_pass(this);
  batch_.push_back(&request);
}

void CopyBatcher::unqueue(DeviceRequest& request) noexcept { std::erase(batch_, &request); }

void CopyBatcher::flush() noexcept {
  if (batch_.empty()) return;
  try {
    enqueue_batch();
  } catch (const Error& error) {
    detail::log(detail::LogLevel::Error, error.what());
    // Those already enqueued ignore it.
    for (DeviceRequest* request : std::exchange(batch_, {})) request->copy_failed(error);
  } catch (const std::exception& error) {
    const Error failure(Errc::Internal, error.what());
    for (DeviceRequest* request : std::exchange(batch_, {})) request->copy_failed(failure);
  }
  batch_.clear();
}

cudaStream_t CopyBatcher::stream() {
  if (stream_ == nullptr) {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
          edge_ + ": cannot create the copy stream");
    int processors = 0;
    if (cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device_) !=
            cudaSuccess ||
        processors <= 0) {
      (void)cudaGetLastError();
      processors = 1;
    }
    kernel_blocks_ = kKernelBlocksPerProcessor * processors;
  }
  return stream_;
}

void CopyBatcher::enqueue_batch() {
  const cudaStream_t stream = this->stream();
  wait_for_streams(stream);
  enqueue_copies(stream);
  // One event marks the end of the whole batch: copies on one stream end in order.
  const cudaEvent_t done = events_.acquire();
  if (const cudaError_t status = cudaEventRecord(done, stream); status != cudaSuccess) {
    events_.release(done);
    fail(status, edge_ + ": cannot record the copies' end");
  }
  copies_ += batch_.size();
  ++batches_;
  largest_batch_ = std::max(largest_batch_, batch_.size());
  for (DeviceRequest* request : batch_) {
    in_flight_.push_back(CopyInFlight{request, done, request == batch_.back()});
    request->copy_enqueued();
  }
}

void CopyBatcher::wait_for_streams(cudaStream_t stream) {
  // A batch holds the copies matched in one pass, a handful: scanning it beats any container.
  for (const DeviceRequest* request : batch_) {
    bool newest_of_its_stream = true;
    bool newest_of_sender_stream = request->descriptor().stream_known != 0;
    for (const DeviceRequest* other : batch_) {
      if (request->user_stream_id() && other->user_stream_id() == request->user_stream_id() &&
          other->receive_order() > request->receive_order()) {
        newest_of_its_stream = false;
      }
      if (newest_of_sender_stream && other->descriptor().stream_known != 0 &&
          other->descriptor().stream_id == request->descriptor().stream_id &&
          other->descriptor().sequence > request->descriptor().sequence) {
        newest_of_sender_stream = false;
      }
    }
    if (newest_of_its_stream) {
      if (const cudaError_t status = cudaStreamWaitEvent(stream, request->user_ready(), 0);
          status != cudaSuccess) {
        fail(status, edge_ + ": cannot order a copy after its stream");
      }
    }
    // Without the sender's stream known, every message's own event.
    if (newest_of_sender_stream || request->descriptor().stream_known == 0) {
      if (const cudaError_t status = cudaStreamWaitEvent(stream, request->source_ready(), 0);
          status != cudaSuccess) {
        fail(status, edge_ + ": cannot wait for rank " + std::to_string(peer_) + "'s data");
      }
    }
  }
}

void CopyBatcher::enqueue_copies(cudaStream_t stream) {
  const auto start_failed = [&](cudaError_t status) {
    fail(status,
         edge_ + ": cannot start the copy of " + std::to_string(batch_.size()) + " message(s)");
  };
  const auto engine_copy = [&](const void* source, void* destination, std::size_t bytes) {
    if (const cudaError_t status =
            cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, stream);
        status != cudaSuccess) {
      start_failed(status);
    }
  };
  CopyList& list = kernel_list_;
  list.count = 0;
  for (const DeviceRequest* request : batch_) {
    const bool aligned = ((reinterpret_cast<std::uintptr_t>(request->copy_source()) |
                           reinterpret_cast<std::uintptr_t>(request->destination())) %
                          kKernelAlignment) == 0;
    if (kernel_works_ && batch_.size() > 1 && aligned && request->copy_bytes() <= kKernelMaxBytes &&
        list.count < CopyList::kCapacity) {
      list.segments[list.count++] = {request->copy_source(), request->destination(),
                                     request->copy_bytes()};
    } else {
      engine_copy(request->copy_source(), request->destination(), request->copy_bytes());
    }
  }
  if (list.count == 1) {
    engine_copy(list.segments[0].source, list.segments[0].destination, list.segments[0].bytes);
  } else if (list.count > 1) {
    const cudaError_t status = launch_copy_kernel(list, kernel_blocks_, stream);
    if (status == cudaSuccess) {
      ++kernel_launches_;
      return;
    }
    if (status != cudaErrorNoKernelImageForDevice && status != cudaErrorInvalidDeviceFunction &&
        status != cudaErrorNotSupported && status != cudaErrorUnsupportedPtxVersion) {
      start_failed(status);
    }
    // This GPU cannot run the kernel built here: the copy engine takes every copy.
    (void)cudaGetLastError();
    kernel_works_ = false;
    detail::log(
        detail::LogLevel::Warning,
        gpu::describe(status, edge_ + ": the copy kernel cannot run here; the copy engine copies "
                                      "every message"));
    for (int i = 0; i < list.count; ++i) {
      engine_copy(list.segments[i].source, list.segments[i].destination, list.segments[i].bytes);
    }
  }
}

void CopyBatcher::reap() noexcept {
  cudaEvent_t known_done = nullptr;  // entries of one batch share an event: one query
  while (!in_flight_.empty()) {
    CopyInFlight& copy = in_flight_.front();
    cudaError_t status = cudaSuccess;
    if (copy.done != known_done) {
      status = cudaEventQuery(copy.done);
      if (status == cudaErrorNotReady) return;
      if (status != cudaSuccess) (void)cudaGetLastError();
      known_done = status == cudaSuccess ? copy.done : nullptr;
    }
    if (copy.request != nullptr) copy.request->copy_landed(status);
    if (copy.owns_event) events_.release(copy.done);
    in_flight_.pop_front();
  }
}

void CopyBatcher::forget(DeviceRequest& request) noexcept {
  for (CopyInFlight& copy : in_flight_) {
    if (copy.request == &request) copy.request = nullptr;
  }
}

}  // namespace ringpipe::gpu
