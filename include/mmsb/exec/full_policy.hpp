// full_policy / empty_policy: what a push does when a bounded ring (spsc_ring, mpmc_queue) is
// full (fail, spin or block), and what a waiting pop does when it is empty (poll or block); and
// what both rings share in detail::rings: waiting (backoff, waiter), the capacity check and the
// slot array.
//
// Waiting, in every policy, goes through three phases so that a ring behaves on a machine with
// more runnable threads than cores: spin (pause) briefly, then yield the time slice a few times,
// then park: sleep on a futex until the other side wakes it (block), or sleep for short, growing
// intervals (spin / poll, where the other side pays nothing and so wakes no one).
#pragma once

#include <mmsb/config/error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <type_traits>

namespace mmsb {

// A template parameter of the ring, not an argument of push: `block` is the only policy whose
// consumers pay anything (one full fence per pop call, to look for sleeping producers), so the
// others must not carry that cost at run time. try_push / try_push_bulk never wait under any
// policy; pop never waits (a consumer drains what is there, e.g. once per tick).
enum class full_policy : std::uint8_t {
  fail,   // push returns false (push_bulk: the count that fit) at once; a full ring is unchanged
  spin,   // push spins, yields, then sleeps in short naps (<= 100 us) until a consumer frees room
  block,  // push spins, yields, then parks (futex) until a consumer frees room and wakes it
};

// A template parameter for the same reason: only `block` makes producers pay (one full fence per
// push call, to look for a parked consumer). pop_wait / pop_bulk_wait follow it; try_pop /
// pop_bulk never wait under any policy.
enum class empty_policy : std::uint8_t {
  poll,   // pop_wait spins, yields, then sleeps in short naps (<= 100 us) until an item arrives
  block,  // pop_wait spins, yields, then parks (futex) until a producer pushes and wakes it
};

namespace detail::rings {

// One cache line. Not std::hardware_destructive_interference_size: GCC warns when a header uses
// it (its value follows -mtune), and 64 B is right for every x86-64 and Arm server core we target.
inline constexpr std::size_t line_bytes = 64;

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Pause a few dozen times, then yield the time slice a few times, then (pause() only) nap for
// 1, 2, 4, ... up to 100 microseconds: a waiter on an oversubscribed machine must let the thread
// it waits for run, and must stop burning a core once yielding has not helped. A waiter that can
// be woken parks instead of napping once parking() says so.
class backoff {
public:
  static constexpr std::uint32_t spin_limit = 64;
  static constexpr std::uint32_t yield_limit = spin_limit + 16;
  static constexpr std::uint32_t max_nap_us = 100;
  void pause() noexcept
  {
    if (n_ < spin_limit) {
      ++n_;
      cpu_relax();
    } else if (n_ < yield_limit) {
      ++n_;
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(nap_us_));
      nap_us_ = std::min<std::uint32_t>(nap_us_ * 2, max_nap_us);
    }
  }
  // Spinning and yielding have not helped: time to park (or nap).
  [[nodiscard]] bool parking() const noexcept { return n_ >= yield_limit; }

private:
  std::uint32_t n_ = 0;
  std::uint32_t nap_us_ = 1;
};

// An event count for a side parked on a full ring (producers) or an empty one (a consumer). The
// waiter announces itself (sleepers_) and re-tries before it sleeps; the other side makes room
// (or pushes), then fences and looks for sleepers. The two seq_cst fences order "announce,
// re-check" against "publish, look": either the waiter's re-check sees the change or the other
// side sees the sleeper and bumps epoch_, which the waiter's futex wait (std::atomic::wait)
// compares against the value it read before re-checking, so no wake-up is lost.
class waiter {
public:
  // Calls try_once() until it returns true: spins, yields, then parks between tries.
  template <class Try>
  void wait_until(Try&& try_once) noexcept
  {
    backoff b;
    while (!try_once()) {
      if (!b.parking()) {
        b.pause();
        continue;
      }
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      const std::uint32_t key = epoch_.load(std::memory_order_seq_cst);
      if (try_once()) {
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      epoch_.wait(key, std::memory_order_acquire);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Called by the other side after it published the room it freed (or the items it pushed).
  void notify() noexcept
  {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_relaxed) != 0) {
      epoch_.fetch_add(1, std::memory_order_seq_cst);
      epoch_.notify_all();
    }
  }

private:
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> sleepers_{0};
};

// The waiter of a side nobody wakes (empty_policy::poll): the same tries, napping instead of
// parking; notify() has nothing to do.
struct napper {
  template <class Try>
  void wait_until(Try&& try_once) const noexcept
  {
    backoff b;
    while (!try_once()) b.pause();
  }
  void notify() const noexcept {}
};

// Moving an item into and out of a slot: as a T (copy construction, copy assignment), not as
// bytes, where T allows. A memcpy of a wide T reads its source in 16-byte pieces, and when the
// caller has just written one field of it (v.seq = i; push(v)) that read cannot be forwarded
// from the store buffer and stalls: 64 B items went through a ring 2.5x slower that way,
// even on one thread. A T that cannot be copied as a T (deleted copy members) falls back to bytes.
template <class T>
inline void put_item(void* slot, const T& v) noexcept
{
  if constexpr (std::is_copy_constructible_v<T>) ::new (slot) T(v);
  else std::memcpy(slot, static_cast<const void*>(&v), sizeof(T));
}
template <class T>
inline void get_item(T& out, const void* slot) noexcept
{
  if constexpr (std::is_copy_assignable_v<T>) out = *std::launder(static_cast<const T*>(slot));
  else std::memcpy(static_cast<void*>(&out), slot, sizeof(T));
}

// Capacity must be a power of two (positions map to slots with a mask) in [min, max].
inline void check_capacity(const char* ring, std::size_t capacity, std::size_t min, std::size_t max)
{
  if (capacity < min || (capacity & (capacity - 1)) != 0 || capacity > max) {
    std::string msg = std::string(ring) + ": capacity " + std::to_string(capacity) +
                      " is not a power of two between " + std::to_string(min) + " and " + std::to_string(max);
    if (capacity > min && capacity < max) {
      std::size_t up = 1;
      while (up < capacity) up <<= 1;
      msg += " (use " + std::to_string(up) + ")";
    }
    throw error(errc::invalid_argument, msg);
  }
}

// `count` default-constructed Slots in one cache-line-aligned block, allocated once.
template <class Slot>
class slot_array {
public:
  slot_array(const char* ring, std::size_t count) : count_(count)
  {
    void* p = ::operator new(count * sizeof(Slot), std::align_val_t{alignment}, std::nothrow);
    if (!p)
      throw error(errc::out_of_memory, std::string(ring) + ": cannot allocate " + std::to_string(count) +
                                           " slots (" + std::to_string(count * sizeof(Slot)) + " bytes)");
    slots_ = static_cast<Slot*>(p);
    for (std::size_t i = 0; i < count; ++i) ::new (static_cast<void*>(slots_ + i)) Slot();
  }
  ~slot_array()
  {
    for (std::size_t i = 0; i < count_; ++i) slots_[i].~Slot();
    ::operator delete(static_cast<void*>(slots_), std::align_val_t{alignment});
  }
  slot_array(const slot_array&) = delete;
  slot_array& operator=(const slot_array&) = delete;

  [[nodiscard]] Slot* data() const noexcept { return slots_; }

private:
  static constexpr std::size_t alignment = std::max(line_bytes, alignof(Slot));
  Slot* slots_ = nullptr;
  std::size_t count_;
};

} // namespace detail::rings
} // namespace mmsb
