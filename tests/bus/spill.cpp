// The bus under a memory budget (bus_options::memory, memory/budget.hpp): identical state at every
// tick with and without a budget, the maintain phase's report (pages spilled, carried over), bad
// budgets refused at construction naming the numbers or the path, and a damaged spill record
// reported (errc::corrupt, naming the page and the file), never read as the page's value, while
// the log still recovers it. The oracle run under a budget: tests/bus/random_ops.cpp.
#include <mmsb/bus.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/obs/registry.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <random>
#include <string>
#include <vector>


using namespace mmsb;

namespace {

using S = plus_times<std::int64_t>;
using L = dense<std::int64_t, 32>;
using B = basic_bus<S, L>;
constexpr std::uint32_t bases = 48, derived = 16;

// 48 base pages; derived page 48 + k sums bases 3k, 3k + 1, 3k + 2 through matrix edges.
void build(B& b)
{
  for (std::uint32_t i = 0; i < bases + derived; ++i) (void)b.create_page();
  std::vector<matrix_entry<std::int64_t>> e;
  for (std::uint32_t r = 0; r < L::extent; ++r) e.push_back({r, r, 1 + r % 3});
  const auto m = std::make_shared<const csr_matrix<std::int64_t>>(csr_matrix<std::int64_t>::from_entries(L::extent, L::extent, {e.data(), e.size()}));
  for (std::uint32_t k = 0; k < derived; ++k)
    for (std::uint32_t j = 0; j < 3; ++j) (void)b.add_matrix_edge(page_id{3 * k + j}, page_id{bases + k}, m);
}

// Tick t's changes: a few pages, skewed to low ids (hot), some anywhere (cold pages come back).
void push_tick(B::producer_type& w, std::mt19937_64& rng, int t)
{
  w.set_epoch(epoch{static_cast<std::uint64_t>(t + 1)});
  for (int c = 0; c < 6; ++c) {
    const auto page = static_cast<std::uint32_t>(c < 4 ? rng() % 6 : rng() % bases);
    w.accumulate(page_id{page}, static_cast<std::size_t>(rng() % L::extent), static_cast<std::int64_t>(rng() % 9) - 4);
  }
}

// Ticks t in [from, to): each pushes push_tick's changes, then ticks.
void run_ticks(B& b, B::producer_type& w, std::mt19937_64& rng, int from, int to)
{
  for (int t = from; t < to; ++t) {
    push_tick(w, rng, t);
    (void)b.tick();
  }
}

memory_budget small_budget(const std::string& dir)
{
  memory_budget m;
  // ~16 of 48 base pages of 320 bytes at the low watermark, after the 16 derived pages (counted,
  // never spilled) and the two tables' metadata.
  m.limit_bytes = 16 * 1024;
  m.tick_pages = 8;
  m.spill_dir = dir;
  return m;
}

// A bus whose store is on the real file system in `store`, spilling into `spill` (small_budget).
bus_options on_disk(posix_file_system& fs, const test::temp_dir& store, const test::temp_dir& spill)
{
  bus_options o;
  o.fs = &fs;
  o.dir = store.path + "/bus";
  o.memory = small_budget(spill.path);
  return o;
}

} // namespace

