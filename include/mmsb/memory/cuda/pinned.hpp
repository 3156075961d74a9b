// cuda_pinned: page-locked host memory for staging uploads and downloads. The host reads and
// writes it like any memory; the GPU's copy engines reach it directly (no bounce buffer), and,
// because it is mapped, kernels can read it in place (the persistent kernel's command ring).
// Opt-in: needs the CUDA runtime.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/cuda/detail.hpp>

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mmsb {

// Models page_allocator. Pinning is expensive (a system call and page-table work per block), so
// callers keep staging buffers for the life of a stream rather than allocating per batch.
class cuda_pinned {
public:
  static constexpr memory_space space = memory_space::pinned;  // page-locked host memory

  // Throws mmsb::error (out_of_memory, naming the size) if the runtime refuses; stats unchanged
  // except failures.
  void* allocate(std::size_t bytes)
  {
    void* p = nullptr;
    if (const cudaError_t err = cudaHostAlloc(&p, bytes == 0 ? 1 : bytes, cudaHostAllocMapped | cudaHostAllocPortable);
        err != cudaSuccess) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      detail::throw_cuda_alloc(err, "cuda_pinned: cudaHostAlloc", bytes);
    }
    const auto live = live_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    for (auto peak = peak_.load(std::memory_order_relaxed); live > peak && !peak_.compare_exchange_weak(peak, live);) {}
    live_blocks_.fetch_add(1, std::memory_order_relaxed);
    allocations_.fetch_add(1, std::memory_order_relaxed);
    return p;
  }

  // Unpins and frees a block from allocate() (bytes as allocated); null is a no-op.
  void deallocate(void* p, std::size_t bytes) noexcept
  {
    if (!p) return;
    (void)cudaFreeHost(p);
    live_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    live_blocks_.fetch_sub(1, std::memory_order_relaxed);
    frees_.fetch_add(1, std::memory_order_relaxed);
  }

  // The counters now (relaxed loads: each field whole, the set possibly a little stale).
  [[nodiscard]] allocator_stats stats() const noexcept
  {
    allocator_stats s;
    s.live_blocks = live_blocks_.load(std::memory_order_relaxed);
    s.live_bytes = live_bytes_.load(std::memory_order_relaxed);
    s.peak_bytes = peak_.load(std::memory_order_relaxed);
    s.allocations = allocations_.load(std::memory_order_relaxed);
    s.frees = frees_.load(std::memory_order_relaxed);
    s.failures = failures_.load(std::memory_order_relaxed);
    s.reserved_bytes = s.live_bytes;
    return s;
  }

private:
  std::atomic<std::uint64_t> live_blocks_{0}, live_bytes_{0}, peak_{0}, allocations_{0}, frees_{0}, failures_{0};
};

static_assert(page_allocator<cuda_pinned>);

} // namespace mmsb
