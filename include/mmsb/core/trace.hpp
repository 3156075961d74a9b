// The tracing vocabulary every layer records in: named zones (a tick and its phases, propagation
// levels and regions, commits, checkpoints, producer pushes), each a begin and an end on the
// thread that ran it, kept in a bounded per-thread buffer. obs/trace.hpp owns the buffers
// (obs::tracer) and writes them as Chrome trace-event JSON, which Perfetto's UI opens.
//
// Recording: a component holds a trace_sink (in its options; its owner passes its own down). A
// default-constructed sink is off: one predictable branch per zone, no clock read. Sampling is
// the recorder's choice through sampled(n): the bus traces every sample_every-th tick whole, a
// producer every sample_every-th push.
//
// Per thread, lock-free and allocation-free: a thread claims one buffer of the log on its first
// zone (by a global thread ordinal, so a thread finds its own buffer again and never takes two)
// and alone writes it, as a ring that keeps the newest `events_per_thread` zones. Each slot is a
// seqlock of relaxed atomics, so the JSON writer may read while threads record and skips a slot
// being overwritten. Threads beyond the log's buffer count record nothing (counted in
// dropped_threads()).
//
// The clock is the CPU's time-stamp counter on x86-64 (a few nanoseconds a read; obs converts
// it to time by calibrating against steady_clock), steady_clock's nanoseconds elsewhere.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) && !defined(__CUDACC__)
#include <x86intrin.h>
#endif

