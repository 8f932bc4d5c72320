// The command line of ringpipe's tools and benchmarks: parsing, help and version.
#include "cli.hpp"

#include <ringpipe/version.hpp>

#include <cstdio>
#include <utility>

namespace ringpipe_cli {
namespace {

// Help lines start their text here, or on the next line when the names are wider.
constexpr std::size_t kHelpColumn = 28;

std::string base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// "a", "a or b", "a, b or c": the choices as a sentence says them.
std::string spoken_list(const std::vector<std::string>& words) {
  std::string text;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) text += i + 1 == words.size() ? " or " : ", ";
    text += words[i];
  }
  return text;
}

// One entry of the options list: the names, then the help, its later lines aligned under it.
std::string help_entry(std::string names, std::string_view help) {
  std::string entry = "  " + std::move(names);
  if (entry.size() + 2 > kHelpColumn) {
    entry += '\n';
    entry.append(kHelpColumn, ' ');
  } else {
    entry.append(kHelpColumn - entry.size(), ' ');
  }
  for (const char c : help) {
    entry += c;
    if (c == '\n') entry.append(kHelpColumn, ' ');
  }
  return entry + '\n';
}

}  // namespace

std::string quoted(std::string_view value) { return "'" + std::string(value) + "'"; }

ValueParser one_of(std::string& target, std::vector<std::string> choices) {
  return [&target, choices = std::move(choices)](std::string_view given, std::string_view value) {
    for (const std::string& choice : choices) {
      if (value == choice) {
        target = choice;
        return;
      }
    }
    throw UsageError(std::string(given) + " expects " + spoken_list(choices) + ", got " +
                     quoted(value));
  };
}

Parser::Parser(std::string program, std::string synopsis, std::string description,
               std::string epilog)
    : program_(std::move(program)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)),
      epilog_(std::move(epilog)) {}

void Parser::add(std::string_view names, std::string value_name, std::string help,
                 ValueParser parse) {
  Option option;
  option.value_name = std::move(value_name);
  option.help = std::move(help);
  option.parse = std::move(parse);
  while (!names.empty()) {
    const auto comma = names.find(',');
    std::string_view name = names.substr(0, comma);
    while (name.starts_with(' ')) name.remove_prefix(1);
    (name.starts_with("--") ? option.long_name : option.short_name) = std::string(name);
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
  }
  options_.push_back(std::move(option));
}

void Parser::add_flag(std::string_view names, std::string help, bool& target) {
  add(names, "", std::move(help), [&target](std::string_view, std::string_view) { target = true; });
}

const Parser::Option* Parser::find(std::string_view name) const {
  for (const Option& option : options_) {
    if (name == option.short_name || name == option.long_name) return &option;
  }
  return nullptr;
}

std::string Parser::help() const {
  std::string text = "Usage: " + program_ + " " + synopsis_ + "\n";
  if (!description_.empty()) text += "\n" + description_;
  text += "\nOptions:\n";
  for (const Option& option : options_) {
    // Long names line up whether or not a short name comes first.
    const std::string names = option.short_name.empty() ? "    " + option.long_name
                              : option.long_name.empty()
                                  ? option.short_name
                                  : option.short_name + ", " + option.long_name;
    text += help_entry(option.value_name.empty() ? names : names + " " + option.value_name,
                       option.help);
  }
  text += help_entry("-h, --help", "show this help and exit");
  text += help_entry("    --version", "show the version and exit");
  if (!epilog_.empty()) text += "\n" + epilog_;
  return text;
}

int Parser::fail(std::string_view message) const {
  std::fprintf(stderr, "%s: %.*s\nTry '%s --help'.\n", program_.c_str(),
               static_cast<int>(message.size()), message.data(), program_.c_str());
  return kUsageExit;
}

void Parser::parse_one(int& i, int argc, char* const* argv) const {
  const std::string_view arg = argv[i];
  std::string_view name = arg;
  std::optional<std::string_view> value;
  if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
    name = arg.substr(0, eq);
    value = arg.substr(eq + 1);
  } else if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
    name = arg.substr(0, 2);  // getopt style: -n20
    value = arg.substr(2);
  }
  const Option* option = find(name);
  if (option == nullptr || name.size() < 2) {
    throw UsageError("unknown option " + quoted(arg));
  }
  if (option->value_name.empty()) {
    if (value) throw UsageError("option " + std::string(name) + " takes no value");
    option->parse(name, "");
    return;
  }
  if (!value) {
    if (i + 1 >= argc) throw UsageError("option " + std::string(arg) + " needs a value");
    value = argv[++i];
  }
  option->parse(name, *value);
}

std::optional<int> Parser::parse(int argc, char* const* argv) {
  if (argc > 0 && argv[0] != nullptr && *argv[0] != '\0') program_ = base_name(argv[0]);
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "-h" || arg == "--help") {
        std::fputs(help().c_str(), stdout);
        return 0;
      }
      if (arg == "--version") {
        std::printf("%s %s\n", program_.c_str(), RINGPIPE_VERSION_STRING);
        return 0;
      }
      parse_one(i, argc, argv);
    }
  } catch (const UsageError& error) {
    return fail(error.what());
  }
  return std::nullopt;
}

}  // namespace ringpipe_cli
