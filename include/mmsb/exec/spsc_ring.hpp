// spsc_ring: a bounded single-producer single-consumer ring of trivially copyable values, with
// bulk push and pop, a full_policy (fail, spin, block) for a push that finds it full and an
// empty_policy (poll, block) for a pop_wait that finds it empty.
//
// Design. Each slot carries a 32-bit stamp next to its value: the producer writes the value, then
// stores the stamp (position + 1) with release; the consumer polls the stamp of the slot it wants
// with acquire. So a consumer waiting for data watches the line that brings the data with it: one
// cache-line transfer per hand-over, as a raw ping-pong of one atomic (an index-based ring needs
// two dependent transfers: the index, then the slot). When it has nothing known ready, the
// consumer probes ahead (h + 63, h + 31, ..., h) and takes the longest complete run, so while it
// keeps up it reads lines the producer has finished with rather than the one it is writing
// (B-Queue's backtracking). The consumer publishes its position (head_)
// with release after reading; the producer keeps a cached copy and reloads it with acquire only
// when the cache says full, so in steady state neither side reads a line the other writes except
// the slots themselves. A stamp from the previous lap differs from the expected one because the
// capacity is below 2^32, so stamps never need clearing. Bulk calls are batched: a bulk push
// fills its run and stores tail_ once; a bulk pop takes every known-ready slot (one acquire, on the
// run's last stamp) and publishes head_ once.
//
// Why stamps rather than the classic cached-index ring (each side publishing its index and
// caching the other's, as Rigtorp's SPSCQueue and ReaderWriterQueue do): that ring, built and
// measured side by side in one P4 run (2026-12-05, the 2-core VM, 15 interleaved repetitions,
// both copying items as T), took 1.1-2x as long per item at 8 B and 1.2x at 64 B as
// this one: with one item per call a consumer that keeps up re-reads the producer's index line
// for nearly every item, where here it reads only lines that carry data. Items are copied as T,
// not as bytes (detail::rings::put_item / get_item say why).
//
//   read-only line   [slots_, mask_]
//   producer line    [tail_ (position of the next push), head_cache_]
//   consumer line    [next_ (position of the next pop), ready_end_, head_ (published next_)]
//   waiter lines     [space_] (full_policy::block only)  [data_] (empty_policy::block only)
//   slots            [value | stamp] [value | stamp] ...   (allocated once, 64 B aligned)
//
// Waiting (push under spin/block, pop_wait) spins briefly, yields, then parks (block: futex, woken
// by the other side) or naps (spin / poll: nobody pays to wake it); see full_policy.hpp.
//
// Contracts: exactly one producer thread calls push*/try_push* and exactly one consumer thread
// calls pop*/try_pop* at a time (they may change between calls if the hand-over synchronizes).
// Nothing allocates after construction, and nothing but the constructor throws.
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

// The ring (see the top comment): a fixed power-of-two capacity of T, for one producer thread
// and one consumer thread. Policy: what a push finds full does; Empty: how pop_wait waits.
template <class T, full_policy Policy = full_policy::spin, empty_policy Empty = empty_policy::poll>
class spsc_ring {
  static_assert(std::is_trivially_copyable_v<T>,
                "mmsb: spsc_ring<T> moves items as bytes, so T must be trivially copyable; "
                "push an index or a pointer to the object instead");

public:
  using value_type = T;                               // the item type (trivially copyable)
  static constexpr full_policy policy = Policy;       // what a push that finds it full does
  static constexpr empty_policy wait_policy = Empty;  // how pop_wait waits while it is empty
  static constexpr std::size_t max_capacity = std::size_t{1} << 31;  // 2^31: stamps stay 32-bit

