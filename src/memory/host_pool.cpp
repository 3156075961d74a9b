// host_pool (include/mmsb/memory/host_pool.hpp): the compiled part of the pool core
// (memory/detail/host_pool_core.hpp): the lock-free batch stack of each size class, thread-cache
// registration and retirement, and stats.
#include <mmsb/memory/detail/host_pool_core.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace mmsb::detail::pool {
namespace {

std::mutex& registry_mutex() noexcept
{
  static std::mutex m;  // links between thread caches and pools; never on a fast path
  return m;
}

thread_local thread_caches tls_owned;  // this thread's caches, one per pool it used

} // namespace

void pool_core::push(unsigned c, void* const* blocks, std::uint32_t n) noexcept
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

std::uint32_t pool_core::pop(unsigned c, void** out) noexcept
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

void pool_core::flush(thread_cache& t, unsigned c) noexcept
{
  bin& b = t.bins[c];
  const std::uint32_t n = classes[c].batch;
  push(c, b.slots, n);  // the older blocks; the recently freed, cache-hot ones stay
  std::memmove(b.slots, b.slots + n, (b.count - n) * sizeof(void*));
  b.count -= n;
  publish(std::exchange(t.unpublished, 0));
}

void pool_core::retire(thread_cache& t) noexcept
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

thread_cache* pool_core::attach_slow() noexcept
{
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

void pool_core::detach_all() noexcept
{
  std::lock_guard<std::mutex> lk(registry_mutex());
  for (thread_cache* t = caches; t; t = t->next_in_pool) t->pool = nullptr;
  caches = nullptr;
}

allocator_stats pool_core::stats() const noexcept
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

thread_caches::~thread_caches()
{
  tls_last = {0, nullptr, true};
  std::lock_guard<std::mutex> lk(registry_mutex());
  while (thread_cache* t = head) {
    head = t->next_in_thread;
    if (t->pool) t->pool->retire(*t);
    delete t;
  }
}

} // namespace mmsb::detail::pool
