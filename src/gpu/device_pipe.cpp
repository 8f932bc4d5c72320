// ringpipe: a ring edge between CUDA buffers.
#include "gpu/device_pipe.hpp"

#include "gpu/cuda_check.hpp"
#include "gpu/device_request.hpp"
#include "gpu/device_scope.hpp"
#include "gpu/engine.hpp"

#include <algorithm>
#include <utility>

namespace ringpipe::gpu {
namespace {

// Mapped allocations of a neighbour kept open; a serving stack reuses a few buffers, so this
// is never reached in steady state, and it bounds what a changing set of buffers costs.
constexpr std::size_t kMaxMappings = 256;
constexpr std::size_t kMaxExports = 1024;

}  // namespace

DevicePipe::DevicePipe(Engine& engine, ucx::UcxPipe& host, const LocalDevice& device,
                       std::string peer_gpu, EdgeSetup setup)
    : engine_(engine),
      host_(host),
      device_(device.ordinal),
      nccl_(std::move(setup.nccl)),
      through_ucx_(setup.ucx),
      events_(device.ordinal),
      copies_(engine, device.ordinal, "recv on " + host.name(false), host.peer(), setup.copy_kernel,
              events_) {
  const std::string gpus =
      peer_gpu == device.uuid ? "both on " + device.uuid : device.uuid + " -> " + peer_gpu;
  if (nccl_ != nullptr) {
    description_ = host_.name(true) + " (nccl, " + gpus + ")";
  } else if (through_ucx_) {
    description_ = host_.name(true) + " (ucx: " + host_.endpoint().transports() + ", " + gpus + ")";
  } else if (same_process()) {
    description_ = host_.name(true) + " (cuda device copy on " + device.uuid + ")";
  } else {
    description_ = host_.name(true) + " (cuda-ipc, " + gpus + ")";
  }
  engine_.add_batcher(&copies_);
}

DevicePipe::~DevicePipe() {
  // Requests are detached by the engine before this; nothing uses these resources any more.
  const DeviceScope scope(device_);
  for (auto& [key, mapping] : mappings_) (void)cudaIpcCloseMemHandle(mapping.base);
  for (auto& [slot, event] : source_events_) (void)cudaEventDestroy(event);
  for (EventSlot& slot : slots_) (void)cudaEventDestroy(slot.event);
  (void)cudaGetLastError();
}

std::string DevicePipe::describe() const { return description_; }

PointerInfo DevicePipe::check_device_buffer(const char* operation, const std::string& edge, Tag tag,
                                            const void* data, std::size_t bytes) const {
  const auto fail = [&](const std::string& why) {
    throw Error(Errc::InvalidArgument, std::string(operation) + " on " + edge + " tag " +
                                           std::to_string(tag) + ": " + why);
  };
  if (bytes == 0) return PointerInfo{};
  if (data == nullptr) fail("null buffer of " + std::to_string(bytes) + " bytes");
  const std::optional<PointerInfo> info = query_pointer(data, /*initialise=*/true);
  if (!info || (!info->device && !info->managed)) {
    fail("the buffer is host memory, but this ring is in GPU mode (CUDA device memory only)");
  }
  if (info->managed) {
    fail("the buffer is CUDA managed memory, which CUDA IPC cannot share (use cudaMalloc)");
  }
  if (info->ordinal != device_) {
    fail("the buffer is memory of CUDA device " + std::to_string(info->ordinal) +
         ", but this rank uses device " + std::to_string(device_));
  }
  const auto address = reinterpret_cast<std::uintptr_t>(data);
  const std::size_t offset = address - info->base;
  if (offset > info->range || bytes > info->range - offset) {
    fail(std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
         " overrun the allocation of " + std::to_string(info->range) + " bytes");
  }
  return *info;
}

Request DevicePipe::post_send(const void* data, std::size_t bytes, Tag tag, Stream stream) {
  host_.check_sendable("isend", tag, bytes);
  const DeviceScope scope(device_);
  const PointerInfo source = check_device_buffer("isend", host_.name(true), tag, data, bytes);
  DeviceRequest* request = engine_.acquire();
  try {
    request->start_send(*this, data, bytes, tag, static_cast<cudaStream_t>(stream.cuda_stream),
                        source);
  } catch (...) {
    engine_.recycle(request);
    throw;
  }
  return detail::make_request(request);
}

Request DevicePipe::post_recv(void* data, std::size_t capacity, Tag tag, Stream stream) {
  const DeviceScope scope(device_);
  (void)check_device_buffer("irecv", host_.name(false), tag, data, capacity);
  DeviceRequest* request = engine_.acquire();
  try {
    request->start_recv(*this, data, capacity, tag, static_cast<cudaStream_t>(stream.cuda_stream));
  } catch (...) {
    engine_.recycle(request);
    throw;
  }
  return detail::make_request(request);
}

const cudaIpcMemHandle_t& DevicePipe::export_memory(std::uint64_t buffer_id, std::uintptr_t base) {
  if (auto found = exports_.find(buffer_id); found != exports_.end()) return found->second;
  if (exports_.size() >= kMaxExports) exports_.clear();
  cudaIpcMemHandle_t handle{};
  check(cudaIpcGetMemHandle(&handle, reinterpret_cast<void*>(base)),
        "isend on " + host_.name(true) +
            ": the buffer's allocation cannot be shared by CUDA IPC (memory from cudaMalloc can; "
            "virtual-memory-managed allocations cannot)",
        Errc::InvalidArgument);
  return exports_.emplace(buffer_id, handle).first->second;
}

int DevicePipe::acquire_event_slot() {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].busy) {
      slots_[i].busy = true;
      return static_cast<int>(i);
    }
  }
  EventSlot slot;
  // Interprocess events cost ~1.5 us more to record and to wait on (H200): only when shared.
  const unsigned flags =
      cudaEventDisableTiming | (same_process() ? 0u : static_cast<unsigned>(cudaEventInterprocess));
  check(cudaEventCreateWithFlags(&slot.event, flags), "cannot create a CUDA event");
  if (!same_process()) {
    const cudaError_t status = cudaIpcGetEventHandle(&slot.handle, slot.event);
    if (status != cudaSuccess) {
      (void)cudaEventDestroy(slot.event);
      fail(status, "cannot share a CUDA event by IPC");
    }
  }
  slot.busy = true;
  slots_.push_back(slot);
  return static_cast<int>(slots_.size() - 1);
}

