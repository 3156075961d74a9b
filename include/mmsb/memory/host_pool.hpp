// host_pool: a slab allocator per size class for host pages. basic_host_pool<Upstream> takes where
// slabs come from (a slab_upstream); host_pool takes them from aligned operator new.
//
// Design. 68 size classes: every multiple of 64 B up to 4 KiB (exact fit for pages), then 8, 16,
// 32 and 64 KiB. Larger blocks come from the upstream directly, under the pool mutex. A class
// takes 2 MiB slabs, aligned to 2 MiB, so the slab of a block is `p & ~(2 MiB - 1)`; its metadata
// sits just past the blocks: a 64 B header and one 32-bit link per block.
//
//   thread A bin (4 KiB): [p p p p p p . .]  --full: push the older half as one batch-->
//   thread B bin (4 KiB): [. . . . . . . .]  <--empty: pop one batch--   class 4 KiB head
//                                                                        (batch id, tag)
//   a batch = a free block carrying [count, pointers to the other blocks]   |
//   batches are stacked through the out-of-band links:       batch -> batch -> batch -> nil
//
//   fast path: a per-thread, per-pool bin of free blocks: no lock, no atomic read-modify-write.
//   return path: one lock-free stack of batches per class; its 64-bit head is a 32-bit block id
//     (slab << shift | block) and a 32-bit tag bumped by every push and pop (ABA-safe). A popper
//     that loses the race reads only the out-of-band link of the stale head; it reads a batch's
//     contents only once the CAS has made the batch its own (so ThreadSanitizer sees no race).
//   slow path: the pool mutex guards fresh blocks (each class issues its newest slab a batch at a
//     time), slab refill and large blocks; `contended` counts try_lock failures.
//
// Per-thread bins versus one global lock-free list, measured with bench/p5_pages on this 2-vCPU
// VM (p50 ns per operation, 1 KiB / 4 KiB pages, median of 5 runs; MMSB_IMPL_POOL_GLOBAL_ONLY=1
// builds the global variant: every allocate pops and every deallocate pushes a batch of one on
// the class head, and the counters are shared atomics):
//   LIFO pairs          per-thread  2.0 /  2.0   global  39 /  35
//   4096, random free   per-thread  2.7 /  4.5   global  53 /  61
//   256 Ki live churn   per-thread  3.4 /  3.4   global 136 / 279  (a push writes into the block)
//   cross-thread free   per-thread 10.8 / 19.1   global 286 / 279  (the head's line bounces)
// So the fast path is per thread. A block freed on another thread joins that thread's bin.
//
// Costs. Metadata: 4 B per block plus 64 B per slab, e.g. 4.1 B per 4 KiB page and 4.0 B per 1 KiB
// page (metadata_bytes_per_block(bytes) gives the figure, slab tail included, for any size).
// A thread keeps up to about 128 KiB of free blocks per class and pool it uses (16 to 256 blocks,
// so up to 1 MiB for the 64 KiB class). A class holds at most 65,535 slabs (128 GiB).
//
// Stats. allocations, frees and the live counts are exact once the threads using the pool are
// quiescent: each thread counts its own and stats() sums them. peak_bytes is taken when a thread
// refills or flushes a bin, so it can miss a brief peak by up to a bin per class and thread.
//
// Lifetime. Destroying the pool returns every slab to the upstream, including blocks still in
// use or cached by other threads. The caches of threads still running are detached then, and
// freed when those threads exit or next attach to a pool. A thread that exits gives its cached
// blocks back to every live pool it used. Large blocks not returned before destruction leak, as
// with host_heap.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/core/alignment.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <utility>

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

