// ringpipe: a Ring's single-copy sends and receives.
#include "ucx/single_copy.hpp"

#include "single_copy/registered_memory.hpp"
#include "ucx/request.hpp"

#include <algorithm>

namespace ringpipe::ucx {

SingleCopy::SingleCopy(bool enabled, std::size_t registered_min_bytes, std::size_t plain_min_bytes,
                       std::size_t plain_max_bytes)
    : enabled_(enabled),
      registered_min_(registered_min_bytes),
      plain_min_(plain_min_bytes),
      plain_max_(plain_max_bytes) {}

std::size_t SingleCopy::threshold(const EdgeCopyPaths& paths) const noexcept {
  std::size_t from = std::numeric_limits<std::size_t>::max();
  if (!enabled_) return from;
  if (paths.send_mapped_file) from = std::min(from, registered_min_);
  if (paths.send_read_process) from = std::min(from, plain_min_);
  return from;
}

bool SingleCopy::plan(const EdgeCopyPaths& paths, const void* data, std::size_t bytes,
                      single_copy::Descriptor& descriptor) const {
  if (paths.send_mapped_file && bytes >= registered_min_) {
    if (const auto region = single_copy::find_region(data, bytes)) {
      descriptor.nonce = nonce_;
      descriptor.method = single_copy::Method::MappedFile;
      descriptor.fd = region->fd;
      descriptor.size = bytes;
      descriptor.address =
          static_cast<std::uint64_t>(static_cast<const std::byte*>(data) - region->base);
      descriptor.serial = region->serial;
      descriptor.file_size = region->mapped;
      return true;
    }
  }
  if (paths.send_read_process && bytes >= plain_min_ && bytes <= plain_max_) {
    descriptor.nonce = nonce_;
    descriptor.method = single_copy::Method::ReadProcess;
    descriptor.size = bytes;
    descriptor.address = reinterpret_cast<std::uint64_t>(data);
    return true;
  }
  return false;
}

void SingleCopy::enqueue(UcxRequest* request) noexcept {
  request->copy_queue_ = this;
  request->next_copy_ = nullptr;
  if (last_ != nullptr) {
    last_->next_copy_ = request;
  } else {
    first_ = request;
  }
  last_ = request;
}

void SingleCopy::remove(UcxRequest* request) noexcept {
  UcxRequest* before = nullptr;
  for (UcxRequest* r = first_; r != nullptr; before = r, r = r->next_copy_) {
    if (r != request) continue;
    (before != nullptr ? before->next_copy_ : first_) = r->next_copy_;
    if (last_ == r) last_ = before;
    break;
  }
  request->copy_queue_ = nullptr;
  request->next_copy_ = nullptr;
}

void SingleCopy::run_pending() {
  while (first_ != nullptr) {
    UcxRequest* request = first_;
    remove(request);
    request->copy_from_peer(reader_);
  }
}

}  // namespace ringpipe::ucx
