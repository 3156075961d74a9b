// P5 pages (BENCHMARKS.md): page alloc/free through mmsb::host_pool against glibc malloc,
// mimalloc and jemalloc.
//
//   P5/<lifo|random4096|churn256k|xthread>/<1KiB|4KiB>/<mmsb|malloc|mimalloc|jemalloc>
//
//   lifo        allocate one page, free it at once
//   random4096  allocate 4096 pages, free them in a random order (a fresh order each round)
//   churn256k   256 Ki pages live (MMSB_BENCH_P5_LIVE shrinks it for the smoke test); each step
//               frees a random one and allocates its replacement
//   xthread     this thread allocates, a second thread frees (pages cross threads in batches of 64)
//
// An operation is one allocation or one free; the benchmark's time per iteration is per
// operation. Operations are timed in blocks of 64 with the TSC (calibrated against steady_clock),
// and p50_ns / p99_ns are the percentiles of those per-operation block means. The pages are not
// touched by the benchmark, so each contender pays only for the memory it touches itself. mmsb
// also reports meta_B_per_page: slab metadata per block of that size.
//
// mimalloc and jemalloc replace malloc for a whole process when linked, so each peer is its own
// executable built from this file: MMSB_P5_PEER=1 (mimalloc) or 2 (jemalloc); 0 builds mmsb and
// malloc. mimalloc is called as mi_malloc_aligned(n, 64) / mi_free, jemalloc (unprefixed in
// Debian) as mallocx(n, MALLOCX_ALIGN(64)) / sdallocx(p, n, MALLOCX_ALIGN(64)), glibc as
// aligned_alloc(64, n) / free.
#include <mmsb/memory/host_pool.hpp>

#include <benchmark/benchmark.h>

#if !defined(MMSB_P5_PEER)
#  define MMSB_P5_PEER 0
#endif
#if MMSB_P5_PEER == 1
#  include <mimalloc.h>
#elif MMSB_P5_PEER == 2
#  include <jemalloc/jemalloc.h>
#endif
#if defined(__x86_64__)
#  include <x86intrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t block_ops = 64;  // operations per timed block

// ---- clock ---------------------------------------------------------------------------------
inline std::uint64_t ticks() noexcept
{
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
double ns_per_tick()
{
  static const double v = [] {
#if defined(__x86_64__)
    const auto t0 = std::chrono::steady_clock::now();
    const auto c0 = ticks();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const auto t1 = std::chrono::steady_clock::now();
    const auto c1 = ticks();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
#else
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::duration(1)).count();
#endif
  }();
  return v;
}

struct samples {
  std::vector<float> ns_per_op;
  void add(std::uint64_t dt, std::size_t ops)
  {
    ns_per_op.push_back(static_cast<float>(static_cast<double>(dt) * ns_per_tick() / static_cast<double>(ops)));
  }
  void report(benchmark::State& state)
  {
    if (ns_per_op.empty()) return;
    auto at = [&](double q) {
      const auto k = static_cast<std::size_t>(q * static_cast<double>(ns_per_op.size() - 1));
      std::nth_element(ns_per_op.begin(), ns_per_op.begin() + static_cast<std::ptrdiff_t>(k), ns_per_op.end());
      return static_cast<double>(ns_per_op[k]);
    };
    state.counters["p50_ns"] = at(0.50);
    state.counters["p99_ns"] = at(0.99);
  }
};

