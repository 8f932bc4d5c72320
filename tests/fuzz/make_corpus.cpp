// Writes the fuzzer's seed corpus: one valid frame of each type, from the real encoder.
#include "rendezvous/wire.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace ringpipe::rendezvous;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  Hello hello;
  hello.library_version = "0.1.0";
  hello.world_size = 4;
  hello.rank = 2;
  hello.job_id = 7;
  hello.host = "node-1";
  hello.host_identity = "node-1/boot";
  hello.gpu_identity = "GPU-0";
  hello.address = std::vector<std::byte>(64, std::byte{0x5a});
  hello.liveness_host = "10.0.0.2";
  hello.liveness_port = 41000;
  const PeerRecord record{
      1, "node-0", "node-0/boot", "", std::vector<std::byte>(32, std::byte{1}), "10.0.0.1", 41001};
  Nonce nonce;
  nonce.fill(std::byte{0x3c});
  Mac proof;
  proof.fill(std::byte{0xa5});
  const std::vector<std::pair<std::string, std::vector<std::byte>>> frames = {
      {"auth_challenge", encode(AuthChallenge{true, nonce})},
      {"auth_challenge_no_token", encode(AuthChallenge{false, nonce})},
      {"auth_response", encode(AuthResponse{7, true, nonce, proof})},
      {"auth_proof", encode(AuthProof{proof})},
      {"hello", encode(hello)},
      {"peers", encode(Peers{record, record, std::vector<std::byte>(16, std::byte{7})})},
      {"error", encode(ErrorReply{3, "rank 3 is missing"})},
      {"ready", encode_empty(FrameType::Ready)},
      {"go", encode_empty(FrameType::Go)},
      {"abandon", encode_empty(FrameType::Abandon)},
  };
  for (const auto& [name, bytes] : frames) {
    FILE* file = std::fopen((dir + "/" + name).c_str(), "wb");
    if (file == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
      return 1;
    }
    std::fclose(file);
  }
  return 0;
}
