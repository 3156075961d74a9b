// host_heap: one system-heap allocation per block. The simple reference allocator.
//
// A block is a plain allocation of bytes + page_alignment (the global operator new), aligned by
// hand, with the pointer to free in the 8 bytes before it. Not the aligned operator new: glibc
// serves an aligned request by splitting a larger chunk, so a freed block of the same size can
// never serve the next aligned request, and under a memory budget's churn (blocks freed by
// spills, others allocated by reloads) the heap grew 16 % past the live bytes (capacity_spill:
// peak RSS 1,186 MiB for a 1 GiB budget). A plain request is served from its freed chunks.
// A block of 2 MiB or more is a mapping of its own on transparent huge pages where the kernel
// offers them (memory/huge_pages.hpp): a 4 MiB page then costs two TLB entries, not 1,024.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/huge_pages.hpp>
#include <mmsb/core/alignment.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

namespace mmsb {

// The reference page_allocator: each block is its own system-heap allocation (page_alignment
// bytes larger, aligned by hand), or from huge_page_bytes up its own huge-page mapping.
// Thread-safe (the counters are atomic); keeps no free list, so reserved_bytes equals live_bytes.
class host_heap {
public:
  static constexpr memory_space space = memory_space::host;  // plain host memory

  // A block of `bytes` (a positive multiple of page_alignment, else errc::invalid_argument),
  // aligned to page_alignment (to huge_page_bytes where it is a huge-page mapping). Throws
  // errc::out_of_memory naming the size; nothing changes then.
  void* allocate(std::size_t bytes)
  {
    if (bytes == 0 || bytes % page_alignment != 0)
      throw error(errc::invalid_argument, "host_heap: block size " + std::to_string(bytes) +
                                            " is not a positive multiple of " + std::to_string(page_alignment));
    static_assert(page_alignment % __STDCPP_DEFAULT_NEW_ALIGNMENT__ == 0 && huge_page_bytes % page_alignment == 0);
    void* p = detail::new_block(bytes, page_alignment);
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
    detail::delete_block(p, bytes);
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