namespace mmsb {

// What a zone is (see the top of this header).
enum class trace_zone : std::uint8_t {
  tick,           // one tick; its phases nest inside it
  ingest,         // the tick's phases (bus/tick.hpp)
  merge,
  apply_log,
  propagate,
  maintain,
  level,          // propagation of one level of the page graph (arg: the level)
  region,         // one fixed-point region solved (arg: its rounds)
  commit,         // a transaction's commit (arg: the epoch)
  checkpoint,     // writing a checkpoint, on the store's thread (arg: the epoch)
  producer_push,  // a producer's push of one delta or change (arg: the producer id)
};
inline constexpr std::size_t trace_zone_count = 11;  // the number of zones
// Each zone's name in the trace.
inline constexpr std::array<const char*, trace_zone_count> trace_zone_names{
  "tick", "ingest", "merge", "apply_log", "propagate", "maintain", "level", "region", "commit", "checkpoint", "producer_push"};

// The trace clock (see the top of this header): ticks of the time-stamp counter, or nanoseconds.
[[nodiscard]] inline std::uint64_t trace_clock() noexcept
{
#if defined(__x86_64__) && !defined(__CUDACC__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// One recorded zone, a seqlock slot: seq is 2n+1 while zone number n is written, 2n+2 once done.
struct trace_slot {
  std::atomic<std::uint64_t> seq{0};    // 2n+1 while zone n is written, 2n+2 once done
  std::atomic<std::uint64_t> begin{0};  // trace_clock() at the start
  std::atomic<std::uint64_t> end{0};    // ... and at the end
  std::atomic<std::uint64_t> arg{0};    // the zone's argument (level, epoch, producer, ...)
  std::atomic<std::uint32_t> zone{0};   // a trace_zone
};
static_assert(sizeof(trace_slot) == 40, "obs/trace.hpp and docs/observability.md give 40 bytes a zone");

// One thread's ring of zones (see the top of this header).
class trace_buffer {
public:
  // A ring of `capacity` zones.
  explicit trace_buffer(std::size_t capacity) : slots_(std::make_unique<trace_slot[]>(capacity)), capacity_(capacity) {}

  // Records one zone (the owning thread only).
  void push(trace_zone z, std::uint64_t begin, std::uint64_t end, std::uint64_t arg) noexcept
  {
    const std::uint64_t n = head_.load(std::memory_order_relaxed);
    trace_slot& s = slots_[n % capacity_];
    s.seq.store(2 * n + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    s.begin.store(begin, std::memory_order_relaxed);
    s.end.store(end, std::memory_order_relaxed);
    s.arg.store(arg, std::memory_order_relaxed);
    s.zone.store(static_cast<std::uint32_t>(z), std::memory_order_relaxed);
    s.seq.store(2 * n + 2, std::memory_order_release);
    head_.store(n + 1, std::memory_order_release);
  }
  // Zones recorded so far (the newest capacity() are kept).
  [[nodiscard]] std::uint64_t recorded() const noexcept { return head_.load(std::memory_order_acquire); }
  // Zones it keeps.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  // One zone read back.
  struct zone_record {
    trace_zone zone;     // what it is
    std::uint64_t begin;  // trace_clock() at its start
    std::uint64_t end;    // ... and at its end
    std::uint64_t arg;    // its argument
  };
  // Reads zone number n into out; false when it was overwritten (or is being).
  [[nodiscard]] bool read(std::uint64_t n, zone_record& out) const noexcept
  {
    const trace_slot& s = slots_[n % capacity_];
    if (s.seq.load(std::memory_order_acquire) != 2 * n + 2) return false;
    out.begin = s.begin.load(std::memory_order_relaxed);
    out.end = s.end.load(std::memory_order_relaxed);
    out.arg = s.arg.load(std::memory_order_relaxed);
    out.zone = static_cast<trace_zone>(s.zone.load(std::memory_order_relaxed));
    std::atomic_thread_fence(std::memory_order_acquire);
    return s.seq.load(std::memory_order_relaxed) == 2 * n + 2;
  }
  // The OS thread id of the thread that claimed it (0 until claimed).
  [[nodiscard]] std::uint64_t thread() const noexcept { return thread_.load(std::memory_order_acquire); }
  // Records the OS thread id of the claiming thread.
  void set_thread(std::uint64_t t) noexcept { thread_.store(t, std::memory_order_release); }

private:
  std::unique_ptr<trace_slot[]> slots_;
  std::size_t capacity_;
  std::atomic<std::uint64_t> head_{0};
  std::atomic<std::uint64_t> thread_{0};
};

namespace detail {
inline std::atomic<std::uint64_t> next_trace_thread{1};
inline std::atomic<std::uint64_t> next_trace_log{1};
// This thread's ordinal among the threads that ever traced (never reused).
[[nodiscard]] inline std::uint64_t trace_thread_ordinal() noexcept
{
  thread_local const std::uint64_t ordinal = next_trace_thread.fetch_add(1, std::memory_order_relaxed);
  return ordinal;
}
// The OS's id of this thread (Linux: gettid), for the trace's tid; 0 where there is none.
[[nodiscard]] inline std::uint64_t os_thread_id() noexcept
{
#if defined(__linux__)
  return static_cast<std::uint64_t>(::syscall(SYS_gettid));
#else
  return 0;
#endif
}
} // namespace detail

// The buffers of one trace (see the top of this header). Owned by obs::tracer.
class trace_log {
public:
  // `threads` buffers of `events_per_thread` zones each; every sample_every-th tick or push traced.
  trace_log(std::size_t threads, std::size_t events_per_thread, std::uint32_t sample_every)
      : owners_(std::make_unique<std::atomic<std::uint64_t>[]>(threads)), threads_(threads),
        sample_every_(sample_every == 0 ? 1 : sample_every)
  {
    buffers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) buffers_.push_back(std::make_unique<trace_buffer>(events_per_thread));
  }
  trace_log(const trace_log&) = delete;
  trace_log& operator=(const trace_log&) = delete;

  // This thread's buffer, claimed on first use; nullptr when every buffer belongs to another thread.
  [[nodiscard]] trace_buffer* this_thread_buffer() noexcept
  {
    thread_local std::uint64_t cached_log = 0;
    thread_local trace_buffer* cached = nullptr;
    if (cached_log == id_) return cached;
    trace_buffer* found = claim(detail::trace_thread_ordinal());
    if (found) {  // a thread beyond the buffers tries again next time (it may be one that ends)
      cached_log = id_;
      cached = found;
    }
    return found;
  }
  // The number of every sampled tick or push (1: all).
  [[nodiscard]] std::uint32_t sample_every() const noexcept { return sample_every_; }
  // Buffer i (i < buffer_count()), to read.
  [[nodiscard]] const trace_buffer& buffer(std::size_t i) const noexcept { return *buffers_[i]; }
  // The number of buffers (threads that can trace).
  [[nodiscard]] std::size_t buffer_count() const noexcept { return threads_; }
  // Zones not recorded because every buffer was taken.
  [[nodiscard]] std::uint64_t dropped_threads() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
  trace_buffer* claim(std::uint64_t ordinal) noexcept
  {
    for (std::size_t i = 0; i < threads_; ++i) {
      std::uint64_t o = owners_[i].load(std::memory_order_acquire);
      if (o == ordinal) return buffers_[i].get();
      if (o == 0 && owners_[i].compare_exchange_strong(o, ordinal, std::memory_order_acq_rel)) {
        buffers_[i]->set_thread(detail::os_thread_id());
        return buffers_[i].get();
      }
      if (o == ordinal) return buffers_[i].get();
    }
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }

  const std::uint64_t id_ = detail::next_trace_log.fetch_add(1, std::memory_order_relaxed);  // never reused
  std::vector<std::unique_ptr<trace_buffer>> buffers_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> owners_;  // each buffer's thread ordinal (0: free)
  std::size_t threads_;
  std::uint32_t sample_every_;
  std::atomic<std::uint64_t> dropped_{0};
};

// Where a component traces (see the top of this header): a log, or nothing (off).
class trace_sink {
public:
  constexpr trace_sink() noexcept = default;
  // Traces into log (nullptr: off).
  constexpr explicit trace_sink(trace_log* log) noexcept : log_(log) {}

  // True when tracing goes somewhere.
  [[nodiscard]] constexpr bool on() const noexcept { return log_ != nullptr; }
  // True when the n-th tick or push (counting from 0) is traced.
  [[nodiscard]] bool sampled(std::uint64_t n) const noexcept { return log_ != nullptr && n % log_->sample_every() == 0; }
  // The trace clock, or 0 when off.
  [[nodiscard]] std::uint64_t now() const noexcept { return log_ ? trace_clock() : 0; }
  // Records a zone that ran from begin to end on this thread.
  void record(trace_zone z, std::uint64_t begin, std::uint64_t end, std::uint64_t arg = 0) const noexcept
  {
    if (log_ == nullptr) return;
    if (trace_buffer* b = log_->this_thread_buffer()) b->push(z, begin, end, arg);
  }

private:
  trace_log* log_ = nullptr;
};

// A zone for the scope it lives in, recorded when it ends (nothing when the sink is off or
// `sampled` is false).
class trace_scope {
public:
  // Starts zone z (reads the clock only when s is on and `sampled`).
  trace_scope(trace_sink s, trace_zone z, std::uint64_t arg = 0, bool sampled = true) noexcept
      : s_(sampled ? s : trace_sink{}), z_(z), arg_(arg), begin_(s_.now())
  {
  }
  trace_scope(const trace_scope&) = delete;
  trace_scope& operator=(const trace_scope&) = delete;
  ~trace_scope()
  {
    if (s_.on()) s_.record(z_, begin_, trace_clock(), arg_);
  }

private:
  trace_sink s_;
  trace_zone z_;
  std::uint64_t arg_;
  std::uint64_t begin_;
};

} // namespace mmsb
