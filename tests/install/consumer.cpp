// A program outside the project, built against an installed ringpipe through pkg-config.
#include <ringpipe/compat.hpp>
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include <cstdio>

int main() {
  ringpipe::Options options;  // one rank: a self-loop, no launcher needed
  ringpipe::Ring ring(options);
  char message[] = "installed", received[sizeof message] = {};
  ringpipe::Request receive = ring.pred().irecv(received, sizeof received);
  ring.succ().send(message, sizeof message);
  receive.wait();
  std::printf("consumer received '%s'\n", received);
  return std::string_view(received) == "installed" ? 0 : 1;
}