namespace mmsb {

// Where a pool's slabs and large blocks come from. allocate returns nullptr when it refuses.
template <class U>
concept slab_upstream = requires(U& u, std::size_t bytes, std::size_t alignment, void* p) {
  { u.allocate(bytes, alignment) } noexcept -> std::same_as<void*>;
  { u.deallocate(p, bytes, alignment) } noexcept;
};

struct aligned_new_upstream {
  void* allocate(std::size_t bytes, std::size_t alignment) noexcept
  {
    return ::operator new(bytes, std::align_val_t{alignment}, std::nothrow);
  }
  void deallocate(void* p, std::size_t, std::size_t alignment) noexcept
  {
    ::operator delete(p, std::align_val_t{alignment});
  }
};
static_assert(slab_upstream<aligned_new_upstream>);

namespace detail::pool {

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

inline std::mutex& registry_mutex() noexcept
{
  static std::mutex m;  // links between thread caches and pools; never on a fast path
  return m;
}

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
inline thread_local thread_caches tls_owned;

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
  void push(unsigned c, void* const* blocks, std::uint32_t n) noexcept
  {
    MMSB_ASSERT(n >= 1 && n <= classes[c].batch);
    void* carrier = blocks[0];
    const std::uint64_t count = n;
    MMSB_IMPL_POOL_UNPOISON(carrier, std::size_t{n} * 8);
    std::memcpy(carrier, &count, 8);
    std::memcpy(static_cast<std::byte*>(carrier) + 8, blocks + 1, std::size_t{n - 1} * 8);
    MMSB_IMPL_POOL_POISON(carrier, std::size_t{n} * 8);
    slab_header* h = header_of(carrier);
    const std::uint32_t b = index_of(c, carrier);
    MMSB_ASSERT(h->cls == c);
    const std::uint32_t id = h->slab << classes[c].shift | b;
    auto& head = cls[c].head;
    auto top = head.load(std::memory_order_relaxed);
    do {
      batch_next(h, b).store(static_cast<std::uint32_t>(top), std::memory_order_relaxed);
    } while (!head.compare_exchange_weak(top, pack(id, static_cast<std::uint32_t>(top >> 32) + 1),
                                         std::memory_order_release, std::memory_order_relaxed));
  }

  // Pops one batch into out[0, n) and returns n; 0 when the class list is empty.
  std::uint32_t pop(unsigned c, void** out) noexcept
  {
    const auto& ci = classes[c];
    auto& head = cls[c].head;
    const std::uint32_t mask = (1u << ci.shift) - 1;
    auto top = head.load(std::memory_order_acquire);
    slab_header* h;
    std::uint32_t id, below;
    // `below` is stale when another thread pops this batch first; the tag then fails the CAS.
    do {
      id = static_cast<std::uint32_t>(top);
      if (id == nil) return 0;
      h = slab(c, id >> ci.shift);
      below = batch_next(h, id & mask).load(std::memory_order_relaxed);
    } while (!head.compare_exchange_weak(top, pack(below, static_cast<std::uint32_t>(top >> 32) + 1),
                                         std::memory_order_acq_rel, std::memory_order_acquire));
    void* carrier = base_of(h) + std::size_t{id & mask} * ci.block;
    std::uint64_t n;
    MMSB_IMPL_POOL_UNPOISON(carrier, ci.batch * std::size_t{8});
    std::memcpy(&n, carrier, 8);
    MMSB_ASSERT(n >= 1 && n <= ci.batch);
    out[0] = carrier;
    std::memcpy(out + 1, static_cast<std::byte*>(carrier) + 8, (n - 1) * 8);
    MMSB_IMPL_POOL_POISON(carrier, ci.batch * std::size_t{8});
    return static_cast<std::uint32_t>(n);
  }

  void flush(thread_cache& t, unsigned c) noexcept
  {
    bin& b = t.bins[c];
    const std::uint32_t n = classes[c].batch;
    push(c, b.slots, n);  // the older blocks; the recently freed, cache-hot ones stay
    std::memmove(b.slots, b.slots + n, (b.count - n) * sizeof(void*));
    b.count -= n;
    publish(std::exchange(t.unpublished, 0));
  }

