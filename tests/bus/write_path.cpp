// The one write path: every kind of write (producer deltas, transactions, topology edits) keeps
// derived pages equal to a plain reference and to a full recompute; provenance through the bus
// reports the epochs of the writes; pages start at the semiring's zero() (or an initial value),
// live, after recovery and in replay; a semiring defined only through semiring_traits runs the
// whole bus (graph, log, recovery, replay, provenance).
#include <mmsb/bus.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string_view>
#include <vector>

using namespace mmsb;

namespace {

using S = plus_times<std::int64_t>;
using L = dense<std::int64_t, 8>;
using B = basic_bus<S, L>;
using matrix = csr_matrix<std::int64_t>;
using row = std::array<std::int64_t, 8>;

matrix weights(std::int64_t k)  // slot i feeds slot (i + k) % 8 with weight k + 1, and itself with 1
{
  std::vector<matrix_entry<std::int64_t>> e;
  for (std::uint32_t i = 0; i < 8; ++i) {
    e.push_back({i, i, 1});
    e.push_back({static_cast<std::uint32_t>((i + static_cast<std::uint32_t>(k)) % 8), i, k + 1});
  }
  return matrix::from_entries(8, 8, {e.data(), e.size()});
}

row base_of(const B& b, page_id p)
{
  row r{};
  for (std::size_t i = 0; i < 8; ++i) r[i] = b.store().pages().at(p).get(i);
  return r;
}

row times(const matrix& a, const row& x)
{
  row y{};
  for (std::uint32_t i = 0; i < 8; ++i) {
    const auto cols = a.row_cols(i);
    const auto vals = a.row_values(i);
    for (std::size_t k = 0; k < cols.size(); ++k) y[i] += vals[k] * x[cols[k]];
  }
  return y;
}

// Derived pages against the reference and against the bus's own full recompute.
void check_fresh(B& b, page_id x, page_id y, page_id s, page_id k, const std::map<int, matrix>& into_s)
{
  row want_s = base_of(b, s);
  const std::array<page_id, 2> srcs{x, y};
  for (const auto& [src, a] : into_s) {
    const row add = times(a, base_of(b, srcs[static_cast<std::size_t>(src)]));
    for (std::size_t i = 0; i < 8; ++i) want_s[i] += add[i];
  }
  for (std::size_t i = 0; i < 8; ++i) {
    INFO("slot " << i);
    CHECK(b.value(s).get(i) == want_s[i]);
    CHECK(b.value(k).get(i) == 2 * want_s[i] + 1);
  }
  const auto h = b.hash();
  b.recompute_all();
  CHECK(b.hash() == h);
  CHECK(b.verify().ok());
}

} // namespace

TEST_CASE("bus write path: derived pages equal a plain reference after every kind of write", "[bus][write_path]")
{
  B b;
  const page_id x = b.create_page(), y = b.create_page(), s = b.create_page(), k = b.create_page();
  std::map<int, matrix> into_s{{0, weights(1)}, {1, weights(3)}};
  const edge_id ex = b.add_matrix_edge(x, s, into_s.at(0));
  const edge_id ey = b.add_matrix_edge(y, s, into_s.at(1));
  const std::array<page_id, 1> ks{s};
  b.add_kernel_edge({ks.data(), ks.size()}, k, [](span<const page<L>* const> in, page<L>& out) {
    for (std::size_t i = 0; i < 8; ++i) out.set(i, 2 * in[0]->get(i) + 1);
  }, "twice_plus_one");
  (void)b.tick();
  check_fresh(b, x, y, s, k, into_s);

  SECTION("producer deltas, then a transaction, then topology edits, then a budgeted tick")
  {
    auto w = b.make_producer();
    for (std::size_t i = 0; i < 8; ++i) w.accumulate(x, i, static_cast<std::int64_t>(i) + 1);
    w.assign(s, 2, 100);
    (void)b.tick();
    check_fresh(b, x, y, s, k, into_s);

    auto tx = b.begin();
    tx.accumulate(y, 3, 5).assign(x, 0, -4).accumulate(s, 7, 9);
    const epoch e = b.commit(tx);
    CHECK(e == b.current_epoch());
    CHECK(tx.empty());
    check_fresh(b, x, y, s, k, into_s);  // commit propagates before it returns

    b.set_weights(ex, weights(5));
    into_s.at(0) = weights(5);
    (void)b.tick();
    check_fresh(b, x, y, s, k, into_s);

    b.remove_edge(ey);
    into_s.erase(1);
    (void)b.tick();
    check_fresh(b, x, y, s, k, into_s);

    (void)b.add_matrix_edge(y, s, weights(2));
    into_s.emplace(1, weights(2));
    (void)b.tick();
    check_fresh(b, x, y, s, k, into_s);

    for (std::size_t i = 0; i < 8; ++i) w.accumulate(y, i, 3);
    (void)b.tick(tick_budget{std::chrono::nanoseconds{0}});  // may leave a frontier
    auto tx2 = b.begin();
    tx2.accumulate(x, 1, 1);
    (void)b.commit(tx2);  // finishes what the budgeted tick left
    check_fresh(b, x, y, s, k, into_s);
  }

  SECTION("a refused transaction changes nothing and stays intact for a retry")
  {
    const auto before = b.hash();
    const epoch e0 = b.current_epoch();
    auto tx = b.begin();
    tx.accumulate(x, 1, 1).accumulate(page_id{99}, 0, 1);
    CHECK_THROWS_WITH(b.commit(tx), Catch::Contains("page 99"));
    CHECK(b.hash() == before);
    CHECK(b.current_epoch() == e0);
    CHECK(tx.pages() == 2);
    b.abort(tx);
    CHECK(tx.empty());
    CHECK(b.commit(tx) == e0);  // an empty transaction commits nothing
  }
}

