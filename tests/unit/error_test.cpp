// Unit tests of Error and the names of its codes.
#include <ringpipe/error.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ringpipe {
namespace {

// Every code of Errc, in declaration order. Extend it when a code is added.
constexpr Errc kAllCodes[] = {
    Errc::InvalidArgument, Errc::Timeout,   Errc::PeerFailed, Errc::Stalled,
    Errc::Closed,          Errc::Truncated, Errc::AuthFailed, Errc::ProtocolMismatch,
    Errc::Unsupported,     Errc::Internal,
};

TEST(ErrcNames, EveryCodeHasADistinctNonEmptyName) {
  std::set<std::string_view> names;
  for (const Errc code : kAllCodes) {
    const std::string_view name = to_string(code);
    EXPECT_FALSE(name.empty()) << "code " << static_cast<int>(code);
    EXPECT_NE(name, "Unknown") << "code " << static_cast<int>(code) << " has no name of its own";
    EXPECT_TRUE(names.insert(name).second)
        << "code " << static_cast<int>(code) << " shares the name \"" << name << "\"";
  }
  EXPECT_EQ(names.size(), std::size(kAllCodes));
}

TEST(ErrcNames, NamesAreTheStableSpellingsOfTheEnumerators) {
  EXPECT_EQ(to_string(Errc::InvalidArgument), "InvalidArgument");
  EXPECT_EQ(to_string(Errc::Timeout), "Timeout");
  EXPECT_EQ(to_string(Errc::PeerFailed), "PeerFailed");
  EXPECT_EQ(to_string(Errc::Stalled), "Stalled");
  EXPECT_EQ(to_string(Errc::Closed), "Closed");
  EXPECT_EQ(to_string(Errc::Truncated), "Truncated");
  EXPECT_EQ(to_string(Errc::AuthFailed), "AuthFailed");
  EXPECT_EQ(to_string(Errc::ProtocolMismatch), "ProtocolMismatch");
  EXPECT_EQ(to_string(Errc::Unsupported), "Unsupported");
  EXPECT_EQ(to_string(Errc::Internal), "Internal");
}

TEST(ErrcNames, AnOutOfRangeValueGetsAPlaceholderInsteadOfCrashing) {
  // Codes travel over the wire as integers; a cast of an unknown value must still print.
  const std::string_view name = to_string(static_cast<Errc>(12345));
  EXPECT_FALSE(name.empty());
  for (const Errc code : kAllCodes) EXPECT_NE(name, to_string(code));
}

TEST(ErrorType, WhatIsTheCodeNameColonSpaceThenTheMessage) {
  for (const Errc code : kAllCodes) {
    const std::string message = "rank 3 (host-a): something about tag 7 and 4096 bytes";
    const Error error(code, message);
    EXPECT_EQ(std::string(error.what()), std::string(to_string(code)) + ": " + message);
  }
}

TEST(ErrorType, CodeReturnsTheCodeItWasMadeWith) {
  for (const Errc code : kAllCodes) {
    const Error error(code, "x");
    EXPECT_EQ(error.code(), code);
  }
}

TEST(ErrorType, AnEmptyMessageStillNamesTheCode) {
  const Error error(Errc::Stalled, "");
  EXPECT_EQ(std::string(error.what()), "Stalled: ");
  EXPECT_EQ(error.code(), Errc::Stalled);
}

TEST(ErrorType, IsCatchableAsRuntimeErrorAndKeepsCodeAndTextWhenCopied) {
  try {
    throw Error(Errc::PeerFailed, "rank 1 died");
  } catch (const std::runtime_error& caught) {
    EXPECT_STREQ(caught.what(), "PeerFailed: rank 1 died");
    const auto* error = dynamic_cast<const Error*>(&caught);
    ASSERT_NE(error, nullptr);
    const Error copy = *error;  // errors are stored and rethrown (sticky edge failures)
    EXPECT_EQ(copy.code(), Errc::PeerFailed);
    EXPECT_STREQ(copy.what(), "PeerFailed: rank 1 died");
  }
  const std::exception_ptr stored = std::make_exception_ptr(Error(Errc::Closed, "bye"));
  try {
    std::rethrow_exception(stored);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::Closed);
    EXPECT_STREQ(error.what(), "Closed: bye");
  }
}

}  // namespace
}  // namespace ringpipe
