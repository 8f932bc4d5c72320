// ringpipe: Request forwards to the transport's request state.
#include <ringpipe/request.hpp>

#include "request_state.hpp"

#include <utility>

namespace ringpipe {

Request::Request(Request&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}

Request& Request::operator=(Request&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

Request::~Request() { release(); }

void Request::release() noexcept {
  if (state_ != nullptr) std::exchange(state_, nullptr)->release();
}

bool Request::test() { return state_ == nullptr || state_->test(); }

void Request::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (state_ != nullptr) state_->wait(timeout);
}

bool Request::wait_for(std::chrono::milliseconds timeout) {
  return state_ == nullptr || state_->wait_for(timeout);
}

std::size_t Request::bytes() const noexcept { return state_ ? state_->bytes() : 0; }

}  // namespace ringpipe
