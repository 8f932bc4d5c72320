// ringpipe: a UCX endpoint to one neighbour.
#include "ucx/endpoint.hpp"

#include "log.hpp"
#include "ucx/status.hpp"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <utility>

namespace ringpipe::ucx {
namespace {

// Closing never waits longer than this: the peer may already be gone.
constexpr auto kCloseTimeout = std::chrono::milliseconds(2000);

struct FlushState {
  bool done = false;
  ucs_status_t status = UCS_OK;
};

void on_flushed(void* /*request*/, ucs_status_t status, void* user_data) {
  auto* state = static_cast<FlushState*>(user_data);
  state->done = true;
  state->status = status;
}

}  // namespace

void check_peer_address(const Worker& worker, const std::vector<std::byte>& remote_address,
                        int peer_rank) {
  // UCX would trust these bytes from the network blindly (and abort on some).
  if (const auto defect = worker.address_check().defect(remote_address)) {
    throw Error(Errc::InvalidArgument, "rank " + std::to_string(peer_rank) +
                                           " sent a UCX worker address that is not one: " +
                                           *defect + "; not connecting to it");
  }
}

Endpoint::Endpoint(Worker& worker, const std::vector<std::byte>& remote_address, int peer_rank)
    : worker_(worker), peer_(peer_rank) {
  check_peer_address(worker, remote_address, peer_rank);
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.address = reinterpret_cast<const ucp_address_t*>(remote_address.data());
  params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  params.err_handler.cb = &Endpoint::on_error;
  params.err_handler.arg = this;
  check(ucp_ep_create(worker.get(), &params, &endpoint_),
        "cannot create a UCX endpoint to rank " + std::to_string(peer_rank));
}

Endpoint::~Endpoint() { close_by_force(); }

void Endpoint::close_by_force() noexcept {
  if (endpoint_ == nullptr) return;
  if (failure_ == UCS_OK) failure_ = UCS_ERR_CANCELED;
  worker_.request_after_progress();  // the edges of this link fail next
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_EP_CLOSE_FLAG_FORCE;
  const ucs_status_ptr_t request = ucp_ep_close_nbx(std::exchange(endpoint_, nullptr), &param);
  if (request == nullptr || UCS_PTR_IS_ERR(request)) return;
  const auto closed = [&] { return ucp_request_check_status(request) != UCS_INPROGRESS; };
  try {
    worker_.progress_until(closed, detail::Deadline(kCloseTimeout));
  } catch (const std::exception& error) {
    detail::log(detail::LogLevel::Warning, error.what());
  }
  if (closed()) {
    ucp_request_free(request);
  } else {
    // Still UCX's: freeing it now could let UCX touch freed memory; the worker reclaims it.
    detail::log(detail::LogLevel::Warning,
                "closing the endpoint to rank " + std::to_string(peer_) + " did not finish");
  }
}

bool Endpoint::flush(const detail::Deadline& deadline) {
  if (failed()) return false;
  // On the heap: if UCX never completes the flush, its callback may still run after we return.
  auto* state = new FlushState;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &on_flushed;
  param.user_data = state;
  const ucs_status_ptr_t request = ucp_ep_flush_nbx(endpoint_, &param);
  if (request == nullptr || UCS_PTR_IS_ERR(request)) {
    delete state;
    return request == nullptr;
  }
  const auto flushed = [state] { return state->done; };
  bool done = worker_.progress_until(flushed, deadline);
  if (!done) {
    // A flush cannot be cancelled; closing the endpoint completes it (with an error).
    close_by_force();
    done = worker_.progress_until(flushed, detail::Deadline(kCloseTimeout));
  }
  if (!done) {
    detail::log(detail::LogLevel::Warning,
                "flushing the endpoint to rank " + std::to_string(peer_) + " did not finish");
    return false;
  }
  const bool ok = state->status == UCS_OK;
  ucp_request_free(request);
  delete state;
  return ok;
}

std::string Endpoint::transports() const {
  if (endpoint_ == nullptr) return "closed";
  std::string text;
  for (const std::string& name : transport_names()) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "unknown" : text;
}

std::vector<std::string> Endpoint::transport_names() const {
  if (endpoint_ == nullptr) return {};
  // UCX 1.13 has no query for an endpoint's transports; its info dump lists one line per lane
  // ("lane[0]: 3:sysv/memory.0 md[3] ..."). Collect the distinct transport/device names.
  char* text = nullptr;
  std::size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (stream == nullptr) return {};
  ucp_ep_print_info(endpoint_, stream);
  std::fclose(stream);
  std::istringstream lines(std::string(text, size));
  std::free(text);

  std::set<std::string> seen;
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) {
    const auto lane = line.find("lane[");
    if (lane == std::string::npos) continue;
    const auto colon = line.find(':', lane);
    if (colon == std::string::npos) continue;
    std::istringstream fields(line.substr(colon + 1));
    std::string resource;
    fields >> resource;  // "3:sysv/memory.0"
    const auto start = resource.find(':');
    const auto end = resource.rfind('.');
    if (start == std::string::npos || end == std::string::npos || end <= start) continue;
    const std::string name = resource.substr(start + 1, end - start - 1);
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

void Endpoint::on_error(void* arg, ucp_ep_h /*endpoint*/, ucs_status_t status) {
  auto* self = static_cast<Endpoint*>(arg);
  if (self->failure_ == UCS_OK) self->failure_ = status;
  self->worker_.request_after_progress();
}

}  // namespace ringpipe::ucx
