// ringpipe: what the Options' checks (options.cpp) and the environment reader (options_env.cpp)
// share to read values and reject bad ones.
#pragma once

#include <string>
#include <string_view>

namespace ringpipe::detail {

// The rendezvous gives every rank a 16-bit slot in places; larger rings are a mistake.
inline constexpr int kMaxWorldSize = 65536;

std::string lower(std::string_view text);
// `text` in double quotes, escaped for an error message.
std::string quoted(std::string_view text);
// Throws Error{InvalidArgument} with `message`.
[[noreturn]] void invalid(const std::string& message);

}  // namespace ringpipe::detail
