// Logging: levels parsed like every variable, lines with time, host, pid and rank, the
// application's sink, and RINGPIPE_LOG_FILE with %h and %p.
#include "log.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/log.hpp>

#include "env_guard.hpp"
#include "expect_error.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace ringpipe {
namespace {

using LogFromEnv = test::OptionsFromEnv;

// Leaves the process's logging as it found it (stderr, warning, no rank, no sink).
struct DefaultLoggingAfterwards {
  ~DefaultLoggingAfterwards() {
    set_log_sink({});
    detail::configure_logging({});
    detail::set_log_rank(-1);
  }
};

std::string host_name() {
  char buffer[256] = {};
  ::gethostname(buffer, sizeof buffer - 1);
  return buffer;
}

TEST(Log, LevelNamesAreReadInAnyCaseAndOthersAreRefusedNamingTheSource) {
  EXPECT_EQ(parse_log_level("INFO", "x"), LogLevel::Info);
  EXPECT_EQ(parse_log_level("Debug", "x"), LogLevel::Debug);
  EXPECT_EQ(parse_log_level("warn", "x"), LogLevel::Warning);
  EXPECT_EQ(parse_log_level("error", "x"), LogLevel::Error);
  test::expect_error(Errc::InvalidArgument, "RINGPIPE_LOG=\"verbose\"",
                     [] { (void)parse_log_level("verbose", "environment variable RINGPIPE_LOG"); });
}

TEST(Log, LinesCarryTimeHostPidAndRankAndGoToTheApplicationsSink) {
  DefaultLoggingAfterwards restore;
  std::vector<std::pair<LogLevel, std::string>> lines;
  set_log_sink([&](LogLevel level, std::string_view line) { lines.emplace_back(level, line); });
  detail::configure_logging({LogLevel::Info, ""});
  detail::set_log_rank(3);
  detail::log(LogLevel::Info, "hello");
  detail::log(LogLevel::Debug, "below the level");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, LogLevel::Info);
  const std::regex format(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (\S+) pid (\d+) rank 3 )"
                          R"(ringpipe INFO: hello)");
  std::smatch parts;
  ASSERT_TRUE(std::regex_match(lines[0].second, parts, format)) << lines[0].second;
  EXPECT_EQ(parts[1], host_name());
  EXPECT_EQ(parts[2], std::to_string(::getpid()));
}

TEST_F(LogFromEnv, LogFileExpandsHostAndPidAndTakesTheLines) {
  DefaultLoggingAfterwards restore;
  const auto folder =
      std::filesystem::temp_directory_path() / ("ringpipe-log-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  test::set_env("RINGPIPE_LOG_FILE", (folder / "ring-%h-%p.log").c_str());
  test::set_env("RINGPIPE_LOG_LEVEL", "WARNING");
  test::set_env("RINGPIPE_LOG", "error");  // the older name yields to the new one
  const detail::LogConfig config = detail::log_config_from_env();
  const auto expected =
      folder / ("ring-" + host_name() + "-" + std::to_string(::getpid()) + ".log");
  EXPECT_EQ(config.file, expected.string());
  EXPECT_EQ(config.level, LogLevel::Warning);
  detail::configure_logging(config);
  detail::log(LogLevel::Warning, "to the file");
  detail::configure_logging({});  // closes it
  std::ifstream in(expected);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("ringpipe WARNING: to the file\n"), std::string::npos) << text.str();
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace ringpipe
