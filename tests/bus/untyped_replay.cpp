// mmsb/bus/untyped_replay.hpp and untyped_state.hpp: a store rebuilt without its types holds
// the typed bus's pages byte for byte, at every epoch the files reach, for every built-in
// semiring over dense, soa and bits pages, with sparse and dense wire forms, assigns and
// initial values; a custom shape is refused by name; damaged commit bytes are errors that change
// nothing, never a crash. (The mmsb command's own test is mmsb_cli.sh.)
#include <mmsb/bus/bus.hpp>
#include <mmsb/bus/untyped_replay.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/soa.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <tuple>
#include <vector>

namespace {

template <class S, class L>
struct shape_case {
  using semiring = S;
  using layout = L;
};

using cases = std::tuple<shape_case<mmsb::plus_times<float>, mmsb::dense<float, 100>>,
                         shape_case<mmsb::plus_times<std::int16_t>, mmsb::dense<std::int16_t, 64>>,
                         shape_case<mmsb::min_plus<std::int32_t>, mmsb::soa<10, std::int32_t, std::int32_t>>,
                         shape_case<mmsb::max_plus<double>, mmsb::dense<double, 3>>,
                         shape_case<mmsb::max_min<std::uint8_t>, mmsb::dense<std::uint8_t, 70>>,
                         shape_case<mmsb::or_and, mmsb::dense<bool, 9>>,
                         shape_case<mmsb::or_and, mmsb::bits<130>>>;

template <class T>
T some_value(std::mt19937& rng)
{
  if constexpr (std::is_same_v<T, bool>) return (rng() & 1u) != 0;
  else if constexpr (std::is_floating_point_v<T>) return static_cast<T>(static_cast<int>(rng() % 2001) - 1000) / T(8);
  else return static_cast<T>(rng() % 100);
}

} // namespace

TEMPLATE_LIST_TEST_CASE("rebuild_state: the typed bus's pages, byte for byte, at every reachable epoch", "[tools][untyped]", cases)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  using T = typename L::value_type;
  using bus_t = mmsb::basic_bus<S, L>;
  const unsigned seed = Catch::rngSeed();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  mmsb::memory_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = "store";
  std::map<std::uint64_t, std::vector<std::vector<std::byte>>> pages_at;  // epoch -> every page's bytes
  {
    bus_t bus(o);
    (void)bus.create_page();
    (void)bus.create_page(some_value<T>(rng));
    auto prod = bus.make_producer();
    for (int tick = 0; tick < 14; ++tick) {
      if (tick == 3) (void)bus.create_page();
      const std::uint32_t pages = tick < 3 ? 2 : 3;
      const std::size_t changes = tick % 5 == 4 ? L::extent : 1 + rng() % 4;  // every fifth tick: one whole page, dense on the wire
      for (std::size_t k = 0; k < changes; ++k) {
        const mmsb::page_id p{static_cast<std::uint32_t>(tick % 5 == 4 ? tick % pages : rng() % pages)};
        const std::size_t slot = tick % 5 == 4 ? k : rng() % L::extent;
        if (rng() % 4 == 0) prod.assign(p, slot, some_value<T>(rng));
        else prod.accumulate(p, slot, some_value<T>(rng));
      }
      (void)bus.tick();
      auto& bytes = pages_at[bus.current_epoch().value()];
      for (std::uint32_t p = 0; p < pages; ++p) {
        const auto b = bus.value(mmsb::page_id{p}).payload_bytes();
        bytes.emplace_back(b.begin(), b.end());
      }
      if (tick == 6) bus.checkpoint();
    }
  }
  const auto first_reachable = pages_at.begin()->first + 6;  // the checkpoint's epoch
  std::size_t compared = 0;
  for (const auto& [e, want] : pages_at) {
    if (e < first_reachable) {
      CHECK_THROWS_WITH(mmsb::rebuild_state(fs, "store", mmsb::epoch{e}),
                        Catch::Contains("epoch " + std::to_string(e) + " cannot be rebuilt") &&
                          Catch::Contains("the oldest reachable epoch is " + std::to_string(first_reachable)));
      continue;
    }
    const auto r = mmsb::rebuild_state(fs, "store", mmsb::epoch{e});
    REQUIRE(r.epoch.value() == e);
    REQUIRE(r.state.pages().size() == want.size());
    mmsb::state_hasher h;
    std::uint32_t id = 0;
    for (const auto& [pid, page] : r.state.pages()) {
      REQUIRE(pid == id);
      CHECK(page.bytes == want[id]);
      h.add(mmsb::page_id{id}, {want[id].data(), want[id].size()});
      ++id;
    }
    CHECK(r.state.hash() == h.digest());
    CHECK(r.topology == false);
    ++compared;
  }
  CHECK(compared >= 7);
  const auto latest = mmsb::rebuild_state(fs, "store", std::nullopt);
  CHECK(latest.epoch.value() == pages_at.rbegin()->first);
  CHECK(!latest.checkpoint.empty());
  CHECK(latest.commits == latest.epoch.value() - latest.checkpoint_epoch.value());
}

