// The gpu suite's entry point: exits 77 (skipped) with the reason when there is no GPU.
#include "device_buffer.hpp"
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!ringpipe::test::is_rank_process()) {
    const std::string reason = ringpipe::test::gpu_unavailable_reason();
    if (!reason.empty()) {
      std::printf("SKIP: the gpu suite needs an NVIDIA GPU: %s\n", reason.c_str());
      return 77;
    }
  }
  return RUN_ALL_TESTS();
}
