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
//
// The non-template machinery is in memory/detail/host_pool_core.hpp and libmmsb.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/detail/host_pool_core.hpp>
#include <mmsb/memory/huge_pages.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <utility>

namespace mmsb {

// Where a pool's slabs and large blocks come from. allocate returns nullptr when it refuses.
template <class U>
concept slab_upstream = requires(U& u, std::size_t bytes, std::size_t alignment, void* p) {
  { u.allocate(bytes, alignment) } noexcept -> std::same_as<void*>;
  { u.deallocate(p, bytes, alignment) } noexcept;
};

// The default slab_upstream: aligned operator new and delete (nothrow). A large block (2 MiB or
// more, asked for with less alignment than that: not a slab) is a huge-page mapping of its own
// where the kernel offers them (memory/huge_pages.hpp). Slabs are not advised: a huge page would
// make a size class's first block cost 2 MiB of memory.
struct aligned_new_upstream {
  // `bytes` aligned to `alignment`, or nullptr when the system refuses.
  void* allocate(std::size_t bytes, std::size_t alignment) noexcept
  {
    if (huge(bytes, alignment)) return detail::map_huge_block(bytes);
    return ::operator new(bytes, std::align_val_t{alignment}, std::nothrow);
  }
  // Frees p, which allocate returned for these bytes and this alignment.
  void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept
  {
    if (huge(bytes, alignment)) detail::unmap_huge_block(p, bytes);
    else ::operator delete(p, std::align_val_t{alignment});
  }

private:
  static bool huge(std::size_t bytes, std::size_t alignment) noexcept
  {
    return alignment < huge_page_bytes && detail::is_huge_block(bytes);
  }
};
static_assert(slab_upstream<aligned_new_upstream>);

// The slab pool (see the top comment): a thread-safe page_allocator whose slabs and large blocks
// come from Upstream. Not copyable; destroying it returns every slab to the upstream.
template <slab_upstream Upstream = aligned_new_upstream>
class basic_host_pool {
public:
  static constexpr memory_space space = memory_space::host;            // plain host memory
  static constexpr std::size_t slab_bytes = detail::pool::slab_bytes;  // 2 MiB per slab
  static constexpr std::size_t max_class_bytes = detail::pool::max_small;  // larger: upstream

  basic_host_pool() = default;
  // A pool taking its slabs from `upstream` (moved in).
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

  // Sums every thread's counters (exact once users are quiescent; see Stats above).
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

  // The upstream the slabs come from.
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

// The host pool over aligned operator new: the usual host allocator.
using host_pool = basic_host_pool<>;

static_assert(page_allocator<host_pool>);

} // namespace mmsb
