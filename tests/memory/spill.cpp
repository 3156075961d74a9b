// The spill file (memory/spill_file.hpp) and spilling in the page table (memory/page_table.hpp):
// records that round-trip and fail loudly when damaged, a quota that acts as a full disk and
// loses nothing, transparent reloads (find, at, for_each, hash), aging that spills the coldest
// first, and concurrent reloads. The bus under a budget: tests/bus/random_ops.cpp and
// tests/bus/spill.cpp.
#include <mmsb/graph/page_graph.hpp>
#include <mmsb/memory/budget.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/memory/spill_file.hpp>
#include <mmsb/page/dense.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace mmsb;
using L = dense<double, 256>;
using table = page_table<L>;
using page_t = table::page_type;

namespace {

// A table spilling into a file in a fresh directory: where most tests here start.
struct spilling {
  test::temp_dir d{"mmsb-spill-test"};
  table t;
  spill_file f{d.path, sizeof(page_t)};
  spilling() { t.set_spill_file(&f); }
};

// Page i's value in slot s.
double value_of(std::uint32_t i, std::size_t s) { return static_cast<double>(i) * 1000.0 + static_cast<double>(s) * 0.5; }

void fill_pages(table& t, std::uint32_t n)
{
  for (std::uint32_t i = 0; i < n; ++i) {
    const page_id id = t.create();
    page_t& p = t.at(id);
    for (std::size_t s = 0; s < L::extent; ++s) p.set(s, value_of(i, s));
    p.set_epoch(epoch{i + 1});
  }
}

bool page_is_right(const page_t& p, std::uint32_t i)
{
  if (p.id().value() != i || p.epoch().value() != i + 1) return false;
  for (std::size_t s = 0; s < L::extent; ++s)
    if (p.get(s) != value_of(i, s)) return false;
  return true;
}

} // namespace

TEST_CASE("spill file: records round-trip, freed slots are reused, the file is removed", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  std::string path;
  {
    spill_file f(d.path, 100, spill_file::unlimited, 1.0);  // no slack: freed slots are refilled
    path = f.path();
    CHECK(f.record_bytes() == 136);  // 24 + 100 + 8, rounded up to 8
    std::array<unsigned char, 100> a{}, b{}, out{};
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<unsigned char>(i);
      b[i] = static_cast<unsigned char>(255 - i);
    }
    const auto s0 = f.write(page_id{7}, epoch{3}, a.data());
    const auto s1 = f.write(page_id{9}, epoch{4}, b.data());
    CHECK(s0 == 0);
    CHECK(s1 == 1);
    f.read(s1, page_id{9}, epoch{4}, out.data());
    CHECK(out == b);
    f.read(s0, page_id{7}, epoch{3}, out.data());
    CHECK(out == a);
    f.release(s0);
    CHECK(f.slots_in_use() == 1);
    CHECK(f.write(page_id{8}, epoch{5}, b.data()) == 0);  // no slack: the freed slot, not a new one
    CHECK(f.file_bytes() == 2 * 136);
    f.read(0, page_id{8}, epoch{5}, out.data());
    CHECK(out == b);
    // Asking for the wrong page or epoch is caught, never answered with another page's bytes.
    CHECK_THROWS_WITH(f.read(s1, page_id{8}, epoch{4}, out.data()), Catch::Contains("names page 9"));
    CHECK_THROWS_WITH(f.read(s1, page_id{9}, epoch{5}, out.data()), Catch::Contains("of epoch 4, not 5"));
    struct stat st {};
    CHECK(::stat(path.c_str(), &st) == 0);
  }
  struct stat st {};
  CHECK(::stat(path.c_str(), &st) != 0);  // gone with the spill_file
}