void DevicePipe::release_event_slot(int slot) noexcept { slots_[slot].busy = false; }

char* DevicePipe::map_source(const Descriptor& descriptor, std::uint64_t& key) {
  key = descriptor.buffer_id;
  auto found = mappings_.find(key);
  if (found == mappings_.end()) {
    if (mappings_.size() >= kMaxMappings) evict_unused_mappings();
    void* base = nullptr;
    check(cudaIpcOpenMemHandle(&base, descriptor.memory, cudaIpcMemLazyEnablePeerAccess),
          "recv on " + host_.name(false) + ": cannot open the CUDA IPC handle of rank " +
              std::to_string(peer()) + "'s buffer");
    found = mappings_.emplace(key, Mapping{static_cast<char*>(base), 0, 0}).first;
  }
  ++found->second.users;
  found->second.last_use = ++use_clock_;
  return found->second.base;
}

void DevicePipe::unmap_source(std::uint64_t key) noexcept {
  if (auto found = mappings_.find(key); found != mappings_.end()) --found->second.users;
}

void DevicePipe::evict_unused_mappings() noexcept {
  // Drops the older half of the unused mappings.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> unused;  // (last use, key)
  for (const auto& [key, mapping] : mappings_) {
    if (mapping.users == 0) unused.emplace_back(mapping.last_use, key);
  }
  std::sort(unused.begin(), unused.end());
  for (std::size_t i = 0; i < unused.size() / 2 + 1 && i < unused.size(); ++i) {
    auto found = mappings_.find(unused[i].second);
    (void)cudaIpcCloseMemHandle(found->second.base);
    mappings_.erase(found);
  }
  (void)cudaGetLastError();
}

cudaEvent_t DevicePipe::source_event(const Descriptor& descriptor) {
  if (auto found = source_events_.find(descriptor.event_slot); found != source_events_.end()) {
    return found->second;
  }
  cudaEvent_t event = nullptr;
  check(cudaIpcOpenEventHandle(&event, descriptor.event),
        "recv on " + host_.name(false) + ": cannot open the CUDA IPC event of rank " +
            std::to_string(peer()));
  source_events_.emplace(descriptor.event_slot, event);
  return event;
}

}  // namespace ringpipe::gpu