// ---- contenders ----------------------------------------------------------------------------
#if MMSB_P5_PEER == 0
struct mmsb_pool {
  static constexpr const char* name = "mmsb";
  static mmsb::host_pool& pool()
  {
    static mmsb::host_pool p;  // process-wide and warm across runs, as the peers' heaps are
    return p;
  }
  static void* alloc(std::size_t n) { return pool().allocate(n); }
  static void free(void* p, std::size_t n) noexcept { pool().deallocate(p, n); }
  static void annotate(benchmark::State& state, std::size_t n)
  {
    state.counters["meta_B_per_page"] = mmsb::host_pool::metadata_bytes_per_block(n);
  }
};
struct glibc_malloc {
  static constexpr const char* name = "malloc";
  static void* alloc(std::size_t n) { return std::aligned_alloc(mmsb::page_alignment, n); }
  static void free(void* p, std::size_t) noexcept { std::free(p); }
  static void annotate(benchmark::State&, std::size_t) {}
};
#elif MMSB_P5_PEER == 1
struct mimalloc_peer {
  static constexpr const char* name = "mimalloc";
  static void* alloc(std::size_t n) { return mi_malloc_aligned(n, mmsb::page_alignment); }
  static void free(void* p, std::size_t) noexcept { mi_free(p); }
  static void annotate(benchmark::State&, std::size_t) {}
};
#elif MMSB_P5_PEER == 2
struct jemalloc_peer {
  static constexpr const char* name = "jemalloc";
  static void* alloc(std::size_t n) { return mallocx(n, MALLOCX_ALIGN(mmsb::page_alignment)); }
  static void free(void* p, std::size_t n) noexcept { sdallocx(p, n, MALLOCX_ALIGN(mmsb::page_alignment)); }
  static void annotate(benchmark::State&, std::size_t) {}
};
#endif

std::size_t churn_live()
{
  const char* env = std::getenv("MMSB_BENCH_P5_LIVE");
  const std::size_t n = env && *env ? std::strtoull(env, nullptr, 0) : std::size_t{256} * 1024;
  return std::max<std::size_t>(n, 64);
}

// ---- workloads -----------------------------------------------------------------------------
template <class C>
void lifo(benchmark::State& state, std::size_t n)
{
  samples s;
  while (state.KeepRunningBatch(block_ops)) {
    const auto t0 = ticks();
    for (std::size_t k = 0; k < block_ops / 2; ++k) {
      void* p = C::alloc(n);
      benchmark::DoNotOptimize(p);
      C::free(p, n);
    }
    s.add(ticks() - t0, block_ops);
  }
  s.report(state);
  C::annotate(state, n);
}

template <class C>
void random4096(benchmark::State& state, std::size_t n)
{
  constexpr std::size_t live = 4096, orders = 8;
  std::vector<std::vector<std::uint32_t>> order(orders, std::vector<std::uint32_t>(live));
  std::mt19937_64 rng(0x5eed0005);
  for (auto& o : order) {
    std::iota(o.begin(), o.end(), 0u);
    std::shuffle(o.begin(), o.end(), rng);
  }
  std::vector<void*> pages(live);
  std::size_t pos = 0, round = 0;
  bool allocating = true;
  samples s;
  while (state.KeepRunningBatch(block_ops)) {
    const auto t0 = ticks();
    if (allocating) {
      for (std::size_t k = 0; k < block_ops; ++k) pages[pos + k] = C::alloc(n);
      benchmark::DoNotOptimize(pages.data());
    } else {
      const std::uint32_t* o = order[round % orders].data() + pos;
      for (std::size_t k = 0; k < block_ops; ++k) C::free(pages[o[k]], n);
    }
    s.add(ticks() - t0, block_ops);
    if ((pos += block_ops) == live) {
      pos = 0;
      round += allocating ? 0 : 1;
      allocating = !allocating;
    }
  }
  if (allocating) {
    for (std::size_t k = 0; k < pos; ++k) C::free(pages[k], n);
  } else {
    for (std::size_t k = pos; k < live; ++k) C::free(pages[order[round % orders][k]], n);
  }
  s.report(state);
  C::annotate(state, n);
}

template <class C>
void churn(benchmark::State& state, std::size_t n)
{
  const std::size_t live = churn_live();
  std::vector<void*> pages(live);
  for (auto& p : pages) p = C::alloc(n);
  std::vector<std::uint32_t> pick(std::size_t{1} << 20);
  std::mt19937_64 rng(0x5eed0005);
  for (auto& i : pick) i = static_cast<std::uint32_t>(rng() % live);
  std::size_t j = 0;
  samples s;
  while (state.KeepRunningBatch(block_ops)) {
    const auto t0 = ticks();
    for (std::size_t k = 0; k < block_ops / 2; ++k) {
      const auto i = pick[j++ & (pick.size() - 1)];
      C::free(pages[i], n);
      pages[i] = C::alloc(n);
    }
    benchmark::DoNotOptimize(pages.data());
    s.add(ticks() - t0, block_ops);
  }
  for (auto* p : pages) C::free(p, n);
  s.report(state);
  C::annotate(state, n);
}

