// ringpipe: the single-copy probe of a link.
#include "single_copy/probe.hpp"

#include "random_bytes.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

namespace ringpipe::single_copy {
namespace {

std::uint64_t namespace_inode(const char* path) {
  struct stat status {};
  return stat(path, &status) == 0 ? static_cast<std::uint64_t>(status.st_ino) : 0;
}

void set_why(Verdict& verdict, const std::string& why) {
  const std::size_t n = std::min(why.size(), sizeof verdict.why - 1);
  std::memcpy(verdict.why, why.data(), n);
  verdict.why[n] = '\0';
}

// Why two processes cannot share memory, or "" if they are on one host and see each other.
std::string apart(const Hello& own, const Hello& peer) {
  if (std::strncmp(own.boot_id, peer.boot_id, sizeof own.boot_id) != 0 || own.boot_id[0] == 0) {
    return "the neighbour runs on another host";
  }
  if (own.pid_namespace != peer.pid_namespace) return "the neighbour is in another pid namespace";
  // A network namespace stands for another host (containers); UCX's network path is kept.
  if (own.net_namespace != peer.net_namespace) {
    return "the neighbour is in another network namespace";
  }
  return {};
}

}  // namespace

std::string Verdict::reason() const { return std::string(why, strnlen(why, sizeof why)); }

ProbePage::ProbePage(bool enabled) : region_(allocate_region(64)) {
  std::uint64_t pattern = 0;
  const std::vector<std::byte> random = detail::random_bytes(sizeof pattern);
  std::memcpy(&pattern, random.data(), sizeof pattern);
  pattern |= 1;  // never all zero, as unwritten memory is
  std::memcpy(region_.base, &pattern, sizeof pattern);
  hello_.enabled = enabled ? 1 : 0;
  hello_.pid = static_cast<std::int32_t>(getpid());
  hello_.probe_fd = region_.fd;
  hello_.probe_serial = region_.serial;
  hello_.probe_address = reinterpret_cast<std::uint64_t>(region_.base);
  hello_.probe_size = region_.mapped;
  hello_.probe_pattern = pattern;
  hello_.pid_namespace = namespace_inode("/proc/self/ns/pid");
  hello_.net_namespace = namespace_inode("/proc/self/ns/net");
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot, boot_id);
  std::memcpy(hello_.boot_id, boot_id.data(), std::min(boot_id.size(), sizeof hello_.boot_id - 1));
}

ProbePage::~ProbePage() { free_region(region_.base); }

Verdict judge(const Hello& own, const Hello& peer, PeerReader& reader) {
  Verdict verdict;
  if (peer.magic != Hello::kMagic) {
    set_why(verdict, "the neighbour's probe was malformed");
    return verdict;
  }
  if (own.enabled == 0 || peer.enabled == 0) {
    set_why(verdict, "single copy is turned off (RINGPIPE_SINGLE_COPY=0 or Options::single_copy)");
    return verdict;
  }
  if (const std::string why = apart(own, peer); !why.empty()) {
    set_why(verdict, why);
    return verdict;
  }
  std::string why;
  const auto tried = [&](Method method) {
    Descriptor descriptor;
    descriptor.method = method;
    descriptor.fd = peer.probe_fd;
    descriptor.size = sizeof peer.probe_pattern;
    descriptor.address = method == Method::ReadProcess ? peer.probe_address : 0;
    descriptor.serial = peer.probe_serial;
    descriptor.file_size = peer.probe_size;
    std::uint64_t seen = 0;
    const ReadResult result = reader.read(peer.pid, descriptor, &seen);
    if (result.status != ReadResult::Status::Ok) {
      why += (why.empty() ? "" : "; ") + result.why;
      return false;
    }
    if (seen != peer.probe_pattern) {
      why +=
          std::string(why.empty() ? "" : "; ") + "reading the neighbour's memory gave other bytes";
      return false;
    }
    return true;
  };
  verdict.read_process = tried(Method::ReadProcess) ? 1 : 0;
  verdict.mapped_file = tried(Method::MappedFile) ? 1 : 0;
  set_why(verdict, why);
  return verdict;
}

}  // namespace ringpipe::single_copy