TEST_CASE("bus under a memory budget: the same state hash at every tick as without one", "[bus][spill]")
{
  test::temp_dir d("mmsb-bus-spill");
  obs::registry reg;
  bus_options with;
  with.memory = small_budget(d.path);
  with.checkpoint_every = 7;  // checkpoints read spilled pages too
  with.metrics = reg.sink();
  B budgeted(with), plain;
  build(budgeted);
  build(plain);
  auto wb = budgeted.make_producer();
  auto wp = plain.make_producer();
  std::mt19937_64 rb(5), rp(5);
  std::size_t spilled = 0, max_spilled_now = 0, carried = 0;
  for (int t = 0; t < 120; ++t) {
    push_tick(wb, rb, t);
    push_tick(wp, rp, t);
    const auto r = budgeted.tick();
    plain.tick();
    spilled += r.spill.spilled;
    carried += r.spill.carried_over ? 1 : 0;
    CHECK(r.spill.failure == errc{});
    max_spilled_now = std::max(max_spilled_now, budgeted.store().pages().spilled());
    // The derived pages count: the budget holds for base and derived pages together.
    CHECK(budgeted.memory_in_use() == budgeted.store().memory_in_use() + budgeted.graph().derived_bytes());
    CHECK(budgeted.graph().derived_bytes() >= derived * page_table<L>::block_bytes);
    CHECK(budgeted.memory_in_use() <= with.memory.limit_bytes);  // a hard cap, even with a checkpoint in flight
    REQUIRE(budgeted.hash() == plain.hash());
    REQUIRE(budgeted.store().hash() == plain.store().hash());
  }
  CHECK(spilled > 30);
  CHECK(max_spilled_now > 20);
  CHECK(budgeted.store().pages().reloads() > 10);
  // Every page's value, spilled or not, equals the unbudgeted bus's.
  for (std::uint32_t v = 0; v < bases + derived; ++v)
    for (std::size_t i = 0; i < L::extent; ++i) REQUIRE(budgeted.value(page_id{v}).get(i) == plain.value(page_id{v}).get(i));
  CHECK(budgeted.verify().ok());
  CHECK(carried < 120);
  // The metrics say the same (obs/: mmsb_pages_spilled_total and friends).
  spilled += budgeted.tick().spill.spilled;
  const auto m = reg.snapshot();
  CHECK(m[metric_counter::pages_spilled] == spilled);
  CHECK(m[metric_counter::pages_reloaded] == budgeted.store().pages().reloads());
  CHECK(m[metric_counter::spill_failures] == 0);
  CHECK(m[metric_gauge::pages_in_spill_file] == static_cast<std::int64_t>(budgeted.store().pages().spilled()));
}

TEST_CASE("bus under a memory budget: over the limit it spills down to it at once; above the low watermark one page a tick with a pause of zero", "[bus][spill]")
{
  test::temp_dir d("mmsb-bus-spill");
  bus_options o;
  o.memory = small_budget(d.path);
  o.memory.pause = std::chrono::microseconds{0};
  B b(o);
  build(b);
  auto w = b.make_producer();
  std::mt19937_64 rng(9);
  push_tick(w, rng, 0);
  const auto r1 = b.tick();  // 64 + 16 derived pages of 320 B: 25 KiB against a limit of 16 KiB
  CHECK(r1.spill.over_limit);
  CHECK(r1.spill.carried_over);
  CHECK(r1.spill.spilled > 30);
  CHECK(b.memory_in_use() <= o.memory.limit_bytes);
  CHECK(b.memory_in_use() > o.memory.low_bytes());
  int ticks = 0;
  for (bool more = true; more && ticks < 100; ++ticks) {
    const auto r = b.tick();
    CHECK(!r.spill.over_limit);
    CHECK(r.spill.spilled == 1);  // the pause is zero: one page, to make progress
    more = r.spill.carried_over;
  }
  CHECK(ticks >= 3);  // (16 KiB - 12 KiB) / 320 B: about twelve pages, one a tick
  CHECK(ticks < 100);
  CHECK(b.memory_in_use() <= o.memory.low_bytes());
}

TEST_CASE("bus: a memory budget it cannot keep is refused, naming the numbers or the path", "[bus][spill]")
{
  test::temp_dir d("mmsb-bus-spill"), store("mmsb-bus-spill-store");
  posix_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = store.path + "/bus";
  o.memory.limit_bytes = 64 * 1024;
  o.memory.spill_dir = d.path;
  // The default floor is a full ring: 16 Ki pages of 320 bytes.
  CHECK_THROWS_WITH(B(o), Catch::Contains("65536 bytes") && Catch::Contains("16384 pages of 320 bytes"));
  o.memory.tick_pages = 8;
  o.memory.spill_dir = d.path + "/no-such-dir";
  CHECK_THROWS_WITH(B(o), Catch::Contains(d.path + "/no-such-dir"));
  // Refused before the store opened: no store directory, no log, no spill file left behind.
  struct stat st {};
  CHECK(::stat(o.dir.c_str(), &st) != 0);
  CHECK(test::entries_in(d.path).empty());
  o.memory.spill_dir = d.path;
  B ok(o);  // and this one opens
  CHECK(ok.store().spill() != nullptr);
}

