// A program outside the project, built against an installed ringpipe (through pkg-config or
// CMake's find_package).
#include <ringpipe/compat.hpp>
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>
#include <ringpipe/version.hpp>

#include <cstdio>
#include <cstring>
#include <string_view>

int main() {
  // The library loaded is the one the headers came with.
  if (std::strcmp(ringpipe::version(), RINGPIPE_VERSION_STRING) != 0) {
    std::printf("headers %s, library %s\n", RINGPIPE_VERSION_STRING, ringpipe::version());
    return 1;
  }
  ringpipe::Options options;  // one rank: a self-loop, no launcher needed
  ringpipe::Ring ring(options);
  char message[] = "installed", received[sizeof message] = {};
  ringpipe::Request receive = ring.pred().irecv(received, sizeof received);
  ring.succ().send(message, sizeof message);
  receive.wait();
  std::printf("consumer received '%s'\n", received);
  return std::string_view(received) == "installed" ? 0 : 1;
}
