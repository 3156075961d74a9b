// What the bus and its layers record (bus_options::metrics, core/metrics.hpp): ticks and their
// phases, changes, commits, the log, checkpoints, propagation, producers' back-pressure, and the
// state is the same with metrics on as off.
#include <mmsb/bus.hpp>
#include <mmsb/obs/registry.hpp>

#include "../support/bus_scenario.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace mmsb;

namespace {
using scenario = test::bus_scenario;
using float_bus = basic_bus<scenario::semiring, scenario::layout>;
} // namespace

#if MMSB_METRICS
TEST_CASE("a bus records its ticks, phases, changes, commits, log and propagation")
{
  obs::registry reg;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/bus";
  o.metrics = reg.sink();
  scenario sc;
  float_bus b(o);
  const auto reports = sc.run(b);
  const auto s = reg.snapshot();

  std::uint64_t changes = 0, pages = 0, committed = 0;
  for (const auto& r : reports) {
    changes += r.changes;
    pages += r.pages;
  }
  for (const auto& r : reports) committed += r.pages != 0;
  CHECK(s[metric_counter::ticks] == reports.size());
  CHECK(s[metric_counter::changes] == changes);
  CHECK(s[metric_counter::pages_applied] == pages);
  CHECK(s[metric_counter::changes_rejected] == 0);
  CHECK(s[metric_counter::commits] >= committed);  // and the ticks that logged topology edits only
  CHECK(s[metric_counter::commits] == b.current_epoch().value());
  CHECK(s[metric_counter::log_records] >= s[metric_counter::commits]);
  CHECK(s[metric_counter::log_bytes] > s[metric_counter::log_records] * 16);
  CHECK(s[metric_counter::log_syncs] >= s[metric_counter::commits]);  // per_commit durability
  CHECK(s[metric_histogram::log_sync].count == s[metric_counter::log_syncs]);
  CHECK(s[metric_counter::propagate_units] > 0);
  CHECK(s[metric_counter::propagate_waves] > 0);
  CHECK(s[metric_counter::propagate_waves] <= s[metric_counter::ticks]);
  CHECK(s[metric_counter::propagate_changed_slots] > 0);
  CHECK(s[metric_histogram::tick].count == reports.size());
  for (auto h : {metric_histogram::phase_ingest, metric_histogram::phase_merge, metric_histogram::phase_apply_log, metric_histogram::phase_propagate,
                 metric_histogram::phase_maintain})
    CHECK(s[h].count == reports.size());
  double phases = 0;
  for (std::size_t p = 1; p <= tick_phase_count; ++p) phases += s.histograms[p].sum_seconds;
  CHECK(s[metric_histogram::tick].sum_seconds == Approx(phases).epsilon(1e-6));
  CHECK(s[metric_gauge::epoch] == static_cast<std::int64_t>(b.current_epoch().value()));
  CHECK(s[metric_gauge::pages] == scenario::pages);
  CHECK(s[metric_gauge::page_bytes_resident] >= static_cast<std::int64_t>(scenario::pages * sizeof(scenario::layout::storage_type)));
  CHECK(s[metric_gauge::propagate_frontier] == static_cast<std::int64_t>(reports.back().frontier));
  CHECK(s[metric_gauge::last_tick_unix_ms] > 0);
}

TEST_CASE("metrics do not change the state: the same hash with them on and off")
{
  scenario sc;
  float_bus off;
  sc.run(off);
  obs::registry reg;
  bus_options o;
  o.metrics = reg.sink();
  float_bus on(o);
  sc.run(on);
  CHECK(on.hash().value == off.hash().value);
}

TEST_CASE("checkpoints, their stall and rejected changes are recorded")
{
  using S = max_plus<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  obs::registry reg;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/bus";
  o.checkpoint_every = 2;
  o.metrics = reg.sink();
  basic_bus<S, L> b(o);
  for (int i = 0; i < 4; ++i) (void)b.create_page();
  auto w = b.make_producer();
  for (int t = 0; t < 6; ++t) {
    for (int k = 0; k < 10; ++k) w.accumulate(page_id{static_cast<std::uint32_t>(k % 4)}, (k * 3 + t) % 8, k * 7 + t);
    w.accumulate(page_id{99}, 0, 1);  // no such page: rejected
    b.tick();
    b.wait_checkpoint();
  }
  b.checkpoint();  // the blocking one is counted too
  const auto s = reg.snapshot();
  CHECK(s[metric_counter::changes_rejected] == 6);
  CHECK(s[metric_counter::checkpoints] == 4);  // ticks 2, 4, 6 and the explicit one
  CHECK(s[metric_counter::checkpoint_failures] == 0);
  CHECK(s[metric_histogram::checkpoint].count == 4);
  CHECK(s[metric_histogram::checkpoint_stall].count == 3);  // the tick's background ones
  CHECK(s[metric_gauge::producers] == 1);
  CHECK(s[metric_gauge::ring_depth] == 11);
}

TEST_CASE("a producer that finds its ring full counts the wait (back-pressure)")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  obs::registry reg;
  bus_options o;
  o.metrics = reg.sink();
  basic_bus<S, L> b(o);
  const page_id p = b.create_page();
  auto w = b.make_producer(4);  // a ring of 4 changes
  constexpr int n = 200;
  std::thread t([&] {
    for (int i = 0; i < n; ++i) w.accumulate(p, static_cast<std::size_t>(i % 8), 1);
  });
  std::uint64_t drained = 0;
  while (drained < n) drained += b.tick().changes;
  t.join();
  const auto s = reg.snapshot();
  CHECK(s[metric_counter::changes] == n);
  CHECK(s[metric_counter::producer_waits] > 0);  // 200 changes through a ring of 4 waited at least once
  CHECK(b.value(p).get(0) == n / 8);
}
#else
TEST_CASE("metrics compiled out (-Dmetrics=false): a bus with a sink records nothing")
{
  obs::registry reg;
  bus_options o;
  o.metrics = reg.sink();
  scenario sc;
  float_bus b(o);
  sc.run(b);
  CHECK(reg.snapshot()[metric_counter::ticks] == 0);
}
#endif