TEST_CASE("rebuild_state: slot text, a custom shape refused by name, malformed shapes", "[tools][untyped]")
{
  mmsb::memory_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = "s";
  {
    mmsb::basic_bus<mmsb::min_plus<float>, mmsb::dense<float, 3>> bus(o);
    (void)bus.create_page();
    auto prod = bus.make_producer();
    prod.accumulate(mmsb::page_id{0}, 1, 0.1f);
    (void)bus.tick();
  }
  const auto r = mmsb::rebuild_state(fs, "s", std::nullopt);
  const auto& p = r.state.pages().at(0);
  CHECK(r.state.slot_text(p, 0) == "inf");
  CHECK(r.state.slot_text(p, 1) == "0.1");

  const std::string custom = "mmsb-shape/1 semiring=mine flags=none layout=dense element=i32/4 extent=4 page=64";
  const auto info = mmsb::parse_shape({reinterpret_cast<const std::byte*>(custom.data()), custom.size()}, "x");
  CHECK(info.semiring == "mine");
  CHECK(info.extent == 4);
  CHECK(info.page_bytes == 64);
  try {
    mmsb::untyped_state s(info);
    FAIL("a custom semiring was accepted");
  } catch (const mmsb::error& e) {
    CHECK(e.code() == mmsb::errc::unsupported);
    CHECK(std::string(e.what()).find("cannot rebuild state for shape 'mmsb-shape/1 semiring=mine") != std::string::npos);
  }
  for (const std::string bad : {"mmsb-bus/1 whatever", "mmsb-shape/1 semiring=x flags=none layout=dense element=i32 extent=4 page=64",
                                "mmsb-shape/1 semiring=x flags=none layout=dense element=i32/4 extent=-4 page=64",
                                "mmsb-shape/1 semiring=x flags=none layout=ring element=i32/4 extent=4 page=64",
                                // 2^61 + 1 slots of 8 bytes wrap to 8 bytes in 64 bits: refused as a number
                                "mmsb-shape/1 semiring=plus_times<f64> flags=none layout=dense element=f64/8 extent=2305843009213693953 page=8",
                                "mmsb-shape/1 semiring=x flags=none layout=dense element=i32/4 extent=4294967296 page=64", ""})
    CHECK_THROWS_AS(mmsb::parse_shape({reinterpret_cast<const std::byte*>(bad.data()), bad.size()}, "x"), mmsb::error);
  // A page= too small for the slots is refused before any page is touched.
  const std::string small = "mmsb-shape/1 semiring=plus_times<i64> flags=none layout=dense element=i64/8 extent=32 page=64";
  CHECK_THROWS_AS(mmsb::untyped_state(mmsb::parse_shape({reinterpret_cast<const std::byte*>(small.data()), small.size()}, "x")), mmsb::error);
  // The same check cannot overflow for a shape built by hand: 2^61 + 1 slots of 8 bytes in 8 bytes.
  mmsb::shape_info huge = mmsb::parse_shape({reinterpret_cast<const std::byte*>(small.data()), small.size()}, "x");
  huge.extent = (std::size_t{1} << 61) + 1;
  huge.page_bytes = 8;
  CHECK_THROWS_AS(mmsb::untyped_state(huge), mmsb::error);
  CHECK_THROWS_AS(mmsb::rebuild_state(fs, "nowhere", std::nullopt), mmsb::error);
}