TEST_CASE("spill file: a run goes to adjacent slots, as in a log within the slack, and reads back", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  spill_file f(d.path, 64, spill_file::unlimited, 1.5);
  f.grow_by_cost(false);  // grow whenever the slack allows: placement by the calls alone
  std::vector<std::array<unsigned char, 64>> bytes(40);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i].fill(static_cast<unsigned char>(i));
  std::vector<std::uint32_t> page_in(64, ~0u);  // slot -> the page whose record it holds
  const auto write_run = [&](std::uint32_t first_page, std::size_t n) {
    std::vector<spill_file::page_record> r;
    for (std::uint32_t k = 0; k < n; ++k) r.push_back({page_id{first_page + k}, epoch{first_page + k + 100}, bytes[first_page + k].data()});
    const auto run = f.write_run(r);
    for (std::uint32_t k = 0; k < run.count; ++k) page_in[run.first + k] = first_page + k;
    return run;
  };
  const auto release = [&](std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t s = from; s < to; ++s) {
      f.release(s);
      page_in[s] = ~0u;
    }
  };
  auto r = write_run(0, 20);  // an empty file: new slots 0..19
  CHECK((r.first == 0 && r.count == 20));
  release(0, 12);  // 8 records in 20 slots: growing would pass 1.5 slots a record
  r = write_run(20, 8);  // so the cursor wraps: the first free run, at 0
  CHECK((r.first == 0 && r.count == 8));
  r = write_run(28, 8);  // on from the cursor: the hole 8..11 holds 4 of them
  CHECK((r.first == 8 && r.count == 4));
  r = write_run(32, 3);  // no slot is free: new slots
  CHECK((r.first == 20 && r.count == 3));
  CHECK(f.slots_in_use() == 23);
  CHECK(f.slot_bound() == 23);
  CHECK(f.writes() == 35);
  std::array<unsigned char, 64> out{};
  for (std::uint32_t s = 0; s < f.slot_bound(); ++s) {
    REQUIRE(page_in[s] != ~0u);
    f.read(s, page_id{page_in[s]}, epoch{page_in[s] + 100}, out.data());
    CHECK(out == bytes[page_in[s]]);
  }
  CHECK_THROWS_WITH(f.write_run({}), Catch::Contains("a run of no records"));
  // Within the slack, the file grows rather than wrap to a hole behind the cursor.
  f.release(5);
  page_in[5] = ~0u;
  r = write_run(35, 2);
  CHECK((r.first == 23 && r.count == 2));
  // A run past the cursor fills the next free slots and, within the slack, goes on past the end.
  spill_file t(d.path, 64, spill_file::unlimited, 1.5);
  t.grow_by_cost(false);
  std::vector<spill_file::page_record> r8;
  for (std::uint32_t k = 0; k < 10; ++k) r8.push_back({page_id{k}, epoch{k + 100}, bytes[k].data()});
  CHECK(t.write_run(r8).count == 10);
  for (const std::uint32_t s : {1u, 2u, 8u, 9u}) t.release(s);  // 6 records in 10 slots
  const auto one = [&](std::size_t k) { return span<const spill_file::page_record>(r8.data() + k, 1); };
  auto q = t.write_run(one(0));  // growing to 11 slots for 7 records passes 1.5: wraps to slot 1
  CHECK((q.first == 1 && q.count == 1));
  q = t.write_run(one(1));  // on from the cursor: the hole at 2
  CHECK((q.first == 2 && q.count == 1));
  q = t.write_run(span<const spill_file::page_record>(r8.data() + 2, 4));  // the free tail 8..9, then new slots 10..11
  CHECK((q.first == 8 && q.count == 4));
  CHECK(t.slot_bound() == 12);
  for (std::uint32_t s = 0; s < t.slot_bound(); ++s) {  // every record whole, none overwritten
    const std::uint32_t p = s == 1 ? 0 : s == 2 ? 1 : s >= 8 ? s - 6 : s;
    std::array<unsigned char, 64> got{};
    t.read(s, page_id{p}, epoch{p + 100}, got.data());
    CHECK(got == bytes[p]);
  }
  // A run is at most max_run records, and the quota cuts it.
  spill_file big(d.path, 64);
  std::vector<spill_file::page_record> many(300, spill_file::page_record{page_id{1}, epoch{1}, bytes[1].data()});
  CHECK(big.write_run(many).count == spill_file::max_run);
  spill_file small(d.path, 64, 5 * 96);  // five records of 96 bytes
  CHECK(small.write_run(many).count == 5);
  CHECK_THROWS_WITH(small.write_run(many), Catch::Contains("quota of 480 bytes is full"));
  CHECK(small.slots_in_use() == 5);
  // With no slack (1), a run past the cursor fills the next free slots, then wraps.
  spill_file g(d.path, 64, spill_file::unlimited, 1.0);
  std::vector<spill_file::page_record> r10;
  for (std::uint32_t k = 0; k < 10; ++k) r10.push_back({page_id{k}, epoch{k + 100}, bytes[k].data()});
  CHECK(g.write_run(r10).count == 10);
  for (const std::uint32_t s : {1u, 2u, 3u, 7u}) g.release(s);
  q = g.write_run(span<const spill_file::page_record>(r10.data(), 3));  // cursor at 10, nothing free past it: wraps to 1..3
  CHECK((q.first == 1 && q.count == 3));
  q = g.write_run(span<const spill_file::page_record>(r10.data() + 3, 4));  // on from 4: slot 7, a hole of one
  CHECK((q.first == 7 && q.count == 1));
  q = g.write_run(span<const spill_file::page_record>(r10.data() + 4, 2));  // nothing free: new slots
  CHECK((q.first == 10 && q.count == 2));
  CHECK(g.file_bytes() == 12 * g.record_bytes());
}

