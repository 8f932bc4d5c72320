// ringpipe: a bounded walk over UCX's packed worker address (versions 1 and 2).
#include "ucx/address_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ringpipe::ucx {
namespace {

// The packed layout, as UCX writes it.
constexpr unsigned kVersionMask = 0x0f;
constexpr unsigned kVersion1 = 0;
constexpr unsigned kVersion2 = 1;
constexpr unsigned kHeaderDebugInfo = 0x01;
constexpr unsigned kHeaderWorkerUuid = 0x02;
constexpr unsigned kHeaderClientId = 0x04;
constexpr unsigned kEmptyList = 0xff;
constexpr unsigned kMdEmptyDevice = 0x80;
constexpr unsigned kMdMaskV1 = 0x1f;
constexpr unsigned kMdMaskV2 = 0x7f;
constexpr unsigned kLast = 0x80;
constexpr unsigned kDeviceNumPaths = 0x40;
constexpr unsigned kDeviceSysDevice = 0x20;
constexpr unsigned kDeviceLengthMask = 0x1f;
constexpr unsigned kIfaceHasEpAddress = 0x40;
constexpr unsigned kIfaceLengthMask = 0x3f;
constexpr std::size_t kIfaceAttrSizeV1 = 16;  // three floats and a 32-bit word
constexpr std::size_t kIfaceAttrSizeV2 = 8;   // four bytes and two 16-bit words
constexpr unsigned kFp8ExponentMask = 0x0f;
// UCX's limits: resources (transport addresses), lanes per endpoint, memory domains (a bit map).
constexpr std::size_t kMaxResources = 128;
constexpr int kMaxLanes = 6;
constexpr unsigned kMaxMemoryDomains = 64;

// Reads bytes in order; any read past the end marks the walk failed.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  [[nodiscard]] bool has(std::size_t count) const { return bytes_.size() - at_ >= count; }
  unsigned byte() {
    if (!has(1)) {
      fail();
      return 0;
    }
    return std::to_integer<unsigned>(bytes_[at_++]);
  }
  unsigned peek() const { return has(1) ? std::to_integer<unsigned>(bytes_[at_]) : 0; }
  void skip(std::size_t count) {
    if (!has(count)) return fail();
    at_ += count;
  }
  // A value of `mask` bits; version 2 extends the largest one with the next byte.
  unsigned extended(unsigned first, unsigned mask, bool version2) {
    const unsigned value = first & mask;
    return version2 && value == mask ? byte() : value;
  }
  void fail() { failed_ = true; }
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] std::size_t at() const { return at_; }

 private:
  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
  bool failed_ = false;
};

float float_at(std::span<const std::byte> bytes, std::size_t offset) {
  float value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof value);  // UCX packs in host order
  return value;
}

// Interface performance figures: version 1 packs floats (overhead, bandwidth, latency
// overhead); version 2 packs 8-bit floats whose all-ones exponent means NaN.
bool plausible_performance(std::span<const std::byte> attributes, bool version2) {
  if (version2) {
    for (std::size_t i = 0; i < 3; ++i) {
      if ((std::to_integer<unsigned>(attributes[i]) & kFp8ExponentMask) == kFp8ExponentMask) {
        return false;
      }
    }
    return true;
  }
  const float overhead = float_at(attributes, 0);
  const float bandwidth = float_at(attributes, 4);  // negative: an old UCX's "shared" figure
  const float latency = float_at(attributes, 8);
  return std::isfinite(overhead) && overhead >= 0 && std::isfinite(bandwidth) &&
         std::isfinite(latency) && latency >= 0;
}

struct Walk {
  std::optional<std::string> defect;
  std::size_t consumed = 0;
  std::vector<AddressCheck::Transport> transports;  // what the address lists
};

// The shortest device and interface addresses this UCX writes for `csum`, if it knows it.
const AddressCheck::Transport* known(const std::vector<AddressCheck::Transport>& transports,
                                     unsigned csum) {
  for (const AddressCheck::Transport& transport : transports) {
    if (transport.csum == csum) return &transport;
  }
  return nullptr;
}