  // A thread cache leaves (its thread exits): blocks and counts go back to the pool.
  void retire(thread_cache& t) noexcept
  {
    for (unsigned c = 0; c < class_count; ++c) {
      bin& b = t.bins[c];
      for (std::uint32_t k = 0; k < b.count; k += classes[c].batch)
        push(c, b.slots + k, std::min(classes[c].batch, b.count - k));
      b.count = 0;
    }
    allocations.fetch_add(t.allocations.load(std::memory_order_relaxed), std::memory_order_relaxed);
    frees.fetch_add(t.frees.load(std::memory_order_relaxed), std::memory_order_relaxed);
    bytes_in.fetch_add(t.bytes_in.load(std::memory_order_relaxed), std::memory_order_relaxed);
    bytes_out.fetch_add(t.bytes_out.load(std::memory_order_relaxed), std::memory_order_relaxed);
    publish(std::exchange(t.unpublished, 0));
    (t.prev_in_pool ? t.prev_in_pool->next_in_pool : caches) = t.next_in_pool;
    if (t.next_in_pool) t.next_in_pool->prev_in_pool = t.prev_in_pool;
    t.pool = nullptr;
  }

  // This thread's cache for this pool, made on first use; nullptr when none can be had (out of
  // memory, or the thread is exiting): the caller then uses the global lists directly.
  thread_cache* attach() noexcept
  {
    if (MMSB_IMPL_POOL_GLOBAL_ONLY || tls_last.torn_down) return nullptr;
    auto& owned = tls_owned;
    for (thread_cache* t = owned.head; t; t = t->next_in_thread)
      if (t->uid == uid) {
        tls_last = {uid, t, false};
        return t;
      }
    auto* t = new (std::nothrow) thread_cache;
    if (!t) return nullptr;
    std::lock_guard<std::mutex> lk(registry_mutex());
    for (thread_cache** link = &owned.head; *link;) {  // drop caches of destroyed pools
      if ((*link)->pool) {
        link = &(*link)->next_in_thread;
      } else {
        thread_cache* dead = *link;
        *link = dead->next_in_thread;
        delete dead;
      }
    }
    t->pool = this;
    t->uid = uid;
    t->next_in_thread = owned.head;
    owned.head = t;
    t->next_in_pool = caches;
    if (caches) caches->prev_in_pool = t;
    caches = t;
    tls_last = {uid, t, false};
    return t;
  }

  void detach_all() noexcept
  {
    std::lock_guard<std::mutex> lk(registry_mutex());
    for (thread_cache* t = caches; t; t = t->next_in_pool) t->pool = nullptr;
    caches = nullptr;
  }

  allocator_stats stats() const noexcept
  {
    std::uint64_t a = allocations.load(std::memory_order_relaxed), f = frees.load(std::memory_order_relaxed);
    std::uint64_t in = bytes_in.load(std::memory_order_relaxed), out = bytes_out.load(std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(registry_mutex());
      for (const thread_cache* t = caches; t; t = t->next_in_pool) {
        a += t->allocations.load(std::memory_order_relaxed);
        f += t->frees.load(std::memory_order_relaxed);
        in += t->bytes_in.load(std::memory_order_relaxed);
        out += t->bytes_out.load(std::memory_order_relaxed);
      }
    }
    allocator_stats s;
    s.allocations = a;
    s.frees = f;
    s.live_blocks = a > f ? a - f : 0;  // counters read one by one may be skewed under concurrency
    s.live_bytes = in > out ? in - out : 0;
    s.peak_bytes = std::max(peak.load(std::memory_order_relaxed), s.live_bytes);
    s.failures = failures.load(std::memory_order_relaxed);
    s.contended = contended.load(std::memory_order_relaxed);
    s.reserved_bytes = reserved.load(std::memory_order_relaxed);
    return s;
  }
};

inline thread_caches::~thread_caches()
{
  tls_last = {0, nullptr, true};
  std::lock_guard<std::mutex> lk(registry_mutex());
  while (thread_cache* t = head) {
    head = t->next_in_thread;
    if (t->pool) t->pool->retire(*t);
    delete t;
  }
}

} // namespace detail::pool

