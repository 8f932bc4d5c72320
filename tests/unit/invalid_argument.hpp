// Test helpers of argument validation: the message of the Error{InvalidArgument} a call throws.
#pragma once

#include <ringpipe/error.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace ringpipe::test {

// Runs `fn`, expects Error{InvalidArgument} and returns its what() ("" if none was thrown).
inline std::string invalid_argument_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected Error{InvalidArgument}, nothing was thrown";
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace ringpipe::test
