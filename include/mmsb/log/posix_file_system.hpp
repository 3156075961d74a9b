// posix_file_system: the real file_system, over open(2), write(2), pread(2), fdatasync(2) and
// friends. A handle is the file descriptor. Every call retries EINTR, every descriptor is O_CLOEXEC.
//
// Behaviour beyond file_system's contract:
// - Handles opened for writing (append, create_new, truncate) are O_RDWR | O_APPEND, so they can
//   also be read; truncate() on one moves the append point to the new end.
// - read() loops until out is full or the file ends: a short count means end of file.
// - make_dir() of an existing directory succeeds (of an existing non-directory: EEXIST).
// - sync_dir() ignores EINVAL from fsync on a directory (file systems that cannot sync one, as
//   PostgreSQL does); exists() is false for ENOENT and ENOTDIR and throws for other errors.
// - A handle this object did not open (or already closed) fails with EBADF and never reaches the
//   kernel, so a stale handle cannot touch a descriptor that was reused meanwhile.
// Error messages read "write /path/to/file: No space left on device (errno 28)".
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/file_system.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace mmsb {

class posix_file_system final : public file_system {
public:
  posix_file_system() = default;
  posix_file_system(const posix_file_system&) = delete;
  posix_file_system& operator=(const posix_file_system&) = delete;

  // Closes whatever handles are still open.
  ~posix_file_system() override
  {
    for (const auto& [h, path] : paths_) ::close(static_cast<int>(h));
  }

  handle open(const std::string& path, open_mode mode) override
  {
    int flags = O_CLOEXEC;
    switch (mode) {
    case open_mode::read: flags |= O_RDONLY; break;
    case open_mode::append: flags |= O_RDWR | O_CREAT | O_APPEND; break;
    case open_mode::create_new: flags |= O_RDWR | O_CREAT | O_EXCL | O_APPEND; break;
    case open_mode::truncate: flags |= O_RDWR | O_CREAT | O_TRUNC | O_APPEND; break;
    }
    const int fd = retry([&] { return ::open(path.c_str(), flags, 0644); });
    if (fd < 0) fail("open", path, errno);
    const std::lock_guard<std::mutex> lock(mutex_);
    paths_[fd] = path;
    return fd;
  }

  std::size_t write(handle h, span<const std::byte> bytes) override
  {
    const std::string path = path_of("write", h);
    if (bytes.empty()) return 0;
    // Linux moves at most 0x7ffff000 bytes per call anyway; asking for less keeps ssize_t happy.
    const std::size_t want = std::min<std::size_t>(bytes.size(), std::size_t{1} << 30);
    const auto n = retry([&] { return ::write(static_cast<int>(h), bytes.data(), want); });
    if (n < 0) fail("write", path, errno);
    return static_cast<std::size_t>(n);
  }

  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) override
  {
    const std::string path = path_of("read", h);
    std::size_t got = 0;
    while (got < out.size()) {
      const std::size_t want = std::min<std::size_t>(out.size() - got, std::size_t{1} << 30);
      const auto n = retry([&] { return ::pread(static_cast<int>(h), out.data() + got, want, static_cast<off_t>(offset + got)); });
      if (n < 0) fail("read", path, errno);
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    return got;
  }

  std::uint64_t size(handle h) override
  {
    const std::string path = path_of("size", h);
    struct stat st {};
    if (::fstat(static_cast<int>(h), &st) != 0) fail("size", path, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  void sync(handle h) override
  {
    const std::string path = path_of("sync", h);
    if (retry([&] { return ::fdatasync(static_cast<int>(h)); }) != 0) fail("sync", path, errno);
  }

  void truncate(handle h, std::uint64_t length) override
  {
    const std::string path = path_of("truncate", h);
    if (retry([&] { return ::ftruncate(static_cast<int>(h), static_cast<off_t>(length)); }) != 0) fail("truncate", path, errno);
  }

  void close(handle h) noexcept override
  {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (paths_.erase(h) == 0) return;
    }
    // Not retried on EINTR: Linux releases the descriptor whatever close returns.
    ::close(static_cast<int>(h));
  }

  void rename(const std::string& from, const std::string& to) override
  {
    if (::rename(from.c_str(), to.c_str()) != 0) fail("rename", from + " -> " + to, errno);
  }

  void remove(const std::string& path) override
  {
    if (::unlink(path.c_str()) != 0) fail("remove", path, errno);
  }

  void sync_dir(const std::string& dir) override
  {
    const int fd = retry([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) fail("sync_dir", dir, errno);
    const int rc = retry([&] { return ::fsync(fd); });
    const int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL) fail("sync_dir", dir, err);
  }

  std::vector<std::string> list(const std::string& dir) override
  {
    const int fd = retry([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) fail("list", dir, errno);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      const int err = errno;
      ::close(fd);
      fail("list", dir, err);
    }
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(d);
      if (e == nullptr) break;
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) fail("list", dir, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  void make_dir(const std::string& dir) override
  {
    if (::mkdir(dir.c_str(), 0755) == 0) return;
    const int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    fail("make_dir", dir, err);
  }

  bool exists(const std::string& path) override
  {
    if (::access(path.c_str(), F_OK) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    fail("exists", path, errno);
  }

private:
  template <class F>
  static auto retry(F&& call) -> decltype(call())
  {
    for (;;) {
      const auto r = call();
      if (!(r < 0 && errno == EINTR)) return r;
    }
  }

  // "write /path: No space left on device (errno 28)"; ENOSPC and EDQUOT are errc::no_space.
  [[noreturn]] static void fail(const char* op, const std::string& path, int err)
  {
    throw_fs_error(op, path, err);
  }

  // The path behind a handle, for messages; EBADF for a handle this object does not hold.
  std::string path_of(const char* op, handle h)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = paths_.find(h);
    if (it == paths_.end()) fail(op, "<handle " + std::to_string(h) + ">", EBADF);
    return it->second;
  }

  std::mutex mutex_;
  std::unordered_map<handle, std::string> paths_;
};

} // namespace mmsb
