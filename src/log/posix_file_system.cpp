// posix_file_system (include/mmsb/log/posix_file_system.hpp): the real file_system over POSIX
// calls. posix_impl holds the behaviour; the public class forwards to it, so the system headers,
// the mutex and the handle map stay out of user code.
#include <mmsb/log/posix_file_system.hpp>

#include <mmsb/config/error.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace mmsb {
namespace {

class posix_impl {
public:
  using handle = file_system::handle;
  posix_impl() = default;
  posix_impl(const posix_impl&) = delete;
  posix_impl& operator=(const posix_impl&) = delete;

  // Stops the writeback helper, then closes whatever handles are still open.
  ~posix_impl()
  {
    if (helper_ != nullptr && helper_pid_ == ::getpid()) {
      {
        const std::lock_guard<std::mutex> lock(helper_->mutex);
        helper_->stop = true;
      }
      helper_->wake.notify_all();
      helper_->thread.join();
      delete helper_;
    }  // else none, or a forked child's copy of its parent's: left alone (see writeback_helper)
    for (const auto& [h, path] : paths_) ::close(static_cast<int>(h));
  }

  handle open(const std::string& path, open_mode mode)
  {
    int flags = O_CLOEXEC;
    switch (mode) {
    case open_mode::read: flags |= O_RDONLY; break;
    case open_mode::append: flags |= O_RDWR | O_CREAT | O_APPEND; break;
    case open_mode::create_new: flags |= O_RDWR | O_CREAT | O_EXCL | O_APPEND; break;
    case open_mode::truncate: flags |= O_RDWR | O_CREAT | O_TRUNC | O_APPEND; break;
    }
    std::string held = path;  // allocated before the file is touched
    const int fd = retry([&] { return ::open(path.c_str(), flags, 0644); });
    if (fd < 0) fail("open", path, errno);
    try {
      const std::lock_guard<std::mutex> lock(mutex_);
      paths_[fd] = std::move(held);
      // The helper starts with the first file opened for writing (a log opening its first
      // segment), not on the thread of an append that asks for writeback (a tick's).
      if (mode != open_mode::read) {
        try {
          (void)helper();
        } catch (...) {  // no thread (or no memory for one): a request then runs on its caller's thread
        }
      }
    } catch (...) {  // out of memory for the handle map: undo the open (a file it created goes too)
      ::close(fd);
      if (mode == open_mode::create_new) ::unlink(path.c_str());
      throw;
    }
    return fd;
  }

  std::size_t write(handle h, span<const std::byte> bytes)
  {
    check_handle("write", h);  // the path is copied only for a message: the log's hot path
    if (bytes.empty()) return 0;
    // Linux moves at most 0x7ffff000 bytes per call anyway; asking for less keeps ssize_t happy.
    const std::size_t want = std::min<std::size_t>(bytes.size(), std::size_t{1} << 30);
    const auto n = retry([&] { return ::write(static_cast<int>(h), bytes.data(), want); });
    if (n < 0) fail("write", path_of("write", h), errno);
    return static_cast<std::size_t>(n);
  }

  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out)
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

  std::uint64_t size(handle h)
  {
    const std::string path = path_of("size", h);
    struct stat st {};
    if (::fstat(static_cast<int>(h), &st) != 0) fail("size", path, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  // The whole file, mapped read-only and populated up front (one kernel call instead of a fault
  // per page); empty when the handle is unknown, the file is empty or mmap fails: the caller reads.
  span<const std::byte> map(handle h)
  {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (paths_.find(h) == paths_.end()) return {};
    }
    struct stat st {};
    if (::fstat(static_cast<int>(h), &st) != 0 || st.st_size <= 0) return {};
    const auto n = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, n, PROT_READ, MAP_SHARED | MAP_POPULATE, static_cast<int>(h), 0);
    if (p == MAP_FAILED) return {};
    return {static_cast<const std::byte*>(p), n};
  }

  static void unmap(span<const std::byte> view) noexcept
  {
    if (view.data() != nullptr) ::munmap(const_cast<std::byte*>(view.data()), view.size());
  }

