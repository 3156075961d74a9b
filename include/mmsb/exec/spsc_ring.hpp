// spsc_ring: a bounded single-producer single-consumer ring of trivially copyable values, with
// bulk push and pop, a full_policy (fail, spin, block) for a push that finds it full and an
// empty_policy (poll, block) for a pop_wait that finds it empty.
//
// Design (the classic cached-index ring). The producer owns tail_ (the position of the next push)
// and the consumer owns head_ (the position of the next pop); each publishes its own index with
// one release store per call, and each keeps a private copy of the other's index (head_cache_,
// tail_cache_) that it reloads with acquire only when the copy says full (producer) or empty
// (consumer). So in steady state a side reads the other's line once per run of items rather than
// once per item, and a bulk call moves its whole run with one memcpy (two at the wrap) and one
// release store: batched publication. Slots are bare values, packed (8 B items fill a line with
// 8 of them, 64 B items take exactly one line each), so no line carries bookkeeping besides data.
//
//   read-only line   [slots_, mask_]
//   producer line    [tail_, head_cache_]
//   consumer line    [head_, tail_cache_]
//   waiter lines     [space_] (full_policy::block only)  [data_] (empty_policy::block only)
//   slots            [value] [value] ...   (allocated once, 64 B aligned)
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

template <class T, full_policy Policy = full_policy::spin, empty_policy Empty = empty_policy::poll>
class spsc_ring {
  static_assert(std::is_trivially_copyable_v<T>,
                "mmsb: spsc_ring<T> moves items as bytes, so T must be trivially copyable; "
                "push an index or a pointer to the object instead");

public:
  using value_type = T;
  static constexpr full_policy policy = Policy;
  static constexpr empty_policy wait_policy = Empty;
  static constexpr std::size_t max_capacity = std::size_t{1} << 31;

  // Throws mmsb::error: invalid_argument when capacity is 0, not a power of two or above
  // max_capacity (the message names it); out_of_memory when the slots cannot be allocated.
  explicit spsc_ring(std::size_t capacity)
    : storage_((detail::rings::check_capacity("spsc_ring", capacity, 1, max_capacity), "spsc_ring"), capacity),
      slots_(storage_.data()), mask_(capacity - 1)
  {
  }
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }
  // Exact when both sides are quiescent; otherwise a snapshot that may be stale by the time it returns.
  [[nodiscard]] std::size_t size_approx() const noexcept
  {
    const std::size_t h = head_.load(std::memory_order_acquire);
    const std::size_t t = tail_.load(std::memory_order_acquire);
    return t > h ? std::min(t - h, capacity()) : 0;
  }
  [[nodiscard]] bool empty_approx() const noexcept { return size_approx() == 0; }

  // ---- producer ------------------------------------------------------------------------------

  // Pushes v if there is room; never waits.
  bool try_push(const T& v) noexcept
  {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (MMSB_UNLIKELY(t - head_cache_ > mask_)) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t - head_cache_ > mask_) return false;
    }
    std::memcpy(static_cast<void*>(slots_ + (t & mask_)), static_cast<const void*>(&v), sizeof(T));
    tail_.store(t + 1, std::memory_order_release);
    wake_consumer();
    return true;
  }

  // Pushes the longest prefix of items that fits, with one publication; returns its length.
  // Never waits.
  std::size_t try_push_bulk(span<const T> items) noexcept
  {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    std::size_t room = capacity() - (t - head_cache_);
    if (room < items.size()) {
      head_cache_ = head_.load(std::memory_order_acquire);
      room = capacity() - (t - head_cache_);
    }
    const std::size_t n = std::min(room, items.size());
    if (n == 0) return 0;
    copy_in(t, items.data(), n);
    tail_.store(t + n, std::memory_order_release);
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
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (MMSB_UNLIKELY(h == tail_cache_)) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h == tail_cache_) return false;
    }
    std::memcpy(static_cast<void*>(&out), static_cast<const void*>(slots_ + (h & mask_)), sizeof(T));
    head_.store(h + 1, std::memory_order_release);
    wake_producer();
    return true;
  }

  // Pops up to out.size() items, oldest first, into the front of out, with one publication;
  // returns how many. Never waits.
  std::size_t pop_bulk(span<T> out) noexcept
  {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (tail_cache_ - h < out.size()) tail_cache_ = tail_.load(std::memory_order_acquire);
    const std::size_t n = std::min(tail_cache_ - h, out.size());
    if (n == 0) return 0;
    copy_out(h, out.data(), n);
    head_.store(h + n, std::memory_order_release);
    wake_producer();
    return n;
  }

  // Pops the oldest item into out, waiting (following Empty) until there is one.
  void pop_wait(T& out) noexcept { wait_for_items([&] { return try_pop(out); }); }

  // Pops between 1 and out.size() items (whatever is there once one is), waiting (following
  // Empty) until there is at least one; returns how many. An empty out returns 0 at once.
  std::size_t pop_bulk_wait(span<T> out) noexcept
  {
    std::size_t n = 0;
    if (!out.empty()) wait_for_items([&] { return (n = pop_bulk(out)) != 0; });
    return n;
  }