template <slab_upstream Upstream = aligned_new_upstream>
class basic_host_pool {
public:
  static constexpr memory_space space = memory_space::host;
  static constexpr std::size_t slab_bytes = detail::pool::slab_bytes;
  static constexpr std::size_t max_class_bytes = detail::pool::max_small;  // larger: upstream

  basic_host_pool() = default;
  explicit basic_host_pool(Upstream upstream) : upstream_(std::move(upstream)) {}
  basic_host_pool(const basic_host_pool&) = delete;
  basic_host_pool& operator=(const basic_host_pool&) = delete;

  ~basic_host_pool()
  {
    namespace p = detail::pool;
    core_.detach_all();
    for (unsigned c = 0; c < p::class_count; ++c) {
      for (std::uint32_t s = 0; s < core_.cls[c].slabs; ++s) {
        std::byte* base = p::base_of(core_.slab(c, s));
        MMSB_IMPL_POOL_UNPOISON(base, slab_bytes);
        upstream_.deallocate(base, slab_bytes + p::classes[c].meta, slab_bytes);
      }
      for (auto& leaf : core_.cls[c].dir) delete[] leaf.load(std::memory_order_relaxed);
    }
  }

  // bytes: a positive multiple of page_alignment. Throws error(out_of_memory) when the upstream
  // refuses a slab or a large block; the pool is then unchanged but for stats().failures.
  void* allocate(std::size_t bytes)
  {
    namespace p = detail::pool;
    if (MMSB_LIKELY(bytes - 1 < p::max_small)) {
      if (MMSB_UNLIKELY(bytes % page_alignment != 0)) bad_size(bytes);
      const unsigned c = p::class_of(bytes);
      const p::tls_fast& t = p::tls_last;
      p::thread_cache* tc = t.uid == core_.uid ? t.cache : core_.attach();
      if (MMSB_LIKELY(tc != nullptr)) {
        p::bin& b = tc->bins[c];
        if (MMSB_LIKELY(b.count != 0)) {
          void* block = b.slots[--b.count];
          p::bump(tc->allocations, 1);
          p::bump(tc->bytes_in, bytes);
          tc->unpublished += static_cast<std::int64_t>(bytes);
          MMSB_IMPL_POOL_UNPOISON(block, bytes);
          return block;
        }
      }
      return refill(tc, c, bytes);
    }
    return allocate_large(bytes);
  }

  // ptr from allocate(bytes) on this pool, on any thread.
  void deallocate(void* ptr, std::size_t bytes) noexcept
  {
    namespace p = detail::pool;
    if (!ptr) return;
    MMSB_EXPECTS(bytes != 0 && bytes % page_alignment == 0);
    if (MMSB_LIKELY(bytes - 1 < p::max_small)) {
      const unsigned c = p::class_of(bytes);
      MMSB_IMPL_POOL_POISON(ptr, p::classes[c].block);
      const p::tls_fast& t = p::tls_last;
      p::thread_cache* tc = t.uid == core_.uid ? t.cache : core_.attach();
      if (MMSB_UNLIKELY(tc == nullptr || (tc->bins[c].count == tc->bins[c].cap && !make_room(*tc, c)))) {
        core_.push(c, &ptr, 1);  // no bin to keep it in: straight to the global list
        core_.frees.fetch_add(1, std::memory_order_relaxed);
        core_.bytes_out.fetch_add(bytes, std::memory_order_relaxed);
        core_.publish(pending() - static_cast<std::int64_t>(bytes));
        return;
      }
      p::bin& b = tc->bins[c];
      b.slots[b.count++] = ptr;
      p::bump(tc->frees, 1);
      p::bump(tc->bytes_out, bytes);
      tc->unpublished -= static_cast<std::int64_t>(bytes);
      return;
    }
    deallocate_large(ptr, bytes);
  }

