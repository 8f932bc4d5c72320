// ringpipe: the UCX context of one Ring.
#include "ucx/context.hpp"

#include "net/interfaces.hpp"
#include "ucx/status.hpp"

#include <ringpipe/request.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace ringpipe::ucx {
namespace {

struct ConfigDeleter {
  void operator()(ucp_config_t* config) const noexcept { ucp_config_release(config); }
};

// Applies `value` unless the user set UCX_<name> in the environment.
void set_default(ucp_config_t* config, const char* name, const std::string& value) {
  if (std::getenv(("UCX_" + std::string(name)).c_str()) != nullptr) return;
  check(ucp_config_modify(config, name, value.c_str()),
        "cannot set UCX option " + std::string(name) + "=" + value);
}

// Transport options are read by UCX from the environment when it opens the transports, not
// from ucp_config_t, so they are set there (only where the user has not).
void set_environment_default(const char* name, const char* value) {
  setenv(("UCX_" + std::string(name)).c_str(), value, /*overwrite=*/0);
}

// False when the user's UCX_TLS leaves out shared memory: setting its options would then only
// make UCX warn about unused variables.
bool shared_memory_allowed() {
  const char* tls = std::getenv("UCX_TLS");
  if (tls == nullptr) return true;
  const std::string list = tls;
  for (const char* name : {"all", "sm", "shm", "posix", "sysv", "mm"}) {
    if (list.find(name) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Context::Context(const std::string& interface_spec, std::chrono::milliseconds liveness_timeout) {
  ucp_config_t* raw_config = nullptr;
  check(ucp_config_read(nullptr, nullptr, &raw_config), "cannot read the UCX configuration");
  const std::unique_ptr<ucp_config_t, ConfigDeleter> config(raw_config);

  // Endpoints use error handling mode PEER so a dead neighbour fails requests instead of
  // hanging them. UCX 1.13 then drops the shared-memory transports (their error handling is
  // off by default) and falls back to TCP even between processes of one host; turning it on
  // keeps shared memory and CMA, which are several times faster on one host.
  if (shared_memory_allowed()) {
    set_environment_default("POSIX_ERROR_HANDLING", "y");
    set_environment_default("SYSV_ERROR_HANDLING", "y");
  }
  if (!interface_spec.empty()) {
    set_default(config.get(), "NET_DEVICES",
                net::join_names(net::resolve_interfaces(interface_spec)));
  }
  // UCX finds dead peers by keepalive rounds (every 20 s by default); two rounds per liveness
  // timeout report a dead neighbour within it.
  if (liveness_timeout != kInfinite) {
    const auto interval =
        std::max<std::chrono::milliseconds::rep>(liveness_timeout.count() / 2, 50);
    set_default(config.get(), "KEEPALIVE_INTERVAL", std::to_string(interval) + "ms");
  }

  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED |
                      UCP_PARAM_FIELD_ESTIMATED_NUM_EPS | UCP_PARAM_FIELD_NAME;
  params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 0;
  params.estimated_num_eps = 2;
  params.name = "ringpipe";
  check(ucp_init(&params, config.get(), &context_), "cannot initialise UCX");
}

bool Context::supports_cuda_memory() const {
  ucp_context_attr_t attributes{};
  attributes.field_mask = UCP_ATTR_FIELD_MEMORY_TYPES;
  if (ucp_context_query(context_, &attributes) != UCS_OK) return false;
  return (attributes.memory_types & UCS_BIT(UCS_MEMORY_TYPE_CUDA)) != 0;
}

Context::~Context() {
  if (context_ != nullptr) ucp_cleanup(context_);
}

}  // namespace ringpipe::ucx
