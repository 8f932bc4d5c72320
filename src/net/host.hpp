// ringpipe: which host this process runs on.
#pragma once

#include <string>

namespace ringpipe::net {

// Name of this host, and an identity that differs between hosts and between boots.
std::string host_name();
std::string host_identity();

}  // namespace ringpipe::net
