// ringpipe: a UCX endpoint to one neighbour.
#include "ucx/endpoint.hpp"

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

// Progresses until a UCX request returned by an _nbx call is complete; frees it.
bool finish(Worker& worker, ucs_status_ptr_t request, FlushState& state,
            const detail::Deadline& deadline) {
  if (request == nullptr) return true;
  if (UCS_PTR_IS_ERR(request)) {
    state.status = UCS_PTR_STATUS(request);
    return false;
  }
  const bool done = worker.progress_until([&] { return state.done; }, deadline);
  if (!done) {
    ucp_request_cancel(worker.get(), request);
    while (!state.done) ucp_worker_progress(worker.get());
  }
  ucp_request_free(request);
  return done && state.status == UCS_OK;
}

}  // namespace

Endpoint::Endpoint(Worker& worker, const std::vector<std::byte>& remote_address, int peer_rank)
    : worker_(worker), peer_(peer_rank) {
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
  const detail::Deadline deadline(kCloseTimeout);
  while (ucp_request_check_status(request) == UCS_INPROGRESS && !deadline.expired()) {
    ucp_worker_progress(worker_.get());
  }
  ucp_request_free(request);
}

bool Endpoint::flush(const detail::Deadline& deadline) {
  if (failed()) return false;
  FlushState state;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &on_flushed;
  param.user_data = &state;
  return finish(worker_, ucp_ep_flush_nbx(endpoint_, &param), state, deadline);
}

std::string Endpoint::transports() const {
  if (endpoint_ == nullptr) return "closed";
  // UCX 1.13 has no query for an endpoint's transports; its info dump lists one line per lane
  // ("lane[0]: 3:sysv/memory.0 md[3] ..."). Collect the distinct transport/device names.
  char* text = nullptr;
  std::size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (stream == nullptr) return "unknown";
  ucp_ep_print_info(endpoint_, stream);
  std::fclose(stream);
  std::istringstream lines(std::string(text, size));
  std::free(text);

  std::set<std::string> seen;
  std::string result;
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
    if (seen.insert(name).second) result += (result.empty() ? "" : ", ") + name;
  }
  return result.empty() ? "unknown" : result;
}

void Endpoint::on_error(void* arg, ucp_ep_h /*endpoint*/, ucs_status_t status) {
  auto* self = static_cast<Endpoint*>(arg);
  if (self->failure_ == UCS_OK) self->failure_ = status;
  self->worker_.request_after_progress();
}

}  // namespace ringpipe::ucx
