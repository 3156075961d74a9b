// The metrics vocabulary and its recording (mmsb/core/metrics.hpp): buckets, an off sink, and
// per-thread shards that add up exactly under concurrent recording.
#include <mmsb/core/metrics.hpp>
#include <mmsb/obs/registry.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace mmsb;
using namespace std::chrono_literals;

TEST_CASE("a duration falls in the first bucket whose bound holds it")
{
  CHECK(bucket_of(0) == 0);
  CHECK(bucket_of(1) == 0);
  CHECK(bucket_of(1000) == 0);      // exactly 1 us: bucket 0 (le 1e-6)
  CHECK(bucket_of(1001) == 1);      // just over: le 2 us
  CHECK(bucket_of(2000) == 1);
  CHECK(bucket_of(2001) == 2);
  CHECK(bucket_of(4000) == 2);
  CHECK(bucket_of(1'000'000) == 10);  // 1 ms <= 1024 us
  CHECK(bucket_of(std::uint64_t{1} << 24 << 10) == histogram_buckets - 1);  // ~17 s: +Inf
  CHECK(bucket_of(~std::uint64_t{0}) == histogram_buckets - 1);
  for (std::size_t k = 0; k + 1 < histogram_buckets; ++k) {
    const auto bound_ns = static_cast<std::uint64_t>(bucket_upper_seconds(k) * 1e9 + 0.5);
    CHECK(bucket_of(bound_ns) == k);
    CHECK(bucket_of(bound_ns + 1) == k + 1);
  }
  CHECK(bucket_upper_seconds(histogram_buckets - 1) < 0);  // +Inf
}

TEST_CASE("every metric has a distinct Prometheus name with its conventional suffix")
{
  std::set<std::string> names;
  for (const auto& m : counter_info) {
    CHECK(std::string(m.name).ends_with("_total"));
    CHECK(names.insert(m.name).second);
  }
  for (const auto& m : gauge_info) CHECK(names.insert(m.name).second);
  std::set<std::string> series;
  for (const auto& m : histogram_info) {
    CHECK(std::string(m.name).ends_with("_seconds"));
    CHECK(series.insert(std::string(m.name) + (m.label_value ? m.label_value : "")).second);
    CHECK(names.count(m.name) == 0);
  }
  for (const auto& n : names) CHECK(n.rfind("mmsb_", 0) == 0);
  CHECK(metrics_layout_id() == metrics_layout_id());
}

TEST_CASE("an off sink records nothing and costs no clock read")
{
  const metrics_sink off;
  CHECK_FALSE(off.on());
  off.add(metric_counter::ticks);
  off.set(metric_gauge::epoch, 3);
  off.observe(metric_histogram::tick, 5ms);
  { const metrics_timer t(off, metric_histogram::log_sync); }
  CHECK(off.block() == nullptr);
}

TEST_CASE("a sink records counters, gauges and histograms into its block")
{
  auto block = std::make_unique<metrics_block>();
  const metrics_sink s(block.get());
  REQUIRE(s.on() == (MMSB_METRICS == 1));
  s.add(metric_counter::ticks);
  s.add(metric_counter::changes, 40);
  s.set(metric_gauge::epoch, 7);
  s.set(metric_gauge::epoch, 9);  // a gauge holds the last value
  s.observe(metric_histogram::phase_merge, 3us);
  s.observe(metric_histogram::phase_merge, 900ns);
  s.observe(metric_histogram::phase_merge, -5ns);  // counts as zero
  { const metrics_timer t(s, metric_histogram::log_sync); }
  const auto r = obs::read(*block);
#if MMSB_METRICS
  CHECK(r[metric_counter::ticks] == 1);
  CHECK(r[metric_counter::changes] == 40);
  CHECK(r[metric_gauge::epoch] == 9);
  const auto& h = r[metric_histogram::phase_merge];
  CHECK(h.count == 3);
  CHECK(h.buckets[0] == 2);  // 900 ns and 0
  CHECK(h.buckets[2] == 1);  // 3 us: le 4 us
  CHECK(h.sum_seconds == Approx(3.9e-6));
  CHECK(h.quantile_upper_seconds(0.5) == Approx(1e-6));
  CHECK(h.quantile_upper_seconds(1.0) == Approx(4e-6));
  CHECK(h.mean_seconds() == Approx(1.3e-6));
  CHECK(r[metric_histogram::log_sync].count == 1);
  CHECK(r[metric_histogram::tick].count == 0);
  CHECK(r[metric_histogram::tick].quantile_upper_seconds(0.99) == 0.0);
#else
  CHECK(r[metric_counter::ticks] == 0);
#endif
}

TEST_CASE("threads recording at once lose nothing: shards sum exactly")
{
  auto block = std::make_unique<metrics_block>();
  const metrics_sink s(block.get());
  constexpr int threads = 8, each = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < each; ++i) {
        s.add(metric_counter::changes, 2);
        s.observe(metric_histogram::tick, std::chrono::nanoseconds(i % 5000));
      }
    });
  for (auto& t : ts) t.join();
  const auto r = obs::read(*block);
#if MMSB_METRICS
  CHECK(r[metric_counter::changes] == std::uint64_t{2} * threads * each);
  CHECK(r[metric_histogram::tick].count == std::uint64_t{threads} * each);
  std::size_t used = 0;
  for (const auto& shard : block->shards) used += shard.counters[static_cast<std::size_t>(metric_counter::changes)].load() != 0;
  CHECK(used > 1);  // the threads wrote different shards
#else
  CHECK(r[metric_counter::changes] == 0);  // compiled out: nothing recorded
  CHECK(r[metric_histogram::tick].count == 0);
#endif
}
