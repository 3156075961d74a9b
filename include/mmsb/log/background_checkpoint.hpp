// background_checkpoint<Layout>: writes a checkpoint of a frozen epoch on a thread of its own
// while the owner keeps committing. durable_store holds one; nothing else needs to.
//
// Capture is copy-on-write at page granularity over a frozen page table:
//   start()     (owner, under its exclusive lock, at epoch e) takes the page pointers of every
//               page in the epoch (by id; pages are separately allocated, so the pointers stay
//               valid while the owner's table grows) and wakes the thread. O(pages) pointer
//               copies, no page bytes. Pages in a spill file are read from their records.
//   preserve()  (owner, before it writes a page, under its exclusive lock) copies the page once
//               if the thread has not taken it yet: its bytes are still those at e, because every
//               write since e went through preserve() first.
//   the thread  walks ids in ascending order and claims each page with one atomic state per page
//               (untaken → copying → taken, or untaken → preserving → preserved by a commit): it
//               copies a page it claimed into a one-page scratch and encodes it from there, and
//               takes a preserved page from the commit's copy. A commit never waits for the thread
//               except on the one page it is copying right now (a 4 KiB memcpy); no lock is
//               shared, so a thread descheduled mid-walk stalls nobody. The records stream to the
//               temp file (checkpoint_file); then it fsyncs, publishes (rename, directory fsync,
//               pruning) and finally calls on_durable(), under files_mutex, the lock that readers
//               of the files take, so no reader sees a file vanish mid-read.
// Memory: one copy of only the pages written while the checkpoint is in flight (kept in a pool
// for the next checkpoint), plus ~1 MiB of encoding buffer, never a copy of the whole state
// unless the commits change every page before the thread reaches it.
//
// Errors: a failure in the thread is kept and rethrown, once, by the next wait() (the owner's next
// checkpoint call), as mmsb::error naming the checkpoint's path. The unpublished temp file is
// removed; the previous checkpoints and every log segment stay, so recovery is unaffected. A
// preserve() that cannot allocate throws out_of_memory before the owner changes anything.
// The destructor waits for the thread and drops any error.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/kill_point.hpp>
#include <mmsb/page/page.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace mmsb {

// Writes checkpoints of frozen epochs on a thread of its own, copy-on-write (see the top of this
// header). Owner-driven: start and preserve under the owner's exclusive lock; busy() and wait()
// from any thread.
template <class Layout>
class background_checkpoint {
public:
  using page_type = page<Layout>;  // the pages it checkpoints