  // Queues the request for the helper thread, merging it into a queued one that it continues;
  // runs it here, under the lock, only if the helper cannot start or the queue cannot grow. The
  // kernel's page submission (about 0.2 ms per 4 MiB on the VM) so stays off the caller's
  // thread, which is often a tick's.
  void start_writeback(handle h, std::uint64_t offset, std::uint64_t length) noexcept
  {
    if (length == 0) return;
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!paths_.contains(h)) return;  // a stale handle never reaches the kernel
    try {
      writeback_helper& w = helper();
      const std::lock_guard<std::mutex> queue_lock(w.mutex);
      for (auto& r : w.queued)
        if (r.h == h && r.offset + r.length == offset) {
          r.length += length;
          return;
        }
      w.queued.push_back({h, offset, length});
      w.wake.notify_one();
      return;
    } catch (...) {  // no thread, or no memory for the queue
    }
    writeback_now(h, offset, length);
  }

  void sync(handle h)
  {
    const std::string path = path_of("sync", h);
    if (retry([&] { return ::fdatasync(static_cast<int>(h)); }) != 0) fail("sync", path, errno);
  }

  void truncate(handle h, std::uint64_t length)
  {
    const std::string path = path_of("truncate", h);
    if (retry([&] { return ::ftruncate(static_cast<int>(h), static_cast<off_t>(length)); }) != 0) fail("truncate", path, errno);
  }

  void close(handle h) noexcept
  {
    writeback_helper* w = nullptr;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (paths_.erase(h) == 0) return;  // from here no request for h is queued
      if (helper_pid_ == ::getpid()) w = helper_;
    }
    if (w != nullptr) {
      // No writeback request reaches h once it is closed (the number may be reused at once):
      // drop the queued ones and wait out the one in flight.
      std::unique_lock<std::mutex> queue_lock(w->mutex);
      std::erase_if(w->queued, [h](const writeback_request& r) { return r.h == h; });
      w->done.wait(queue_lock, [&] { return w->busy != h; });
    }
    // Not retried on EINTR: Linux releases the descriptor whatever close returns.
    ::close(static_cast<int>(h));
  }

  void rename(const std::string& from, const std::string& to)
  {
    if (::rename(from.c_str(), to.c_str()) != 0) fail("rename", from + " -> " + to, errno);
  }

  void remove(const std::string& path)
  {
    if (::unlink(path.c_str()) != 0) fail("remove", path, errno);
  }

  void sync_dir(const std::string& dir)
  {
    const int fd = retry([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) fail("sync_dir", dir, errno);
    const int rc = retry([&] { return ::fsync(fd); });
    const int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL) fail("sync_dir", dir, err);
  }

  std::vector<std::string> list(const std::string& dir)
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

  void make_dir(const std::string& dir)
  {
    if (::mkdir(dir.c_str(), 0755) == 0) return;
    const int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    fail("make_dir", dir, err);
  }

  bool exists(const std::string& path)
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

  // EBADF for a handle this object does not hold.
  void check_handle(const char* op, handle h)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!paths_.contains(h)) fail(op, "<handle " + std::to_string(h) + ">", EBADF);
  }
  // The path behind a handle, for messages; EBADF for a handle this object does not hold.
  std::string path_of(const char* op, handle h)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = paths_.find(h);
    if (it == paths_.end()) fail(op, "<handle " + std::to_string(h) + ">", EBADF);
    return it->second;
  }

  // sync_file_range(SYNC_FILE_RANGE_WRITE): a hint, so its errors (EIO included) are left to the
  // sync that follows.
  static void writeback_now(handle h, std::uint64_t offset, std::uint64_t length) noexcept
  {
    (void)::sync_file_range(static_cast<int>(h), static_cast<off_t>(offset), static_cast<off_t>(length),
                            SYNC_FILE_RANGE_WRITE);
  }

  struct writeback_request {
    handle h;
    std::uint64_t offset, length;
  };

  // The helper thread and what it shares, in one heap object with its own mutex and condition
  // variables. A forked child inherits a copy whose thread does not run there and whose mutex
  // and condition variables may be mid-use by the parent's threads (glibc's condition variables
  // would then wait for waiters that do not exist in the child): the child never touches it,
  // leaks it, and makes its own.
  struct writeback_helper {
    std::mutex mutex;                       // guards the fields below
    std::condition_variable wake, done;     // the thread waits on wake; close() waits on done
    std::vector<writeback_request> queued;  // waiting for the thread, oldest first
    handle busy = -1;                       // the handle the thread is writing back now, or -1
    bool stop = false;                      // set by ~posix_impl
    std::thread thread;                     // started by the constructor, once the rest is built

    writeback_helper()
    {
      queued.reserve(8);  // the queue rarely holds more: no allocation per request
      thread = std::thread([this] { run(); });
    }

    // Runs queued requests in order until stopped (requests still queued then are dropped).
    void run() noexcept
    {
      std::unique_lock<std::mutex> lock(mutex);
      for (;;) {
        wake.wait(lock, [&] { return stop || !queued.empty(); });
        if (stop) return;
        const writeback_request r = queued.front();
        queued.erase(queued.begin());
        busy = r.h;
        lock.unlock();
        writeback_now(r.h, r.offset, r.length);
        lock.lock();
        busy = -1;
        done.notify_all();
      }
    }
  };

  // Under mutex_: this process's helper, started if it does not run here yet (a parent's copy is
  // left alone). Throws std::system_error if the thread cannot start, or std::bad_alloc.
  writeback_helper& helper()
  {
    const pid_t me = ::getpid();
    if (helper_ == nullptr || helper_pid_ != me) {
      helper_ = new writeback_helper();  // if the thread cannot start, nothing is left behind
      helper_pid_ = me;
    }
    return *helper_;
  }

  std::mutex mutex_;  // guards paths_ and helper_; taken before a helper's own mutex, never after
  std::unordered_map<handle, std::string> paths_;
  writeback_helper* helper_ = nullptr;  // owned (deleted by ~posix_impl) when helper_pid_ is this process
  pid_t helper_pid_ = 0;                 // the process helper_ was started in
};

} // namespace

