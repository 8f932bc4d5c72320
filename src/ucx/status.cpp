// ringpipe: UCX status codes in ringpipe's terms.
#include "ucx/status.hpp"

namespace ringpipe::ucx {

Errc errc_of(ucs_status_t status) noexcept {
  switch (status) {
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_REJECTED:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_IO_ERROR:
    case UCS_ERR_CANCELED:
      return Errc::PeerFailed;
    case UCS_ERR_TIMED_OUT:
      return Errc::Timeout;
    case UCS_ERR_MESSAGE_TRUNCATED:
      return Errc::Truncated;
    case UCS_ERR_INVALID_PARAM:
    case UCS_ERR_INVALID_ADDR:
      return Errc::InvalidArgument;
    case UCS_ERR_UNSUPPORTED:
    case UCS_ERR_NO_DEVICE:
    case UCS_ERR_NO_RESOURCE:
      return Errc::Unsupported;
    default:  // ucs_status_t is UCX's open-ended enum, not ours
      return Errc::Internal;
  }
}

std::string describe(ucs_status_t status) {
  return std::string("[UCX: ") + ucs_status_string(status) + "]";
}

void check(ucs_status_t status, const std::string& what) {
  if (status != UCS_OK) throw Error(errc_of(status), what + ": " + describe(status));
}

}  // namespace ringpipe::ucx
