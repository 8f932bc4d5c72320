// ring_bw: the message pattern of pattern.hpp written and checked by GPU kernels, so GPU mode
// checks every byte without copying messages to the host (and without leaving the GPU idle
// and slow between timed transfers while the host would fill and check them).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ring_bw {

// False when this build has no CUDA compiler: GPU mode then fills and checks on the host.
bool device_patterns_available() noexcept;

// As fill_pattern / count_wrong_bytes, on CUDA device memory; both wait for the GPU. Throw
// std::runtime_error on a CUDA error.
void fill_pattern_on_device(void* data, std::size_t bytes, std::uint64_t seed);
std::uint64_t count_wrong_bytes_on_device(const void* data, std::size_t bytes, std::uint64_t seed);

}  // namespace ring_bw
