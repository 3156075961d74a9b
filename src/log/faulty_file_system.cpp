// faulty_file_system (include/mmsb/log/faulty_file_system.hpp): fault injection over another
// file_system. faulty_impl holds the behaviour described in the header; the public class
// forwards to it, so the mutex and the handle map stay out of user code.
#include <mmsb/log/faulty_file_system.hpp>

#include <mmsb/config/error.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <system_error>
#include <unordered_map>

namespace mmsb {
namespace {

class faulty_impl {
public:
  using handle = file_system::handle;

  explicit faulty_impl(file_system& inner) noexcept : inner_(inner) {}

  void fail_nth(fs_op op, std::uint64_t n, int err, bool sticky = false)
  {
    if (n == 0) throw error(errc::invalid_argument, "faulty_file_system::fail_nth: n must be at least 1 (1 is the next call)");
    if (err <= 0) throw error(errc::invalid_argument, "faulty_file_system::fail_nth: errno " + std::to_string(err) + " is not an error");
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto i = static_cast<std::size_t>(op);
    arms_[i] = arm{counts_[i] + n, sticky ? ~std::uint64_t{0} : counts_[i] + n, err};
  }

  void fail_times(fs_op op, std::uint64_t n, int err, std::uint64_t times)
  {
    if (n == 0) throw error(errc::invalid_argument, "faulty_file_system::fail_times: n must be at least 1 (1 is the next call)");
    if (times == 0) throw error(errc::invalid_argument, "faulty_file_system::fail_times: times must be at least 1");
    if (err <= 0) throw error(errc::invalid_argument, "faulty_file_system::fail_times: errno " + std::to_string(err) + " is not an error");
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto i = static_cast<std::size_t>(op);
    arms_[i] = arm{counts_[i] + n, counts_[i] + n + (times - 1), err};
  }

  void short_writes(std::size_t max_bytes)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    max_write_ = max_bytes;
  }

  void space_budget(std::uint64_t bytes)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    budget_ = bytes;
    has_budget_ = true;
    used_ = 0;
  }

  [[nodiscard]] std::uint64_t count(fs_op op) const
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    return counts_[static_cast<std::size_t>(op)];
  }

  [[nodiscard]] std::uint64_t injected() const
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    return injected_;
  }

  // Lifts every fault, cap and budget and zeroes the counters.
  void reset()
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    arms_ = {};
    counts_ = {};
    injected_ = 0;
    max_write_ = 0;
    has_budget_ = false;
    budget_ = used_ = 0;
  }

  handle open(const std::string& path, open_mode mode)
  {
    check(fs_op::open, path);
    const handle h = inner_.open(path, mode);
    const std::lock_guard<std::mutex> lock(mutex_);
    paths_[h] = path;
    return h;
  }

  std::size_t write(handle h, span<const std::byte> bytes)
  {
    std::size_t n = bytes.size();
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      check_locked(fs_op::write, path_locked(h));
      if (has_budget_ && !bytes.empty()) {
        if (used_ >= budget_) {
          ++injected_;
          fail("write", path_locked(h), ENOSPC, "[space budget]");
        }
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, budget_ - used_));
      }
      if (max_write_ != 0) n = std::min(n, max_write_);
      used_ += n;  // reserved now, so concurrent writers cannot overrun the budget
    }
    std::size_t written = 0;
    try {
      written = inner_.write(h, bytes.first(n));
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex_);
      used_ -= n;
      throw;
    }
    if (written < n) {
      const std::lock_guard<std::mutex> lock(mutex_);
      used_ -= n - written;
    }
    return written;
  }

  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out)
  {
    check(fs_op::read, h);
    return inner_.read(h, offset, out);
  }

  void sync(handle h)
  {
    check(fs_op::sync, h);
    inner_.sync(h);
  }

  void truncate(handle h, std::uint64_t length)
  {
    check(fs_op::truncate, h);
    inner_.truncate(h, length);
  }

  void close(handle h) noexcept
  {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      const auto i = static_cast<std::size_t>(fs_op::close);
      ++counts_[i];
      if (fires(i)) ++injected_;
      paths_.erase(h);
    }
    inner_.close(h);
  }

  void rename(const std::string& from, const std::string& to)
  {
    check(fs_op::rename, from + " -> " + to);
    inner_.rename(from, to);
  }

  void remove(const std::string& path)
  {
    check(fs_op::remove, path);
    inner_.remove(path);
  }

  void sync_dir(const std::string& dir)
  {
    check(fs_op::sync_dir, dir);
    inner_.sync_dir(dir);
  }

  std::vector<std::string> list(const std::string& dir)
  {
    check(fs_op::list, dir);
    return inner_.list(dir);
  }

  void make_dir(const std::string& dir)
  {
    check(fs_op::make_dir, dir);
    inner_.make_dir(dir);
  }

