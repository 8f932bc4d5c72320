// ringpipe: reading a neighbour's bytes for a single-copy receive.
#include "single_copy/peer_reader.hpp"

#include "single_copy/registered_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringpipe::single_copy {
namespace {

std::string fd_path(pid_t pid, int fd) {
  return "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
}

bool gone(int error) { return error == ESRCH || error == ENOENT; }

ReadResult failed(int error, const std::string& what) {
  return {gone(error) ? ReadResult::Status::PeerGone : ReadResult::Status::Failed,
          what + ": " + std::strerror(error)};
}

// Whether the link /proc/<pid>/fd/<fd> (or the own fd's) names registered buffer `serial`.
bool link_names(const std::string& link, std::uint64_t serial) {
  char target[128];
  const ssize_t length = readlink(link.c_str(), target, sizeof target - 1);
  if (length <= 0) return false;
  const std::string expected = "/memfd:" + region_file_name(serial) + " (deleted)";
  return std::string_view(target, static_cast<std::size_t>(length)) == expected;
}

}  // namespace

bool is_registered_file(int own_fd, std::uint64_t serial) {
  return link_names("/proc/self/fd/" + std::to_string(own_fd), serial);
}

PeerReader::PeerReader(std::size_t max_mappings)
    : max_mappings_(std::max<std::size_t>(1, max_mappings)) {
  mappings_.reserve(max_mappings_);
}

PeerReader::~PeerReader() {
  while (!mappings_.empty()) unmap(mappings_.size() - 1);
}

ReadResult PeerReader::read(pid_t pid, const Descriptor& descriptor, void* destination) {
  if (descriptor.size == 0) return {};
  return descriptor.method == Method::MappedFile ? read_mapped(pid, descriptor, destination)
                                                 : read_process(pid, descriptor, destination);
}

ReadResult PeerReader::read_process(pid_t pid, const Descriptor& descriptor, void* destination) {
  auto* out = static_cast<std::byte*>(destination);
  std::uint64_t done = 0;
  while (done < descriptor.size) {
    const iovec local{out + done, descriptor.size - done};
    const iovec remote{reinterpret_cast<void*>(descriptor.address + done), descriptor.size - done};
    const ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return failed(errno, "process_vm_readv of " + std::to_string(descriptor.size) +
                               " bytes from process " + std::to_string(pid));
    }
    // 0 bytes: the range ends in memory the sender has unmapped.
    if (got == 0) return failed(EFAULT, "process_vm_readv from process " + std::to_string(pid));
    done += static_cast<std::uint64_t>(got);
  }
  return {};
}

ReadResult PeerReader::read_mapped(pid_t pid, const Descriptor& descriptor, void* destination) {
  if (descriptor.address > descriptor.file_size ||
      descriptor.size > descriptor.file_size - descriptor.address) {
    return {ReadResult::Status::Failed,
            "a descriptor of " + std::to_string(descriptor.size) + " bytes at offset " +
                std::to_string(descriptor.address) + " lies outside its buffer of " +
                std::to_string(descriptor.file_size) + " bytes"};
  }
  ReadResult result;
  const Mapping* mapping = map(pid, descriptor, result);
  if (mapping == nullptr) return result;
  std::memcpy(destination, mapping->base + descriptor.address, descriptor.size);
  return {};
}

const PeerReader::Mapping* PeerReader::map(pid_t pid, const Descriptor& descriptor,
                                           ReadResult& result) {
  ++uses_;
  for (Mapping& mapping : mappings_) {
    if (mapping.pid == pid && mapping.serial == descriptor.serial &&
        mapping.size >= descriptor.file_size) {
      mapping.last_use = uses_;
      return &mapping;
    }
  }
  unmap_freed();
  if (mappings_.size() >= max_mappings_) {
    const auto oldest = std::min_element(
        mappings_.begin(), mappings_.end(),
        [](const Mapping& a, const Mapping& b) { return a.last_use < b.last_use; });
    unmap(static_cast<std::size_t>(oldest - mappings_.begin()));
  }
  const std::string path = fd_path(pid, descriptor.fd);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    result = failed(errno, "opening " + path);
    return nullptr;
  }
  // Checked on the file now open, so a descriptor number reused by the sender cannot slip in.
  struct stat status {};
  if (!is_registered_file(fd, descriptor.serial) || fstat(fd, &status) != 0 ||
      static_cast<std::uint64_t>(status.st_size) < descriptor.file_size) {
    ::close(fd);
    result = {ReadResult::Status::Failed, path + " is not the registered buffer " +
                                              std::to_string(descriptor.serial) + " of " +
                                              std::to_string(descriptor.file_size) + " bytes"};
    return nullptr;
  }
  const auto size = static_cast<std::size_t>(status.st_size);
  void* base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);
  if (base == MAP_FAILED) {
    result = failed(error, "mapping " + path);
    return nullptr;
  }
  mappings_.push_back(
      {pid, descriptor.serial, descriptor.fd, static_cast<const std::byte*>(base), size, uses_});
  return &mappings_.back();
}

void PeerReader::unmap_freed() {
  for (std::size_t i = mappings_.size(); i-- > 0;) {
    if (!link_names(fd_path(mappings_[i].pid, mappings_[i].fd), mappings_[i].serial)) unmap(i);
  }
}

void PeerReader::unmap(std::size_t index) noexcept {
  munmap(const_cast<std::byte*>(mappings_[index].base), mappings_[index].size);
  mappings_[index] = mappings_.back();
  mappings_.pop_back();
}

}  // namespace ringpipe::single_copy
