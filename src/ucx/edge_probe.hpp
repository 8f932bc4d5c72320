// ringpipe: the single-copy probe of a Ring's two edges, run once as the Ring forms.
#pragma once

#include "deadline.hpp"
#include "single_copy/peer_reader.hpp"
#include "single_copy/probe.hpp"
#include "ucx/pipe.hpp"
#include "ucx/worker.hpp"

namespace ringpipe::ucx {

// Each end of each edge tells the other who it is and offers a page to read; each tries to read
// the other's, both ways, and returns its verdict. Sets on each pipe how its sends may move (the
// neighbour's verdict) and whether descriptors may come (this rank's). Every message is posted
// before any wait, so no ring order can deadlock. Throws Error{Timeout} naming a neighbour that
// did not answer by `deadline`.
void probe_edges(Worker& worker, UcxPipe& pred, UcxPipe& succ, const single_copy::ProbePage& page,
                 single_copy::PeerReader& reader, const detail::Deadline& deadline);

}  // namespace ringpipe::ucx