TEST_CASE("bus under a memory budget: a damaged spill record is reported and the page rebuilt from the log", "[bus][spill]")
{
  test::temp_dir d("mmsb-bus-spill"), store("mmsb-bus-spill-store");
  posix_file_system fs;
  bus_options o = on_disk(fs, store, d);
  o.checkpoint_every = 15;  // rebuilt from the newest checkpoint plus the log after it
  std::vector<std::int64_t> want(L::extent);
  std::string spill_path;
  std::uint32_t victim = bases;
  {
    B b(o);
    build(b);
    auto w = b.make_producer();
    std::mt19937_64 rng(11);
    run_ticks(b, w, rng, 0, 40);
    b.wait_checkpoint();
    for (int t = 0; t < 1000 && b.tick().spill.carried_over; ++t) {
    }  // spills what the checkpoint brought back, down to the low watermark
    for (std::uint32_t v = bases - 1; v > 0 && victim == bases; --v)
      if (b.store().pages().is_spilled(page_id{v})) victim = v;
    REQUIRE(victim < bases);
    spill_path = b.store().spill()->path();
    // The page's value while its record is whole.
    for (std::size_t i = 0; i < L::extent; ++i) want[i] = b.store().snapshot().pages[victim].get(i);
    // Damage every record's payload: the victim's among them.
    const auto& f = *b.store().spill();
    for (std::uint32_t s = 0; s < f.slot_bound(); ++s) test::flip_byte(spill_path, f.offset_of(s) + 24 + 8);
    // Reading it finds the damage and rebuilds the page from the checkpoint and the log.
    for (std::size_t i = 0; i < L::extent; ++i) CHECK(b.value(page_id{victim}).get(i) == want[i]);
    CHECK(!b.store().pages().is_spilled(page_id{victim}));
    CHECK(b.store().pages().rebuilt() == 1);
    const std::uint64_t h = b.store().hash().value;  // every other damaged record, rebuilt the same way
    CHECK(b.store().pages().rebuilt() == b.store().pages().damaged());
    const auto r = b.tick();
    CHECK(r.spill.damaged == b.store().pages().damaged());
    CHECK(r.spill.rebuilt == r.spill.damaged);
    CHECK_THAT(r.spill.damage, Catch::Contains(spill_path) && Catch::Contains("rebuilt"));
    CHECK(b.store().hash().value == h);
  }
  // The spill file is not part of the truth: reopening recovers the page from the log.
  o.memory = {};
  B again(o);
  for (std::size_t i = 0; i < L::extent; ++i) CHECK(again.value(page_id{victim}).get(i) == want[i]);
}

TEST_CASE("bus under a memory budget: a checkpoint reads spilled pages from their records and brings none back", "[bus][spill]")
{
  test::temp_dir d("mmsb-bus-spill"), store("mmsb-bus-spill-store");
  posix_file_system fs;
  bus_options o = on_disk(fs, store, d);
  std::uint64_t h = 0;
  {
    B b(o);
    build(b);
    auto w = b.make_producer();
    std::mt19937_64 rng(13);
    run_ticks(b, w, rng, 0, 30);
    const std::size_t spilled = b.store().pages().spilled();
    REQUIRE(spilled > 20);
    const std::uint64_t reloads = b.store().pages().reloads();
    b.checkpoint();  // blocking: rolls the log, so what came before it is read from the checkpoint
    CHECK(b.store().pages().spilled() == spilled);
    CHECK(b.store().pages().reloads() == reloads);
    // A background checkpoint while ticks bring spilled pages back and change them: the
    // checkpoint still holds each page as it was at its epoch (the reopened state says so).
    CHECK(b.begin_checkpoint());
    run_ticks(b, w, rng, 30, 40);
    b.wait_checkpoint();
    h = b.hash().value;
  }
  o.memory = {};
  B again(o);
  CHECK(again.hash().value == h);
  CHECK(again.verify().ok());
}
