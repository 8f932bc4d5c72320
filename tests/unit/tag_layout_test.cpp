// The UCX tag layout: each message's tag names one edge, direction, channel and user tag, the
// fields sit where the layout says, and a goodbye never matches a message.
#include "ucx/tag_layout.hpp"
#include "gpu/channels.hpp"

#include "invalid_argument.hpp"

#include <ringpipe/options.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace ringpipe::ucx {
namespace {

constexpr std::uint64_t kTagField = 0x0000'0000'FFFF'FFFF;
constexpr std::uint64_t kBackwardField = 0x0000'0001'0000'0000;
constexpr std::uint64_t kEdgeField = 0x0FFF'FFFE'0000'0000;
constexpr std::uint64_t kSingleCopyField = 0x1000'0000'0000'0000;
constexpr std::uint64_t kChannelField = 0x6000'0000'0000'0000;
constexpr std::uint64_t kControlField = 0x8000'0000'0000'0000;
constexpr Tag kMaxTag = std::numeric_limits<Tag>::max();

const std::vector<std::uint32_t> kEdges = {0, 1, 2, 65535, kMaxEdge - 1, kMaxEdge};
const std::vector<Tag> kTags = {0, 1, 2, Tag{1} << 31, kMaxTag - 1, kMaxTag};
const std::vector<int> kRanks = {0, 1, 2, 65535, std::numeric_limits<int>::max()};

std::uint64_t tag_on_channel(std::uint64_t channel, std::uint32_t edge, bool backward, Tag tag) {
  return data_tag(edge, backward, tag) | channel_bits(channel);
}

TEST(TagLayout, FieldsSitAtTheDocumentedBits) {
  EXPECT_EQ(data_tag(0, false, kMaxTag), kTagField);
  EXPECT_EQ(data_tag(0, true, 0), kBackwardField);
  EXPECT_EQ(data_tag(kMaxEdge, false, 0), kEdgeField);
  EXPECT_EQ(channel_bits(kChannelCount - 1), kChannelField);
  EXPECT_EQ(goodbye_tag(0), kControlField);
  EXPECT_EQ(kControlBit, kControlField);
  EXPECT_EQ(kBackwardBit, kBackwardField);
  EXPECT_EQ(kSingleCopyBit, kSingleCopyField);
  EXPECT_EQ(kDataMask, kFullMask & ~kSingleCopyField);
  EXPECT_EQ(kEdgeShift, 33);
  EXPECT_EQ(kChannelShift, 61);
  EXPECT_EQ(kChannelCount, 4u);
  EXPECT_EQ(kMaxEdge, (std::uint32_t{1} << 27) - 1);
}

TEST(TagLayout, FieldsAreDisjointAndFillTheTag) {
  const std::uint64_t fields[] = {kTagField,        kBackwardField, kEdgeField,
                                  kSingleCopyField, kChannelField,  kControlField};
  std::uint64_t all = 0;
  for (const std::uint64_t field : fields) {
    EXPECT_EQ(all & field, 0u) << std::hex << field;
    all |= field;
  }
  EXPECT_EQ(all, kFullMask);
}

TEST(TagLayout, LargestEdgeTagAndChannelStayInTheirFields) {
  EXPECT_EQ(tag_on_channel(kChannelCount - 1, kMaxEdge, true, kMaxTag),
            kFullMask & ~kControlBit & ~kSingleCopyBit);
  for (std::uint64_t channel = 0; channel < kChannelCount; ++channel) {
    const std::uint64_t tag = tag_on_channel(channel, kMaxEdge, true, kMaxTag);
    EXPECT_EQ((tag & kChannelField) >> kChannelShift, channel);
    EXPECT_EQ((tag & kEdgeField) >> kEdgeShift, kMaxEdge);
    EXPECT_EQ(tag & kTagField, kMaxTag);
  }
}

TEST(TagLayout, EachEdgeDirectionChannelAndTagHasItsOwnTag) {
  std::set<std::uint64_t> seen;
  std::size_t made = 0;
  for (const std::uint32_t edge : kEdges) {
    for (const bool backward : {false, true}) {
      for (std::uint64_t channel = 0; channel < kChannelCount; ++channel) {
        for (const Tag tag : kTags) {
          const std::uint64_t ucx_tag = tag_on_channel(channel, edge, backward, tag);
          EXPECT_TRUE(seen.insert(ucx_tag).second) << "edge " << edge << " backward " << backward
                                                   << " channel " << channel << " tag " << tag;
          ++made;
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), made);
}

TEST(TagLayout, GoodbyesNeverMatchMessagesOrEachOther) {
  std::set<std::uint64_t> goodbyes;
  for (const int rank : kRanks) {
    const std::uint64_t goodbye = goodbye_tag(rank);
    EXPECT_NE(goodbye & kControlBit, 0u) << "rank " << rank;
    EXPECT_TRUE(goodbyes.insert(goodbye).second) << "rank " << rank;
  }
  for (const std::uint32_t edge : kEdges) {
    for (const bool backward : {false, true}) {
      for (std::uint64_t channel = 0; channel < kChannelCount; ++channel) {
        for (const Tag tag : kTags) {
          const std::uint64_t message = tag_on_channel(channel, edge, backward, tag);
          EXPECT_EQ(message & kControlBit, 0u);
          EXPECT_EQ(goodbyes.count(message), 0u);
        }
      }
    }
  }
}

// A descriptor is its message's tag plus the single-copy bit: the receive's mask takes both.
TEST(TagLayout, DescriptorsMatchTheReceivesOfTheirMessageOnly) {
  for (const std::uint32_t edge : kEdges) {
    for (const Tag tag : kTags) {
      const std::uint64_t message = data_tag(edge, false, tag);
      const std::uint64_t descriptor = message | kSingleCopyBit;
      EXPECT_EQ(descriptor & kDataMask, message);
      EXPECT_NE(data_tag(edge, true, tag) | kSingleCopyBit, descriptor);
    }
  }
}

// Acks and probe messages sit in the control space, apart from goodbyes and from each other.
TEST(TagLayout, AcksAndProbesNeverMatchGoodbyesOrMessages) {
  std::set<std::uint64_t> control;
  for (const int rank : kRanks) {
    EXPECT_TRUE(control.insert(goodbye_tag(rank)).second);
    EXPECT_TRUE(control.insert(probe_tag(rank, false)).second);
    EXPECT_TRUE(control.insert(probe_tag(rank, true)).second);
  }
  for (const Tag token : kTags) {
    const std::uint64_t ack = ack_tag(token);
    EXPECT_NE(ack & kControlBit, 0u);
    EXPECT_TRUE(control.insert(ack).second) << "token " << token;
  }
}

TEST(TagLayout, ControlChannelsAreNotTheDataChannel) {
  constexpr ControlChannel first{1};
  constexpr ControlChannel last{kChannelCount - 1};
  EXPECT_NE(first.number(), kDataChannel);
  EXPECT_NE(last.number(), kDataChannel);
  EXPECT_EQ(kDataChannel, 0u);
  EXPECT_EQ(channel_bits(kDataChannel), 0u);
}

// Both ranks of an edge must agree on these numbers, across builds of the same version.
TEST(TagLayout, GpuModeChannelsKeepTheirNumbers) {
  EXPECT_EQ(gpu::kDescriptorChannel.number(), 1u);
  EXPECT_EQ(gpu::kReplyChannel.number(), 2u);
  EXPECT_EQ(gpu::kSetupChannel.number(), 3u);
}

// Edge numbers run up to world size - 1: a ring whose edges would not fit is refused.
TEST(TagLayout, RingsWithEdgesBeyondTheFieldAreRefused) {
  Options options;
  options.world_size = static_cast<int>(kMaxEdge) + 2;
  const std::string message = test::invalid_argument_message([&] { options.validate(); });
  EXPECT_TRUE(test::contains(message, "world size")) << message;
}

}  // namespace
}  // namespace ringpipe::ucx
