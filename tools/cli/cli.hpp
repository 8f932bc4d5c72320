// The command line of ringpipe's tools and benchmarks: each tool declares its options once, and
// the parser derives --help, --version and errors that name the option and the bad value.
#pragma once

#include <charconv>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringpipe_cli {

// The exit status of a usage error, before anything has run.
inline constexpr int kUsageExit = 2;

// A malformed command line; what() names the option and the value that was refused.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Takes one option's value. `given` is the option as typed (-n or --iters), for messages; throws
// UsageError when the value is malformed.
using ValueParser = std::function<void(std::string_view given, std::string_view value)>;

class Parser {
 public:
  // `program` names the tool in messages when argv[0] does not; `synopsis` follows "Usage:
  // PROGRAM "; `description` comes before the options and `epilog` after them.
  Parser(std::string program, std::string synopsis, std::string description,
         std::string epilog = "");

  // An option that takes a value: `names` is "-n, --iters" or "--window", `value_name` stands
  // for the value in the help ("N"), and `help` may span lines ('\n').
  void add(std::string_view names, std::string value_name, std::string help, ValueParser parse);
  // An option that takes no value ("--stats"): `target` becomes true when it is given.
  void add_flag(std::string_view names, std::string help, bool& target);

  // Reads the options (--name VALUE, --name=VALUE, -n VALUE, -nVALUE). Returns nullopt to run,
  // or the exit status once --help or --version is printed (0) or a usage error reported (2).
  [[nodiscard]] std::optional<int> parse(int argc, char* const* argv);

  // Reports a usage error found after parsing (options that conflict) and returns the status.
  int fail(std::string_view message) const;

  [[nodiscard]] std::string help() const;
  // The name the tool was started under, as the help, version and errors show it.
  [[nodiscard]] const std::string& program() const { return program_; }

 private:
  struct Option {
    std::string short_name;  // "-n", or empty
    std::string long_name;   // "--iters", or empty
    std::string value_name;  // empty for a flag
    std::string help;
    ValueParser parse;
  };

  const Option* find(std::string_view name) const;
  void parse_one(int& i, int argc, char* const* argv) const;

  std::string program_;
  std::string synopsis_;
  std::string description_;
  std::string epilog_;
  std::vector<Option> options_;
};

// A whole integer within [min, max]; nullopt for anything else (signs, spaces, suffixes).
template <typename Int>
std::optional<Int> parse_integer(std::string_view text, Int min, Int max) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

// `value` quoted, as error messages show it.
std::string quoted(std::string_view value);

// Stores a whole integer within [min, max] in `target`.
template <typename Int>
ValueParser integer(Int& target, Int min, Int max) {
  return [&target, min, max](std::string_view given, std::string_view value) {
    const std::optional<Int> parsed = parse_integer(value, min, max);
    if (!parsed) {
      throw UsageError(std::string(given) + " expects an integer from " + std::to_string(min) +
                       " to " + std::to_string(max) + ", got " + quoted(value));
    }
    target = *parsed;
  };
}

// Stores the value in `target` if it is one of `choices`.
ValueParser one_of(std::string& target, std::vector<std::string> choices);

}  // namespace ringpipe_cli
