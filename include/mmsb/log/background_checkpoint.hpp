// background_checkpoint<Layout>: writes a checkpoint of a frozen epoch on a thread of its own
// while the owner keeps committing. durable_store holds one; nothing else needs to.
//
// Capture is copy-on-write at page granularity over a frozen page table:
//   start()     (owner, under its exclusive lock, at epoch e) takes the page pointers of every
//               page in the epoch (by id; pages are separately allocated, so the pointers stay
//               valid while the owner's table grows) and wakes the thread. O(pages) pointer
//               copies, no page bytes.
//   preserve()  (owner, before it writes a page, under its exclusive lock) copies the page once
//               if the thread has not taken it yet: its bytes are still those at e, because every
//               write since e went through preserve() first.
//   the thread  walks ids in ascending order, a few pages at a time under capture_mutex_: a page
//               a commit preserved is taken from its copy, any other is copied from the live page
//               (no commit can be writing it: that commit would have preserved it first). It
//               encodes and streams them to the temp file outside the lock, so a commit waits at
//               most one small chunk copy. Then it fsyncs, and publishes (rename, directory fsync,
//               pruning) and finally calls on_durable() under files_mutex, the lock that readers
//               of the files take, so no reader sees a file vanish mid-read.
// Memory: one copy of only the pages written while the checkpoint is in flight, plus ~1 MiB of
// encoding buffer, never a copy of the whole state.
//
// Errors: a failure in the thread is kept and rethrown, once, by the next wait() (the owner's next
// checkpoint call), as mmsb::error naming the checkpoint's path. The unpublished temp file is
// removed; the previous checkpoints and every log segment stay, so recovery is unaffected. A
// preserve() that cannot allocate throws out_of_memory before the owner changes anything.
// The destructor waits for the thread and drops any error.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/page/page.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mmsb {

template <class Layout>
class background_checkpoint {
public:
  using page_type = page<Layout>;

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

  struct job {
    file_system* fs = nullptr;
    std::string dir;                  // the checkpoint directory
    std::vector<std::byte> shape;
    mmsb::epoch epoch{};
    std::vector<std::byte> structure;
    std::size_t keep = 2;
    std::shared_mutex* files_mutex = nullptr;  // held exclusively while publishing and on_durable
    std::function<void()> on_durable;           // after publish (the log truncation)
  };

  // True from start() until the thread has finished (and wait() has not yet been called).
  [[nodiscard]] bool busy() const
  {
    std::lock_guard lock(state_mutex_);
    return busy_;
  }

  // Starts writing `j` for the pages `frozen` (indexed by id; nullptr: not in the checkpoint).
  // Requires !busy(). Call under the owner's exclusive lock. Throws (with nothing started) only
  // if the thread cannot be created or memory runs out.
  void start(job j, std::vector<const page_type*>&& frozen)
  {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    {
      std::lock_guard capture(capture_mutex_);
      live_ = std::move(frozen);
      taken_.assign(live_.size(), 0);
      copies_.clear();
      copies_.resize(live_.size());
      capturing_.store(true, std::memory_order_release);
    }
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
    std::lock_guard capture(capture_mutex_);
    for (const auto& x : items) {
      const std::uint32_t id = id_of(x).value();
      if (id >= live_.size() || !live_[id] || taken_[id] || copies_[id]) continue;
      try {
        copies_[id] = std::make_unique<page_type>(*live_[id]);
      } catch (const std::bad_alloc&) {
        throw error(errc::out_of_memory, "checkpoint: no memory to keep page " + std::to_string(id) +
                                           " at epoch " + std::to_string(job_epoch_.load()) + " while it is written");
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
  static constexpr std::size_t chunk_pages = (std::size_t{32} << 10) / sizeof(page_type) ? (std::size_t{32} << 10) / sizeof(page_type) : 1;

  void run()
  {
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
      std::exception_ptr failure;
      std::string path = j.dir + "/" + checkpoint_name(j.epoch);
      try {
        write(j);
      } catch (const error& e) {
        failure = std::make_exception_ptr(error(e.code(), "background checkpoint at epoch " + std::to_string(j.epoch.value()) +
                                                             " (" + path + "): " + e.what()));
      } catch (const std::bad_alloc&) {
        failure = std::make_exception_ptr(error(errc::out_of_memory, "background checkpoint at epoch " +
                                                                       std::to_string(j.epoch.value()) + " (" + path + "): out of memory"));
      } catch (...) {
        failure = std::current_exception();
      }
      end_capture();
      {
        std::lock_guard lock(state_mutex_);
        error_ = failure;
        busy_ = false;
      }
      idle_.notify_all();
    }
  }

  void end_capture()
  {
    std::lock_guard capture(capture_mutex_);
    capturing_.store(false, std::memory_order_release);
    copies_.clear();  // release the copies now, not at the next checkpoint
    live_.clear();
  }

  void write(const job& j)
  {
    checkpoint_file file(*j.fs, j.dir, j.shape, j.epoch);
    std::vector<page_type> scratch;
    std::vector<std::unique_ptr<page_type>> kept;
    scratch.reserve(chunk_pages);
    kept.reserve(chunk_pages);
    std::vector<const page_type*> order;  // this chunk's pages, ascending ids
    order.reserve(chunk_pages);
    std::size_t bound = 0;
    {
      std::lock_guard capture(capture_mutex_);
      bound = live_.size();
    }
    for (std::size_t first = 0; first < bound; first += chunk_pages) {
      scratch.clear();
      kept.clear();
      order.clear();
      {
        std::lock_guard capture(capture_mutex_);
        const std::size_t last = std::min(bound, first + chunk_pages);
        for (std::size_t id = first; id < last; ++id) {
          if (!live_[id]) continue;
          taken_[id] = 1;
          if (copies_[id]) {
            kept.push_back(std::move(copies_[id]));
            order.push_back(kept.back().get());
          } else {
            scratch.push_back(*live_[id]);  // capacity reserved: no reallocation, pointers hold
            order.push_back(&scratch.back());
          }
        }
      }
      for (const page_type* p : order) file.add(*p);
      preserved_.fetch_add(kept.size(), std::memory_order_relaxed);
    }
    end_capture();
    file.finish(j.structure);
    std::unique_lock files(*j.files_mutex);
    file.publish(j.keep);
    if (j.on_durable) j.on_durable();
  }

  // Owner and thread: the frozen table and who took which page.
  std::mutex capture_mutex_;
  std::atomic<bool> capturing_{false};
  std::vector<const page_type*> live_;
  std::vector<std::uint8_t> taken_;
  std::vector<std::unique_ptr<page_type>> copies_;
  std::atomic<std::uint64_t> job_epoch_{0};
  std::atomic<std::uint64_t> preserved_{0};

  // The hand-off.
  mutable std::mutex state_mutex_;
  std::condition_variable wake_, idle_;
  job job_;
  bool pending_ = false, busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

} // namespace mmsb