TEST_CASE("spill file: random runs and releases keep every record and the file within its slack", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  for (const bool by_cost : {true, false}) {
    spill_file f(d.path, 48);  // the default slack, 1.5
    f.grow_by_cost(by_cost);
    std::mt19937 rng(by_cost ? 7 : 11);
    std::vector<std::array<unsigned char, 48>> bytes(64);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i].fill(static_cast<unsigned char>(i * 3 + 1));
    std::vector<std::int64_t> page_in;  // slot -> the page whose record it holds, or -1
    std::size_t in_use = 0, most = 0;
    for (int op = 0; op < 3000; ++op) {
      if (rng() % 2 == 0 || in_use == 0) {
        std::vector<spill_file::page_record> r;
        const std::size_t n = 1 + rng() % 40;
        for (std::size_t k = 0; k < n; ++k) {
          const auto p = static_cast<std::uint32_t>(rng() % bytes.size());
          r.push_back({page_id{p}, epoch{p + 1000}, bytes[p].data()});
        }
        std::size_t done = 0;
        while (done < n) {  // as the page table does: run after run until all are written
          const auto run = f.write_run(span<const spill_file::page_record>(r.data() + done, n - done));
          REQUIRE(run.count >= 1);
          if (page_in.size() < std::size_t{run.first} + run.count) page_in.resize(std::size_t{run.first} + run.count, -1);
          for (std::uint32_t k = 0; k < run.count; ++k) {
            REQUIRE(page_in[run.first + k] == -1);  // never over a record in use
            page_in[run.first + k] = r[done + k].id.value();
          }
          done += run.count;
        }
        in_use += n;
      } else {
        std::size_t s = rng() % page_in.size();
        while (page_in[s] == -1) s = (s + 1) % page_in.size();
        f.release(static_cast<std::uint32_t>(s));
        page_in[s] = -1;
        --in_use;
      }
      most = std::max(most, in_use);
      REQUIRE(f.slots_in_use() == in_use);
      REQUIRE(f.slot_bound() * 100 <= most * 150);
    }
    std::array<unsigned char, 48> out{};
    for (std::uint32_t s = 0; s < page_in.size(); ++s)
      if (page_in[s] != -1) {
        const auto p = static_cast<std::uint32_t>(page_in[s]);
        f.read(s, page_id{p}, epoch{p + 1000}, out.data());
        CHECK(out == bytes[p]);
      }
  }
}

TEST_CASE("spill file: a damaged record is corrupt, naming the page, the file and the offset", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  spill_file f(d.path, 64);
  std::array<unsigned char, 64> a{}, out{};
  a.fill(0xab);
  const auto s = f.write(page_id{42}, epoch{1}, a.data());
  for (const std::uint64_t at : {std::uint64_t{0}, std::uint64_t{30}, std::uint64_t{24 + 64}}) {  // magic, payload, checksum
    test::flip_byte(f.path(), f.offset_of(s) + at);
    try {
      f.read(s, page_id{42}, epoch{1}, out.data());
      FAIL("a damaged record was read back");
    } catch (const error& e) {
      CHECK(e.code() == errc::corrupt);
      CHECK_THAT(e.what(), Catch::Contains("page 42") && Catch::Contains(f.path()) && Catch::Contains("offset 0"));
    }
    test::flip_byte(f.path(), f.offset_of(s) + at);  // repaired
    f.read(s, page_id{42}, epoch{1}, out.data());
    CHECK(out == a);
  }
}

