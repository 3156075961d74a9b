// The distributed bus's wire forms without MPI: the routed changes (dist/routing.hpp) and the
// ghost updates (dist/ghosts.hpp) decode to what was sent, and every malformed stream a rank
// could receive (cut short anywhere, a page owned elsewhere, a slot past the extent, an unknown
// operation, an over-long LEB128, a delta for a page with no ghost here, an accumulate) is
// refused with a message naming the sender and what is wrong, before anything changes. Once
// warm, the distributed tick's own wire path (routing, receiving, collecting the boundary
// pages, decoding ghost updates) allocates nothing (global operator new replaced and counted;
// MPI's own allocations are not ours to count). The bus under mpirun: tests/dist/mpi_bus.cpp.
#include <mmsb/delta/codec.hpp>
#include <mmsb/dist/ghosts.hpp>
#include <mmsb/dist/routing.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include "../support/replaced_new.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

using namespace mmsb;
using namespace mmsb::dist;

namespace {
using test::allocations_of;
using S = plus_times<double>;
using L = dense<double, 64>;
using change = routed_change<double>;

// 100 pages over 2 ranks: rank 1 owns 50..99 (and computes them).
const placement& parts()
{
  static const partition p = partition::block(100, 2);
  static const placement where(p);
  return where;
}

// Two runs (producers 3 and 4) of changes for rank 1, as a router writes them.
std::vector<change> sample()
{
  return {{7, 100, 3, 50, 1, 0, 1.5}, {7, 101, 3, 60, 63, 1, -2.25}, {7, 109, 3, 99, 0, 0, 3.0}, {8, 5, 4, 51, 2, 0, 0.125}};
}

std::vector<std::byte> stream_of(const std::vector<change>& cs)
{
  change_router<L> r(2);
  for (const auto& c : cs) r.add(1, c);
  return r.streams()[1];
}

std::string decode_at_rank1(const std::vector<std::byte>& b, std::vector<change>& out)
{
  return change_router<L>::decode(0, 1, parts(), span<const std::byte>(b.data(), b.size()), out);
}

bool same(const change& a, const change& b)
{
  return a.epoch == b.epoch && a.sequence == b.sequence && a.producer == b.producer && a.page == b.page && a.slot == b.slot &&
         a.op == b.op && a.value == b.value;
}
} // namespace

TEST_CASE("routed changes decode to what was sent, in runs")
{
  const auto cs = sample();
  const auto b = stream_of(cs);
  std::vector<change> out;
  REQUIRE(decode_at_rank1(b, out).empty());
  REQUIRE(out.size() == cs.size());
  for (std::size_t i = 0; i < cs.size(); ++i) CHECK(same(out[i], cs[i]));
}

TEST_CASE("a routed stream cut short anywhere inside a change or a run header is refused, naming the sender")
{
  const auto b = stream_of(sample());
  // Where the decoder may stop cleanly: the end of each run (run 1 holds 3 changes, run 2 one).
  std::vector<std::size_t> run_ends;
  {
    const auto first = stream_of({sample()[0], sample()[1], sample()[2]});
    run_ends = {0, first.size(), b.size()};
  }
  for (std::size_t cut = 1; cut < b.size(); ++cut) {
    std::vector<change> out;
    const std::string why = decode_at_rank1(std::vector<std::byte>(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(cut)), out);
    if (std::find(run_ends.begin(), run_ends.end(), cut) != run_ends.end()) {
      CHECK(why.empty());
      continue;
    }
    INFO("cut at byte " << cut << " of " << b.size());
    CHECK_THAT(why, Catch::StartsWith("mpi_bus tick: the changes rank 0 routed to rank 1 are malformed ("));
    CHECK_THAT(why, Catch::Contains("cut short"));
    CHECK_THAT(why, Catch::EndsWith("; nothing changed"));
  }
}