private:
  static constexpr std::size_t op_classes = static_cast<std::size_t>(fs_op::make_dir) + 1;
  struct arm {
    std::uint64_t at = 0;    // the first call number (in counts_) that fails; 0 = none
    std::uint64_t last = 0;  // the last one that fails (all ones: sticky)
    int err = 0;
  };

  [[noreturn]] static void fail(const char* op, const std::string& path, int err, const char* tag)
  {
    throw_fs_error(op, path, err, tag);
  }

  // Whether the call just counted for class i is armed to fail; disarms an arming whose last
  // failing call this is.
  bool fires(std::size_t i)
  {
    arm& a = arms_[i];
    if (a.at == 0 || counts_[i] < a.at || counts_[i] > a.last) return false;
    if (counts_[i] == a.last) a.at = 0;
    return true;
  }

  void check_locked(fs_op op, const std::string& path)
  {
    const auto i = static_cast<std::size_t>(op);
    ++counts_[i];
    const int err = arms_[i].err;
    if (fires(i)) {
      ++injected_;
      fail(to_string(op), path, err, "[injected]");
    }
  }

  void check(fs_op op, const std::string& path)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    check_locked(op, path);
  }

  void check(fs_op op, handle h)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    check_locked(op, path_locked(h));
  }

  std::string path_locked(handle h) const
  {
    const auto it = paths_.find(h);
    return it != paths_.end() ? it->second : "<handle " + std::to_string(h) + ">";
  }

  file_system& inner_;
  mutable std::mutex mutex_;
  std::array<arm, op_classes> arms_{};
  std::array<std::uint64_t, op_classes> counts_{};
  std::uint64_t injected_ = 0;
  std::size_t max_write_ = 0;
  bool has_budget_ = false;
  std::uint64_t budget_ = 0, used_ = 0;
  std::unordered_map<handle, std::string> paths_;
};

} // namespace

struct faulty_file_system::state : faulty_impl {
  using faulty_impl::faulty_impl;
};

faulty_file_system::faulty_file_system(file_system& inner) : inner_(inner), state_(std::make_unique<state>(inner))
{
  set_retry_policy(io_retry::none());  // an armed fault fails the call it is armed for
}
faulty_file_system::~faulty_file_system() = default;

void faulty_file_system::fail_nth(fs_op op, std::uint64_t n, int err, bool sticky) { state_->fail_nth(op, n, err, sticky); }
void faulty_file_system::fail_times(fs_op op, std::uint64_t n, int err, std::uint64_t times) { state_->fail_times(op, n, err, times); }
void faulty_file_system::short_writes(std::size_t max_bytes) { state_->short_writes(max_bytes); }
void faulty_file_system::space_budget(std::uint64_t bytes) { state_->space_budget(bytes); }
std::uint64_t faulty_file_system::count(fs_op op) const { return state_->count(op); }
std::uint64_t faulty_file_system::injected() const { return state_->injected(); }
void faulty_file_system::reset() { state_->reset(); }

auto faulty_file_system::open(const std::string& path, open_mode mode) -> handle { return state_->open(path, mode); }
std::size_t faulty_file_system::write(handle h, span<const std::byte> bytes) { return state_->write(h, bytes); }
std::size_t faulty_file_system::read(handle h, std::uint64_t offset, span<std::byte> out) { return state_->read(h, offset, out); }
void faulty_file_system::sync(handle h) { state_->sync(h); }
void faulty_file_system::truncate(handle h, std::uint64_t length) { state_->truncate(h, length); }
void faulty_file_system::close(handle h) noexcept { state_->close(h); }
void faulty_file_system::rename(const std::string& from, const std::string& to) { state_->rename(from, to); }
void faulty_file_system::remove(const std::string& path) { state_->remove(path); }
void faulty_file_system::sync_dir(const std::string& dir) { state_->sync_dir(dir); }
std::vector<std::string> faulty_file_system::list(const std::string& dir) { return state_->list(dir); }
void faulty_file_system::make_dir(const std::string& dir) { state_->make_dir(dir); }

} // namespace mmsb