Walk walk(std::span<const std::byte> address, bool with_resource_index,
          const std::vector<AddressCheck::Transport>* expected) {
  Walk result;
  Reader in(address);
  const auto defect = [&](const std::string& what) {
    result.defect = what;
    result.consumed = in.at();
    return result;
  };
  const unsigned header = in.byte();
  if (in.failed()) return defect("it is empty");
  const unsigned version = header & kVersionMask;
  if (version != kVersion1 && version != kVersion2) {
    return defect("it has address version " + std::to_string(version) + " (UCX knows 1 and 2)");
  }
  const bool version2 = version == kVersion2;
  const unsigned flags = version2 ? in.byte() : header >> 4;
  if (!version2 || (flags & kHeaderWorkerUuid) != 0) in.skip(8);
  if ((flags & kHeaderClientId) != 0) in.skip(8);
  if ((flags & kHeaderDebugInfo) != 0) in.skip(in.byte());
  if (in.failed()) return defect("it ends inside its header");
  if (in.peek() == kEmptyList) {
    result.consumed = in.at() + 1;
    return result;
  }

  for (bool last_device = false; !last_device;) {
    const unsigned md_byte = in.byte();
    const unsigned md_index = in.extended(md_byte, version2 ? kMdMaskV2 : kMdMaskV1, version2);
    if (md_index >= kMaxMemoryDomains) {
      return defect("it names memory domain " + std::to_string(md_index));
    }
    const unsigned device_byte = in.byte();
    last_device = (device_byte & kLast) != 0;
    const unsigned device_length = in.extended(device_byte, kDeviceLengthMask, version2);
    if ((device_byte & kDeviceNumPaths) != 0 && in.byte() == 0) {
      return defect("a device has no paths");
    }
    if ((device_byte & kDeviceSysDevice) != 0) in.skip(1);
    in.skip(device_length);
    for (bool last_iface = (md_byte & kMdEmptyDevice) != 0; !last_iface && !in.failed();) {
      if (result.transports.size() == kMaxResources) {
        return defect("it lists more than " + std::to_string(kMaxResources) + " transports");
      }
      const unsigned csum_low = in.byte();  // the transport name's checksum, 16 bits
      const unsigned csum = csum_low | (in.byte() << 8);
      const std::size_t attributes_at = in.at();
      in.skip((version2 ? kIfaceAttrSizeV2 : kIfaceAttrSizeV1) + (with_resource_index ? 1 : 0));
      if (in.failed()) break;
      // UCX ranks transports by scores computed from these and asserts that none is negative.
      if (!plausible_performance(address.subspan(attributes_at), version2)) {
        return defect("a transport has a negative or undefined latency, overhead or bandwidth");
      }
      const unsigned iface_byte = in.byte();
      last_iface = (iface_byte & kLast) != 0;
      const unsigned iface_length = in.extended(iface_byte, kIfaceLengthMask, version2);
      in.skip(iface_length);
      // A transport this UCX has reads its addresses as this UCX writes them: shorter ones
      // would be read past (or, empty, through a null pointer).
      if (expected != nullptr) {
        if (const AddressCheck::Transport* mine = known(*expected, csum);
            mine != nullptr &&
            (device_length < mine->device_length || iface_length < mine->iface_length)) {
          return defect(
              "its address of a transport this UCX has is shorter than that "
              "transport's (device " +
              std::to_string(device_length) + " < " + std::to_string(mine->device_length) +
              " bytes or interface " + std::to_string(iface_length) + " < " +
              std::to_string(mine->iface_length) + ")");
        }
      }
      result.transports.push_back({csum, device_length, iface_length});
      bool last_ep = (iface_byte & kIfaceHasEpAddress) == 0;
      for (int lanes = 0; !last_ep && !in.failed(); ++lanes) {
        if (lanes == kMaxLanes) {
          return defect("a transport lists more than " + std::to_string(kMaxLanes) + " lanes");
        }
        in.skip(in.byte());  // the endpoint address
        last_ep = (in.byte() & kLast) != 0;
      }
    }
    if (in.failed()) break;
  }
  if (in.failed()) {
    return defect("its lengths run past its end (" + std::to_string(address.size()) + " bytes)");
  }
  result.consumed = in.at();
  return result;
}

}  // namespace

AddressCheck::AddressCheck(std::span<const std::byte> own_address) {
  for (const bool with_resource_index : {false, true}) {
    Walk own = walk(own_address, with_resource_index, nullptr);
    if (own.defect || own.consumed != own_address.size()) continue;
    with_resource_index_ = with_resource_index;
    layout_known_ = true;
    // The shortest addresses of each transport (one per device it runs on).
    for (const Transport& transport : own.transports) {
      Transport* mine = nullptr;
      for (Transport& each : transports_) {
        if (each.csum == transport.csum) mine = &each;
      }
      if (mine == nullptr) {
        transports_.push_back(transport);
      } else {
        mine->device_length = std::min(mine->device_length, transport.device_length);
        mine->iface_length = std::min(mine->iface_length, transport.iface_length);
      }
    }
    return;
  }
}

std::optional<std::string> AddressCheck::defect(std::span<const std::byte> address) const {
  if (!layout_known_) {
    // Only the version: the layout of this UCX is not one the walk reads.
    const unsigned version =
        address.empty() ? 0xff : std::to_integer<unsigned>(address[0]) & kVersionMask;
    if (version == kVersion1 || version == kVersion2) return std::nullopt;
    return "it has no known address version";
  }
  return walk(address, with_resource_index_, &transports_).defect;
}

}  // namespace ringpipe::ucx
