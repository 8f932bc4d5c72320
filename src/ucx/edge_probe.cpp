// ringpipe: the single-copy probe of a Ring's two edges.
#include "ucx/edge_probe.hpp"

#include "ucx/request.hpp"
#include "ucx/tag_layout.hpp"

#include <array>
#include <string>

namespace ringpipe::ucx {
namespace {

// Tags on the set-up channel, beside GPU mode's (0 and 1).
constexpr Tag kHelloTag = 2;
constexpr Tag kVerdictTag = 3;

struct EdgeProbe {
  UcxPipe* pipe = nullptr;
  single_copy::Hello theirs;
  single_copy::Verdict mine;
  single_copy::Verdict their_verdict;
  std::array<UcxRequest*, 4> requests{};  // hello in, hello out, verdict in, verdict out

  EdgeProbe() = default;
  EdgeProbe(const EdgeProbe&) = delete;
  EdgeProbe& operator=(const EdgeProbe&) = delete;
  ~EdgeProbe() {
    for (UcxRequest* request : requests) {
      if (request != nullptr) request->release();
    }
  }
  [[nodiscard]] bool done(std::size_t first, std::size_t count) const {
    for (std::size_t i = first; i < first + count; ++i) {
      if (requests[i] == nullptr || !requests[i]->done()) return false;
    }
    return true;
  }
  [[nodiscard]] std::string who() const {
    return pipe->name(true) + ": rank " + std::to_string(pipe->peer());
  }
  void check(std::size_t first, std::size_t count, std::size_t expected_bytes) const {
    for (std::size_t i = first; i < first + count; ++i) {
      if (auto error = requests[i]->outcome()) throw *error;
    }
    if (requests[first]->bytes() != expected_bytes) {
      throw Error(Errc::ProtocolMismatch, who() + " sent a malformed single-copy probe");
    }
  }
};

void wait_all(Worker& worker, std::array<EdgeProbe, 2>& edges, std::size_t first,
              const detail::Deadline& deadline) {
  const auto all_done = [&] { return edges[0].done(first, 2) && edges[1].done(first, 2); };
  if (worker.progress_until(all_done, deadline)) return;
  for (const EdgeProbe& edge : edges) {
    if (!edge.done(first, 2)) {
      throw Error(Errc::Timeout, edge.who() + " did not answer the single-copy probe in time");
    }
  }
}

}  // namespace

void probe_edges(Worker& worker, UcxPipe& pred, UcxPipe& succ, const single_copy::ProbePage& page,
                 single_copy::PeerReader& reader, const detail::Deadline& deadline) {
  std::array<EdgeProbe, 2> edges;
  edges[0].pipe = &pred;
  edges[1].pipe = &succ;
  for (EdgeProbe& edge : edges) {
    edge.requests[0] =
        edge.pipe->post_control_recv(kSetupChannel, kHelloTag, &edge.theirs, sizeof edge.theirs);
    edge.requests[2] = edge.pipe->post_control_recv(kSetupChannel, kVerdictTag, &edge.their_verdict,
                                                    sizeof edge.their_verdict);
  }
  for (EdgeProbe& edge : edges) {
    edge.requests[1] =
        edge.pipe->post_control_send(kSetupChannel, kHelloTag, &page.hello(), sizeof page.hello());
  }
  wait_all(worker, edges, 0, deadline);
  for (EdgeProbe& edge : edges) {
    edge.check(0, 2, sizeof edge.theirs);
    edge.mine = single_copy::judge(page.hello(), edge.theirs, reader);
    edge.requests[3] =
        edge.pipe->post_control_send(kSetupChannel, kVerdictTag, &edge.mine, sizeof edge.mine);
  }
  wait_all(worker, edges, 2, deadline);
  for (EdgeProbe& edge : edges) {
    edge.check(2, 2, sizeof edge.their_verdict);
    if (edge.their_verdict.magic != single_copy::Verdict::kMagic) {
      throw Error(Errc::ProtocolMismatch, edge.who() + " sent a malformed single-copy verdict");
    }
    EdgeCopyPaths paths;
    paths.send_read_process = edge.their_verdict.read_process != 0;
    paths.send_mapped_file = edge.their_verdict.mapped_file != 0;
    paths.receives = edge.mine.read_process != 0 || edge.mine.mapped_file != 0;
    paths.peer_pid = edge.theirs.pid;
    paths.peer_nonce = edge.theirs.probe_pattern;
    paths.why_not = edge.their_verdict.reason();
    edge.pipe->set_copy_paths(std::move(paths));
  }
}

}  // namespace ringpipe::ucx
