// failing<Allocator>: a test seam that makes the Nth allocation fail (once, or from then on),
// so tests can prove that every operation reports out_of_memory cleanly and changes nothing.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/memory/allocator.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace mmsb {

// A page_allocator that forwards to an inner Allocator until an armed failure fires; then
// allocate throws errc::out_of_memory without touching the inner allocator. Thread-safe arming.
template <page_allocator Allocator>
class failing {
public:
  static constexpr memory_space space = Allocator::space;  // the inner allocator's space

  // Constructs the inner allocator from args; starts disarmed.
  template <class... Args>
  explicit failing(Args&&... args) : inner_(std::forward<Args>(args)...) {}

  // Fail the nth allocation from now (1 = the next one). sticky: every later one fails too.
  void fail_at(std::uint64_t nth, bool sticky = false) noexcept
  {
    countdown_.store(nth, std::memory_order_relaxed);
    sticky_.store(sticky, std::memory_order_relaxed);
  }
  // Cancels any armed failure: every later allocation goes to the inner allocator.
  void disarm() noexcept
  {
    countdown_.store(0, std::memory_order_relaxed);
    sticky_.store(false, std::memory_order_relaxed);
  }

  // Throws errc::out_of_memory (naming the size) when the armed failure fires, else the inner
  // allocator's allocate(bytes).
  void* allocate(std::size_t bytes)
  {
    if (should_fail()) {
      injected_.fetch_add(1, std::memory_order_relaxed);
      throw error(errc::out_of_memory, "injected allocation failure for a block of " + std::to_string(bytes) + " bytes");
    }
    return inner_.allocate(bytes);
  }
  // Returns the block to the inner allocator.
  void deallocate(void* p, std::size_t bytes) noexcept { inner_.deallocate(p, bytes); }

  // The inner allocator's stats, with the injected failures added to failures.
  [[nodiscard]] allocator_stats stats() const noexcept
  {
    auto s = inner_.stats();
    s.failures += injected_.load(std::memory_order_relaxed);
    return s;
  }
  // The wrapped allocator (allocations made through it directly are never failed).
  [[nodiscard]] Allocator& inner() noexcept { return inner_; }

private:
  bool should_fail() noexcept
  {
    if (sticky_.load(std::memory_order_relaxed) && countdown_.load(std::memory_order_relaxed) == 1) return true;
    for (auto n = countdown_.load(std::memory_order_relaxed); n != 0;) {
      if (countdown_.compare_exchange_weak(n, n == 1 && sticky_.load(std::memory_order_relaxed) ? 1 : n - 1,
                                           std::memory_order_relaxed))
        return n == 1;
    }
    return false;
  }

  Allocator inner_;
  std::atomic<std::uint64_t> countdown_{0};
  std::atomic<bool> sticky_{false};
  std::atomic<std::uint64_t> injected_{0};
};

} // namespace mmsb
