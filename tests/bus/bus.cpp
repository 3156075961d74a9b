// basic_bus with the serial scheduler: the tick's phases against a plain reference, producers on
// many threads (exactly once, per-producer order), errors sent back to the producer that caused
// them, budgets and carry-over, recovery from the log, and tick statistics. The same scenario runs
// on Kokkos in tests/bus/bus_kokkos.cpp and must give the same hash.
#include <mmsb/bus.hpp>
#include <mmsb/log/faulty_file_system.hpp>

#include "../support/bus_scenario.hpp"
#include "../support/cases.hpp"
#include "../support/store_files.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <cerrno>
#include <thread>

using namespace mmsb;

namespace {
using scenario = test::bus_scenario;
using float_bus = basic_bus<scenario::semiring, scenario::layout>;
} // namespace

TEST_CASE("bus: the scenario equals the plain reference, and its hash is stable", "[exec][bus]")
{
  scenario sc;
  float_bus b;
  const auto reports = sc.run(b);
  const auto want = sc.reference();
  for (std::uint32_t v = 0; v < scenario::pages; ++v)
    for (std::size_t i = 0; i < scenario::layout::extent; ++i) {
      INFO("page " << v << " slot " << i);
      REQUIRE(b.value(page_id{v}).get(i) == want[v][i]);
    }
  // A zero budget carried propagation over several ticks, each reporting what was left.
  std::size_t carried = 0;
  for (const auto& r : reports) carried += r.propagation_complete ? 0 : 1;
  CHECK(carried > 0);
  CHECK(reports.back().propagation_complete);
  CHECK(reports.back().frontier == 0);
  // Same inputs, same bits: a second bus gives the same hash.
  float_bus again;
  sc.run(again);
  CHECK(again.hash().value == b.hash().value);
  CHECK(b.verify().ok());
}

TEST_CASE("bus: carry-over under a budget ends where an unbounded tick does", "[exec][bus]")
{
  using S = min_plus<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  const auto build = [](basic_bus<S, L>& b) {
    std::vector<page_id> p;
    for (int i = 0; i < 40; ++i) p.push_back(b.create_page());
    std::vector<matrix_entry<std::int64_t>> e{{0, 0, 1}, {1, 0, 3}, {2, 1, 1}, {7, 7, 2}};
    const auto m = std::make_shared<const csr_matrix<std::int64_t>>(csr_matrix<std::int64_t>::from_entries(8, 8, {e.data(), e.size()}));
    for (int i = 0; i + 1 < 40; ++i) b.add_matrix_edge(p[i], p[i + 1], m);
    return p;
  };
  basic_bus<S, L> bounded, free;
  const auto pb = build(bounded);
  const auto pf = build(free);
  auto wb = bounded.make_producer();
  auto wf = free.make_producer();
  std::size_t incomplete = 0;
  for (int t = 0; t < 30; ++t) {
    for (auto* w : {&wb, &wf}) {
      w->set_epoch(epoch{static_cast<std::uint64_t>(t + 1)});
      w->assign(page_id{static_cast<std::uint32_t>(t % 3)}, t % 8, 100 - t);
    }
    const auto rb = bounded.tick(tick_budget{std::chrono::nanoseconds{0}});
    free.tick();
    if (!rb.propagation_complete) {
      ++incomplete;
      CHECK(rb.frontier > 0);
    }
  }
  CHECK(incomplete > 0);
  tick_report last;
  do last = bounded.tick(tick_budget{std::chrono::nanoseconds{0}});
  while (!last.propagation_complete);
  for (int i = 0; i < 40; ++i) CHECK(test::same_bits(bounded.value(pb[i]), free.value(pf[i])));
  CHECK(bounded.hash().value == free.hash().value);
}

TEST_CASE("bus: many producers, oversubscribed, small rings: every change exactly once, in order", "[exec][bus][concurrency]")
{
  // Accumulates under exact + commute, so any tick boundaries give the same sums: each change
  // counted once. Each producer also assigns its own slot a rising counter: its last value must
  // win, which holds only if that producer's changes stayed in order.
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 16>;
  bus_options o;
  o.ring_capacity = 64;  // producers block often
  basic_bus<S, L> b(o);
  const page_id sum = b.create_page(), last = b.create_page();
  constexpr int threads = 8, per = 4000;
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, w = b.make_producer(), t]() mutable {
      for (int k = 1; k <= per; ++k) {
        w.accumulate(sum, static_cast<std::size_t>(t), k);
        w.assign(last, static_cast<std::size_t>(t), k);
      }
      done.fetch_add(1);
    });
  while (done.load() < threads) b.tick();
  for (auto& th : ts) th.join();
  b.tick();
  for (int t = 0; t < threads; ++t) {
    CHECK(b.value(sum).get(static_cast<std::size_t>(t)) == std::int64_t{per} * (per + 1) / 2);
    CHECK(b.value(last).get(static_cast<std::size_t>(t)) == per);
  }
}