  // Throws mmsb::error: invalid_argument when capacity is 0, not a power of two or above
  // max_capacity (the message names it); out_of_memory when the slots cannot be allocated.
  explicit spsc_ring(std::size_t capacity)
    : storage_((detail::rings::check_capacity("spsc_ring", capacity, 1, max_capacity), "spsc_ring"), capacity),
      slots_(storage_.data()), mask_(capacity - 1)
  {
  }
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  // The fixed number of items it holds, as given to the constructor.
  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }
  // Exact when both sides are quiescent; otherwise a snapshot that may be stale by the time it returns.
  [[nodiscard]] std::size_t size_approx() const noexcept
  {
    const std::size_t h = head_.load(std::memory_order_acquire);
    const std::size_t t = tail_.load(std::memory_order_acquire);
    return t > h ? std::min(t - h, capacity()) : 0;
  }
  // size_approx() == 0, with the same caveat.
  [[nodiscard]] bool empty_approx() const noexcept { return size_approx() == 0; }

  // ---- producer ------------------------------------------------------------------------------

  // Pushes v if there is room; never waits.
  bool try_push(const T& v) noexcept
  {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t - head_cache_ > mask_) return false;
    }
    put(t, v);
    tail_.store(t + 1, std::memory_order_relaxed);
    wake_consumer();
    return true;
  }

  // Pushes the longest prefix of items that fits (one tail_ store, one wake-up check); returns its
  // length. Never waits.
  std::size_t try_push_bulk(span<const T> items) noexcept
  {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    std::size_t room = capacity() - (t - head_cache_);
    if (room < items.size()) {
      head_cache_ = head_.load(std::memory_order_acquire);
      room = capacity() - (t - head_cache_);
    }
    const std::size_t n = std::min(room, items.size());
    for (std::size_t i = 0; i < n; ++i) put(t + i, items[i]);
    if (n == 0) return 0;
    tail_.store(t + n, std::memory_order_relaxed);
    wake_consumer();
    return n;
  }

  // Pushes v, following Policy when full: fail returns false; spin and block return true once
  // pushed. Under spin or block it waits for as long as no consumer pops.
  bool push(const T& v) noexcept
  {
    if (MMSB_LIKELY(try_push(v))) return true;
    if constexpr (Policy == full_policy::fail) {
      return false;
    } else if constexpr (Policy == full_policy::spin) {
      detail::rings::backoff b;
      while (!try_push(v)) b.pause();
      return true;
    } else {
      space_.wait_until([&] { return try_push(v); });
      return true;
    }
  }

  // Pushes items in order, following Policy when full: fail pushes the prefix that fits and
  // returns its length; spin and block push everything (returning items.size()), waiting for room.
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

  // ---- consumer ------------------------------------------------------------------------------

  // Pops the oldest item into out if there is one; never waits. out is unchanged when empty.
  bool try_pop(T& out) noexcept
  {
    const std::size_t h = next_;
    if (h == ready_end_ && !find_ready(h)) return false;
    detail::rings::get_item(out, slots_[h & mask_].bytes);
    next_ = h + 1;
    head_.store(h + 1, std::memory_order_release);
    wake_producer();
    return true;
  }

  // Pops up to out.size() items, oldest first, into the front of out, with one publication;
  // returns how many. Never waits.
  std::size_t pop_bulk(span<T> out) noexcept
  {
    const std::size_t h = next_;
    if (out.empty() || (h == ready_end_ && !find_ready(h))) return 0;
    while (ready_end_ - h < out.size() && find_ready(ready_end_)) {
    }
    const std::size_t n = std::min(ready_end_ - h, out.size());
    for (std::size_t i = 0; i < n; ++i)
      detail::rings::get_item(out[i], slots_[(h + i) & mask_].bytes);
    next_ = h + n;
    head_.store(h + n, std::memory_order_release);
    wake_producer();
    return n;
  }

  // Pops the oldest item into out, waiting (following Empty) until there is one.
  void pop_wait(T& out) noexcept { data_.wait_until([&] { return try_pop(out); }); }

  // Pops between 1 and out.size() items (whatever is there once one is), waiting (following
  // Empty) until there is at least one; returns how many. An empty out returns 0 at once.
  std::size_t pop_bulk_wait(span<T> out) noexcept
  {
    std::size_t n = 0;
    if (!out.empty()) data_.wait_until([&] { return (n = pop_bulk(out)) != 0; });
    return n;
  }

private:
  // The stamp stores are release and the waiter's fence is seq_cst, so a parked consumer that
  // sees the wake-up sees the items.
  void wake_consumer() noexcept
  {
    if constexpr (Empty == empty_policy::block) data_.notify();
  }
  void wake_producer() noexcept
  {
    if constexpr (Policy == full_policy::block) space_.notify();
  }

  struct slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    std::atomic<std::uint32_t> stamp{0};
  };
  // Position p's stamp. Slot p & mask_ holds stamp_of(p - capacity) (or 0) until p is pushed;
  // the two differ because capacity <= 2^31.
  static constexpr std::uint32_t stamp_of(std::size_t position) noexcept
  {
    return static_cast<std::uint32_t>(position + 1);
  }

  // Nothing is known ready from position h on: probe the stamps of h + 63, h + 31, ..., h + 1, h
  // (capped at the capacity) and take the first run that is complete (ready_end_ = its end). The acquire on the stamp
  // of the run's last slot makes every earlier slot's value visible too (the producer stores
  // stamps in position order), so the slots of the run are read without touching their stamps
  // and, while the consumer keeps up, without sharing the line the producer is writing.
  bool find_ready(std::size_t h) noexcept
  {
    for (std::size_t run = std::min(probe_run, mask_ + 1); run != 0; run >>= 1) {
      const std::size_t last = h + run - 1;
      if (slots_[last & mask_].stamp.load(std::memory_order_acquire) == stamp_of(last)) {
        ready_end_ = h + run;
        return true;
      }
    }
    return false;
  }
  static constexpr std::size_t probe_run = 64;

  void put(std::size_t position, const T& v) noexcept
  {
    slot& s = slots_[position & mask_];
    detail::rings::put_item(s.bytes, v);
    s.stamp.store(stamp_of(position), std::memory_order_release);
  }

  detail::rings::slot_array<slot> storage_;
  // Read-only after construction.
  slot* const slots_;
  const std::size_t mask_;
  // Producer's line: tail_ is atomic only so that size_approx may read it.
  alignas(detail::rings::line_bytes) std::atomic<std::size_t> tail_{0};
  std::size_t head_cache_ = 0;
  // Consumer's line: next_ is the next position to pop, [next_, ready_end_) is known filled.
  alignas(detail::rings::line_bytes) std::size_t next_ = 0;
  std::size_t ready_end_ = 0;
  std::atomic<std::size_t> head_{0};
  // Only the blocking policies pay for these lines.
  struct no_waiter {};
  alignas(detail::rings::line_bytes) [[no_unique_address]]
  std::conditional_t<Policy == full_policy::block, detail::rings::waiter, no_waiter> space_;
  alignas(detail::rings::line_bytes) [[no_unique_address]]
  std::conditional_t<Empty == empty_policy::block, detail::rings::waiter, detail::rings::napper> data_;
};

} // namespace mmsb