TEST_CASE("untyped_state::apply_commit: damaged bytes throw and change nothing, never crash", "[tools][untyped]")
{
  using bus_t = mmsb::basic_bus<mmsb::plus_times<std::int32_t>, mmsb::dense<std::int32_t, 40>>;
  mmsb::memory_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = "s";
  {
    bus_t bus(o);
    (void)bus.create_page();
    (void)bus.create_page(3);
    auto prod = bus.make_producer();
    prod.accumulate(mmsb::page_id{0}, 1, 5);
    prod.assign(mmsb::page_id{1}, 7, 9);
    (void)bus.tick();
    for (std::size_t i = 0; i < 40; ++i) prod.accumulate(mmsb::page_id{0}, i, static_cast<std::int32_t>(i));  // dense
    (void)bus.tick();
  }
  const auto shape = mmsb::read_store_shape(fs, "s");
  std::vector<std::vector<std::byte>> payloads;
  (void)mmsb::read_log(fs, "s/log", shape, mmsb::recovery_mode::strict, [&](const mmsb::record_header& h, mmsb::span<const std::byte> p) {
    if (h.type == mmsb::record_type::commit) payloads.emplace_back(p.begin(), p.end());
  });
  REQUIRE(payloads.size() == 2);
  const auto info = mmsb::parse_shape(shape, "s");
  std::mt19937 rng(Catch::rngSeed());
  std::size_t refused = 0, applied = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    mmsb::untyped_state s(info);
    s.apply_commit(mmsb::epoch{1}, payloads[0]);
    const auto before = s.hash();
    auto bytes = payloads[1];
    if (trial % 3 == 0) bytes.resize(rng() % bytes.size());                          // truncated
    else bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1u << (rng() % 8));  // one bit flipped
    try {
      s.apply_commit(mmsb::epoch{2}, bytes);
      ++applied;  // a flipped value bit is still a valid commit
    } catch (const mmsb::error&) {
      CHECK(s.hash() == before);
      ++refused;
    }
  }
  CHECK(refused > 1000);
  CHECK(applied > 0);
}

TEST_CASE("rebuild_state: a store with a page graph is flagged; its stored pages are durable_store's", "[tools][untyped]")
{
  using S = mmsb::plus_times<std::int64_t>;
  using L = mmsb::dense<std::int64_t, 4>;
  using bus_t = mmsb::basic_bus<S, L>;
  mmsb::memory_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = "g";
  std::vector<std::byte> base0;
  {
    bus_t bus(o);
    const auto a = bus.create_page(), b = bus.create_page();
    const mmsb::matrix_entry<std::int64_t> diag[] = {{0, 0, 2}, {1, 1, 2}, {2, 2, 2}, {3, 3, 2}};
    (void)bus.add_matrix_edge(a, b, bus_t::matrix_type::from_entries(4, 4, diag));
    auto prod = bus.make_producer();
    prod.accumulate(a, 1, 5);
    (void)bus.tick();
    const auto v = bus.value(a).payload_bytes();
    base0.assign(v.begin(), v.end());
  }
  const auto r = mmsb::rebuild_state(fs, "g", std::nullopt);
  CHECK(r.topology);
  CHECK(r.state.pages().at(0).bytes == base0);
  CHECK(r.state.slot_text(r.state.pages().at(0), 1) == "5");
}

TEST_CASE("rebuild_state: an epoch before the only checkpoint, with no commit after it, names the oldest reachable", "[tools][untyped]")
{
  mmsb::memory_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = "store";
  {
    mmsb::basic_bus<mmsb::plus_times<float>, mmsb::dense<float, 100>> bus(o);
    const auto p = bus.create_page();
    auto prod = bus.make_producer();
    for (int tick = 0; tick < 3; ++tick) {
      prod.accumulate(p, static_cast<std::size_t>(tick), 1.0f);
      (void)bus.tick();
    }
    bus.checkpoint();  // at epoch 3: the log before it is removed, and nothing follows
  }
  CHECK(mmsb::rebuild_state(fs, "store", mmsb::epoch{3}).epoch.value() == 3);
  CHECK_THROWS_WITH(mmsb::rebuild_state(fs, "store", mmsb::epoch{1}),
                    Catch::Contains("epoch 1 cannot be rebuilt") && Catch::Contains("the oldest reachable epoch is 3"));
  CHECK_THROWS_WITH(mmsb::rebuild_state(fs, "store", mmsb::epoch{4}), Catch::Contains("the latest recoverable epoch is 3"));
}
