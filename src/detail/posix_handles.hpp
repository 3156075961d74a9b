// Owning handles for POSIX resources, for libmmsb's own .cpp files (not installed): a file
// descriptor closed and a mapping unmapped when their owner goes.
#pragma once

#include <cstddef>
#include <utility>

#include <sys/mman.h>
#include <unistd.h>

namespace mmsb::detail {

// A file descriptor, closed on destruction (unless released); -1 holds none.
class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept { std::swap(fd_, o.fd_); return *this; }
  ~unique_fd() { if (fd_ >= 0) ::close(fd_); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  // Gives up ownership: the caller closes it.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
private:
  int fd_ = -1;
};

// A mapping of n bytes at p, unmapped on destruction; nullptr holds none.
class unique_map {
public:
  unique_map() = default;
  unique_map(void* p, std::size_t n) noexcept : p_(p), n_(n) {}
  unique_map(unique_map&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  unique_map& operator=(unique_map&& o) noexcept { std::swap(p_, o.p_); std::swap(n_, o.n_); return *this; }
  ~unique_map() { if (p_) ::munmap(p_, n_); }
  [[nodiscard]] std::byte* get() const noexcept { return static_cast<std::byte*>(p_); }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
private:
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

} // namespace mmsb::detail
