// mpmc_queue: a bounded multi-producer multi-consumer queue of trivially copyable values (Vyukov's
// per-cell sequence design), with bulk push and pop, a full_policy for a push that finds it full
// and an empty_policy for a pop_wait that finds it empty (see full_policy.hpp for how both wait:
// spin briefly, yield, then park or nap).
//
// Design. Cell i holds a 64-bit sequence number: i + k * capacity when free for the push at that
// position, position + 1 once filled. A producer claims position p (enqueue_pos_) with a CAS only
// when cell p's sequence says free, writes the value and stores p + 1 with release; a consumer
// claims p (dequeue_pos_) only when the cell says filled, reads, and stores p + capacity with
// release, freeing it for the next lap. The acquire load of the sequence before each claim orders
// the claimant's access to the value after the previous owner's. Bulk operations scan the run of
// ready cells from the current position and claim the whole run with one CAS (positions only grow,
// so a CAS that succeeds owns every cell it scanned).
//
//   read-only line [cells_, mask_]   producers' line [enqueue_pos_]   consumers' line [dequeue_pos_]
//
// Order: items one producer pushes are popped in that order by any one consumer (positions are
// claimed in increasing order on both sides); across producers the order is the claim order.
// A push may report full (and a pop empty) while another thread is between its claim and its
// store; the queue is lock-free but not wait-free. Nothing allocates after construction, and
// nothing but the constructor throws.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/exec/full_policy.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mmsb {

// The queue (see the top comment): a fixed power-of-two capacity of T, for any number of
// producer and consumer threads. Policy: what a push that finds it full does; Empty: how
// pop_wait waits.
template <class T, full_policy Policy = full_policy::spin, empty_policy Empty = empty_policy::poll>
class mpmc_queue {
  static_assert(std::is_trivially_copyable_v<T>,
                "mmsb: mpmc_queue<T> moves items as bytes, so T must be trivially copyable; "
                "push an index or a pointer to the object instead");

public:
  using value_type = T;                               // the item type (trivially copyable)
  static constexpr full_policy policy = Policy;       // what a push that finds it full does
  static constexpr empty_policy wait_policy = Empty;  // how pop_wait waits while it is empty
  // With one cell, "filled at p" (p + 1) would read as "free for p + 1".
  static constexpr std::size_t min_capacity = 2;
  static constexpr std::size_t max_capacity = std::size_t{1} << 40;  // 2^40 items

