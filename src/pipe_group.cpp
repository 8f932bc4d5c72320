// ringpipe: the blocking forms of PipeGroup, shared by every transport.
#include <ringpipe/pipe_group.hpp>

namespace ringpipe {

void PipeGroup::send(const void* data, std::size_t bytes, Tag tag,
                     std::optional<std::chrono::milliseconds> timeout) {
  send(data, bytes, tag, Stream{}, timeout);
}

void PipeGroup::send(const void* data, std::size_t bytes, Tag tag, Stream stream,
                     std::optional<std::chrono::milliseconds> timeout) {
  isend(data, bytes, tag, stream).wait(timeout);
}

std::size_t PipeGroup::recv(void* data, std::size_t capacity, Tag tag,
                            std::optional<std::chrono::milliseconds> timeout) {
  return recv(data, capacity, tag, Stream{}, timeout);
}

std::size_t PipeGroup::recv(void* data, std::size_t capacity, Tag tag, Stream stream,
                            std::optional<std::chrono::milliseconds> timeout) {
  Request request = irecv(data, capacity, tag, stream);
  request.wait(timeout);
  return request.bytes();
}

}  // namespace ringpipe
