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

std::string LinkInfo::describe() const {
  std::string link = "ucx: ";
  for (std::size_t i = 0; i < transports.size(); ++i) link += (i == 0 ? "" : ", ") + transports[i];
  if (transports.empty()) link += "closed";
  const std::string path(to_string(data_path));
  if (data_path == DataPath::Host) return path + " over " + link;
  return path + " (control over " + link + ")";
}

}  // namespace ringpipe