TEST_CASE("bus write path: provenance through the bus reports the epochs of the writes", "[bus][write_path]")
{
  B b;
  const page_id x = b.create_page(), y = b.create_page(), s = b.create_page(), t = b.create_page();
  (void)b.add_matrix_edge(x, s, weights(1));
  (void)b.add_matrix_edge(y, s, weights(1));
  (void)b.add_matrix_edge(s, t, weights(1));
  auto tx = b.begin();
  tx.accumulate(x, 0, 1);
  const epoch ex = b.commit(tx);  // x at epoch ex
  auto w = b.make_producer();
  w.accumulate(y, 1, 1);
  const epoch ey = b.tick().epoch;  // y at epoch ey
  REQUIRE(ex < ey);
  const auto r = b.provenance(t);
  std::map<std::uint32_t, epoch> got;
  for (const auto& a : r.ancestors) got[a.page.value()] = a.last_epoch;
  REQUIRE(got.count(x.value()));
  REQUIRE(got.count(y.value()));
  CHECK(got.at(x.value()) == ex);
  CHECK(got.at(y.value()) == ey);
  CHECK(got.at(s.value()).value() == 1);  // created, then named by the first commit
  const auto sr = b.slot_provenance(t, 0);
  bool saw_x = false;
  for (const auto& a : sr.ancestors)
    if (a.page == x) {
      saw_x = true;
      CHECK(a.last_epoch == ex);
    }
  CHECK(saw_x);
}

// ---- pages start at zero() ---------------------------------------------------------------

TEMPLATE_TEST_CASE("bus write path: new pages start at the semiring's zero()", "[bus][write_path]", float, std::int64_t)
{
  using T = TestType;
  {
    basic_bus<min_plus<T>, dense<T, 16>> b;
    const page_id p = b.create_page();
    for (std::size_t i = 0; i < 16; ++i) CHECK(b.value(p).get(i) == min_plus<T>::zero());
    auto tx = b.begin();
    tx.accumulate(p, 3, T(5));  // min(zero, 5) = 5: what a reader expects
    (void)b.commit(tx);
    CHECK(b.value(p).get(3) == T(5));
    CHECK(b.value(p).get(4) == min_plus<T>::zero());
  }
  {
    basic_bus<max_plus<T>, dense<T, 16>> b;
    const page_id p = b.create_page();
    CHECK(b.value(p).get(0) == max_plus<T>::zero());
    auto tx = b.begin();
    tx.accumulate(p, 0, T(-5));
    (void)b.commit(tx);
    CHECK(b.value(p).get(0) == T(-5));
  }
}

TEST_CASE("bus write path: or_and pages start false, every storage byte defined", "[bus][write_path]")
{
  using BB = basic_bus<or_and, bits<256>>;  // 32 B of words in a 64 B block: padding
  BB b;
  const page_id p = b.create_page();
  for (std::size_t i = 0; i < 256; ++i) REQUIRE_FALSE(b.value(p).get(i));
  for (const auto byte : b.value(p).payload_bytes()) REQUIRE(byte == std::byte{0});
  BB again;
  (void)again.create_page();
  CHECK(again.hash() == b.hash());
}