// Batches of 64 pages travel from this thread (alloc) to a second one (free) through a ring.
template <class C>
void xthread(benchmark::State& state, std::size_t n)
{
  constexpr std::size_t ring = 64;
  struct alignas(64) slot {
    std::atomic<std::uint64_t> seq{0};  // 2k+1: full for round k; 2k+2: free again
    void* pages[block_ops];
  };
  std::vector<slot> slots(ring);
  std::atomic<bool> done{false};
  samples freeing;
  std::thread consumer([&] {
    for (std::uint64_t b = 0;; ++b) {
      slot& sl = slots[b % ring];
      const std::uint64_t full = 2 * (b / ring) + 1;
      while (sl.seq.load(std::memory_order_acquire) != full) {
        if (done.load(std::memory_order_acquire) && sl.seq.load(std::memory_order_acquire) != full) return;
        std::this_thread::yield();
      }
      const auto t0 = ticks();
      for (std::size_t k = 0; k < block_ops; ++k) C::free(sl.pages[k], n);
      freeing.add(ticks() - t0, block_ops);
      sl.seq.store(full + 1, std::memory_order_release);
    }
  });
  samples s;
  std::uint64_t b = 0;
  while (state.KeepRunningBatch(block_ops)) {
    slot& sl = slots[b % ring];
    while (sl.seq.load(std::memory_order_acquire) != 2 * (b / ring)) std::this_thread::yield();
    const auto t0 = ticks();
    for (std::size_t k = 0; k < block_ops; ++k) sl.pages[k] = C::alloc(n);
    s.add(ticks() - t0, block_ops);
    sl.seq.store(2 * (b / ring) + 1, std::memory_order_release);
    ++b;
  }
  // The consumer frees every batch published before `done`.
  while (slots[(b + ring - 1) % ring].seq.load(std::memory_order_acquire) % 2 != 0) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  consumer.join();
  s.ns_per_op.insert(s.ns_per_op.end(), freeing.ns_per_op.begin(), freeing.ns_per_op.end());
  s.report(state);
  C::annotate(state, n);
}

template <class C>
void register_contender()
{
  const std::pair<const char*, std::size_t> sizes[] = {{"1KiB", 1024}, {"4KiB", 4096}};
  using fn = void (*)(benchmark::State&, std::size_t);
  const std::pair<const char*, fn> workloads[] = {
    {"lifo", &lifo<C>}, {"random4096", &random4096<C>}, {"churn256k", &churn<C>}, {"xthread", &xthread<C>}};
  for (const auto& [w, f] : workloads)
    for (const auto& [label, bytes] : sizes) {
      const std::string name = std::string("P5/") + w + "/" + label + "/" + C::name;
      auto* b = benchmark::RegisterBenchmark(name.c_str(), f, bytes);
      b->UseRealTime();
    }
}

} // namespace

int main(int argc, char** argv)
{
  ns_per_tick();
#if MMSB_P5_PEER == 0
  register_contender<mmsb_pool>();
  register_contender<glibc_malloc>();
  benchmark::AddCustomContext("p5_meta_B_per_page", std::to_string(mmsb::host_pool::metadata_bytes_per_block(1024)) +
                                                      " (1 KiB), " +
                                                      std::to_string(mmsb::host_pool::metadata_bytes_per_block(4096)) +
                                                      " (4 KiB)");
#elif MMSB_P5_PEER == 1
  register_contender<mimalloc_peer>();
  benchmark::AddCustomContext("mimalloc_version", std::to_string(mi_version()));
#elif MMSB_P5_PEER == 2
  register_contender<jemalloc_peer>();
  {
    const char* v = nullptr;
    std::size_t len = sizeof(v);
    if (mallctl("version", &v, &len, nullptr, 0) == 0 && v) benchmark::AddCustomContext("jemalloc_version", v);
  }
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