TEST_CASE("bus: a change to an unknown page goes back to its producer; the tick goes on", "[exec][bus]")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 4>;
  basic_bus<S, L> b;
  const page_id a = b.create_page();
  auto good = b.make_producer();
  auto bad = b.make_producer();
  good.accumulate(a, 1, 5);
  bad.accumulate(page_id{42}, 2, 7);
  bad.accumulate(a, 2, 3);
  const auto r = b.tick();
  CHECK(r.changes == 2);
  CHECK(r.rejected == 1);
  CHECK(b.value(a).get(1) == 5);
  CHECK(b.value(a).get(2) == 3);
  const auto errs = bad.take_errors();
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].code() == errc::unknown_page);
  CHECK_THAT(errs[0].what(), Catch::Contains("producer 1: page 42 does not exist (change to slot 2"));
  CHECK(good.take_errors().empty());
  CHECK(bad.take_errors().empty());
  // A slot past the extent is refused in the producer's own thread, with nothing queued.
  CHECK_THROWS_WITH(good.accumulate(a, 4, 1), Catch::Contains("producer 0: page 0 slot 4 is out of range"));
  CHECK(b.tick().changes == 0);
}

TEST_CASE("bus: a producer may have its own ring size; the logged history replays tick by tick onto another bus", "[exec][bus]")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 64>;
  using B = basic_bus<S, L>;
  const auto build = [](B& b) {  // two data pages feeding a derived one
    const page_id x = b.create_page(), y = b.create_page(), sum = b.create_page();
    std::vector<matrix_entry<std::int64_t>> e;
    for (std::uint32_t i = 0; i < 64; ++i) e.push_back({i, (i * 7) % 64, 3});
    b.add_matrix_edge(x, sum, csr_matrix<std::int64_t>::from_entries(64, 64, {e.data(), e.size()}));
    b.add_matrix_edge(y, sum, csr_matrix<std::int64_t>::from_entries(64, 64, {e.data(), e.size()}));
    return std::array<page_id, 3>{x, y, sum};
  };
  B live(bus_options{.ring_capacity = 16});
  const auto pages = build(live);
  auto small = live.make_producer();
  auto loader = live.make_producer(256);  // holds a whole set-up batch
  for (std::size_t i = 0; i < 128; ++i) loader.assign(pages[i % 2], i % 64, static_cast<std::int64_t>(i));
  for (int k = 0; k < 16; ++k) REQUIRE(small.try_put(pages[0], 1, delta_op::accumulate, 1));
  CHECK_FALSE(small.try_put(pages[0], 1, delta_op::accumulate, 1));  // the bus's default: 16
  CHECK_THROWS_WITH((void)live.make_producer(100), Catch::Contains("power of two"));
  std::vector<state_hash> hashes{live.tick().changes == 144 ? live.hash() : state_hash{}};
  for (int t = 0; t < 5; ++t) {
    for (std::int64_t k = 0; k < 10; ++k) small.accumulate(pages[static_cast<std::size_t>(k % 2)], static_cast<std::size_t>(k * t % 64), k - t);
    (void)live.tick();
    hashes.push_back(live.hash());
  }
  CHECK(small.take_errors().empty());
  CHECK(B::producer_type{}.take_errors().empty());

  B replay;
  (void)build(replay);
  auto feed = replay.make_producer(256);
  std::size_t t = 0;
  live.store().for_each_commit([&](epoch e, span<const B::delta_type> ds) {
    for (const auto& d : ds) feed.push(d);
    CHECK(replay.tick().epoch == e);
    REQUIRE(t < hashes.size());
    CHECK(replay.hash() == hashes[t++]);
  });
  CHECK(t == hashes.size());
}

TEST_CASE("bus: a failed commit applies nothing and keeps the changes for the next tick", "[exec][bus]")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 4>;
  memory_file_system inner;
  faulty_file_system fs(inner);
  bus_options o;
  o.fs = &fs;
  o.dir = "/bus";
  basic_bus<S, L> b(o);
  const page_id a = b.create_page();
  auto w = b.make_producer();
  w.accumulate(a, 0, 9);
  fs.fail_nth(fs_op::write, 1, ENOSPC);
  CHECK_THROWS_WITH(b.tick(), Catch::Contains("No space left"));
  CHECK(b.value(a).get(0) == 0);
  CHECK(b.current_epoch() == epoch{});
  w.accumulate(a, 0, 1);
  const auto r = b.tick();
  CHECK(r.pages == 1);
  CHECK(b.value(a).get(0) == 10);
}

