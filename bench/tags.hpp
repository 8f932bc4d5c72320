// ring_bw: message tags. Each kind of message has its own tag, so results or preamble text can
// never be matched against benchmark data of the same size, or the other way round.
#pragma once

#include <ringpipe/pipe_group.hpp>

namespace ring_bw {

inline constexpr ringpipe::Tag kDataTag = 1;
inline constexpr ringpipe::Tag kResultsTag = 2;
inline constexpr ringpipe::Tag kPreambleTag = 3;
inline constexpr ringpipe::Tag kVerdictTag = 4;
inline constexpr ringpipe::Tag kReadyTag = 5;
inline constexpr ringpipe::Tag kAckTag = 6;

}  // namespace ring_bw
