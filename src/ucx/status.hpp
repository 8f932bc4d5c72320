// ringpipe: UCX status codes in ringpipe's terms.
#pragma once

#include <ringpipe/error.hpp>

#include <ucs/type/status.h>

#include <string>

namespace ringpipe::ucx {

// The ringpipe code a failed UCX operation maps to (a broken connection is PeerFailed).
Errc errc_of(ucs_status_t status) noexcept;

// "[UCX: <status text>]" for the end of messages.
std::string describe(ucs_status_t status);

// Throws Error{errc_of(status)} "<what>: [UCX: ...]" unless status is UCS_OK.
void check(ucs_status_t status, const std::string& what);

}  // namespace ringpipe::ucx