TEST_CASE("bus: state survives reopening the store; checkpoints are taken on schedule", "[exec][bus]")
{
  using S = max_plus<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/bus";
  o.checkpoint_every = 3;
  std::uint64_t hash = 0;
  {
    basic_bus<S, L> b(o);
    for (int i = 0; i < 4; ++i) (void)b.create_page();
    auto w = b.make_producer();
    for (int t = 0; t < 7; ++t) {
      w.set_epoch(epoch{static_cast<std::uint64_t>(t)});
      for (int k = 0; k < 10; ++k) w.accumulate(page_id{static_cast<std::uint32_t>(k % 4)}, (k * 3 + t) % 8, k * 7 + t);
      b.tick();
    }
    hash = b.hash().value;
    CHECK(b.current_epoch() == epoch{7});
    b.wait_checkpoint();  // the tick's checkpoints are written in the background
    CHECK(!fs.list("/bus/checkpoints").empty());
  }
  basic_bus<S, L> reopened(o);
  CHECK(reopened.current_epoch() == epoch{7});
  CHECK(reopened.hash().value == hash);
  // Another shape is refused, naming the path.
  CHECK_THROWS_WITH((basic_bus<S, dense<std::int64_t, 16>>(o)), Catch::Contains("/bus"));
}

TEST_CASE("bus: per-phase statistics", "[exec][bus]")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 64>;
  basic_bus<S, L> b;
  for (int i = 0; i < 8; ++i) (void)b.create_page();
  auto w = b.make_producer();
  CHECK(b.stats().p50(tick_phase::merge).count() == 0);
  for (int t = 0; t < 50; ++t) {
    for (int k = 0; k < 200; ++k) w.accumulate(page_id{static_cast<std::uint32_t>(k % 8)}, (k * 5) % 64, k);
    const auto r = b.tick();
    CHECK(r.changes == 200);
    CHECK(r.pages == 8);
  }
  CHECK(b.stats().ticks() == 50);
  for (std::size_t p = 0; p < tick_phase_count; ++p) {
    const auto ph = static_cast<tick_phase>(p);
    INFO(phase_name(ph));
    CHECK(b.stats().p50(ph) <= b.stats().p99(ph));
  }
  CHECK(b.stats().p99(tick_phase::merge).count() > 0);
  CHECK(b.stats().p99(tick_phase::apply_log).count() > 0);
}

TEST_CASE("bus: producer-side combining gives the state and the log of pushing one by one", "[exec][bus]")
{
  using S = plus_times<double>;
  using L = dense<double, 64>;
  using B = basic_bus<S, L>;
  // Runs of consecutive deltas to one page (combined by push(span)), sparse and dense, with
  // assigns, so the fold order matters; a second producer writes the same pages in between.
  std::mt19937_64 rng(7);
  std::vector<delta<S, L>> ds, other;
  for (int k = 0; k < 600; ++k) {
    const page_id p{static_cast<std::uint32_t>(rng() % 6)};
    const int run = 1 + static_cast<int>(rng() % 4);
    for (int r = 0; r < run; ++r) {
      delta_builder<S, L> b(p);
      const int slots = rng() % 5 == 0 ? 40 : 3;  // some dense deltas
      for (int i = 0; i < slots; ++i) {
        const auto slot = static_cast<std::size_t>(rng() % 64);
        if (rng() % 8 == 0) b.assign(slot, static_cast<double>(rng() % 100) / 8.0);
        else b.accumulate(slot, static_cast<double>(rng() % 100) / 16.0 - 3.0);
      }
      (ds.size() % 2 ? other : ds).push_back(b.build());
    }
  }
  const auto run = [&](bool combine) {
    memory_file_system fs;
    bus_options o;
    o.fs = &fs;
    o.ring_capacity = 1 << 14;
    std::vector<state_hash> hashes;
    {
      B b(o);
      for (int v = 0; v < 6; ++v) (void)b.create_page();
      auto p = b.make_producer(), q = b.make_producer();
      for (std::size_t at = 0; at < ds.size(); at += 97) {  // ticks of 97 deltas
        const std::size_t n = std::min<std::size_t>(97, ds.size() - at);
        if (combine) p.push(span<const delta<S, L>>{ds.data() + at, n});
        else
          for (std::size_t k = at; k < at + n; ++k) p.push(ds[k]);
        for (std::size_t k = at; k < at + n && k < other.size(); ++k) q.push(other[k]);
        (void)b.tick();
        hashes.push_back(b.hash());
      }
    }
    return std::pair{hashes, test::store_files(fs, o.dir)};
  };
  const auto [one_by_one, log_one] = run(false);
  const auto [combined, log_combined] = run(true);
  CHECK(combined == one_by_one);
  CHECK(log_combined == log_one);
  CHECK(!log_one.empty());
}

TEST_CASE("bus: a producer refuses a slot past the extent and an unknown op at once, queueing nothing", "[exec][bus]")
{
  float_bus b;
  const page_id p = b.create_page();
  auto prod = b.make_producer();
  CHECK_THROWS_WITH(prod.put(p, scenario::layout::extent, delta_op::accumulate, 1.0f), Catch::Contains("out of range") && Catch::Contains("page 0"));
  CHECK_THROWS_WITH(prod.put(p, 3, static_cast<delta_op>(9), 1.0f), Catch::Contains("unknown op 9") && Catch::Contains("slot 3"));
  CHECK(b.tick().changes == 0);
}
