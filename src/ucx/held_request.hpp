// ringpipe: a UCX request held until its holder lets it go.
#pragma once

#include <ucp/api/ucp.h>

#include <utility>

namespace ringpipe::ucx {

// Owns what a ucp_*_nbx call returned (a request pointer, or nothing when the operation
// completed in place). Its callback only records completion; the request goes back to UCX when
// the holder resets or is destroyed, complete or not: after ucp_request_free UCX invokes no
// callback of it, so the callback's user data may go away with the holder.
class HeldRequest {
 public:
  HeldRequest() = default;
  explicit HeldRequest(void* request) noexcept : request_(request) {}
  HeldRequest(HeldRequest&& other) noexcept : request_(std::exchange(other.request_, nullptr)) {}
  HeldRequest& operator=(HeldRequest&& other) noexcept {
    if (this != &other) {
      reset();
      request_ = std::exchange(other.request_, nullptr);
    }
    return *this;
  }
  HeldRequest(const HeldRequest&) = delete;
  HeldRequest& operator=(const HeldRequest&) = delete;
  ~HeldRequest() { reset(); }

  void reset() noexcept {
    if (request_ != nullptr) ucp_request_free(request_);
    request_ = nullptr;
  }
  [[nodiscard]] void* get() const noexcept { return request_; }
  explicit operator bool() const noexcept { return request_ != nullptr; }

 private:
  void* request_ = nullptr;
};

}  // namespace ringpipe::ucx
