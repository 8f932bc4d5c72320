// ringpipe: the process's registered buffers.
#include "single_copy/registered_memory.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/registered_buffer.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace ringpipe::single_copy {
namespace {

// Keyed by each region's end, so the region holding a pointer is the first whose end lies
// beyond it. Senders look up under a shared lock; allocations are rare.
struct Table {
  std::shared_mutex mutex;
  std::map<std::uintptr_t, Region> by_end;
};

Table& table() {
  static Table* const instance = new Table;  // never destroyed: buffers may outlive statics
  return *instance;
}

std::atomic<std::uint64_t> next_serial{1};

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

[[noreturn]] void refuse(std::size_t bytes, const char* call, int error) {
  throw Error(Errc::Internal, "allocating a registered buffer of " + std::to_string(bytes) +
                                  " bytes: " + call + " failed: " + std::strerror(error));
}

}  // namespace

std::string region_file_name(std::uint64_t serial) { return "ringpipe-" + std::to_string(serial); }

Region allocate_region(std::size_t bytes) {
  if (bytes == 0) throw Error(Errc::InvalidArgument, "allocate: a registered buffer of 0 bytes");
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (bytes > (std::size_t{1} << 46)) {
    throw Error(Errc::InvalidArgument,
                "allocate: " + std::to_string(bytes) + " bytes is beyond any host's memory");
  }
  Region region;
  region.serial = next_serial.fetch_add(1);
  region.size = bytes;
  region.mapped = (bytes + page - 1) / page * page;
  region.fd = memfd_create(region_file_name(region.serial).c_str(), MFD_CLOEXEC);
  if (region.fd < 0) refuse(bytes, "memfd_create", errno);
  if (ftruncate(region.fd, static_cast<off_t>(region.mapped)) != 0) {
    const int error = errno;
    ::close(region.fd);
    refuse(bytes, "ftruncate", error);
  }
  void* base = mmap(nullptr, region.mapped, PROT_READ | PROT_WRITE, MAP_SHARED, region.fd, 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    ::close(region.fd);
    refuse(bytes, "mmap", error);
  }
  region.base = static_cast<std::byte*>(base);
  Table& t = table();
  try {
    const std::unique_lock lock(t.mutex);
    t.by_end.emplace(address(region.base) + region.mapped, region);
  } catch (...) {
    munmap(base, region.mapped);
    ::close(region.fd);
    throw;
  }
  return region;
}

void free_region(const void* base) noexcept {
  Region region;
  {
    Table& t = table();
    const std::unique_lock lock(t.mutex);
    const auto it = t.by_end.upper_bound(address(base));
    if (it == t.by_end.end() || address(it->second.base) != address(base)) return;
    region = it->second;
    t.by_end.erase(it);
  }
  munmap(region.base, region.mapped);
  ::close(region.fd);
}

std::optional<Region> find_region(const void* data, std::size_t bytes) {
  Table& t = table();
  const std::shared_lock lock(t.mutex);
  const auto it = t.by_end.upper_bound(address(data));
  if (it == t.by_end.end()) return std::nullopt;
  const Region& region = it->second;
  const std::uintptr_t begin = address(region.base);
  if (address(data) < begin || address(data) + bytes > begin + region.size) return std::nullopt;
  return region;
}

}  // namespace ringpipe::single_copy

namespace ringpipe {

RegisteredBuffer::RegisteredBuffer(std::size_t bytes) {
  const single_copy::Region region = single_copy::allocate_region(bytes);
  data_ = region.base;
  size_ = region.size;
}

RegisteredBuffer::RegisteredBuffer(RegisteredBuffer&& other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

RegisteredBuffer& RegisteredBuffer::operator=(RegisteredBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

RegisteredBuffer::~RegisteredBuffer() { release(); }

void RegisteredBuffer::release() noexcept {
  if (data_ != nullptr) single_copy::free_region(data_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace ringpipe