  [[nodiscard]] allocator_stats stats() const noexcept { return core_.stats(); }

  // Slab bytes that are not blocks (metadata and tail), per block, for a request of `bytes`
  // (<= max_class_bytes; 0 above, where the upstream decides).
  [[nodiscard]] static constexpr double metadata_bytes_per_block(std::size_t bytes) noexcept
  {
    if (bytes == 0 || bytes > max_class_bytes) return 0;
    const auto& ci = detail::pool::classes[detail::pool::class_of((bytes + 63) / 64 * 64)];
    return static_cast<double>(slab_bytes + ci.meta - std::size_t{ci.blocks} * ci.block) / ci.blocks;
  }
  // The block size a request of `bytes` (<= max_class_bytes) is served from.
  [[nodiscard]] static constexpr std::size_t class_bytes(std::size_t bytes) noexcept
  {
    return detail::pool::classes[detail::pool::class_of((bytes + 63) / 64 * 64)].block;
  }

  [[nodiscard]] Upstream& upstream() noexcept { return upstream_; }

private:
  [[noreturn]] static void bad_size(std::size_t bytes)
  {
    throw error(errc::invalid_argument, "host_pool: block size " + std::to_string(bytes) +
                                          " is not a positive multiple of " + std::to_string(page_alignment));
  }

  // This thread's unpublished live-byte change, folded into a direct publish so that peak_bytes
  // never counts a block twice.
  std::int64_t pending() noexcept
  {
    const auto& t = detail::pool::tls_last;
    return t.uid == core_.uid ? std::exchange(t.cache->unpublished, 0) : 0;
  }

  // A full bin flushes a batch; a bin not used before gets its slots. False: out of memory.
  bool make_room(detail::pool::thread_cache& tc, unsigned c) noexcept
  {
    if (!tc.bins[c].slots) return tc.provision(c);
    core_.flush(tc, c);
    return true;
  }

  void* refill(detail::pool::thread_cache* tc, unsigned c, std::size_t bytes)
  {
    namespace p = detail::pool;
    if (tc && !tc->provision(c)) tc = nullptr;
    void* spare[p::max_batch];
    void** out = tc ? tc->bins[c].slots : spare;
    std::uint32_t n = core_.pop(c, out);
    if (n == 0) n = fresh(c, bytes, out);  // throws, changing nothing but the failure count
    void* block = out[--n];
    if (tc) {
      tc->bins[c].count = n;
      p::bump(tc->allocations, 1);
      p::bump(tc->bytes_in, bytes);
      core_.publish(std::exchange(tc->unpublished, 0) + static_cast<std::int64_t>(bytes));
    } else {  // no bin: give the rest of the batch back
      if (n != 0) core_.push(c, out, n);
      core_.allocations.fetch_add(1, std::memory_order_relaxed);
      core_.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
      core_.publish(pending() + static_cast<std::int64_t>(bytes));
    }
    MMSB_IMPL_POOL_UNPOISON(block, bytes);
    return block;
  }

  // Under the mutex: a batch pushed meanwhile, else a batch of fresh blocks from the newest slab,
  // taking a new slab from the upstream when that one is used up.
  std::uint32_t fresh(unsigned c, std::size_t bytes, void** out)
  {
    namespace p = detail::pool;
    const auto& ci = p::classes[c];
    auto& cs = core_.cls[c];
    core_.lock();
    std::lock_guard<std::mutex> lk(core_.mutex, std::adopt_lock);
    if (const auto n = core_.pop(c, out); n != 0) return n;
    if (cs.fresh == 0) add_slab(c, bytes);
    std::byte* next = p::base_of(core_.slab(c, cs.slabs - 1)) + std::size_t{ci.blocks - cs.fresh} * ci.block;
    const std::uint32_t n = std::min(cs.fresh, ci.batch);
    for (std::uint32_t k = 0; k < n; ++k) out[n - 1 - k] = next + std::size_t{k} * ci.block;  // lowest first out
    cs.fresh -= n;
    return n;
  }

