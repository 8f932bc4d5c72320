// ringpipe: which host this process runs on.
#include "net/host.hpp"

#include <unistd.h>

#include <fstream>

namespace ringpipe::net {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

std::string host_identity() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot, boot_id);
  return host_name() + "/" + (boot_id.empty() ? "no-boot-id" : boot_id);
}

}  // namespace ringpipe::net
