// Test helper: a call must fail with one ringpipe error code and a message naming the cause.
#pragma once

#include <ringpipe/error.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace ringpipe::test {

// Runs `call`, expecting Error{code} whose what() contains `text`; returns the seconds taken,
// so a caller can also bound how fast the failure came.
template <typename F>
double expect_error(Errc code, const std::string& text, F&& call) {
  const auto start = std::chrono::steady_clock::now();
  try {
    call();
    ADD_FAILURE() << "expected Error{" << to_string(code) << "}";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ringpipe::test
