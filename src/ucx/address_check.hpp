// ringpipe: checks a neighbour's UCX worker address before UCX reads it.
//
// UCX unpacks a worker address without its length and asserts on what it does not expect (an
// unknown version aborts the process), so bytes from the network would be trusted blindly. The
// check walks the packed layout of UCX's address versions 1 and 2 within the bytes received:
// version, lengths, counts and indices that UCX would assert on or read past the end by. Some
// packing choices depend on the local UCX configuration; they are learnt from this worker's
// own address (the layout that reads it back exactly is the one UCX uses here), and so are
// the shortest addresses each of its transports writes: a neighbour's entry for a transport
// this UCX has is never shorter (UCX would read past it). The transports' own bytes (socket
// addresses, shared memory ids) are UCX's to check.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ringpipe::ucx {

class AddressCheck {
 public:
  // Checks the version only, until a layout was learnt.
  AddressCheck() = default;
  // Learns the layout from this worker's own packed address.
  explicit AddressCheck(std::span<const std::byte> own_address);

  // What is wrong with `address`, or std::nullopt if UCX can read it safely.
  [[nodiscard]] std::optional<std::string> defect(std::span<const std::byte> address) const;

  // One transport entry of an address: its name's checksum and its address lengths.
  struct Transport {
    unsigned csum = 0;
    unsigned device_length = 0;
    unsigned iface_length = 0;
  };

 private:
  bool layout_known_ = false;
  // Interface attributes carry a resource index (a UCX configuration choice).
  bool with_resource_index_ = false;
  // This UCX's transports, with the shortest addresses it writes for each.
  std::vector<Transport> transports_;
};

}  // namespace ringpipe::ucx