TEST_CASE("spill file: bad arguments and a full quota are refused with nothing taken", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  CHECK_THROWS_WITH(spill_file(d.path + "/missing", 64), Catch::Contains(d.path + "/missing"));
  CHECK_THROWS_WITH(spill_file(d.path, 64, 10), Catch::Contains("quota of 10 bytes"));
  CHECK_THROWS_WITH(spill_file(d.path, 64, spill_file::unlimited, 0.5), Catch::Contains("a slack of 0.5"));
  if (::geteuid() != 0) {  // root writes anywhere
    REQUIRE(::chmod(d.path.c_str(), 0500) == 0);
    CHECK_THROWS_WITH(spill_file(d.path, 64), Catch::Contains(d.path));
    REQUIRE(::chmod(d.path.c_str(), 0700) == 0);
  }
  spill_file f(d.path, 64, 2 * 96);  // two records of 96 bytes
  std::array<unsigned char, 64> a{};
  (void)f.write(page_id{1}, epoch{1}, a.data());
  (void)f.write(page_id{2}, epoch{1}, a.data());
  try {
    (void)f.write(page_id{3}, epoch{1}, a.data());
    FAIL("the quota was passed");
  } catch (const error& e) {
    CHECK(e.code() == errc::no_space);
    CHECK_THAT(e.what(), Catch::Contains("page 3") && Catch::Contains(f.path()));
  }
  CHECK(f.slots_in_use() == 2);
  CHECK(f.file_bytes() == 2 * 96);
  f.release(0);  // the quota leaves no room to grow: the freed slot is reused
  CHECK(f.write(page_id{3}, epoch{1}, a.data()) == 0);
  CHECK(f.file_bytes() == 2 * 96);
}

TEST_CASE("page table: spilled pages come back transparently and bit for bit", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  table t;
  spill_file f(d.path, sizeof(page_t));
  fill_pages(t, 40);
  const auto h0 = t.hash();
  t.set_spill_file(&f);
  for (std::uint32_t i = 0; i < 40; i += 2) t.spill(page_id{i});
  CHECK(t.spilled() == 20);
  CHECK(t.resident() == 20);
  CHECK(t.size() == 40);
  CHECK(t.allocator().stats().live_blocks == 20);  // spilled pages hold no block
  // Reading every page (hash, const for_each) leaves them spilled.
  CHECK(t.hash() == h0);
  std::uint32_t seen = 0;
  t.for_each([&](const page_t& p) { CHECK(page_is_right(p, seen++)); });
  CHECK(seen == 40);
  CHECK(t.spilled() == 20);
  // contains and epoch_of read the entry alone; find, at and find_unaged bring a page back.
  CHECK(t.contains(page_id{4}));
  CHECK(t.epoch_of(page_id{4}) == epoch{5});
  CHECK(t.is_spilled(page_id{4}));
  CHECK(page_is_right(*t.find_unaged(page_id{4}), 4));
  CHECK(page_is_right(t.at(page_id{6}), 6));
  CHECK(page_is_right(*t.find(page_id{8}), 8));
  CHECK(t.spilled() == 17);
  CHECK(t.reloads() == 3);
  CHECK(t.epoch_of(page_id{40}) == epoch{});
  CHECK(t.find(page_id{40}) == nullptr);  // never issued: still nullptr
  // Destroying a spilled page frees its record.
  t.destroy(page_id{10});
  CHECK(t.size() == 39);
  CHECK(f.slots_in_use() == 16);
  CHECK_THROWS_WITH(t.at(page_id{10}), Catch::Contains("destroyed"));
  // Turning spilling off brings everything back.
  t.set_spill_file(nullptr);
  CHECK(t.spilled() == 0);
  CHECK(f.slots_in_use() == 0);
  for (std::uint32_t i = 0; i < 40; ++i)
    if (i != 10) CHECK(page_is_right(t.at(page_id{i}), i));
}