TEST_CASE("a routed change for a page owned elsewhere, a slot past the extent or an unknown operation is refused")
{
  const auto refused = [](change c, const std::string& what) {
    std::vector<change> out;
    const std::string why = decode_at_rank1(stream_of({c}), out);
    INFO(why);
    CHECK_THAT(why, Catch::Contains(what));
  };
  refused({1, 0, 3, 49, 0, 0, 1.0}, "page 49 is not rank 1's");
  refused({1, 0, 3, 100, 0, 0, 1.0}, "page 100 is not rank 1's");
  refused({1, 0, 3, 50, 64, 0, 1.0}, "page 50 slot 64 past the extent");
  refused({1, 0, 3, 50, 0, 7, 1.0}, "an unknown operation 7");
  // A run header whose epoch never ends (11 continuation bytes).
  std::vector<std::byte> b(8, std::byte{0});
  b[4] = std::byte{1};
  b.insert(b.end(), 11, std::byte{0xff});
  std::vector<change> out;
  CHECK_THAT(decode_at_rank1(b, out), Catch::Contains("a run header cut short"));
}

TEST_CASE("the inbox refuses a malformed stream, a full ring and a producer on two ranks, and orders by key")
{
  change_inbox<L> in;
  const auto good = stream_of(sample());
  std::vector<change> own{{7, 0, 9, 52, 0, 0, 1.0}};
  // Rank 0 sent the sample; rank 1 (this one) sends nothing through MPI.
  std::string why = in.receive(parts(), 1, span<const std::byte>(good.data(), good.size()), {static_cast<int>(good.size()), 0}, own, 64, 0);
  REQUIRE(why.empty());
  CHECK(in.received() == 4);
  CHECK(own.empty());
  const auto& ordered = in.in_order();
  REQUIRE(ordered.size() == 5);
  CHECK(ordered[3].producer == 9);  // epoch 7: producer 3's three, then 9's; then epoch 8's producer 4
  CHECK(ordered[4].producer == 4);
  in.clear();
  auto cut = good;
  cut.resize(cut.size() - 1);
  why = in.receive(parts(), 1, span<const std::byte>(cut.data(), cut.size()), {static_cast<int>(cut.size()), 0}, own, 64, 0);
  CHECK_THAT(why, Catch::Contains("malformed"));
  in.clear();
  why = in.receive(parts(), 1, span<const std::byte>(good.data(), good.size()), {static_cast<int>(good.size()), 0}, own, 3, 0);
  CHECK_THAT(why, Catch::Contains("4 changes routed to rank 1, more than its local ring holds (bus_options::ring_capacity 3)"));
  in.clear();
  own = {{7, 0, 3, 52, 0, 0, 1.0}};  // producer 3 pushed here too
  why = in.receive(parts(), 1, span<const std::byte>(good.data(), good.size()), {static_cast<int>(good.size()), 0}, own, 64, 0);
  CHECK_THAT(why, Catch::Contains("producer 3 pushed on rank 0 and on rank 1"));
}

TEST_CASE("ghost updates decode to assigns; a cut stream, a page with no ghost here or an accumulate is refused naming the sender")
{
  const std::unordered_map<std::uint32_t, page_id> ghosts{{10, page_id{50}}, {11, page_id{51}}};
  sparse_delta<S, L> a(page_id{10});
  a.push_back(3, delta_op::assign, 2.5);
  a.push_back(40, delta_op::assign, -1.0);
  sparse_delta<S, L> b(page_id{11});
  b.push_back(0, delta_op::assign, 7.0);
  auto bytes = encode(delta<S, L>(a));
  const auto second = encode(delta<S, L>(b));
  bytes.insert(bytes.end(), second.begin(), second.end());
  std::vector<ghost_update<double>> out;
  delta<S, L> scratch;
  decode_ghost_updates<S, L>(2, span<const std::byte>(bytes.data(), bytes.size()), ghosts, out, scratch);
  REQUIRE(out.size() == 3);
  CHECK((out[0].ghost == page_id{50} && out[0].slot == 3 && out[0].value == 2.5));
  CHECK((out[1].ghost == page_id{50} && out[1].slot == 40 && out[1].value == -1.0));
  CHECK((out[2].ghost == page_id{51} && out[2].slot == 0 && out[2].value == 7.0));
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    if (cut == bytes.size() - second.size()) continue;  // a whole first delta: valid
    std::vector<ghost_update<double>> part;
    INFO("cut at byte " << cut);
    CHECK_THROWS_AS((decode_ghost_updates<S, L>(2, span<const std::byte>(bytes.data(), cut), ghosts, part, scratch)), error);
  }
  sparse_delta<S, L> stranger(page_id{12});
  stranger.push_back(1, delta_op::assign, 1.0);
  const auto s = encode(delta<S, L>(stranger));
  try {
    decode_ghost_updates<S, L>(2, span<const std::byte>(s.data(), s.size()), ghosts, out, scratch);
    FAIL("a page with no ghost here was accepted");
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("rank 2 sent a change of page 12, which this rank holds no ghost of"));
  }
  sparse_delta<S, L> acc(page_id{10});
  acc.push_back(1, delta_op::accumulate, 1.0);
  const auto c = encode(delta<S, L>(acc));
  try {
    decode_ghost_updates<S, L>(2, span<const std::byte>(c.data(), c.size()), ghosts, out, scratch);
    FAIL("an accumulate was accepted");
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("rank 2 sent an accumulate to slot 1 of page 10; ghost updates are assigns"));
  }
}

