// The reference lines every benchmark report starts with (BENCHMARKS.md): STREAM-copy bandwidth
// on one thread and the core-to-core cache-line round trip, so a reader can see what state this
// shared, noisy machine was in when the ratios were taken.
//
//   mmsb_bench_reference [--stream-mib N] [--smoke]
//
// Prints one `key value unit` line per measurement; bench/report parses them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>

namespace {

using clock_type = std::chrono::steady_clock;

struct free_deleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

// STREAM's copy kernel, c[j] = a[j]. Kept a loop (not a memcpy call) so it is the same kind of
// code STREAM times; bench/p1_apply.cpp's stream_copy contender uses the same loop.
#if defined(__clang__)
__attribute__((noinline)) void
#else
__attribute__((noinline, optimize("no-tree-loop-distribute-patterns"))) void
#endif
stream_copy(double* __restrict c, const double* __restrict a, std::size_t n) noexcept
{
  for (std::size_t j = 0; j < n; ++j) c[j] = a[j];
}

// Best of `passes` copies of an array of `bytes`; STREAM counts the bytes read plus the bytes
// written, so GB/s = 2 * bytes / time.
double stream_copy_gbps(std::size_t bytes, int passes)
{
  const std::size_t n = bytes / sizeof(double);
  std::unique_ptr<double, free_deleter> a(static_cast<double*>(std::aligned_alloc(4096, n * sizeof(double))));
  std::unique_ptr<double, free_deleter> c(static_cast<double*>(std::aligned_alloc(4096, n * sizeof(double))));
  if (!a || !c) return 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    a.get()[j] = 1.0 + static_cast<double>(j % 1000);
    c.get()[j] = 0.0;
  }
  double best = 1e300;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = clock_type::now();
    stream_copy(c.get(), a.get(), n);
    const auto t1 = clock_type::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  if (std::memcmp(a.get(), c.get(), n * sizeof(double)) != 0) {
    std::fprintf(stderr, "mmsb_bench_reference: stream copy produced wrong bytes\n");
    std::exit(1);
  }
  return 2.0 * static_cast<double>(n * sizeof(double)) / best / 1e9;
}

bool pin_to(int cpu)
{
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

inline void spin_pause() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Median over `batches` of the mean round trip of an atomic ping-ponged between two threads on
// two different CPUs. Returns a negative value when two CPUs are not available.
double c2c_round_trip_ns(int batches, int trips)
{
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1.0;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2) return -1.0;

  alignas(64) std::atomic<std::uint64_t> flag{0};
  std::vector<double> results;
  const int total = batches * trips;
  std::thread echo([&] {
    pin_to(cpus[1]);
    for (std::uint64_t i = 1; i <= static_cast<std::uint64_t>(total); ++i) {
      while (flag.load(std::memory_order_acquire) != 2 * i - 1) spin_pause();
      flag.store(2 * i, std::memory_order_release);
    }
  });
  pin_to(cpus[0]);
  std::uint64_t i = 1;
  for (int b = 0; b < batches; ++b) {
    const auto t0 = clock_type::now();
    for (int t = 0; t < trips; ++t, ++i) {
      flag.store(2 * i - 1, std::memory_order_release);
      while (flag.load(std::memory_order_acquire) != 2 * i) spin_pause();
    }
    const auto t1 = clock_type::now();
    results.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / trips);
  }
  echo.join();
  std::sort(results.begin(), results.end());
  return results[results.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
  std::size_t stream_mib = 256;  // per array: 512 MiB moved per pass, larger than any cache here
  int passes = 5, batches = 9, trips = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--smoke") {
      stream_mib = 4; passes = 1; batches = 1; trips = 1000;
    } else if (arg == "--stream-mib" && i + 1 < argc) {
      stream_mib = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--stream-mib N] [--smoke]\n", argv[0]);
      return 2;
    }
  }
  if (stream_mib == 0) stream_mib = 1;
  std::printf("stream_copy_1t %.2f GB/s\n", stream_copy_gbps(stream_mib << 20, passes));
  const double rt = c2c_round_trip_ns(batches, trips);
  if (rt < 0) std::printf("c2c_round_trip n/a ns\n");
  else std::printf("c2c_round_trip %.1f ns\n", rt);
  return 0;
}