TEST_CASE("page table: spill_coldest spills the fewest recent uses, then the least recently used, first and stops at the deadline", "[memory][spill]")
{
  spilling s;
  auto& [d, t, f] = s;
  t.set_clock(1);
  fill_pages(t, 10);
  // Pages used at ticks 2..: page 7 at 2, 3 at 3, 5 at 4; the others last at 1.
  t.set_clock(2);
  (void)t.find(page_id{7});
  t.set_clock(3);
  (void)t.find(page_id{3});
  t.set_clock(4);
  (void)t.at(page_id{5});
  CHECK(t.last_use(page_id{5}) == 4);
  const auto far = std::chrono::steady_clock::now() + std::chrono::hours(1);
  auto out = t.spill_coldest(4, far, [](page_id) { return true; });
  CHECK(out.done);
  CHECK(out.spilled == 6);
  for (std::uint32_t i : {0u, 1u, 2u, 4u, 6u, 8u}) CHECK(t.is_spilled(page_id{i}));  // used at 1, lowest ids first
  for (std::uint32_t i : {3u, 5u, 7u, 9u}) CHECK(!t.is_spilled(page_id{i}));
  // may_spill excludes; a deadline already passed still spills one page (progress), then stops.
  out = t.spill_coldest(0, std::chrono::steady_clock::now() - std::chrono::seconds(1), [](page_id id) { return id.value() != 9; });
  CHECK(out.spilled == 1);
  CHECK(!out.done);
  CHECK(t.is_spilled(page_id{7}));  // the coldest left (used at 2)
  out = t.spill_coldest(0, far, [](page_id id) { return id.value() != 9; });
  CHECK(!out.done);  // page 9 stays: resident 1 > 0
  CHECK(t.resident() == 1);
  for (std::uint32_t i = 0; i < 10; ++i) CHECK(page_is_right(t.at(page_id{i}), i));
}

TEST_CASE("page table: a full spill file stops spilling and loses nothing", "[memory][spill]")
{
  test::temp_dir d("mmsb-spill-test");
  table t;
  spill_file f(d.path, sizeof(page_t), 3 * ((24 + sizeof(page_t) + 8 + 7) / 8 * 8));  // room for 3 records
  t.set_spill_file(&f);
  fill_pages(t, 8);
  const auto h0 = t.hash();
  const auto out = t.spill_coldest(0, std::chrono::steady_clock::now() + std::chrono::hours(1), [](page_id) { return true; });
  CHECK(out.spilled == 3);
  CHECK(!out.done);
  CHECK(out.failure == errc::no_space);
  CHECK_THAT(out.message, Catch::Contains("page 3") && Catch::Contains(f.path()));
  CHECK(!t.is_spilled(page_id{3}));  // the page whose write failed is still in memory
  CHECK(t.hash() == h0);
  CHECK_THROWS_WITH(t.spill(page_id{4}), Catch::Contains("quota"));
  CHECK(!t.is_spilled(page_id{4}));
  for (std::uint32_t i = 0; i < 8; ++i) CHECK(page_is_right(t.at(page_id{i}), i));
}

TEST_CASE("page table: a spilled page whose record is damaged is reported, never returned wrong", "[memory][spill]")
{
  spilling s;
  auto& [d, t, f] = s;
  fill_pages(t, 4);
  t.spill(page_id{2});
  test::flip_byte(f.path(), f.offset_of(0) + 24 + 8 * 17);  // slot 17 of page 2's payload
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      (void)t.at(page_id{2});
      FAIL("a damaged page was returned");
    } catch (const error& e) {
      CHECK(e.code() == errc::corrupt);
      CHECK_THAT(e.what(), Catch::Contains("page 2") && Catch::Contains(f.path()));
    }
    CHECK(t.is_spilled(page_id{2}));  // still reported on the next access
  }
  CHECK_THROWS_AS(t.hash(), error);
  CHECK(t.allocator().stats().live_blocks == 3);  // the failed reload freed its block
  CHECK(page_is_right(t.at(page_id{3}), 3));
  CHECK(t.damaged() == 3);  // at twice, hash once
  CHECK(t.rebuilt() == 0);
  CHECK_THAT(t.last_damage(), Catch::Contains("page 2") && Catch::Contains(f.path()));
  // A rebuild that cannot (false) leaves it reported; one that gives the page at its epoch
  // brings it back, through at or through hash alike.
  t.set_rebuild([](page_id, epoch, page_t&) { return false; });
  CHECK_THROWS_AS(t.at(page_id{2}), error);
  int calls = 0;
  t.set_rebuild([&](page_id id, epoch e, page_t& out) {
    ++calls;
    for (std::size_t s = 0; s < L::extent; ++s) out.set(s, value_of(id.value(), s));
    out.set_epoch(e);
    return true;
  });
  CHECK(page_is_right(t.at(page_id{2}), 2));
  CHECK(calls == 1);
  CHECK(t.rebuilt() == 1);
  CHECK(!t.is_spilled(page_id{2}));
  CHECK_THAT(t.last_damage(), Catch::Contains("rebuilt"));
  t.spill(page_id{1});
  test::flip_byte(f.path(), f.offset_of(0) + 24 + 8);  // page 1's record, in the freed slot 0
  std::uint32_t seen = 0;
  t.for_each([&](const page_t& p) { CHECK(page_is_right(p, seen++)); });
  CHECK(seen == 4);
  CHECK(t.rebuilt() == 2);
  // A rebuild that hands back another epoch is not taken.
  t.spill(page_id{3});
  test::flip_byte(f.path(), f.offset_of(0) + 24 + 8);
  t.set_rebuild([](page_id, epoch, page_t& out) { out.set_epoch(epoch{99}); return true; });
  CHECK_THROWS_AS(t.at(page_id{3}), error);
}