  // Throws mmsb::error: invalid_argument when capacity is below 2, not a power of two or above
  // max_capacity (the message names it); out_of_memory when the cells cannot be allocated.
  explicit mpmc_queue(std::size_t capacity)
    : storage_((detail::rings::check_capacity("mpmc_queue", capacity, min_capacity, max_capacity), "mpmc_queue"), capacity),
      cells_(storage_.data()), mask_(capacity - 1)
  {
    for (std::size_t i = 0; i < capacity; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  mpmc_queue(const mpmc_queue&) = delete;
  mpmc_queue& operator=(const mpmc_queue&) = delete;

  // The fixed number of items it holds, as given to the constructor.
  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }
  // Exact when every thread is quiescent; otherwise a snapshot.
  [[nodiscard]] std::size_t size_approx() const noexcept
  {
    const std::size_t d = dequeue_pos_.load(std::memory_order_acquire);
    const std::size_t e = enqueue_pos_.load(std::memory_order_acquire);
    return e > d ? std::min(e - d, capacity()) : 0;
  }
  // size_approx() == 0, with the same caveat.
  [[nodiscard]] bool empty_approx() const noexcept { return size_approx() == 0; }

  // ---- producers -----------------------------------------------------------------------------

  // Pushes v if there is room; never waits (beyond retrying a lost CAS).
  bool try_push(const T& v) noexcept { return try_push_bulk(span<const T>(&v, 1)) == 1; }

  // Pushes the longest prefix of items that fits, as one run of consecutive positions; returns
  // its length. Never waits.
  std::size_t try_push_bulk(span<const T> items) noexcept
  {
    if (items.empty()) return 0;
    std::size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    std::size_t n = 0;
    for (;;) {
      n = ready_run(pos, 0, items.size());
      if (n == 0) {
        const auto lag = static_cast<std::ptrdiff_t>(cells_[pos & mask_].seq.load(std::memory_order_acquire) - pos);
        if (lag < 0) return 0;  // the cell still holds the item from the previous lap: full
        pos = enqueue_pos_.load(std::memory_order_relaxed);
        continue;
      }
      if (enqueue_pos_.compare_exchange_weak(pos, pos + n, std::memory_order_relaxed)) break;
    }
    for (std::size_t i = 0; i < n; ++i) {
      cell& c = cells_[(pos + i) & mask_];
      detail::rings::put_item(c.bytes, items[i]);
      c.seq.store(pos + i + 1, std::memory_order_release);
    }
    if constexpr (Empty == empty_policy::block) data_.notify();
    return n;
  }

  // Pushes v, following Policy when full: fail returns false; spin and block return true once
  // pushed. Under spin or block it waits for as long as no consumer pops.
  bool push(const T& v) noexcept
  {
    return push_bulk(span<const T>(&v, 1)) == 1;
  }

  // Pushes items in order, following Policy when full: fail pushes the prefix that fits and
  // returns its length; spin and block push everything (returning items.size()), waiting for room.
  // Under spin and block, other producers' items may interleave between runs.
  std::size_t push_bulk(span<const T> items) noexcept
  {
    std::size_t done = try_push_bulk(items);
    if constexpr (Policy == full_policy::spin) {
      detail::rings::backoff b;
      while (done < items.size()) {
        const std::size_t n = try_push_bulk(items.subspan(done));
        if (n == 0) b.pause();
        done += n;
      }
    } else if constexpr (Policy == full_policy::block) {
      if (done < items.size())
        space_.wait_until([&] {
          done += try_push_bulk(items.subspan(done));
          return done == items.size();
        });
    }
    return done;
  }

  // ---- consumers -----------------------------------------------------------------------------

  // Pops the oldest available item into out; never waits. out is unchanged when none is ready.
  bool try_pop(T& out) noexcept { return pop_bulk(span<T>(&out, 1)) == 1; }

  // Pops up to out.size() items, as one run of consecutive positions, into the front of out;
  // returns how many. Never waits.
  std::size_t pop_bulk(span<T> out) noexcept
  {
    if (out.empty()) return 0;
    std::size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    std::size_t n = 0;
    for (;;) {
      n = ready_run(pos, 1, out.size());
      if (n == 0) {
        const auto lag =
          static_cast<std::ptrdiff_t>(cells_[pos & mask_].seq.load(std::memory_order_acquire) - (pos + 1));
        if (lag < 0) return 0;  // not filled yet: empty (or its producer is between claim and store)
        pos = dequeue_pos_.load(std::memory_order_relaxed);
        continue;
      }
      if (dequeue_pos_.compare_exchange_weak(pos, pos + n, std::memory_order_relaxed)) break;
    }
    for (std::size_t i = 0; i < n; ++i) {
      cell& c = cells_[(pos + i) & mask_];
      detail::rings::get_item(out[i], c.bytes);
      c.seq.store(pos + i + mask_ + 1, std::memory_order_release);
    }
    if constexpr (Policy == full_policy::block) space_.notify();
    return n;
  }

  // Pops the oldest available item into out, waiting (following Empty) until there is one.
  void pop_wait(T& out) noexcept { data_.wait_until([&] { return try_pop(out); }); }

  // Pops between 1 and out.size() items, waiting (following Empty) until there is at least one;
  // returns how many. An empty out returns 0 at once.
  std::size_t pop_bulk_wait(span<T> out) noexcept
  {
    std::size_t n = 0;
    if (!out.empty()) data_.wait_until([&] { return (n = pop_bulk(out)) != 0; });
    return n;
  }

private:

  struct cell {
    std::atomic<std::size_t> seq{0};
    alignas(T) unsigned char bytes[sizeof(T)];
  };

  // How many cells from position pos on (at most max) have seq == position + offset: free for a
  // push (offset 0) or filled for a pop (offset 1).
  std::size_t ready_run(std::size_t pos, std::size_t offset, std::size_t max) const noexcept
  {
    std::size_t n = 0;
    while (n < max && n <= mask_ &&
           cells_[(pos + n) & mask_].seq.load(std::memory_order_acquire) == pos + n + offset)
      ++n;
    return n;
  }

  detail::rings::slot_array<cell> storage_;
  // Read-only after construction.
  cell* const cells_;
  const std::size_t mask_;
  alignas(detail::rings::line_bytes) std::atomic<std::size_t> enqueue_pos_{0};
  alignas(detail::rings::line_bytes) std::atomic<std::size_t> dequeue_pos_{0};
  struct no_waiter {};
  alignas(detail::rings::line_bytes) [[no_unique_address]]
  std::conditional_t<Policy == full_policy::block, detail::rings::waiter, no_waiter> space_;
  alignas(detail::rings::line_bytes) [[no_unique_address]]
  std::conditional_t<Empty == empty_policy::block, detail::rings::waiter, detail::rings::napper> data_;
};

} // namespace mmsb