TEST_CASE("bus write path: zero() pages and initial values survive recovery and replay", "[bus][write_path]")
{
  using SR = min_plus<float>;
  using LL = dense<float, 16>;
  using BB = basic_bus<SR, LL>;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/s";
  state_hash live_hash{};
  page_id a{}, c{}, d{};
  {
    BB b(o);
    a = b.create_page();
    c = b.create_page(7.0f);
    auto tx = b.begin();
    tx.accumulate(a, 1, 2.5f).accumulate(c, 2, 3.0f);
    (void)b.commit(tx);
    d = b.create_page(-1.0f);  // created and logged with the next commit, which does not name it
    auto tx2 = b.begin();
    tx2.accumulate(a, 2, 1.0f);
    (void)b.commit(tx2);
    CHECK(b.value(c).get(0) == 7.0f);
    CHECK(b.value(c).get(2) == 3.0f);
    CHECK(b.value(d).get(5) == -1.0f);
    CHECK(b.value(a).get(0) == SR::zero());
    live_hash = b.hash();
    // The audit path: epoch 1 rebuilt from the log alone.
    const auto at1 = b.store().snapshot_at(epoch{1});
    REQUIRE(at1.pages.size() == 2);
    CHECK(at1.pages[1].get(0) == 7.0f);
    CHECK(at1.pages[0].get(0) == SR::zero());
  }
  BB reopened(o);
  CHECK(reopened.hash() == live_hash);
  CHECK(reopened.value(c).get(0) == 7.0f);
  CHECK(reopened.value(d).get(0) == -1.0f);
  CHECK(reopened.value(a).get(1) == 2.5f);
  CHECK(reopened.value(a).get(9) == SR::zero());

  // The logged history replays onto a bus with the same pages created at zero().
  BB replay;
  for (int i = 0; i < 3; ++i) (void)replay.create_page();
  auto feed = replay.make_producer(256);
  reopened.store().for_each_commit([&](epoch, span<const BB::delta_type> ds) {
    for (const auto& x : ds) feed.push(x);
    (void)replay.tick();
  });
  CHECK(replay.hash() == live_hash);
}

// ---- a semiring defined only through semiring_traits ---------------------------------------

namespace {
struct shortest_hops {};  // no members at all: everything comes from the traits specialization
} // namespace

template <>
struct mmsb::semiring_traits<shortest_hops> {
  using value_type = std::int32_t;
  static constexpr std::string_view name = "shortest_hops";
  static constexpr std::int32_t inf = std::numeric_limits<std::int32_t>::max();
  static constexpr value_type add(value_type a, value_type b) noexcept { return a < b ? a : b; }
  static constexpr value_type mul(value_type a, value_type b) noexcept { return (a == inf || b == inf) ? inf : a + b; }
  static constexpr value_type zero() noexcept { return inf; }
  static constexpr value_type one() noexcept { return 0; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
  static constexpr bool selective_add = true;
};

TEST_CASE("bus write path: a traits-only semiring runs the whole bus", "[bus][write_path]")
{
  static_assert(semiring<shortest_hops>);
  using LL = dense<std::int32_t, 4>;
  using BB = basic_bus<shortest_hops, LL>;
  using tr = semiring_traits<shortest_hops>;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/hops";
  std::vector<matrix_entry<std::int32_t>> e{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}};
  const auto step = csr_matrix<std::int32_t>::from_entries(4, 4, {e.data(), e.size()});
  state_hash live{};
  {
    BB b(o);
    const page_id src = b.create_page(), m1 = b.create_page(), m2 = b.create_page();
    CHECK(b.value(src).get(0) == tr::inf);
    const std::array<page_id, 2> region{m1, m2};
    (void)b.add_fixed_point_region({region.data(), region.size()});  // m1 <-> m2: a cycle, solved to a fixed point
    (void)b.add_matrix_edge(src, m1, step);
    (void)b.add_matrix_edge(m1, m2, step);
    (void)b.add_matrix_edge(m2, m1, step);
    auto tx = b.begin();
    tx.assign(src, 0, 0).assign(src, 2, 10);
    (void)b.commit(tx);
    CHECK(b.value(m1).get(0) == 1);
    CHECK(b.value(m2).get(0) == 2);
    CHECK(b.value(m1).get(2) == 11);
    CHECK(b.value(m1).get(1) == tr::inf);
    CHECK(b.verify().ok());
    const auto prov = b.provenance(m2);
    bool saw_src = false;
    for (const auto& a : prov.ancestors)
      if (a.page == src) saw_src = a.last_epoch == b.current_epoch();
    CHECK(saw_src);
    b.checkpoint();
    auto tx2 = b.begin();
    tx2.assign(src, 1, 4);
    (void)b.commit(tx2);
    live = b.store().hash();
    CHECK(b.store().replay_to(b.current_epoch()) == live);
  }
  BB reopened(o);  // recovery: checkpoint, then the log after it
  CHECK(reopened.store().hash() == live);
  CHECK(reopened.value(page_id{0}).get(1) == 4);
}
