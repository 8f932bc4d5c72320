// ringpipe: NCCL, loaded on first use.
#include "gpu/nccl_library.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>

namespace ringpipe::gpu {
namespace {

std::unique_ptr<NcclLibrary> load() {
  const char* configured = std::getenv("RINGPIPE_NCCL_LIBRARY");
  const std::string name = configured != nullptr ? configured : "libnccl.so.2";
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw Error(Errc::Unsupported, "GPU mode needs NCCL for this edge, and " + name +
                                       " cannot be loaded: " + (why ? why : "unknown error") +
                                       " (set LD_LIBRARY_PATH or RINGPIPE_NCCL_LIBRARY)");
  }
  auto library = std::make_unique<NcclLibrary>();
  const auto find = [&](auto& function, const char* symbol) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(handle, symbol));
    if (function == nullptr) {
      throw Error(Errc::Unsupported, name + " lacks " + symbol +
                                         ": NCCL 2.14 or newer is needed (non-blocking "
                                         "communicators)");
    }
  };
  find(library->get_unique_id, "ncclGetUniqueId");
  find(library->comm_init_rank_config, "ncclCommInitRankConfig");
  find(library->comm_get_async_error, "ncclCommGetAsyncError");
  find(library->comm_abort, "ncclCommAbort");
  find(library->comm_finalize, "ncclCommFinalize");
  find(library->comm_destroy, "ncclCommDestroy");
  find(library->group_start, "ncclGroupStart");
  find(library->group_end, "ncclGroupEnd");
  find(library->send, "ncclSend");
  find(library->recv, "ncclRecv");
  find(library->error_string, "ncclGetErrorString");
  decltype(&::ncclGetVersion) get_version = nullptr;
  find(get_version, "ncclGetVersion");
  (void)get_version(&library->version);
  return library;  // the handle stays open for the life of the process
}

}  // namespace

const NcclLibrary& nccl() {
  static const std::unique_ptr<NcclLibrary> library = load();
  return *library;
}

void check_nccl(ncclResult_t result, const std::string& what, Errc code) {
  if (result == ncclSuccess) return;
  throw Error(code, what + ": NCCL error " + std::to_string(static_cast<int>(result)) + " (" +
                        nccl().error_string(result) + ")");
}

}  // namespace ringpipe::gpu
