// ringpipe: how one ring edge really moves its data.
#include <ringpipe/link_info.hpp>

namespace ringpipe {

std::string_view to_string(DataPath path) noexcept {
  switch (path) {
    case DataPath::Host:
      return "host";
    case DataPath::CudaIpc:
      return "cuda-ipc";
    case DataPath::CudaDeviceCopy:
      return "cuda device copy";
    case DataPath::Nccl:
      return "nccl";
    case DataPath::Ucx:
      return "ucx";
  }
  return "unknown";
}

namespace {

// "64 KiB", "1 MiB", "100 B".
std::string bytes_text(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int unit = 0;
  while (unit < 3 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + " " + units[unit];
}

std::string single_copy_text(const SingleCopyPaths& paths) {
  std::string text;
  if (paths.registered) text = "registered from " + bytes_text(paths.registered_min_bytes);
  if (paths.plain) {
    text += (text.empty() ? "" : ", ") + std::string("other memory from ") +
            bytes_text(paths.plain_min_bytes) + " to " + bytes_text(paths.plain_max_bytes);
  }
  if (text.empty()) return "; single copy off: " + paths.why_not;
  text = "; single copy: " + text;
  if (!paths.why_not.empty()) text += " (" + paths.why_not + ")";
  return text;
}

}  // namespace

std::string LinkInfo::describe() const {
  std::string link = "ucx: ";
  for (std::size_t i = 0; i < transports.size(); ++i) link += (i == 0 ? "" : ", ") + transports[i];
  if (transports.empty()) link += "closed";
  const std::string path(to_string(data_path));
  if (data_path == DataPath::Host) return path + " over " + link + single_copy_text(single_copy);
  return path + " (control over " + link + ")";
}

}  // namespace ringpipe