  void add_slab(unsigned c, std::size_t bytes)  // mutex held
  {
    namespace p = detail::pool;
    const auto& ci = p::classes[c];
    auto& cs = core_.cls[c];
    const std::uint32_t s = cs.slabs;
    auto* leaf = s < p::max_slabs ? cs.dir[s / p::leaf_slots].load(std::memory_order_relaxed) : nullptr;
    if (s < p::max_slabs && !leaf) {
      leaf = new (std::nothrow) std::atomic<p::slab_header*>[p::leaf_slots];
      if (leaf) cs.dir[s / p::leaf_slots].store(leaf, std::memory_order_release);
    }
    void* mem = leaf ? upstream_.allocate(slab_bytes + ci.meta, slab_bytes) : nullptr;
    if (!mem) {
      core_.failures.fetch_add(1, std::memory_order_relaxed);
      throw error(errc::out_of_memory, "host_pool: could not reserve a slab of " + std::to_string(slab_bytes + ci.meta) +
                                         " bytes for blocks of " + std::to_string(bytes) + " bytes (size class " +
                                         std::to_string(ci.block) + ")");
    }
    MMSB_ASSERT((reinterpret_cast<std::uintptr_t>(mem) & (slab_bytes - 1)) == 0);
    auto* h = ::new (static_cast<std::byte*>(mem) + slab_bytes) p::slab_header{s, c};
    for (std::uint32_t b = 0; b < ci.blocks; ++b)
      ::new (&p::batch_next(h, b)) std::atomic<std::uint32_t>(p::nil);
    MMSB_IMPL_POOL_POISON(mem, slab_bytes);
    leaf[s % p::leaf_slots].store(h, std::memory_order_release);
    cs.slabs = s + 1;
    cs.fresh = ci.blocks;
    core_.reserved.fetch_add(slab_bytes + ci.meta, std::memory_order_relaxed);
  }

  void* allocate_large(std::size_t bytes)
  {
    if (bytes == 0 || bytes % page_alignment != 0) bad_size(bytes);
    void* block;
    {
      core_.lock();
      std::lock_guard<std::mutex> lk(core_.mutex, std::adopt_lock);
      block = upstream_.allocate(bytes, page_alignment);
    }
    if (!block) {
      core_.failures.fetch_add(1, std::memory_order_relaxed);
      throw error(errc::out_of_memory, "host_pool: could not allocate a block of " + std::to_string(bytes) + " bytes");
    }
    core_.reserved.fetch_add(bytes, std::memory_order_relaxed);
    core_.allocations.fetch_add(1, std::memory_order_relaxed);
    core_.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
    core_.publish(pending() + static_cast<std::int64_t>(bytes));
    return block;
  }

  void deallocate_large(void* ptr, std::size_t bytes) noexcept
  {
    {
      core_.lock();
      std::lock_guard<std::mutex> lk(core_.mutex, std::adopt_lock);
      upstream_.deallocate(ptr, bytes, page_alignment);
    }
    core_.reserved.fetch_sub(bytes, std::memory_order_relaxed);
    core_.frees.fetch_add(1, std::memory_order_relaxed);
    core_.bytes_out.fetch_add(bytes, std::memory_order_relaxed);
    core_.publish(pending() - static_cast<std::int64_t>(bytes));
  }

  detail::pool::pool_core core_;
  [[no_unique_address]] Upstream upstream_;
};

using host_pool = basic_host_pool<>;

static_assert(page_allocator<host_pool>);

} // namespace mmsb
