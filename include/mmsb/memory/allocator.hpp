// The allocator policy: where pages live. An allocator hands out blocks of a byte size that is
// a multiple of page_alignment, aligned to page_alignment, and says which memory space they are in.
//
//   void* allocate(std::size_t bytes);                 // throws mmsb::error(out_of_memory), naming
//                                                      // the size; nothing changes on failure
//   void deallocate(void* p, std::size_t bytes) noexcept;   // bytes as passed to allocate
//   allocator_stats stats() const noexcept;
//   static constexpr memory_space space;
#pragma once

#include <mmsb/core/alignment.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>

namespace mmsb {

// Where an allocator's blocks live: host heap, a mapped file, device memory, pinned host memory
// or CUDA managed memory. Stable values.
enum class memory_space : std::uint8_t { host = 1, mapped = 2, device = 3, pinned = 4, managed = 5 };

// Counters every allocator keeps. Snapshots may be slightly stale under concurrency, never torn
// per field.
struct allocator_stats {
  std::uint64_t live_blocks = 0;  // blocks allocated and not yet freed
  std::uint64_t live_bytes = 0;   // bytes in those blocks
  std::uint64_t peak_bytes = 0;   // the highest live_bytes seen
  std::uint64_t allocations = 0;  // successful allocate() calls
  std::uint64_t frees = 0;        // deallocate() calls with a non-null block
  std::uint64_t failures = 0;     // allocate() calls refused for lack of memory
  std::uint64_t contended = 0;   // slow-path lock acquisitions that had to wait (pools)
  std::uint64_t reserved_bytes = 0;  // bytes taken from the system, including free blocks in pools
};

// Whether the host may read and write blocks of this space in place (device memory: no).
[[nodiscard]] constexpr bool host_accessible(memory_space s) noexcept { return s != memory_space::device; }

template <class A>
concept page_allocator = requires(A& a, const A& ca, std::size_t bytes, void* p) {
  { a.allocate(bytes) } -> std::same_as<void*>;
  { a.deallocate(p, bytes) } noexcept;
  { ca.stats() } noexcept -> std::convertible_to<allocator_stats>;
  { A::space } -> std::convertible_to<memory_space>;
};

} // namespace mmsb
