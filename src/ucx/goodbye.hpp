// ringpipe: the orderly close of one endpoint, in band with the data.
#pragma once

#include "deadline.hpp"
#include "ucx/endpoint.hpp"
#include "ucx/held_request.hpp"
#include "ucx/worker.hpp"

#include <ucp/api/ucp.h>

namespace ringpipe::ucx {

// Each end of a link sends a zero-byte goodbye after everything it sent before, and receives
// the other's: a neighbour that closes is then seen as closed (Errc::Closed), never as failed,
// and nothing it sent before is lost. On a ring of one (the peer is this rank) there is no one
// to say goodbye to, and nothing is posted.
class Goodbye {
 public:
  // Posts the receive of the peer's goodbye. The worker's after-progress hook runs once it
  // arrives.
  Goodbye(Worker& worker, Endpoint& endpoint, int own_rank);
  Goodbye(const Goodbye&) = delete;
  Goodbye& operator=(const Goodbye&) = delete;
  // Gives back what is still pending; UCX calls nothing of this object afterwards.
  ~Goodbye() = default;

  // The peer closed its ring: it sends and receives nothing more on this link.
  [[nodiscard]] bool received() const noexcept { return received_; }

  // Posts this rank's goodbye behind everything sent before it; not to oneself, nor over a
  // failed endpoint, nor to a peer that has left. Returns at once.
  void send();
  // Waits until the posted goodbye, and everything sent before it, reached the peer.
  void finish_send(const detail::Deadline& deadline);

  // Stops waiting for the peer's goodbye (this rank is closing).
  void cancel_receive() noexcept;
  // Nothing of the exchange is pending in UCX: no callback of it can run any more.
  [[nodiscard]] bool settled() const noexcept;

 private:
  static void on_received(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                          void* user_data);
  static void on_sent(void* request, ucs_status_t status, void* user_data);

  Worker& worker_;
  Endpoint& endpoint_;
  int own_rank_;
  HeldRequest receive_;
  HeldRequest send_;
  bool receiving_ = false;  // the receive is posted and has not completed
  bool received_ = false;
  bool posted_ = false;  // this rank's goodbye is on its way
  bool sent_ = false;    // ... and has left this rank (locally complete)
};

}  // namespace ringpipe::ucx
