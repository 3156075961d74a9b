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
// - map() maps the whole file read-only (mmap), so the log reader checks records where they lie;
//   the mapping outlives the handle until unmap().
// - start_writeback() queues the range for a helper thread (one per file system and process,
//   started with the first file opened for writing) that calls
//   sync_file_range(SYNC_FILE_RANGE_WRITE): the kernel's page submission stays off the caller's
//   thread. Errors are ignored (a later sync() reports them); close() drops the handle's queued
//   requests and waits for one in flight, so none reaches a reused descriptor. A forked child
//   starts its own helper and never touches its parent's.
// - A handle this object did not open (or already closed) fails with EBADF and never reaches the
//   kernel, so a stale handle cannot touch a descriptor that was reused meanwhile.
// Error messages read "write /path/to/file: No space left on device (errno 28)".
//
// Compiled into libmmsb (src/log/posix_file_system.cpp).
#pragma once

#include <mmsb/core/span.hpp>
#include <mmsb/log/file_system.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mmsb {

// The real file system (POSIX system calls); see the top of this header for its behaviour. Safe
// to call from several threads.
class posix_file_system final : public file_system {
public:
  posix_file_system();
  posix_file_system(const posix_file_system&) = delete;
  posix_file_system& operator=(const posix_file_system&) = delete;
  // Closes whatever handles are still open.
  ~posix_file_system() override;

  handle open(const std::string& path, open_mode mode) override;
  std::size_t write(handle h, span<const std::byte> bytes) override;
  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) override;
  std::uint64_t size(handle h) override;
  void sync(handle h) override;
  void truncate(handle h, std::uint64_t length) override;
  void close(handle h) noexcept override;
  void rename(const std::string& from, const std::string& to) override;
  void remove(const std::string& path) override;
  void sync_dir(const std::string& dir) override;
  std::vector<std::string> list(const std::string& dir) override;
  void make_dir(const std::string& dir) override;
  bool exists(const std::string& path) override;
  // mmap(PROT_READ, MAP_SHARED | MAP_POPULATE) of the whole file; empty if that fails (see
  // file_system::map).
  span<const std::byte> map(handle h) override;
  void unmap(span<const std::byte> view) noexcept override;
  // Queued for the helper thread's sync_file_range(SYNC_FILE_RANGE_WRITE) (see the top).
  void start_writeback(handle h, std::uint64_t offset, std::uint64_t length) noexcept override;

private:
  struct state;  // the open handles and their paths
  std::unique_ptr<state> state_;
};

} // namespace mmsb
