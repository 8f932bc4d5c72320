// An owned file descriptor and the pipes that connect a harness to its children.
#pragma once

namespace ringpipe::process {

// Closes its descriptor when dropped; -1 when it holds none.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  // Gives the descriptor up without closing it.
  int release();
  void reset();

 private:
  int fd_;
};

struct Pipe {
  Fd read;
  Fd write;
};

// A close-on-exec pipe, so that only the ends a child is given on purpose survive its exec.
// False with errno set if the system refused.
bool open_pipe(Pipe& pipe);

}  // namespace ringpipe::process