TEST_CASE("page table: pages spilled and brought back from many threads at once", "[memory][spill][concurrency]")
{
  spilling s;
  auto& [d, t, f] = s;
  constexpr std::uint32_t n = 256;
  fill_pages(t, n);
  for (int round = 0; round < 4; ++round) {
    for (std::uint32_t i = 0; i < n; ++i) t.spill(page_id{i});
    std::vector<std::thread> threads;
    std::array<int, 4> bad{};
    for (int k = 0; k < 4; ++k)
      threads.emplace_back([&, k] {
        for (std::uint32_t j = 0; j < n; ++j) {
          const std::uint32_t i = (j * 7 + static_cast<std::uint32_t>(k) * 31) % n;  // every thread wants every page
          if (!page_is_right(*t.find(page_id{i}), i)) ++bad[static_cast<std::size_t>(k)];
        }
      });
    for (auto& th : threads) th.join();
    CHECK(bad == std::array<int, 4>{});
    CHECK(t.spilled() == 0);
    CHECK(t.reloads() == std::uint64_t{n} * static_cast<std::uint64_t>(round + 1));  // each page read back once
    CHECK(f.slots_in_use() == 0);
  }
}

TEST_CASE("memory budget: watermarks and the floor of one tick's pages are checked, naming the numbers", "[memory][spill]")
{
  memory_budget b;
  b.check(2048, 1000);  // off: anything goes
  b.limit_bytes = 1 << 20;
  b.check(2048, 256);   // 786,432 bytes at the low watermark hold 384 pages
  CHECK_THROWS_WITH(b.check(2048, 500), Catch::Contains("1048576 bytes") && Catch::Contains("500 pages of 2048 bytes") &&
                                          Catch::Contains("1024000"));
  b.low_watermark = 0.95;
  CHECK_THROWS_WITH(b.check(2048, 1), Catch::Contains("low 0.95"));
}

TEST_CASE("page table: in a table larger than the window, each spill_coldest call looks at the next window", "[memory][spill]")
{
  using small = page_table<dense<std::uint8_t, 8>>;
  test::temp_dir d("mmsb-spill-test");
  small t;
  spill_file f(d.path, sizeof(small::page_type));
  t.set_spill_file(&f);
  const std::uint32_t n = small::spill_window + small::spill_window / 2;
  t.set_clock(5);
  for (std::uint32_t i = 0; i < n; ++i) (void)t.create();
  // The coldest pages of each window: 100 and 70,000 were not used since they were made.
  t.set_clock(6);
  for (std::uint32_t i = 0; i < n; ++i)
    if (i != 100 && i != small::spill_window + 4464) (void)t.find(page_id{i});
  const auto far = std::chrono::steady_clock::now() + std::chrono::hours(1);
  auto out = t.spill_coldest(n - 1, far, [](page_id) { return true; });
  CHECK(out.spilled == 1);
  CHECK(t.is_spilled(page_id{100}));  // the first window: ids [0, 65536)
  out = t.spill_coldest(n - 2, far, [](page_id) { return true; });
  CHECK(out.spilled == 1);
  CHECK(t.is_spilled(page_id{small::spill_window + 4464}));  // the next one, from where the hand stopped
}

