// The size classes, slab metadata, thread caches and shared lists behind basic_host_pool
// (memory/host_pool.hpp, which describes the design). The fast paths (a thread's bin, the class
// table, the thread-local lookup) stay inline here; the lock-free batch stack, thread-cache
// registration and retirement, and stats are compiled once into libmmsb (src/memory/host_pool.cpp).
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/memory/allocator.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#  define MMSB_IMPL_POOL_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define MMSB_IMPL_POOL_ASAN 1
#  endif
#endif
#if defined(MMSB_IMPL_POOL_ASAN)
#  include <sanitizer/asan_interface.h>
// Free blocks are poisoned, so ASan reports a use after deallocate.
#  define MMSB_IMPL_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#  define MMSB_IMPL_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#  define MMSB_IMPL_POOL_POISON(p, n) static_cast<void>(0)
#  define MMSB_IMPL_POOL_UNPOISON(p, n) static_cast<void>(0)
#endif
// 1: no thread bins; every call goes to the global lock-free list (to re-measure the choice).
#if !defined(MMSB_IMPL_POOL_GLOBAL_ONLY)
#  define MMSB_IMPL_POOL_GLOBAL_ONLY 0
#endif

namespace mmsb::detail::pool {

inline constexpr std::size_t slab_bytes = std::size_t{1} << 21;
inline constexpr std::size_t class_count = 68;
inline constexpr std::size_t max_small = 65536;
inline constexpr std::uint32_t nil = 0xffffffffu;
inline constexpr std::size_t leaf_slots = 4096, dir_slots = 16;
inline constexpr std::uint32_t max_slabs = leaf_slots * dir_slots - 1;
inline constexpr std::size_t header_bytes = 64;
inline constexpr std::uint32_t bin_bytes = 128 * 1024;

struct class_info {
  std::uint32_t block;   // bytes
  std::uint32_t blocks;  // per slab
  std::uint32_t shift;   // id = slab << shift | block index
  std::uint32_t meta;    // header + links, rounded up to 64 B
  std::uint32_t cap;     // bin capacity
  std::uint32_t batch;   // blocks per batch: at most cap / 2, and the carrier holds block / 8
  std::uint64_t recip;   // offset / block == offset * recip >> 42 for every offset < 2 MiB
};

inline constexpr std::array<class_info, class_count> classes = [] {
  std::array<class_info, class_count> out{};
  for (std::size_t c = 0; c < class_count; ++c) {
    class_info& i = out[c];
    i.block = static_cast<std::uint32_t>(c < 64 ? (c + 1) * 64 : std::size_t{8192} << (c - 64));
    i.blocks = static_cast<std::uint32_t>(slab_bytes / i.block);
    i.shift = static_cast<std::uint32_t>(std::bit_width(i.blocks - 1));
    i.meta = static_cast<std::uint32_t>((header_bytes + 4 * i.blocks + 63) / 64 * 64);
    i.cap = std::clamp<std::uint32_t>(bin_bytes / i.block, 16, 256);
    i.batch = std::min(i.cap / 2, i.block / 8);
    i.recip = (std::uint64_t{1} << 42) / i.block + 1;
  }
  return out;
}();
inline constexpr std::uint32_t max_batch = 128;
static_assert(std::all_of(classes.begin(), classes.end(), [](const class_info& i) { return i.batch <= max_batch; }));
static_assert(classes[0].shift + std::bit_width(max_slabs) <= 32, "mmsb: block ids must fit 32 bits");

// bytes: a multiple of 64 in [64, max_small].
constexpr unsigned class_of(std::size_t bytes) noexcept
{
  const auto m = static_cast<std::uint32_t>(bytes >> 6);
  return m <= 64 ? m - 1 : 57 + static_cast<unsigned>(std::bit_width(m - 1));
}

constexpr std::uint64_t pack(std::uint32_t id, std::uint32_t tag) noexcept { return std::uint64_t{tag} << 32 | id; }

// At slab + slab_bytes: this header, then batch_next[blocks] (for a batch's carrier: the id of the
// batch below it on the stack).
struct slab_header {  // at a 2 MiB boundary; not alignas(64), which nvcc's placement new rejects
  std::uint32_t slab;
  std::uint32_t cls;
};
static_assert(sizeof(slab_header) <= header_bytes);
inline std::atomic<std::uint32_t>& batch_next(slab_header* h, std::uint32_t b) noexcept
{
  return reinterpret_cast<std::atomic<std::uint32_t>*>(reinterpret_cast<std::byte*>(h) + header_bytes)[b];
}
inline slab_header* header_of(void* p) noexcept
{
  return reinterpret_cast<slab_header*>((reinterpret_cast<std::uintptr_t>(p) & ~(slab_bytes - 1)) + slab_bytes);
}
inline std::byte* base_of(slab_header* h) noexcept { return reinterpret_cast<std::byte*>(h) - slab_bytes; }
inline std::uint32_t index_of(unsigned c, void* p) noexcept
{
  const auto offset = reinterpret_cast<std::uintptr_t>(p) & (slab_bytes - 1);
  return static_cast<std::uint32_t>(offset * classes[c].recip >> 42);
}

struct bin {
  std::uint32_t count = 0, cap = 0;  // cap stays 0 until this thread first uses the class
  void** slots = nullptr;
};

// Written by the owner thread only; relaxed atomics so that stats() may read them elsewhere.
inline void bump(std::atomic<std::uint64_t>& a, std::uint64_t d) noexcept
{
  a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

struct pool_core;

struct thread_cache {
  pool_core* pool = nullptr;  // guarded by registry_mutex(); null once the pool is gone
  std::uint64_t uid = 0;      // the pool's, never reused
  thread_cache* next_in_thread = nullptr;
  thread_cache *prev_in_pool = nullptr, *next_in_pool = nullptr;  // guarded by registry_mutex()
  std::atomic<std::uint64_t> allocations{0}, frees{0}, bytes_in{0}, bytes_out{0};
  std::int64_t unpublished = 0;  // live-byte change not yet added to pool_core::live
  std::array<bin, class_count> bins{};

  thread_cache() = default;
  thread_cache(const thread_cache&) = delete;
  thread_cache& operator=(const thread_cache&) = delete;
  ~thread_cache()
  {
    for (auto& b : bins) delete[] b.slots;
  }
  bool provision(unsigned c) noexcept  // false: out of memory, the caller bypasses the bin
  {
    bin& b = bins[c];
    if (!b.slots) {
      b.slots = new (std::nothrow) void*[classes[c].cap];
      b.cap = b.slots ? classes[c].cap : 0;
    }
    return b.slots != nullptr;
  }
};

struct tls_fast {
  std::uint64_t uid;
  thread_cache* cache;
  bool torn_down;  // this thread's caches are gone (thread exit): use the global lists only
};
inline thread_local tls_fast tls_last{0, nullptr, false};

struct thread_caches {
  thread_cache* head = nullptr;
  ~thread_caches();
};

inline std::atomic<std::uint64_t> next_uid{1};

struct alignas(64) class_state {
  std::atomic<std::uint64_t> head{pack(nil, 0)};
  alignas(64) std::atomic<std::atomic<slab_header*>*> dir[dir_slots]{};
  std::uint32_t slabs = 0;  // the rest: guarded by the pool mutex
  std::uint32_t fresh = 0;  // blocks of the newest slab not yet issued
};

struct pool_core {
  std::array<class_state, class_count> cls;
  const std::uint64_t uid = next_uid.fetch_add(1, std::memory_order_relaxed);
  std::mutex mutex;                // fresh blocks, slab refill and large blocks
  thread_cache* caches = nullptr;  // guarded by registry_mutex()
  // Retired thread caches, calls made without a bin, and large blocks.
  std::atomic<std::uint64_t> allocations{0}, frees{0}, bytes_in{0}, bytes_out{0};
  std::atomic<std::uint64_t> failures{0}, contended{0}, reserved{0}, peak{0};
  std::atomic<std::int64_t> live{0};  // live bytes as published at refill and flush

  slab_header* slab(unsigned c, std::uint32_t s) const noexcept
  {
    return cls[c].dir[s / leaf_slots].load(std::memory_order_acquire)[s % leaf_slots].load(std::memory_order_acquire);
  }

  void lock() noexcept
  {
    if (!mutex.try_lock()) {
      contended.fetch_add(1, std::memory_order_relaxed);
      mutex.lock();
    }
  }

  void publish(std::int64_t delta) noexcept
  {
    if (delta == 0) return;
    const auto now = live.fetch_add(delta, std::memory_order_relaxed) + delta;
    if (now <= 0) return;
    const auto v = static_cast<std::uint64_t>(now);
    for (auto p = peak.load(std::memory_order_relaxed);
         v > p && !peak.compare_exchange_weak(p, v, std::memory_order_relaxed);) {
    }
  }

  // Pushes blocks[0, n) as one batch; blocks[0] carries the rest.
  void push(unsigned c, void* const* blocks, std::uint32_t n) noexcept;

  // Pops one batch into out[0, n) and returns n; 0 when the class list is empty.
  std::uint32_t pop(unsigned c, void** out) noexcept;

  void flush(thread_cache& t, unsigned c) noexcept;

  // A thread cache leaves (its thread exits): blocks and counts go back to the pool.
  void retire(thread_cache& t) noexcept;

  // This thread's cache for this pool, made on first use; nullptr when none can be had (out of
  // memory, or the thread is exiting): the caller then uses the global lists directly.
  thread_cache* attach() noexcept
  {
    if (MMSB_IMPL_POOL_GLOBAL_ONLY || tls_last.torn_down) return nullptr;
    return attach_slow();
  }
  thread_cache* attach_slow() noexcept;  // finds or makes the cache (libmmsb)

  void detach_all() noexcept;

  allocator_stats stats() const noexcept;
};

} // namespace mmsb::detail::pool
