// ringpipe: unpredictable bytes from the kernel, for secrets and nonces.
#pragma once

#include <cstddef>
#include <vector>

namespace ringpipe::detail {

// `count` bytes from getrandom(2). Throws Error{Internal} if the kernel cannot supply them.
std::vector<std::byte> random_bytes(std::size_t count);

}  // namespace ringpipe::detail
