// cuda_device_pool: a stream-ordered pool of device memory for pages and batch buffers. Blocks
// come in size classes of 4 KiB pages times a power of two, carved from large slabs, so a page
// costs no cudaMalloc of its own and a freed block is reused. Opt-in: needs the CUDA runtime.
//
// How it differs from the host allocators (memory/allocator.hpp): it models page_allocator, but
// its blocks are device memory (memory_space::device) that the host must not dereference; fill
// and read them with copies or kernels. Alignment is 4 KiB (a page), beyond page_alignment.
//
// Stream order: the pool belongs to one stream. A block freed there is handed out again only to
// later work on the same stream, which the stream already orders after the block's earlier uses,
// so neither free nor reuse synchronizes, as with cudaMallocAsync on one stream. A caller that
// uses a block on another stream must order that stream first (an event), as with any
// stream-ordered allocator.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/cuda/detail.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mmsb {

// cuda_device_pool::pool_stats(): the allocator counters plus free-list hits and misses.
struct device_pool_stats {
  allocator_stats base;       // live (in use), reserved (taken from the device), failures, ...
  std::uint64_t hits = 0;     // allocations served from a free list
  std::uint64_t misses = 0;   // allocations that needed a new slab or a dedicated block
};

// The pool (see the top comment): a page_allocator of device memory, ordered on one stream.
// Thread-safe (one mutex); not copyable. Destroying it frees its slabs if nothing is live.
class cuda_device_pool {
public:
  static constexpr memory_space space = memory_space::device;  // device memory: not host-readable
  static constexpr std::size_t block_unit = 4096;              // one 4 KiB page
  static constexpr std::size_t classes = 15;                   // 4 KiB .. 64 MiB
  static constexpr std::size_t default_slab = std::size_t{2} << 20;  // 2 MiB, or one block if larger

  // limit_bytes: the most device memory the pool may reserve (0 = as much as the device gives).
  explicit cuda_device_pool(cudaStream_t stream = nullptr, std::size_t limit_bytes = 0) noexcept
    : stream_(stream), limit_(limit_bytes)
  {}
  cuda_device_pool(const cuda_device_pool&) = delete;
  cuda_device_pool& operator=(const cuda_device_pool&) = delete;
  ~cuda_device_pool() { release(); }

  // The stream the pool's blocks are ordered on (nullptr: the legacy default stream).
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

  // Throws mmsb::error (out_of_memory) naming the size when the device or the limit refuses;
  // the pool is then as it was (only the failure count moves).
  void* allocate(std::size_t bytes)
  {
    std::lock_guard lock(mutex_);
    const std::size_t c = class_of(bytes);
    if (c < classes && !free_[c].empty()) {
      void* p = free_[c].back();
      free_[c].pop_back();
      ++hits_;
      note_alloc(class_bytes(c));
      return p;
    }
    ++misses_;
    if (c >= classes) {  // larger than the largest class: a dedicated block
      const std::size_t size = round_up_to(bytes, block_unit);
      void* p = take(size, bytes);
      dedicated_.push_back({p, size});
      note_alloc(size);
      return p;
    }
    const std::size_t block = class_bytes(c);
    const std::size_t slab = block >= default_slab ? block : default_slab;
    char* base = static_cast<char*>(take(slab, bytes));
    slabs_.push_back({base, slab});
    // Reserve the free-list room first so that nothing below can throw with the slab half-filed.
    try {
      free_[c].reserve(free_[c].size() + slab / block);
    } catch (...) {
      slabs_.pop_back();
      (void)cudaFree(base);
      reserved_ -= slab;
      ++failures_;
      throw error(errc::out_of_memory, "cuda_device_pool: no host memory to index a slab for a block of " +
                                         std::to_string(bytes) + " bytes");
    }
    for (std::size_t off = slab; off > block; off -= block) free_[c].push_back(base + off - block);
    note_alloc(block);
    return base;
  }