struct posix_file_system::state : posix_impl {};

posix_file_system::posix_file_system() : state_(std::make_unique<state>()) {}
posix_file_system::~posix_file_system() = default;

auto posix_file_system::open(const std::string& path, open_mode mode) -> handle { return state_->open(path, mode); }
std::size_t posix_file_system::write(handle h, span<const std::byte> bytes) { return state_->write(h, bytes); }
std::size_t posix_file_system::read(handle h, std::uint64_t offset, span<std::byte> out) { return state_->read(h, offset, out); }
std::uint64_t posix_file_system::size(handle h) { return state_->size(h); }
span<const std::byte> posix_file_system::map(handle h) { return state_->map(h); }
void posix_file_system::unmap(span<const std::byte> view) noexcept { posix_impl::unmap(view); }
void posix_file_system::start_writeback(handle h, std::uint64_t offset, std::uint64_t length) noexcept
{
  state_->start_writeback(h, offset, length);
}
void posix_file_system::sync(handle h) { state_->sync(h); }
void posix_file_system::truncate(handle h, std::uint64_t length) { state_->truncate(h, length); }
void posix_file_system::close(handle h) noexcept { state_->close(h); }
void posix_file_system::rename(const std::string& from, const std::string& to) { state_->rename(from, to); }
void posix_file_system::remove(const std::string& path) { state_->remove(path); }
void posix_file_system::sync_dir(const std::string& dir) { state_->sync_dir(dir); }
std::vector<std::string> posix_file_system::list(const std::string& dir) { return state_->list(dir); }
void posix_file_system::make_dir(const std::string& dir) { state_->make_dir(dir); }
bool posix_file_system::exists(const std::string& path) { return state_->exists(path); }

} // namespace mmsb
