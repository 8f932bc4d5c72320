// The rendezvous socket a harness binds before it starts its ranks, handed to rank 0.
#pragma once

#include <cstdint>

#include "fd.hpp"

namespace ringpipe::process {

// A close-on-exec socket listening on 127.0.0.1 at a port the kernel picks (so harnesses run in
// parallel and no port is ever guessed), stored in `port`. Not open, with errno set, on failure.
Fd listen_on_loopback(std::uint16_t& port);

}  // namespace ringpipe::process