  // bytes as passed to allocate. The block is reused by later work on this pool's stream.
  void deallocate(void* p, std::size_t bytes) noexcept
  {
    if (!p) return;
    std::lock_guard lock(mutex_);
    const std::size_t c = class_of(bytes);
    const std::size_t size = c < classes ? class_bytes(c) : round_up_to(bytes, block_unit);
    live_bytes_ -= size;
    --live_blocks_;
    ++frees_;
    if (c < classes) {
      free_[c].push_back(p);  // capacity was reserved when the slab was carved: cannot throw
      return;
    }
    for (auto& d : dedicated_)
      if (d.ptr == p) {  // dedicated blocks go back to the device
        (void)cudaFree(p);
        reserved_ -= d.bytes;
        d = dedicated_.back();
        dedicated_.pop_back();
        return;
      }
  }

  // The allocator counters; reserved_bytes is the device memory taken (slabs and dedicated blocks).
  [[nodiscard]] allocator_stats stats() const noexcept
  {
    std::lock_guard lock(mutex_);
    return base_stats();
  }
  // stats() plus how many allocations the free lists served (hits) and how many did not (misses).
  [[nodiscard]] device_pool_stats pool_stats() const noexcept
  {
    std::lock_guard lock(mutex_);
    return {base_stats(), hits_, misses_};
  }

  // Returns every slab to the device. Only when nothing is live (blocks would dangle otherwise).
  void release() noexcept
  {
    std::lock_guard lock(mutex_);
    if (live_blocks_ != 0) return;
    for (auto& s : slabs_) (void)cudaFree(s.ptr);
    for (auto& d : dedicated_) (void)cudaFree(d.ptr);
    slabs_.clear();
    dedicated_.clear();
    for (auto& f : free_) f.clear();
    reserved_ = 0;
  }

  // The block size of class c: 4 KiB << c.
  [[nodiscard]] static constexpr std::size_t class_bytes(std::size_t c) noexcept { return block_unit << c; }
  // The size class serving `bytes` (classes when none does).
  [[nodiscard]] static constexpr std::size_t class_of(std::size_t bytes) noexcept
  {
    std::size_t c = 0;
    while (c < classes && class_bytes(c) < bytes) ++c;
    return c;
  }

private:
  struct region {
    void* ptr;
    std::size_t bytes;
  };
  static constexpr std::size_t round_up_to(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

  void* take(std::size_t size, std::size_t asked)
  {
    if (limit_ != 0 && reserved_ + size > limit_) {
      ++failures_;
      throw error(errc::out_of_memory, "cuda_device_pool: a block of " + std::to_string(asked) +
                                         " bytes needs " + std::to_string(size) + " more bytes of device memory, past the pool's limit of " +
                                         std::to_string(limit_) + " (" + std::to_string(reserved_) + " reserved)");
    }
    // The index vectors must be able to grow before the device memory is taken.
    try {
      slabs_.reserve(slabs_.size() + 1);
      dedicated_.reserve(dedicated_.size() + 1);
    } catch (...) {
      ++failures_;
      throw error(errc::out_of_memory, "cuda_device_pool: no host memory to track a block of " + std::to_string(asked) + " bytes");
    }
    void* p = nullptr;
    if (const cudaError_t err = cudaMalloc(&p, size); err != cudaSuccess) {
      ++failures_;
      detail::throw_cuda_alloc(err, ("cuda_device_pool: cudaMalloc of a " + std::to_string(size) + "-byte region for a block").c_str(), asked);
    }
    reserved_ += size;
    return p;
  }
  void note_alloc(std::size_t size) noexcept
  {
    live_bytes_ += size;
    ++live_blocks_;
    ++allocations_;
    if (live_bytes_ > peak_) peak_ = live_bytes_;
  }
  allocator_stats base_stats() const noexcept
  {
    allocator_stats s;
    s.live_blocks = live_blocks_;
    s.live_bytes = live_bytes_;
    s.peak_bytes = peak_;
    s.allocations = allocations_;
    s.frees = frees_;
    s.failures = failures_;
    s.reserved_bytes = reserved_;
    return s;
  }

  cudaStream_t stream_;
  std::size_t limit_;
  mutable std::mutex mutex_;
  std::vector<void*> free_[classes];
  std::vector<region> slabs_, dedicated_;
  std::uint64_t live_blocks_ = 0, live_bytes_ = 0, peak_ = 0, allocations_ = 0, frees_ = 0, failures_ = 0;
  std::uint64_t reserved_ = 0, hits_ = 0, misses_ = 0;
};

static_assert(page_allocator<cuda_device_pool>);

} // namespace mmsb