private:
  // A slot is the value's bytes, nothing else: sizeof(slot) == sizeof(T), so runs are contiguous.
  struct slot {
    alignas(T) unsigned char bytes[sizeof(T)];
  };
  static_assert(sizeof(slot) == sizeof(T), "mmsb: spsc_ring slots must pack (internal)");

  void copy_in(std::size_t position, const T* from, std::size_t n) noexcept
  {
    const std::size_t first = position & mask_;
    const std::size_t k = std::min(n, capacity() - first);
    std::memcpy(static_cast<void*>(slots_ + first), static_cast<const void*>(from), k * sizeof(T));
    if (k < n) std::memcpy(static_cast<void*>(slots_), static_cast<const void*>(from + k), (n - k) * sizeof(T));
  }
  void copy_out(std::size_t position, T* to, std::size_t n) const noexcept
  {
    const std::size_t first = position & mask_;
    const std::size_t k = std::min(n, capacity() - first);
    std::memcpy(static_cast<void*>(to), static_cast<const void*>(slots_ + first), k * sizeof(T));
    if (k < n) std::memcpy(static_cast<void*>(to + k), static_cast<const void*>(slots_), (n - k) * sizeof(T));
  }

  template <class Try>
  void wait_for_items(Try&& try_once) noexcept
  {
    if (try_once()) return;
    if constexpr (Empty == empty_policy::block) {
      data_.wait_until(try_once);
    } else {
      detail::rings::backoff b;
      while (!try_once()) b.pause();
    }
  }
  void wake_consumer() noexcept
  {
    if constexpr (Empty == empty_policy::block) data_.notify();
  }
  void wake_producer() noexcept
  {
    if constexpr (Policy == full_policy::block) space_.notify();
  }

  detail::rings::slot_array<slot> storage_;
  // Read-only after construction.
  slot* const slots_;
  const std::size_t mask_;
  // Producer's line.
  alignas(detail::rings::line_bytes) std::atomic<std::size_t> tail_{0};
  std::size_t head_cache_ = 0;
  // Consumer's line.
  alignas(detail::rings::line_bytes) std::atomic<std::size_t> head_{0};
  std::size_t tail_cache_ = 0;
  // Only the blocking policies pay for these lines.
  struct no_waiter {};
  alignas(detail::rings::line_bytes) [[no_unique_address]]
  std::conditional_t<Policy == full_policy::block, detail::rings::waiter, no_waiter> space_;
  alignas(detail::rings::line_bytes) [[no_unique_address]]
  std::conditional_t<Empty == empty_policy::block, detail::rings::waiter, no_waiter> data_;
};

} // namespace mmsb
