// The file-system seam (include/mmsb/log/file_system.hpp): error reporting, write_all, the
// default (absent) mapping and file_view.
#include <mmsb/log/file_system.hpp>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

namespace mmsb {

void throw_fs_error(const char* op, const std::string& path, int err, const char* note)
{
  std::string msg = std::string(op) + " " + path + ": " + std::generic_category().message(err) + " (errno " +
                    std::to_string(err) + ")";
  if (*note) msg += std::string(" ") + note;
  throw fs_error(err == ENOSPC || err == EDQUOT ? errc::no_space : errc::io_error, msg, err);
}

namespace {

// Calls `call` until it returns, retrying per `policy` (see io_retry): EINTR at once, up to
// eintr_limit in a row; a retryable() errno after a backoff, up to `attempts` calls in all.
// Anything else, and the last failure once the policy is spent, is rethrown as it came.
template <class F>
auto with_retry(const io_retry& policy, F&& call) -> decltype(call())
{
  std::uint32_t calls = 0, eintr = 0;
  auto backoff = policy.initial_backoff;
  for (;;) {
    try {
      return call();
    } catch (const fs_error& e) {
      if (e.sys_errno() == EINTR) {
        if (++eintr >= policy.eintr_limit) throw;
        continue;
      }
      eintr = 0;
      if (!retryable(e.sys_errno()) || ++calls >= policy.attempts) throw;
    }
    if (backoff.count() > 0) std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, policy.max_backoff);
  }
}

} // namespace

void file_system::write_all(handle h, span<const std::byte> bytes)
{
  while (!bytes.empty()) {
    const std::size_t n = with_retry(retry_, [&] { return write(h, bytes); });
    if (n == 0) throw_fs_error("write", "handle " + std::to_string(h), EIO, "(no progress)");
    bytes = bytes.subspan(n);
  }
}

auto file_system::open_retrying(const std::string& path, open_mode mode) -> handle
{
  return with_retry(retry_, [&] { return open(path, mode); });
}

span<const std::byte> file_system::map(handle) { return {}; }

void file_system::unmap(span<const std::byte>) noexcept {}

void file_system::start_writeback(handle, std::uint64_t, std::uint64_t) noexcept {}

void file_view::release() noexcept
{
  if (fs_ && mapped_.data()) fs_->unmap(mapped_);
  mapped_ = {};
  bytes_ = {};
  fs_ = nullptr;
}

void file_view::load(file_system& fs, const std::string& path)
{
  release();
  const auto h = fs.open(path, open_mode::read);
  try {
    if (const auto m = fs.map(h); m.data() != nullptr) {
      fs_ = &fs;
      mapped_ = m;
      bytes_ = m;
    } else {
      // Sized without zero-filling what was already there: read() overwrites it.
      const std::size_t n = static_cast<std::size_t>(fs.size(h));
      if (buffer_.size() < n) buffer_.resize(n);
      std::size_t got = 0;
      while (got < n) {
        const std::size_t r = fs.read(h, got, span<std::byte>(buffer_.data() + got, n - got));
        if (r == 0) break;
        got += r;
      }
      bytes_ = span<const std::byte>(buffer_.data(), got);
    }
  } catch (...) {
    fs.close(h);
    release();
    throw;
  }
  fs.close(h);
}

} // namespace mmsb
