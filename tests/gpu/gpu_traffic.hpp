// Test helpers: GPU-mode traffic shared by the suites of each data path, every byte checked.
#pragma once

#include <ringpipe/ring.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ringpipe::test {

// What rank `from` sends with `tag` in a message of `size` bytes.
std::uint64_t gpu_seed(int from, Tag tag, std::size_t size);

// Each rank sends `size` bytes to its successor and receives its predecessor's, on `stream`;
// checks the bytes and that nothing past the message was written.
void exchange_on_stream(Ring& ring, std::size_t size, cudaStream_t stream);

// `count` messages of `size` bytes, tags 0..count-1: receives posted in reverse tag order,
// sends in order, so only tags can pair them.
void exchange_tags_in_reverse(Ring& ring, int count, std::size_t size);

// `count` messages of `size` bytes spread over three streams (two created, and the default
// stream), each posted behind slow work on its stream: the sender's stream writes the data
// just before the send, the receiver's stream overwrites the buffer just before the receive.
// Only copies ordered after both see (and leave) the right bytes, however they are batched.
void exchange_behind_stream_work(Ring& ring, int count, std::size_t size);

}  // namespace ringpipe::test
