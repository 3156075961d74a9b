// host_heap: aligned operator new/delete per block. The simple reference allocator.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/core/alignment.hpp>

#include <atomic>
#include <cstddef>
#include <new>
#include <string>

namespace mmsb {

// The reference page_allocator: each block is its own aligned operator new. Thread-safe (the
// counters are atomic); keeps no free list, so reserved_bytes equals live_bytes.
class host_heap {
public:
  static constexpr memory_space space = memory_space::host;  // plain host memory

  // A block of `bytes` (a positive multiple of page_alignment, else errc::invalid_argument),
  // aligned to page_alignment. Throws errc::out_of_memory naming the size; nothing changes then.
  void* allocate(std::size_t bytes)
  {
    if (bytes == 0 || bytes % page_alignment != 0)
      throw error(errc::invalid_argument, "host_heap: block size " + std::to_string(bytes) +
                                            " is not a positive multiple of " + std::to_string(page_alignment));
    void* p = ::operator new(bytes, std::align_val_t{page_alignment}, std::nothrow);
    if (!p) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      throw error(errc::out_of_memory, "host_heap: could not allocate a block of " + std::to_string(bytes) + " bytes");
    }
    allocations_.fetch_add(1, std::memory_order_relaxed);
    const auto live = live_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    live_blocks_.fetch_add(1, std::memory_order_relaxed);
    for (auto peak = peak_bytes_.load(std::memory_order_relaxed);
         live > peak && !peak_bytes_.compare_exchange_weak(peak, live, std::memory_order_relaxed);) {
    }
    return p;
  }

  // Frees a block from allocate(); bytes must be the size it was allocated with. Null is a no-op.
  void deallocate(void* p, std::size_t bytes) noexcept
  {
    if (!p) return;
    ::operator delete(p, std::align_val_t{page_alignment});
    frees_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    live_blocks_.fetch_sub(1, std::memory_order_relaxed);
  }

  // The counters now (relaxed loads: each field whole, the set possibly a little stale).
  [[nodiscard]] allocator_stats stats() const noexcept
  {
    allocator_stats s;
    s.live_blocks = live_blocks_.load(std::memory_order_relaxed);
    s.live_bytes = live_bytes_.load(std::memory_order_relaxed);
    s.peak_bytes = peak_bytes_.load(std::memory_order_relaxed);
    s.allocations = allocations_.load(std::memory_order_relaxed);
    s.frees = frees_.load(std::memory_order_relaxed);
    s.failures = failures_.load(std::memory_order_relaxed);
    s.reserved_bytes = s.live_bytes;
    return s;
  }

private:
  std::atomic<std::uint64_t> live_blocks_{0}, live_bytes_{0}, peak_bytes_{0}, allocations_{0}, frees_{0}, failures_{0};
};

static_assert(page_allocator<host_heap>);

} // namespace mmsb
