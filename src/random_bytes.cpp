// ringpipe: unpredictable bytes from the kernel.
#include "random_bytes.hpp"

#include <ringpipe/error.hpp>

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ringpipe::detail {

std::vector<std::byte> random_bytes(std::size_t count) {
  std::vector<std::byte> bytes(count);
  std::size_t filled = 0;
  while (filled < count) {
    const ssize_t n = getrandom(bytes.data() + filled, count - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw Error(Errc::Internal,
                  std::string("cannot read random bytes from the kernel: ") + std::strerror(errno));
    }
    filled += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace ringpipe::detail
