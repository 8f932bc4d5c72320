// ringpipe: GPU mode in a build without NCCL's headers: the NCCL path is unavailable.
#include <ringpipe/error.hpp>

#include "gpu/nccl_comm.hpp"
#include "ucx/pipe.hpp"

namespace ringpipe::gpu {

std::vector<std::shared_ptr<NcclComm>> create_nccl_comms(ucx::Worker&,
                                                         const std::vector<ucx::UcxPipe*>& hosts,
                                                         const detail::Deadline&) {
  throw Error(Errc::Unsupported, "GPU mode on " + hosts.front()->name(true) +
                                     " needs the NCCL path, and this build of ringpipe was "
                                     "compiled without NCCL's headers");
}

// Never constructed in this build.
NcclComm::~NcclComm() = default;
void NcclComm::abort() noexcept {}
void NcclComm::enqueue_send(const void*, std::size_t, cudaEvent_t, cudaEvent_t, const Describe&,
                            const detail::Deadline&) {}
void NcclComm::enqueue_receive(void*, std::size_t, cudaEvent_t, cudaEvent_t, const Describe&,
                               const detail::Deadline&) {}
void NcclComm::enqueue_self_pair(const void*, std::size_t, cudaEvent_t, cudaEvent_t,
                                 const Describe&, const detail::Deadline&) {}

}  // namespace ringpipe::gpu