TEST_CASE("page table: aging ranks a page used in many ticks above one used once more recently, and forgets with the half-life", "[memory][spill]")
{
  spilling s;
  auto& [d, t, f] = s;
  t.set_half_life(4);
  t.set_clock(1);
  fill_pages(t, 3);
  // Page 0 is used in ticks 2..9 (its count saturates nowhere near: 8), page 1 once at tick 10.
  for (std::uint32_t c = 2; c <= 9; ++c) {
    t.set_clock(c);
    (void)t.find(page_id{0});
  }
  CHECK(t.use_count(page_id{0}) == 8);
  t.set_clock(10);
  (void)t.find(page_id{1});
  CHECK(t.use_count(page_id{1}) == 1);
  CHECK(t.use_count(page_id{2}) == 0);  // made, never found since
  const auto far = std::chrono::steady_clock::now() + std::chrono::hours(1);
  auto out = t.spill_coldest(2, far, [](page_id) { return true; });
  CHECK(out.spilled == 1);
  CHECK(t.is_spilled(page_id{2}));
  out = t.spill_coldest(1, far, [](page_id) { return true; });
  CHECK(t.is_spilled(page_id{1}));  // used more recently than 0, but once: 0 stays
  CHECK(!t.is_spilled(page_id{0}));
  // Twelve ticks unused are three half-lives: 8 >> 3 = 1, then this use makes 2. The count
  // survives a spill: page 0 spilled and found again at tick 22 counts its uses on.
  t.set_clock(21);
  (void)t.find(page_id{0});
  CHECK(t.use_count(page_id{0}) == 2);
  t.spill(page_id{0});
  t.set_clock(22);
  (void)t.find(page_id{0});
  CHECK(t.use_count(page_id{0}) == 3);
  CHECK_THROWS_WITH(t.set_half_life(0), Catch::Contains("half-life"));
  for (std::uint32_t i = 0; i < 3; ++i) CHECK(page_is_right(t.at(page_id{i}), i));
  memory_budget b;
  b.limit_bytes = 1 << 20;
  b.half_life = 0;
  CHECK_THROWS_WITH(b.check(2048, 1), Catch::Contains("half_life"));
}

TEST_CASE("page table: bring_back reloads the spilled pages of a list at once, in file order", "[memory][spill]")
{
  spilling s;
  auto& [d, t, f] = s;
  fill_pages(t, 8);
  for (std::uint32_t i : {6u, 2u, 4u, 5u}) t.spill(page_id{i});
  const std::uint64_t reads = f.reads();
  // Resident, repeated and unknown ids are skipped.
  const std::vector<page_id> ids{page_id{5}, page_id{1}, page_id{6}, page_id{5}, page_id{99}, page_id{2}};
  t.bring_back(ids);
  CHECK(t.prefetched() == 3);
  CHECK(f.reads() - reads == 3);
  for (std::uint32_t i : {2u, 5u, 6u}) CHECK(!t.is_spilled(page_id{i}));
  CHECK(t.is_spilled(page_id{4}));
  for (std::uint32_t i = 0; i < 8; ++i) CHECK(page_is_right(t.at(page_id{i}), i));
}

TEST_CASE("page graph under spill: propagation brings a level's spilled sources back before it reads them", "[memory][spill]")
{
  using S = plus_times<double>;
  spilling s;
  auto& [d, t, f] = s;
  fill_pages(t, 4);  // page 3 becomes its own value plus pages 0, 1 and 2
  std::vector<matrix_entry<double>> e;
  for (std::uint32_t r = 0; r < L::extent; ++r) e.push_back({r, r, 1.0});
  const auto identity = std::make_shared<const csr_matrix<double>>(csr_matrix<double>::from_entries(L::extent, L::extent, {e.data(), e.size()}));
  page_graph<S, L> g(t);
  for (std::uint32_t j = 0; j < 3; ++j) (void)g.add_matrix_edge(page_id{j}, page_id{3}, identity);
  g.propagate();
  for (std::uint32_t j = 0; j < 3; ++j) t.spill(page_id{j});
  delta_builder<S, L> b(page_id{0});
  b.accumulate(7, 2.0);
  g.apply(b.build());  // brings page 0 back, as a write does
  CHECK(t.prefetched() == 0);
  g.propagate();
  CHECK(t.prefetched() == 2);  // pages 1 and 2, at once, before the row was computed
  for (std::size_t s = 0; s < L::extent; ++s)
    CHECK(g.value(page_id{3}).get(s) == value_of(3, s) + value_of(0, s) + value_of(1, s) + value_of(2, s) + (s == 7 ? 2.0 : 0.0));
  CHECK(g.verify().ok());
}