  background_checkpoint() = default;
  background_checkpoint(const background_checkpoint&) = delete;
  background_checkpoint& operator=(const background_checkpoint&) = delete;
  ~background_checkpoint()
  {
    {
      std::unique_lock lock(state_mutex_);
      idle_.wait(lock, [&] { return !busy_; });
      stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // One checkpoint to write: where, for which bus and epoch, and what to run once it is durable.
  struct job {
    file_system* fs = nullptr;  // the file system to write through; must outlive the job
    std::string dir;                  // the checkpoint directory
    std::vector<std::byte> shape;  // the bus shape, written into the segment record
    mmsb::epoch epoch{};  // the epoch the frozen pages are at
    std::vector<std::byte> structure;  // the structure record's bytes (empty: none)
    std::size_t keep = 2;  // how many newest checkpoints to keep after publishing
    std::shared_mutex* files_mutex = nullptr;  // held exclusively while publishing and on_durable
    std::function<void()> on_durable;           // after publish (the log truncation)
    metrics_sink metrics{};  // records mmsb_checkpoints, mmsb_checkpoint_failures, mmsb_checkpoint_seconds
    trace_sink trace{};      // traces the write (trace_zone::checkpoint, arg: the epoch)
    // Pages of the epoch that are in a spill file (memory budget), as (id, slot), ascending by
    // id. The owner writes no spill record while the checkpoint is in flight, so a record still
    // holds the page at the epoch even once the page has come back and changed.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> spilled;
    // Reads one of them: read_spilled(slot, id, out); throws corrupt or io_error, failing the
    // checkpoint.
    std::function<void(std::uint32_t, page_id, page_type&)> read_spilled;
  };

  // True from start() until the thread has finished writing (its error, if any, waits for wait()).
  [[nodiscard]] bool busy() const
  {
    std::lock_guard lock(state_mutex_);
    return busy_;
  }

  // Starts writing `j` for the pages `frozen` (indexed by id; nullptr: not in the checkpoint).
  // Requires !busy(). Call under the owner's exclusive lock. Throws mmsb::error (with nothing
  // started) only if the thread cannot be created (io_error) or memory runs out (out_of_memory).
  void start(job j, std::vector<const page_type*>&& frozen)
  {
    const std::size_t n = frozen.size();
    try {
      if (!out_of_memory_)  // made here, where running out of memory is reported, not in the constructor
        out_of_memory_ = std::make_exception_ptr(
          error(errc::out_of_memory, "background checkpoint: out of memory (too little left to name the file)"));
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
      if (n > state_capacity_) {
        state_ = std::make_unique<std::atomic<std::uint8_t>[]>(n);
        state_capacity_ = n;
      }
      copies_.assign(n, nullptr);
    } catch (const std::bad_alloc&) {
      throw error(errc::out_of_memory, "checkpoint at epoch " + std::to_string(j.epoch.value()) + ": no memory for the state of " +
                                         std::to_string(n) + " pages");
    } catch (const std::system_error& e) {
      throw error(errc::io_error, "checkpoint at epoch " + std::to_string(j.epoch.value()) + ": cannot start its thread: " + e.what());
    }
    for (std::size_t i = 0; i < n; ++i) state_[i].store(untaken, std::memory_order_relaxed);
    pool_used_ = 0;
    live_ = std::move(frozen);
    capturing_.store(true, std::memory_order_release);
    {
      std::lock_guard lock(state_mutex_);
      job_ = std::move(j);
      busy_ = true;
      pending_ = true;
    }
    wake_.notify_one();
  }

  // Before the owner writes the pages id_of(x) for x in items: keeps a copy of each page the
  // thread has not taken yet. Throws mmsb::error (out_of_memory) with nothing written.
  template <class Range, class IdOf>
  void preserve(const Range& items, IdOf&& id_of)
  {
    if (!capturing_.load(std::memory_order_acquire)) return;
    for (const auto& x : items) {
      const std::uint32_t id = id_of(x).value();
      if (id >= live_.size() || !live_[id]) continue;
      std::uint8_t s = untaken;
      if (state_[id].compare_exchange_strong(s, preserving, std::memory_order_acq_rel)) {
        try {
          page_type* c = pool_page();
          *c = *live_[id];
          copies_[id] = c;
        } catch (const std::bad_alloc&) {
          state_[id].store(untaken, std::memory_order_release);  // the thread copies it instead
          throw error(errc::out_of_memory, "checkpoint: no memory to keep page " + std::to_string(id) +
                                             " at epoch " + std::to_string(job_epoch_.load()) + " while it is written");
        }
        state_[id].store(preserved, std::memory_order_release);
        continue;
      }
      while (s == copying) {  // the thread is copying this very page: one memcpy
        std::this_thread::yield();
        s = state_[id].load(std::memory_order_acquire);
      }
    }
  }

  // Waits for the thread; rethrows its error, once.
  void wait()
  {
    std::exception_ptr e;
    {
      std::unique_lock lock(state_mutex_);
      idle_.wait(lock, [&] { return !busy_; });
      e = std::exchange(error_, nullptr);
    }
    if (e) std::rethrow_exception(e);
  }

  // Pages commits copied before the thread took them, over all checkpoints: the copy-on-write cost.
  [[nodiscard]] std::uint64_t preserved_pages() const noexcept { return preserved_.load(std::memory_order_relaxed); }

private:
  void run()
  {
    lower_priority();
    for (;;) {
      job j;
      {
        std::unique_lock lock(state_mutex_);
        wake_.wait(lock, [&] { return pending_ || stop_; });
        if (stop_ && !pending_) return;
        pending_ = false;
        j = std::move(job_);
      }
      job_epoch_.store(j.epoch.value());
      const auto started = std::chrono::steady_clock::now();
      const std::uint64_t traced = j.trace.now();
      std::exception_ptr failure;
      try {  // nothing may escape the thread: out of memory while naming the failure, too
        std::string path = j.dir + "/" + checkpoint_name(j.epoch);
        try {
          write(j);
        } catch (const error& e) {
          failure = std::make_exception_ptr(error(e.code(), "background checkpoint at epoch " + std::to_string(j.epoch.value()) +
                                                               " (" + path + "): " + e.what()));
        } catch (const std::bad_alloc&) {
          failure = std::make_exception_ptr(error(errc::out_of_memory, "background checkpoint at epoch " +
                                                                         std::to_string(j.epoch.value()) + " (" + path + "): out of memory"));
        }
      } catch (const std::bad_alloc&) {
        failure = out_of_memory_;
      } catch (...) {
        failure = std::current_exception();
      }
      end_capture();
      j.metrics.observe(metric_histogram::checkpoint, std::chrono::steady_clock::now() - started);
      j.metrics.add(failure ? metric_counter::checkpoint_failures : metric_counter::checkpoints);
      j.trace.record(trace_zone::checkpoint, traced, trace_clock(), j.epoch.value());
      {
        std::lock_guard lock(state_mutex_);
        error_ = std::move(failure);  // no reference stays here: the owner alone releases it
        busy_ = false;
      }
      idle_.notify_all();
    }
  }

  // The thread takes the CPU time the owner leaves: on a machine with more runnable threads than
  // cores it would otherwise share the owner's core at equal weight and delay a tick by whole
  // scheduler slices (milliseconds). Linux lets one thread lower its own nice value; elsewhere
  // (and if refused) it runs at normal priority.
  static void lower_priority() noexcept
  {
#if defined(__linux__)
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
#endif
  }

  // The copies are all taken by now; live_ and copies_ stay (the owner may still be reading
  // them) until the next start().
  void end_capture() { capturing_.store(false, std::memory_order_release); }

  void write(const job& j)
  {
    checkpoint_file file(*j.fs, j.dir, j.shape, j.epoch);
    page_type scratch;
    const std::size_t bound = live_.size();
    auto spilled = j.spilled.begin();
    for (std::size_t id = 0; id < bound; ++id) {
      const page_type* p = live_[id];
      if (!p) {
        if (spilled != j.spilled.end() && spilled->first == id) {
          j.read_spilled(spilled->second, page_id{static_cast<std::uint32_t>(id)}, scratch);
          file.add(scratch);
          ++spilled;
        }
        continue;
      }
      for (;;) {
        std::uint8_t s = untaken;
        if (state_[id].compare_exchange_strong(s, copying, std::memory_order_acq_rel)) {
          scratch = *p;
          state_[id].store(taken, std::memory_order_release);
          file.add(scratch);
          break;
        }
        if (s == preserved) {
          file.add(*copies_[id]);
          preserved_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        std::this_thread::yield();  // a commit is copying it
      }
    }
    end_capture();
    MMSB_KILL_POINT("checkpoint.background.pages_written");
    file.finish(j.structure);
    std::unique_lock files(*j.files_mutex);
    file.publish(j.keep);
    if (j.on_durable) j.on_durable();
    MMSB_KILL_POINT("checkpoint.background.durable");
  }

  static constexpr std::uint8_t untaken = 0, copying = 1, taken = 2, preserving = 3, preserved = 4;

  // Owner and thread: the frozen table (set by start() while the thread is idle), and who took
  // which page.
  std::atomic<bool> capturing_{false};
  std::vector<const page_type*> live_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> state_;
  std::size_t state_capacity_ = 0;
  std::vector<page_type*> copies_;  // into pool_
  // The preserved copies, in blocks the owner allocates as it needs them and reuses from one
  // checkpoint to the next (so a tick's copy is a memcpy into memory already touched, not a
  // malloc and page faults): it keeps the most pages any checkpoint needed.
  static constexpr std::size_t pool_block_pages = 64;
  std::vector<std::unique_ptr<page_type[]>> pool_;
  std::size_t pool_used_ = 0;
  page_type* pool_page()
  {
    const std::size_t block = pool_used_ / pool_block_pages;
    if (block == pool_.size()) {
      pool_.reserve(pool_.size() + 1);
      pool_.push_back(std::make_unique<page_type[]>(pool_block_pages));
    }
    return &pool_[block][pool_used_++ % pool_block_pages];
  }
  std::atomic<std::uint64_t> job_epoch_{0};
  std::atomic<std::uint64_t> preserved_{0};

  // The hand-off.
  mutable std::mutex state_mutex_;
  std::condition_variable wake_, idle_;
  job job_;
  bool pending_ = false, busy_ = false, stop_ = false;
  std::exception_ptr error_;
  // Reported when the thread runs out of memory even for the message of its failure.
  std::exception_ptr out_of_memory_;  // made by the first start()
  std::thread thread_;
};

} // namespace mmsb
