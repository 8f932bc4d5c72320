// ringpipe: NCCL communicators of ring edges.
#include "gpu/nccl_comm.hpp"

#include <ringpipe/error.hpp>

#include "gpu/channels.hpp"
#include "gpu/cuda_check.hpp"
#include "gpu/nccl_library.hpp"
#include "log.hpp"
#include "ucx/pipe.hpp"
#include "ucx/request.hpp"
#include "ucx/worker.hpp"

#include <algorithm>

namespace ringpipe::gpu {
namespace {

// Tag of the unique id on the GPU set-up channel (the path agreement uses 0).
constexpr Tag kUniqueIdTag = 1;

// One communicator being made.
struct Plan {
  ucx::UcxPipe* host = nullptr;
  int nranks = 2;
  int own_rank = 0;
  ncclUniqueId id{};
  ucx::UcxRequest* exchange = nullptr;  // the id's send (rank 0) or receive (rank 1)
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;

  ~Plan() {
    if (exchange != nullptr) exchange->release();
  }
  [[nodiscard]] std::string name() const { return "the NCCL communicator of " + host->name(true); }
};

void abort_all(std::vector<Plan>& plans) noexcept {
  for (Plan& plan : plans) {
    if (plan.comm != nullptr) (void)nccl().comm_abort(std::exchange(plan.comm, nullptr));
    if (plan.stream != nullptr) (void)cudaStreamDestroy(std::exchange(plan.stream, nullptr));
  }
}

ncclComm_t handle(void* comm) { return static_cast<ncclComm_t>(comm); }

// A non-blocking communicator may answer ncclInProgress: the call goes on in the background
// and the communicator's state says when it is done.
void settle(ncclComm_t comm, ncclResult_t started, const Describe& what,
            const detail::Deadline& deadline) {
  ncclResult_t state = started;
  while (state == ncclInProgress) {
    const ncclResult_t queried = nccl().comm_get_async_error(comm, &state);
    if (queried != ncclSuccess) check_nccl(queried, what());
    if (state == ncclInProgress && deadline.expired()) {
      throw Error(Errc::Timeout, what() + ": NCCL did not finish enqueuing in time");
    }
  }
  if (state != ncclSuccess) check_nccl(state, what());
}

}  // namespace

NcclComm::NcclComm(void* comm, cudaStream_t stream, int nranks, int own_rank, std::string name)
    : comm_(comm), stream_(stream), nranks_(nranks), own_rank_(own_rank), name_(std::move(name)) {}

NcclComm::~NcclComm() {
  if (comm_ != nullptr) {
    // The requests have settled, so nothing is in flight: finalizing is quick, but bounded all
    // the same; abort frees whatever is left.
    try {
      settle(
          handle(comm_), nccl().comm_finalize(handle(comm_)), [this] { return name_; },
          detail::Deadline(std::chrono::milliseconds(2000)));
      (void)nccl().comm_destroy(handle(comm_));
    } catch (const Error& error) {
      detail::log(detail::LogLevel::Warning, error.what());
      (void)nccl().comm_abort(handle(comm_));
    }
  }
  if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
}

void NcclComm::abort() noexcept {
  if (comm_ == nullptr) return;
  detail::log(detail::LogLevel::Warning, "aborting " + name_);
  (void)nccl().comm_abort(handle(std::exchange(comm_, nullptr)));
  self_receives_.clear();
}

template <typename Enqueue>
void NcclComm::run_group(cudaEvent_t ready, cudaEvent_t done, const Describe& what,
                         const detail::Deadline& deadline, Enqueue&& enqueue) {
  if (comm_ == nullptr) throw Error(Errc::Closed, what() + ": " + name_ + " was aborted");
  if (const cudaError_t status = cudaStreamWaitEvent(stream_, ready, 0); status != cudaSuccess) {
    fail(status, what() + ": cannot order the transfer");
  }
  const NcclLibrary& library = nccl();
  if (const ncclResult_t started = library.group_start(); started != ncclSuccess) {
    check_nccl(started, what());
  }
  const ncclResult_t enqueued = enqueue(library, handle(comm_));
  const ncclResult_t ended = library.group_end();
  if (enqueued != ncclSuccess && enqueued != ncclInProgress) check_nccl(enqueued, what());
  settle(handle(comm_), ended, what, deadline);
  if (const cudaError_t status = cudaEventRecord(done, stream_); status != cudaSuccess) {
    fail(status, what() + ": cannot record the transfer's end");
  }
}

void NcclComm::enqueue_send(const void* data, std::size_t bytes, cudaEvent_t ready,
                            cudaEvent_t done, const Describe& what,
                            const detail::Deadline& deadline) {
  run_group(ready, done, what, deadline, [&](const NcclLibrary& library, ncclComm_t comm) {
    return library.send(data, bytes, ncclInt8, peer_rank(), comm, stream_);
  });
}

void NcclComm::enqueue_receive(void* data, std::size_t bytes, cudaEvent_t ready, cudaEvent_t done,
                               const Describe& what, const detail::Deadline& deadline) {
  run_group(ready, done, what, deadline, [&](const NcclLibrary& library, ncclComm_t comm) {
    return library.recv(data, bytes, ncclInt8, peer_rank(), comm, stream_);
  });
}

void NcclComm::enqueue_self_pair(const void* data, std::size_t bytes, cudaEvent_t ready,
                                 cudaEvent_t done, const Describe& what,
                                 const detail::Deadline& deadline) {
  if (self_receives_.empty()) {
    throw Error(Errc::Internal, what() + ": no receive is waiting for this send to self");
  }
  const SelfReceive receive = self_receives_.front();
  self_receives_.pop_front();
  if (const cudaError_t status = cudaStreamWaitEvent(stream_, receive.ready, 0);
      status != cudaSuccess) {
    fail(status, what() + ": cannot order the receive");
  }
  run_group(ready, done, what, deadline, [&](const NcclLibrary& library, ncclComm_t comm) {
    const ncclResult_t sent = library.send(data, bytes, ncclInt8, 0, comm, stream_);
    if (sent != ncclSuccess && sent != ncclInProgress) return sent;
    return library.recv(receive.buffer, receive.bytes, ncclInt8, 0, comm, stream_);
  });
  if (const cudaError_t status = cudaEventRecord(receive.done, stream_); status != cudaSuccess) {
    fail(status, what() + ": cannot record the receive's end");
  }
  *receive.recorded = true;
}

std::vector<std::shared_ptr<NcclComm>> create_nccl_comms(ucx::Worker& worker,
                                                         const std::vector<ucx::UcxPipe*>& hosts,
                                                         const detail::Deadline& deadline) {
  const NcclLibrary& library = nccl();
  std::vector<Plan> plans(hosts.size());
  try {
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      Plan& plan = plans[i];
      plan.host = hosts[i];
      const int rank = plan.host->rank();
      const int peer = plan.host->peer();
      plan.nranks = rank == peer ? 1 : 2;
      plan.own_rank = rank < peer ? 0 : (rank == peer ? 0 : 1);
      if (plan.own_rank == 0) {
        check_nccl(library.get_unique_id(&plan.id), plan.name() + ": cannot make a unique id",
                   Errc::Unsupported);
      } else {
        plan.exchange =
            plan.host->post_control_recv(kSetupChannel, kUniqueIdTag, &plan.id, sizeof plan.id);
      }
    }
    for (Plan& plan : plans) {
      if (plan.own_rank == 0 && plan.nranks == 2) {
        plan.exchange =
            plan.host->post_control_send(kSetupChannel, kUniqueIdTag, &plan.id, sizeof plan.id);
      }
    }
    const auto exchanged = [&] {
      return std::all_of(plans.begin(), plans.end(), [](const Plan& plan) {
        return plan.exchange == nullptr || plan.exchange->done();
      });
    };
    if (!worker.progress_until(exchanged, deadline)) {
      throw Error(Errc::Timeout, "GPU mode: the NCCL unique id of " +
                                     plans.front().host->name(true) +
                                     " or its other edge was not exchanged in time");
    }
    for (Plan& plan : plans) {
      if (plan.exchange == nullptr) continue;
      if (auto error = plan.exchange->outcome()) throw *error;
      if (plan.exchange->bytes() != sizeof plan.id && plan.own_rank == 1) {
        throw Error(Errc::ProtocolMismatch, plan.name() + ": malformed unique id");
      }
    }
    // Non-blocking initialisation of every communicator at once, then one deadline for all.
    for (Plan& plan : plans) {
      check(cudaStreamCreateWithFlags(&plan.stream, cudaStreamNonBlocking),
            plan.name() + ": cannot create its stream");
      ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
      config.blocking = 0;
      const ncclResult_t started =
          library.comm_init_rank_config(&plan.comm, plan.nranks, plan.id, plan.own_rank, &config);
      if (started != ncclInProgress) check_nccl(started, plan.name() + ": cannot start it");
    }
    for (Plan& plan : plans) {
      ncclResult_t state = ncclInProgress;
      while (state == ncclInProgress) {
        check_nccl(library.comm_get_async_error(plan.comm, &state), plan.name());
        if (state == ncclInProgress && deadline.expired()) {
          throw Error(Errc::Timeout, plan.name() + " was not ready in time (rank " +
                                         std::to_string(plan.host->peer()) +
                                         " did not join it; aborted)");
        }
      }
      check_nccl(state, plan.name() + " could not be initialised", Errc::Unsupported);
    }
  } catch (...) {
    abort_all(plans);
    throw;
  }
  std::vector<std::shared_ptr<NcclComm>> comms;
  for (Plan& plan : plans) {
    comms.push_back(std::make_shared<NcclComm>(std::exchange(plan.comm, nullptr),
                                               std::exchange(plan.stream, nullptr), plan.nranks,
                                               plan.own_rank, plan.name()));
  }
  return comms;
}

}  // namespace ringpipe::gpu
