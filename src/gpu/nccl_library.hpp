// ringpipe: NCCL, loaded when the first NCCL edge is made. Never linked, so binaries load and
// CPU mode and the CUDA IPC path run where NCCL is not installed.
#pragma once

#include <ringpipe/error.hpp>

#include <nccl.h>

#include <string>

namespace ringpipe::gpu {

struct NcclLibrary {
  decltype(&::ncclGetUniqueId) get_unique_id;
  decltype(&::ncclCommInitRankConfig) comm_init_rank_config;
  decltype(&::ncclCommGetAsyncError) comm_get_async_error;
  decltype(&::ncclCommAbort) comm_abort;
  decltype(&::ncclCommFinalize) comm_finalize;
  decltype(&::ncclCommDestroy) comm_destroy;
  decltype(&::ncclGroupStart) group_start;
  decltype(&::ncclGroupEnd) group_end;
  decltype(&::ncclSend) send;
  decltype(&::ncclRecv) recv;
  decltype(&::ncclGetErrorString) error_string;
  int version = 0;  // e.g. 22805 for 2.28.5
};

// Loads libnccl.so.2 (or RINGPIPE_NCCL_LIBRARY) once. Throws Error{Unsupported} saying why
// when it cannot be loaded.
const NcclLibrary& nccl();

// Throws Error{code} naming `what` and NCCL's explanation unless `result` is ncclSuccess.
void check_nccl(ncclResult_t result, const std::string& what, Errc code = Errc::Internal);

}  // namespace ringpipe::gpu
