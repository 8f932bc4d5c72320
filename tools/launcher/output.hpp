// ringpipe-run: forwards each rank's output line by line under a "[rank] " prefix.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringpipe_run {

// Lines longer than this are cut into pieces so a rank that never writes a newline cannot make
// the launcher buffer without bound.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;

// Writes all of data, riding over partial writes and EINTR. Returns false once the fd fails
// (e.g. EPIPE when the reader went away).
bool write_all(int fd, std::string_view data);

// Prints "ringpipe-run: <message>" on the launcher's stderr.
void print_error(std::string_view message);

// One rank's stdout or stderr pipe. Each whole line goes out in a single write so lines of
// different ranks may interleave but never mix.
class RankStream {
 public:
  RankStream(int rank, int fd, int out_fd);
  ~RankStream();
  RankStream(RankStream&& other) noexcept;
  RankStream& operator=(RankStream&&) = delete;
  RankStream(const RankStream&) = delete;
  RankStream& operator=(const RankStream&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }

  // Call when poll() reports the fd readable or hung up; closes the stream at end of file.
  void on_readable();

  // Emits any partial last line (with a newline added) and closes the pipe.
  void close();

 private:
  void emit(std::string_view bytes);

  std::string prefix_;
  int fd_;
  int out_fd_;
  std::string pending_;  // Start of a line whose newline has not arrived yet.
  // The last piece was cut at kMaxLineBytes; a newline that follows it ends that line rather
  // than being an empty line of its own.
  bool after_cut_ = false;
};

}  // namespace ringpipe_run