TEST_CASE("once warm, routing, receiving, collecting boundary pages and decoding ghost updates allocate nothing")
{
  // A tick's worth of changes for rank 1 from rank 0, in runs of two producers.
  std::vector<change> cs;
  for (std::uint32_t k = 0; k < 300; ++k) cs.push_back({5, k, 3 + (k / 100) % 2, 50 + k % 50, k % 64, k % 2, 0.5 * k});
  change_router<L> router(2);
  change_inbox<L> inbox;
  std::vector<change> own;
  std::vector<int> from(2, 0);
  std::size_t received = 0;
  const auto route_and_receive = [&] {
    for (const auto& c : cs) router.add(1, c);
    const auto& wire = router.streams()[1];
    from[0] = static_cast<int>(wire.size());
    const std::string why = inbox.receive(parts(), 1, span<const std::byte>(wire.data(), wire.size()), from, own, 1024, 0);
    received += why.empty() ? inbox.in_order().size() : 0;
    inbox.clear();
    router.clear();
  };
  // The owner's boundary pages (two, each held by two ranks) and the holder's decoding.
  using storage = L::storage_type;
  std::vector<storage> pages(2);
  boundary_set<S, L> boundary;
  (void)boundary.add_holder(10, page_id{0}, 1, pages[0]);
  (void)boundary.add_holder(10, page_id{0}, 2, pages[0]);
  (void)boundary.add_holder(11, page_id{1}, 1, pages[1]);
  const std::unordered_map<std::uint32_t, page_id> ghosts{{10, page_id{50}}, {11, page_id{51}}};
  std::vector<std::byte> to_rank1;
  to_rank1.reserve(1 << 16);
  std::vector<ghost_update<double>> updates;
  updates.reserve(4 * L::extent);
  delta<S, L> scratch;
  int step = 0;
  const auto collect_and_decode = [&] {
    ++step;
    for (std::size_t i = 0; i < L::extent; ++i) L::store(pages[0], i, step + 0.25 * static_cast<double>(i));  // every slot: dense
    L::store(pages[1], static_cast<std::size_t>(step) % L::extent, -1.0 * step);                        // one slot: sparse
    to_rank1.clear();
    (void)boundary.collect([&](page_id local) -> const storage& { return pages[local.value()]; },
                           [&](std::uint32_t holder, span<const std::byte> d) {
                             if (holder == 1) to_rank1.insert(to_rank1.end(), d.begin(), d.end());
                           });
    updates.clear();
    decode_ghost_updates<S, L>(0, span<const std::byte>(to_rank1.data(), to_rank1.size()), ghosts, updates, scratch);
  };
  for (int warm = 0; warm < 3; ++warm) {
    route_and_receive();
    collect_and_decode();
  }
  std::vector<change> grows;
  REQUIRE(allocations_of([&] { grows.resize(1000); }) == 1);  // the count sees allocations
  REQUIRE(received == 3 * cs.size());
  REQUIRE(updates.size() == L::extent + 1);
  CHECK(allocations_of([&] {
          for (int round = 0; round < 20; ++round) {
            route_and_receive();
            collect_and_decode();
          }
        }) == 0);
  CHECK(received == 23 * cs.size());
  CHECK(updates.size() == L::extent + 1);
  CHECK(updates.back().value == -23.0);
}
