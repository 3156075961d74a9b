// cuda_managed: unified (managed) memory with prefetch hints. The host and the GPU both touch it;
// pages migrate on demand, or ahead of use with prefetch(). Opt-in: needs the CUDA runtime.
//
// Never asks for more than cudaMemGetInfo reports free on the device: oversubscribed managed
// memory can hang the GPU, not just this process, so such a request is refused up front with
// mmsb::error (out_of_memory) naming the size and what was free.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/cuda/detail.hpp>

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mmsb {

// A page_allocator of CUDA managed memory (cudaMallocManaged, attached globally): readable and
// writable in place by the host and by kernels. Thread-safe (atomic counters).
class cuda_managed {
public:
  static constexpr memory_space space = memory_space::managed;  // host and device reach it

  // `device`: the GPU that prefetch_to_device() moves blocks to. Allocates nothing yet.
  explicit cuda_managed(int device = 0) noexcept : device_(device) {}

  // A managed block of `bytes`. Throws mmsb::error naming the size: out_of_memory when it exceeds
  // the device's free memory or the runtime refuses, device_error for other CUDA failures.
  void* allocate(std::size_t bytes)
  {
    std::size_t free_bytes = 0, total = 0;
    if (const cudaError_t err = cudaMemGetInfo(&free_bytes, &total); err != cudaSuccess) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      detail::throw_cuda_alloc(err, "cuda_managed: cudaMemGetInfo before a request", bytes);
    }
    if (bytes > free_bytes) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      throw error(errc::out_of_memory, "cuda_managed: refused a request of " + std::to_string(bytes) +
                                         " bytes: the device reports only " + std::to_string(free_bytes) +
                                         " bytes free (managed memory is never oversubscribed)");
    }
    void* p = nullptr;
    if (const cudaError_t err = cudaMallocManaged(&p, bytes == 0 ? 1 : bytes, cudaMemAttachGlobal); err != cudaSuccess) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      detail::throw_cuda_alloc(err, "cuda_managed: cudaMallocManaged", bytes);
    }
    live_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    live_blocks_.fetch_add(1, std::memory_order_relaxed);
    allocations_.fetch_add(1, std::memory_order_relaxed);
    return p;
  }

  // Frees a block from allocate() (bytes as allocated); null is a no-op. cudaFree synchronizes.
  void deallocate(void* p, std::size_t bytes) noexcept
  {
    if (!p) return;
    (void)cudaFree(p);
    live_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    live_blocks_.fetch_sub(1, std::memory_order_relaxed);
    frees_.fetch_add(1, std::memory_order_relaxed);
  }

  // Hints: move [p, p + bytes) to the device (or back to the host) ahead of use, in stream order.
  // A hint that fails is reported (device_error) but never changes the data.
  void prefetch_to_device(const void* p, std::size_t bytes, cudaStream_t stream = nullptr) const
  {
    prefetch(p, bytes, cudaMemLocation{cudaMemLocationTypeDevice, device_}, stream);
  }
  // Hint: move [p, p + bytes) back to host memory ahead of use, in stream order; device_error
  // if it fails, the data unchanged.
  void prefetch_to_host(const void* p, std::size_t bytes, cudaStream_t stream = nullptr) const
  {
    prefetch(p, bytes, cudaMemLocation{cudaMemLocationTypeHost, 0}, stream);
  }

  // The counters now; peak_bytes is not tracked here and reports live_bytes.
  [[nodiscard]] allocator_stats stats() const noexcept
  {
    allocator_stats s;
    s.live_blocks = live_blocks_.load(std::memory_order_relaxed);
    s.live_bytes = live_bytes_.load(std::memory_order_relaxed);
    s.peak_bytes = s.live_bytes;
    s.allocations = allocations_.load(std::memory_order_relaxed);
    s.frees = frees_.load(std::memory_order_relaxed);
    s.failures = failures_.load(std::memory_order_relaxed);
    s.reserved_bytes = s.live_bytes;
    return s;
  }

private:
  static void prefetch(const void* p, std::size_t bytes, cudaMemLocation where, cudaStream_t stream)
  {
    if (const cudaError_t err = cudaMemPrefetchAsync(p, bytes, where, 0, stream); err != cudaSuccess) {
      (void)cudaGetLastError();
      throw error(errc::device_error, "cuda_managed: prefetch of " + std::to_string(bytes) + " bytes failed: " +
                                        detail::cuda_message(err));
    }
  }

  int device_;
  std::atomic<std::uint64_t> live_blocks_{0}, live_bytes_{0}, allocations_{0}, frees_{0}, failures_{0};
};

static_assert(page_allocator<cuda_managed>);

} // namespace mmsb
