// The file-system seam under the log and checkpoints: every byte MMSB persists goes through a
// file_system, so tests can swap in an in-memory one, inject faults into any operation class, or
// simulate a crash that keeps, drops or tears unsynced writes.
//
// This is an I/O path (a system call per operation), not a hot path, so it is a small abstract
// interface rather than a template policy: one log writer serves every file system.
//
// Every operation that fails throws mmsb::error (an fs_error, which also carries the errno):
// errc::no_space for ENOSPC/EDQUOT, errc::io_error otherwise, with a message naming the
// operation, the path and the errno text. A failed operation changes nothing the caller can
// observe except where stated (a short write is not a failure: it returns the bytes written).
// An operation that cannot allocate (bookkeeping, messages) throws std::bad_alloc before it has
// done anything, sync included: the log treats that as out of memory, never as a failed fsync.
//
// Transient errors: write_all() and open_retrying(), which every persisted byte of the log and
// checkpoints goes through, retry EINTR at once and EAGAIN/EWOULDBLOCK/ENOSPC/EDQUOT with a
// bounded exponential backoff (io_retry, set per file system); sync and sync_dir are never
// retried (after a failed fsync the kernel may have dropped the data: the log poisons itself
// instead), nor is any other errno. See retryable() and docs/durability.md.
//
// The file systems (posix_, memory_, faulty_file_system) are compiled into libmmsb (src/log/).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>

