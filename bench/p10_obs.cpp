// P10 observability costs (BENCHMARKS.md): what one recording costs on the owner thread, against
// the cheapest way to do the same by hand. (P10/end_to_end_64B, metrics on against off over P9's
// whole workload, is in p9_end_to_end.cpp.)
//
//   P10/trace_zone/mmsb             one trace zone (core/trace.hpp): a trace_scope into an
//                                   obs::tracer's buffer, begin and end from the TSC; the goal is
//                                   <= 10 ns a zone
//   P10/trace_zone/steady_clock     two std::chrono::steady_clock::now() reads, the time of one
//                                   zone taken by hand (nothing stored)
//   P10/trace_zone/rdtsc_pair       two time-stamp counter reads (x86-64 only): the physical
//                                   limit of a zone with a begin and an end on this clock
//   P10/counter_add/mmsb            metrics_sink::add into a registry's block (this thread's shard)
//   P10/counter_add/atomic_add      one relaxed fetch_add on a std::atomic<uint64_t>
//   P10/histogram_observe/mmsb      metrics_sink::observe of a duration (bucket and sum)
//   P10/histogram_observe/atomic_add  two relaxed fetch_adds (a bucket and a sum), no bucket search
//
// Each iteration is one recording; the time per iteration is the cost.
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/obs/registry.hpp>
#include <mmsb/obs/trace.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>

namespace {

void trace_zone_mmsb(benchmark::State& state)
{
  mmsb::obs::tracer tr({.threads = 4, .events_per_thread = 1 << 12, .sample_every = 1});
  const mmsb::trace_sink sink = tr.sink();
  std::uint64_t n = 0;
  for (auto _ : state) {
    const mmsb::trace_scope zone(sink, mmsb::trace_zone::level, n++);
  }
  benchmark::DoNotOptimize(tr.recorded());
}

void trace_zone_steady_clock(benchmark::State& state)
{
  for (auto _ : state) {
    const auto a = std::chrono::steady_clock::now();
    const auto b = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}

#if defined(__x86_64__)
void trace_zone_rdtsc_pair(benchmark::State& state)
{
  for (auto _ : state) {
    const std::uint64_t a = __rdtsc();
    const std::uint64_t b = __rdtsc();
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}
#endif

void counter_add_mmsb(benchmark::State& state)
{
  mmsb::obs::registry reg;
  const mmsb::metrics_sink sink = reg.sink();
  for (auto _ : state) sink.add(mmsb::metric_counter::changes, 3);
  benchmark::DoNotOptimize(reg.snapshot());
}

void counter_add_atomic(benchmark::State& state)
{
  std::atomic<std::uint64_t> c{0};
  for (auto _ : state) c.fetch_add(3, std::memory_order_relaxed);
  benchmark::DoNotOptimize(c.load());
}

void histogram_observe_mmsb(benchmark::State& state)
{
  mmsb::obs::registry reg;
  const mmsb::metrics_sink sink = reg.sink();
  std::int64_t ns = 0;
  for (auto _ : state) {
    sink.observe(mmsb::metric_histogram::log_sync, std::chrono::nanoseconds(ns));
    ns = (ns + 7919) & 0xfffff;
  }
  benchmark::DoNotOptimize(reg.snapshot());
}

void histogram_observe_atomic(benchmark::State& state)
{
  std::atomic<std::uint64_t> bucket{0}, sum{0};
  std::uint64_t ns = 0;
  for (auto _ : state) {
    bucket.fetch_add(1, std::memory_order_relaxed);
    sum.fetch_add(ns, std::memory_order_relaxed);
    ns = (ns + 7919) & 0xfffff;
  }
  benchmark::DoNotOptimize(bucket.load() + sum.load());
}

} // namespace

BENCHMARK(trace_zone_mmsb)->Name("P10/trace_zone/mmsb");
BENCHMARK(trace_zone_steady_clock)->Name("P10/trace_zone/steady_clock");
#if defined(__x86_64__)
BENCHMARK(trace_zone_rdtsc_pair)->Name("P10/trace_zone/rdtsc_pair");
#endif
BENCHMARK(counter_add_mmsb)->Name("P10/counter_add/mmsb");
BENCHMARK(counter_add_atomic)->Name("P10/counter_add/atomic_add");
BENCHMARK(histogram_observe_mmsb)->Name("P10/histogram_observe/mmsb");
BENCHMARK(histogram_observe_atomic)->Name("P10/histogram_observe/atomic_add");

BENCHMARK_MAIN();
