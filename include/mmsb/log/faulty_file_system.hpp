// faulty_file_system: wraps another file_system and injects faults into chosen operation
// classes: fail the Nth call with an errno (once or for good), cap each write (short writes),
// or run out of space after a byte budget, as a full disk does.
//
// - fail_nth(op, n, err, sticky): the nth call of class op from now (n = 1 is the next) throws
//   mmsb::error built from err (ENOSPC and EDQUOT give errc::no_space, anything else io_error),
//   and with sticky every later call of that class throws too, until reset(). One arming per
//   class: a second fail_nth for the same class replaces the first. A failed call never reaches
//   the inner file system, so the inner state is exactly as before it. close() cannot fail (see
//   file_system): an armed close is counted as injected but still closes the inner handle.
// - fail_times(op, n, err, times): calls n .. n+times-1 of class op fail, then calls succeed
//   again: a transient fault (EAGAIN, a disk full that clears), for testing retries.
// - short_writes(max): each write passes at most max bytes on and returns what the inner file
//   system wrote (0 lifts the cap).
// - space_budget(bytes): the bytes written from now on may total at most `bytes`. A write that
//   would cross the budget writes up to it and returns short; the next write, with nothing left,
//   throws errc::no_space and writes nothing. Space is never given back (truncate and remove do
//   not refund it); reset() lifts the budget.
// - count(op) is the calls of class op seen since construction or reset(), failed ones included;
//   injected() is how many calls were failed. A fault loop arms call n = 1, 2, ... and stops at
//   the first n where injected() stays 0. size() and exists() have no class: they pass through.
// Injected errors read "write /t/log: No space left on device (errno 28) [injected]".
// Its retry policy (file_system::set_retry_policy) starts as io_retry::none(), so write_all and
// open_retrying fail on the first injected fault (EINTR aside); set one to test retries.
// map() is not forwarded (file_system's default: nothing mapped), so a reader takes its read()
// fallback and every byte it sees passes the read faults; it is also how tests run the log
// reader's fallback path over a posix_file_system.
//
// Compiled into libmmsb (src/log/faulty_file_system.cpp).
#pragma once

#include <mmsb/core/span.hpp>
#include <mmsb/log/file_system.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mmsb {

// A file_system that forwards to `inner` and fails, shortens or budgets chosen operation classes
// (see the top of this header). Safe to call from several threads (one internal mutex).
class faulty_file_system final : public file_system {
public:
  // Wraps inner, which must outlive this; no fault armed.
  explicit faulty_file_system(file_system& inner);
  faulty_file_system(const faulty_file_system&) = delete;
  faulty_file_system& operator=(const faulty_file_system&) = delete;
  ~faulty_file_system() override;

  // Arms the nth call of class op from now (1 = the next) to throw an mmsb::error from errno err;
  // with sticky, every later call of the class too, until reset(). Replaces an earlier arming of op.
  void fail_nth(fs_op op, std::uint64_t n, int err, bool sticky = false);
  // Arms calls n .. n+times-1 of class op from now to throw from errno err; later calls pass.
  // Replaces an earlier arming of op. times must be at least 1.
  void fail_times(fs_op op, std::uint64_t n, int err, std::uint64_t times);
  // Passes at most max_bytes of each write on (0 lifts the cap).
  void short_writes(std::size_t max_bytes);
  // The bytes written from now on may total at most `bytes`; then writes return short, then throw
  // errc::no_space.
  void space_budget(std::uint64_t bytes);
  // The calls of class op seen since construction or reset(), failed ones included.
  [[nodiscard]] std::uint64_t count(fs_op op) const;
  // How many calls were failed on purpose since construction or reset().
  [[nodiscard]] std::uint64_t injected() const;
  // Lifts every fault, cap and budget and zeroes the counters.
  void reset();
  // The wrapped file system.
  [[nodiscard]] file_system& inner() noexcept { return inner_; }

  handle open(const std::string& path, open_mode mode) override;
  std::size_t write(handle h, span<const std::byte> bytes) override;
  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) override;
  std::uint64_t size(handle h) override { return inner_.size(h); }
  void sync(handle h) override;
  void truncate(handle h, std::uint64_t length) override;
  void close(handle h) noexcept override;
  void rename(const std::string& from, const std::string& to) override;
  void remove(const std::string& path) override;
  void sync_dir(const std::string& dir) override;
  std::vector<std::string> list(const std::string& dir) override;
  void make_dir(const std::string& dir) override;
  bool exists(const std::string& path) override { return inner_.exists(path); }

private:
  struct state;  // arms, counters, budget and the paths of open handles, under one mutex
  file_system& inner_;
  std::unique_ptr<state> state_;
};

} // namespace mmsb
