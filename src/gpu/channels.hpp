// ringpipe: the control channels of an edge's host link that carry GPU mode's messages, apart
// from the user's data and from each other. Both ranks must agree on the numbers.
#pragma once

#include "ucx/tag_layout.hpp"

namespace ringpipe::gpu {

// Descriptors (device_messages.hpp), and the data of GpuTransport::Ucx, which UCX moves itself.
inline constexpr ucx::ControlChannel kDescriptorChannel{1};
// Replies to descriptors, tagged with the descriptor's sequence number.
inline constexpr ucx::ControlChannel kReplyChannel{2};
// An edge's setup: the path handshake (tag 0) and the NCCL unique id (tag 1), beside the
// single-copy probe.
inline constexpr ucx::ControlChannel kSetupChannel = ucx::kSetupChannel;

}  // namespace ringpipe::gpu