#include <cerrno>  // the errno values in messages and fault injection
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mmsb {

// Operation classes, for fault injection and error messages.
enum class fs_op : std::uint8_t { open, read, write, sync, truncate, close, rename, remove, sync_dir, list, make_dir };

// The operation's name as messages spell it ("write", "sync_dir", ...).
[[nodiscard]] constexpr const char* to_string(fs_op op) noexcept
{
  switch (op) {
  case fs_op::open: return "open";
  case fs_op::read: return "read";
  case fs_op::write: return "write";
  case fs_op::sync: return "sync";
  case fs_op::truncate: return "truncate";
  case fs_op::close: return "close";
  case fs_op::rename: return "rename";
  case fs_op::remove: return "remove";
  case fs_op::sync_dir: return "sync_dir";
  case fs_op::list: return "list";
  case fs_op::make_dir: return "make_dir";
  }
  return "unknown";
}

// How open() opens a file.
enum class open_mode : std::uint8_t {
  read,          // existing file, read only
  append,        // create if missing, writes go to the end
  create_new,    // create; fails (io_error, EEXIST) if the path exists
  truncate,      // create or empty an existing file
};

// The mmsb::error a file-system operation throws: code() as for every mmsb::error, plus the
// errno it came from, so a caller can tell a transient failure (retryable()) from a lasting one.
class fs_error : public error {
public:
  // message is what() returns; sys_errno is the errno of the failed call.
  fs_error(errc code, const std::string& message, int sys_errno) : error(code, message), errno_(sys_errno) {}
  // The errno of the failed call (EIO, ENOSPC, ...).
  [[nodiscard]] int sys_errno() const noexcept { return errno_; }

private:
  int errno_;
};

// Throws the fs_error for a failed operation: "write /path: No space left on device
// (errno 28)", errc::no_space for ENOSPC and EDQUOT, errc::io_error otherwise; `note` is appended.
[[noreturn]] void throw_fs_error(const char* op, const std::string& path, int err, const char* note = "");

// How write_all() and open_retrying() retry a call that failed with a transient errno
// (retryable()): up to `attempts` calls in all, sleeping initial_backoff before the second,
// doubling up to max_backoff. With the defaults a lasting ENOSPC is reported after 6 calls and
// 31 ms of sleep. EINTR is retried at once and does not count (up to eintr_limit in a row).
struct io_retry {
  std::uint32_t attempts = 6;                             // calls in all, the first included; 1 = no retry
  std::chrono::microseconds initial_backoff{1000};        // sleep before the first retry
  std::chrono::microseconds max_backoff{16000};           // the sleep doubles up to this
  std::uint32_t eintr_limit = 100;                        // EINTRs in a row before EINTR is reported

  // No retry of EAGAIN/ENOSPC/EDQUOT at all (EINTR still is): the first failure is reported.
  [[nodiscard]] static constexpr io_retry none() noexcept
  {
    io_retry r;  // (member by member: nvcc's front end rejects the braced form here)
    r.attempts = 1;
    r.initial_backoff = std::chrono::microseconds{0};
    r.max_backoff = std::chrono::microseconds{0};
    return r;
  }
};

// Whether a failed write or open with this errno may succeed if simply tried again later, and
// so is retried by io_retry: EAGAIN/EWOULDBLOCK (a non-blocking descriptor, a FUSE or network
// file system that is busy), ENOSPC and EDQUOT (space freed by another process, a file system
// whose free space lags its deferred frees, as btrfs's and ext4's delayed allocation do). A
// failed write or open changes nothing, so trying it again is safe. Not EIO (a device error:
// retrying hides it, and data already accepted may be gone), EROFS, EBADF, EFBIG, EINVAL or
// anything else: they are reported at once. EINTR is handled apart (retried at once).
[[nodiscard]] constexpr bool retryable(int err) noexcept
{
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOSPC || err == EDQUOT;
}

// The abstract file system every persisted byte goes through (see the top of this header). The
// stock implementations (posix_, memory_, faulty_file_system) are safe to call from several threads.
class file_system {
public:
  using handle = std::int64_t;  // an open file, valid from open() until close(); not shared between file systems

  virtual ~file_system() = default;

  // Opens path in the given mode and returns its handle; throws mmsb::error naming the path (and
  // nothing stays open) on failure, e.g. a missing file in read mode.
  virtual handle open(const std::string& path, open_mode mode) = 0;
  // Appends (append/create_new/truncate handles) and returns the bytes written, which may be
  // fewer than asked (a short write); callers loop. Throws on failure, with nothing written.
  virtual std::size_t write(handle h, span<const std::byte> bytes) = 0;
  // Reads up to out.size() bytes at offset; returns how many (0 at end of file).
  virtual std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) = 0;
  // The file's current length in bytes.
  virtual std::uint64_t size(handle h) = 0;
  // Makes the file's data durable (fdatasync).
  virtual void sync(handle h) = 0;
  // Cuts (or zero-extends) the file to `length` bytes; requires a writable handle.
  virtual void truncate(handle h, std::uint64_t length) = 0;
  // Never throws: a close error cannot be acted on, and the handle is gone either way.
  virtual void close(handle h) noexcept = 0;
  // Atomic replace of `to` by `from` (POSIX rename semantics).
  virtual void rename(const std::string& from, const std::string& to) = 0;
  // Removes a file (not a directory); throws mmsb::error if it does not exist.
  virtual void remove(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual void sync_dir(const std::string& dir) = 0;
  // The names (not paths) in a directory, sorted.
  virtual std::vector<std::string> list(const std::string& dir) = 0;
  // Creates a directory whose parent exists; an existing directory is fine (no error).
  virtual void make_dir(const std::string& dir) = 0;
  // True when path names an existing file or directory; throws only when it cannot tell.
  virtual bool exists(const std::string& path) = 0;

  // A read-only view of the whole file, for readers that walk it in place (log replay), or an
  // empty span when this file system does not map (the default: memory_ and faulty_file_system,
  // so every byte they hand out goes through read() and its faults), when the mapping fails, or
  // for an empty file. The view outlives the handle and stays valid until unmap(view). The file
  // must not shrink while it is mapped (with posix_file_system a reader would fault on the lost
  // pages); the log only truncates its active segment, under the store's exclusive lock.
  virtual span<const std::byte> map(handle h);
  // Releases a view map() returned; an empty view is ignored. Never throws.
  virtual void unmap(span<const std::byte> view) noexcept;
  // A hint that bytes [offset, offset + length) of a file open for writing will be synced later:
  // the file system may start writing them to the device now, so that sync() finds less to wait
  // for. Changes nothing a reader sees and promises no durability; never throws, never fails (the
  // default does nothing; posix_file_system starts the writeback and does not wait for it).
  virtual void start_writeback(handle h, std::uint64_t offset, std::uint64_t length) noexcept;

  // Writes all of bytes, looping over short writes, retrying EINTR at once and retryable()
  // errnos per retry_policy() (a failed write() wrote nothing, so the retry continues exactly
  // where it stopped). Throws the last fs_error when the policy is spent or the errno is not
  // retryable; bytes already written before the failure stay written (the log cuts them back
  // to its last complete record, a checkpoint removes its temp file).
  void write_all(handle h, span<const std::byte> bytes);
  // open(path, mode), retried as write_all retries a write (a failed open creates nothing).
  handle open_retrying(const std::string& path, open_mode mode);

  // The retry policy of write_all() and open_retrying(); io_retry{} by default (faulty_file_system:
  // io_retry::none(), so an injected fault fails the call it is armed for). Set it before the
  // file system is shared between threads.
  void set_retry_policy(const io_retry& policy) noexcept { retry_ = policy; }
  // The current retry policy.
  [[nodiscard]] const io_retry& retry_policy() const noexcept { return retry_; }

private:
  io_retry retry_{};
};

// Writes `bytes` as the whole file at path (created or emptied), synced before it returns, and
// closes it. Throws the file system's mmsb::error (the file may then hold part of the bytes).
inline void write_synced_file(file_system& fs, const std::string& path, span<const std::byte> bytes)
{
  const auto h = fs.open_retrying(path, open_mode::truncate);
  try {
    fs.write_all(h, bytes);
    fs.sync(h);
  } catch (...) {
    fs.close(h);
    throw;
  }
  fs.close(h);
}

// A whole file's bytes, read-only, for walking in place: mapped where the file system maps
// (file_system::map), else read into a buffer that the object keeps and reuses for the next
// file it loads. Either way the bytes are the same; the caller checks them once, where they lie.
class file_view {
public:
  file_view() = default;
  file_view(const file_view&) = delete;
  file_view& operator=(const file_view&) = delete;
  ~file_view() { release(); }

  // Opens path, maps or reads all of it, and closes the handle. Throws mmsb::error as open(),
  // size() and read() do, with the previous view released.
  void load(file_system& fs, const std::string& path);
  // The file's bytes; empty before load() and after release().
  [[nodiscard]] span<const std::byte> bytes() const noexcept { return bytes_; }
  // True when the bytes are the file system's mapping rather than the object's read buffer.
  [[nodiscard]] bool mapped() const noexcept { return mapped_.data() != nullptr; }
  // Unmaps (or forgets) the current file; the read buffer's memory is kept for reuse.
  void release() noexcept;

private:
  file_system* fs_ = nullptr;
  span<const std::byte> mapped_{};
  std::vector<std::byte> buffer_;
  span<const std::byte> bytes_{};
};

} // namespace mmsb
