// ringpipe: what kind of memory a pointer is, asked of the CUDA driver through the runtime's
// entry-point query.
#include "memory_kind.hpp"

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <link.h>

#include <array>
#include <atomic>
#include <cstring>
#include <ctime>

namespace ringpipe {
namespace {

using PointerGetAttributes = CUresult (*)(unsigned int, CUpointer_attribute*, void**, CUdeviceptr);

// The oldest driver API version whose cuPointerGetAttributes ringpipe needs.
constexpr int kDriverApiVersion = 12000;

// Resolved once; the runtime loads the driver on the first query.
PointerGetAttributes resolve_pointer_get_attributes() {
  static const PointerGetAttributes function = [] {
    void* symbol = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuPointerGetAttributes", &symbol, kDriverApiVersion,
                                         cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      return PointerGetAttributes{nullptr};
    }
    return reinterpret_cast<PointerGetAttributes>(symbol);
  }();
  return function;
}

// True once the process has loaded the CUDA driver; looked up at most once a second until then
// (walking the loaded objects costs about a microsecond, too much for every message).
bool driver_loaded() noexcept {
  static std::atomic<bool> loaded{false};
  static std::atomic<std::int64_t> next_probe_ns{0};
  if (loaded.load(std::memory_order_relaxed)) return true;
  // The coarse clock (a few ms resolution) costs a few ns: this runs for every CPU message.
  timespec coarse{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
  const std::int64_t now = std::int64_t{coarse.tv_sec} * 1'000'000'000 + coarse.tv_nsec;
  if (now < next_probe_ns.load(std::memory_order_relaxed)) return false;
  next_probe_ns.store(now + 1'000'000'000, std::memory_order_relaxed);
  // dl_iterate_phdr, unlike a failed dlopen(RTLD_NOLOAD), allocates nothing.
  const int found = dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void*) {
        return info->dlpi_name != nullptr && std::strstr(info->dlpi_name, "libcuda.so") != nullptr
                   ? 1
                   : 0;
      },
      nullptr);
  if (found != 0) loaded.store(true, std::memory_order_relaxed);
  return found != 0;
}

}  // namespace

std::optional<PointerInfo> query_pointer(const void* data, bool initialise) {
  if (!initialise && !driver_loaded()) return std::nullopt;
  const PointerGetAttributes get = resolve_pointer_get_attributes();
  if (get == nullptr) return std::nullopt;
  unsigned int memory_type = 0;
  unsigned int managed = 0;
  int ordinal = -1;
  unsigned long long buffer_id = 0;
  CUdeviceptr base = 0;
  std::size_t range = 0;
  std::array<CUpointer_attribute, 6> attributes = {
      CU_POINTER_ATTRIBUTE_MEMORY_TYPE,      CU_POINTER_ATTRIBUTE_IS_MANAGED,
      CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,   CU_POINTER_ATTRIBUTE_BUFFER_ID,
      CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, CU_POINTER_ATTRIBUTE_RANGE_SIZE};
  std::array<void*, 6> values = {&memory_type, &managed, &ordinal, &buffer_id, &base, &range};
  // Unlike cuPointerGetAttribute, this answers "not CUDA memory" for plain host pointers
  // instead of failing.
  if (get(static_cast<unsigned int>(attributes.size()), attributes.data(), values.data(),
          reinterpret_cast<CUdeviceptr>(data)) != CUDA_SUCCESS) {
    return std::nullopt;
  }
  PointerInfo info;
  info.managed = managed != 0;
  info.device = memory_type == CU_MEMORYTYPE_DEVICE && !info.managed;
  info.ordinal = ordinal;
  info.buffer_id = buffer_id;
  info.base = static_cast<std::uintptr_t>(base);
  info.range = range;
  return info;
}

MemoryKind memory_kind_of(const void* data) noexcept {
  const std::optional<PointerInfo> info = query_pointer(data, /*initialise=*/false);
  return info && info->device ? MemoryKind::CudaDevice : MemoryKind::Host;
}

}  // namespace ringpipe
