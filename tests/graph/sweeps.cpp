// Full sweeps and recomputed rows: terminal values, unit weights and pushed (direction-optimizing)
// sweeps. Each semiring runs twice on the same graph and the same edits: as itself and with its
// terminal hidden (rows must stop early), or as itself and with its ⊕ not declared commutative
// (sweeps over sparse sources must push, the other side always pulls). Every page must be
// bit-identical after every step, and the fast side must call ⊗ fewer times (so the shortcut ran).
#include <mmsb/graph.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>
#include <mmsb/semiring/check_laws.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

using namespace mmsb;

// S with ⊗ calls counted, its terminal kept (WithTerminal) or hidden, and ⊕ declared commutative
// or not (a sweep may push only over a commutative ⊕).
template <class S, bool WithTerminal, bool Commutative = true>
struct counted {
  using value_type = semiring_value_t<S>;
  using T = value_type;
  static inline std::uint64_t muls = 0;
  static T add(T a, T b) noexcept { return S::add(a, b); }
  static T mul(T a, T b) noexcept { ++muls; return S::mul(a, b); }
  static constexpr T zero() noexcept { return S::zero(); }
  static constexpr T one() noexcept { return S::one(); }
  static constexpr T terminal() noexcept requires WithTerminal { return S::terminal(); }
  static constexpr bool idempotent_add = true;
  static constexpr bool selective_add = true;
  static constexpr bool commutative_add = Commutative;
};

static_assert(has_terminal_v<counted<or_and, true>> && !has_terminal_v<counted<or_and, false>>);
static_assert(commutative_add_v<counted<or_and, true>> && !commutative_add_v<counted<or_and, true, false>>);

// Random values of the layout's type: the terminal one time in `terminal_one_in`, and when
// `sparse`, zero() seven times in eight (a sweep over such sources pushes).
template <class S>
semiring_value_t<S> draw(std::mt19937_64& rng, int terminal_one_in, bool sparse)
{
  using T = semiring_value_t<S>;
  if (sparse && rng() % 8 != 0) return S::zero();
  if (rng() % terminal_one_in == 0) return S::terminal();
  if constexpr (std::is_same_v<T, bool>) return false;
  else if constexpr (std::is_floating_point_v<T>) return rng() % 9 == 0 ? S::zero() : T(1) + T(rng() % 1000) / T(1000);
  else return static_cast<T>(rng() % 1000);
}

// `with` (the shortcut on) and `without` (off) over the same pages and edits.
template <class S, class L, class With = counted<S, true>, class Without = counted<S, false>>
struct twin_case {
  static constexpr std::size_t n = L::extent;
  using T = semiring_value_t<S>;
  using with = With;
  using without = Without;

  std::mt19937_64 rng;
  bool sparse;
  page_table<L> t1, t2;
  std::vector<page_id> ids;

  explicit twin_case(std::uint64_t seed, bool sparse_sources = false) : rng(seed), sparse(sparse_sources)
  {
    for (int v = 0; v < 7; ++v) {
      ids.push_back(t1.create());
      (void)t2.create(ids.back());
      for (std::size_t i = 0; i < n; ++i) {
        const T x = v < 3 ? draw<S>(rng, 6, sparse) : S::zero();  // sources hold terminals; the rest start at zero
        t1.at(ids.back()).set(i, x);
        t2.at(ids.back()).set(i, x);
      }
    }
  }

  csr_matrix<T> matrix()
  {
    std::vector<matrix_entry<T>> es;
    for (std::uint32_t i = 0; i < n; ++i)
      for (std::uint32_t k = 0, start = static_cast<std::uint32_t>(rng() % n); k < 6; ++k) {  // 6 distinct columns
        T w;
        if constexpr (std::is_same_v<T, bool>) w = rng() % 4 != 0;
        else w = rng() % 3 == 0 ? S::one() : static_cast<T>(1 + rng() % 7);
        es.push_back({i, static_cast<std::uint32_t>((start + 5 * k) % n), w});
      }
    return csr_matrix<T>::from_entries(n, n, {es.data(), es.size()});
  }

  template <class G1, class G2>
  static void same(const G1& a, const G2& b, const std::vector<page_id>& ids, const char* when)
  {
    INFO(when);
    for (const auto id : ids)
      for (std::size_t i = 0; i < n; ++i) {
        INFO("page " << id.value() << " slot " << i);
        REQUIRE(detail::bit_equal(a.value(id).get(i), b.value(id).get(i)));
      }
  }

  void run()
  {
    page_graph<with, L> g1(t1);
    page_graph<without, L> g2(t2);
    // 0,1,2 -> 3 -> 4 -> 5, 1 -> 5, 2 -> 6, 3 -> 6: several in-edges per page, so rows span edges.
    const std::pair<int, int> edges[] = {{0, 3}, {1, 3}, {2, 3}, {3, 4}, {0, 4}, {4, 5}, {1, 5}, {2, 6}, {3, 6}};
    for (const auto& [s, d] : edges) {
      auto a = matrix();
      g1.add_matrix_edge(ids[s], ids[d], a);
      g2.add_matrix_edge(ids[s], ids[d], std::move(a));
    }
    g1.propagate();
    g2.propagate();
    same(g1, g2, ids, "first propagate");
    with::muls = without::muls = 0;
    g1.recompute_all();
    g2.recompute_all();
    same(g1, g2, ids, "recompute_all");
    INFO("muls with the shortcut " << with::muls << ", without " << without::muls);
    CHECK(with::muls < without::muls);
    std::uint64_t w_total = 0, wo_total = 0;
    for (int step = 0; step < 40; ++step) {  // edits to the sources: rows recomputed incrementally
      const auto id = ids[rng() % 3];
      delta_builder<with, L> b1(id);
      delta_builder<without, L> b2(id);
      for (int k = 0; k < 3; ++k) {
        const auto i = static_cast<std::uint32_t>(rng() % n);
        const T x = draw<S>(rng, 3, sparse);
        b1.assign(i, x);
        b2.assign(i, x);
      }
      g1.apply(b1.build());
      g2.apply(b2.build());
      with::muls = without::muls = 0;
      g1.propagate();
      g2.propagate();
      w_total += with::muls;
      wo_total += without::muls;
      same(g1, g2, ids, "after an edit");
    }
    INFO("incremental muls with the shortcut " << w_total << ", without " << wo_total);
    CHECK(w_total <= wo_total);
    CHECK(g1.verify().ok());
  }
};

} // namespace

TEST_CASE("the built-ins' terminals are ⊕ annihilators, and a wrong one is caught", "[semiring]")
{
  CHECK(or_and::terminal());
  CHECK(min_plus<float>::terminal() == -std::numeric_limits<float>::infinity());
  CHECK(max_plus<double>::terminal() == std::numeric_limits<double>::infinity());
  CHECK(max_min<std::int32_t>::terminal() == std::numeric_limits<std::int32_t>::max());
  CHECK(min_plus<std::int64_t>::terminal() == std::numeric_limits<std::int64_t>::lowest());
  CHECK(check_semiring_laws<min_plus<std::int64_t>>());
  CHECK(check_semiring_laws<max_min<float>>());
  struct wrong {  // claims 0 as min's terminal: min(0, -1) is -1
    using value_type = int;
    static constexpr int add(int a, int b) noexcept { return a < b ? a : b; }
    static constexpr int mul(int a, int b) noexcept { return a > b ? a : b; }
    static constexpr int zero() noexcept { return std::numeric_limits<int>::max(); }
    static constexpr int one() noexcept { return std::numeric_limits<int>::lowest(); }
    static constexpr int terminal() noexcept { return 0; }
  };
  const auto report = check_semiring_laws<wrong>({-1, 0, 1});
  INFO(report);
  CHECK(!report);
  CHECK(report.law == semiring_law::add_terminal_left);
  CHECK(report.counterexample.find("add(terminal, a)") != std::string::npos);
}

TEST_CASE("a row stops at its first terminal term: one ⊗ per row when the first term is true", "[graph]")
{
  using L = bits<64>;
  const auto run = [](auto tag) {
    using S = decltype(tag);
    page_table<L> t;
    const auto u = t.create(), w = t.create();
    for (std::size_t i = 0; i < 64; ++i) t.at(u).set(i, true);
    page_graph<S, L> g(t);
    std::vector<matrix_entry<bool>> es;
    for (std::uint32_t i = 0; i < 64; ++i)
      for (std::uint32_t k = 0; k < 8; ++k) es.push_back({i, (i + k) % 64, (i + k) % 64 != (i < 57 ? i + 7 : 63)});  // the last column false: ⊗ runs
    g.add_matrix_edge(u, w, csr_matrix<bool>::from_entries(64, 64, {es.data(), es.size()}));
    g.propagate();
    S::muls = 0;
    g.recompute_all();
    for (std::size_t i = 0; i < 64; ++i) REQUIRE(g.value(w).get(i));
    return S::muls;
  };
  CHECK(run(counted<or_and, true>{}) == 64);
  CHECK(run(counted<or_and, false>{}) == 64 * 8);
}

TEST_CASE("terminal values: or_and on bits, same pages as without, fewer ⊗", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  twin_case<or_and, bits<128>>(test::seed() + 21).run();
}

TEST_CASE("terminal values: min_plus<float> reaching -inf, same pages as without, fewer ⊗", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  twin_case<min_plus<float>, dense<float, 96>>(test::seed() + 22).run();
}

TEST_CASE("terminal values: max_min<int32> reaching the largest value, same pages as without, fewer ⊗", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  twin_case<max_min<std::int32_t>, dense<std::int32_t, 80>>(test::seed() + 23).run();
}

TEST_CASE("pushed sweeps: or_and on bits over sparse sources, same pages as pulled, fewer ⊗", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  twin_case<or_and, bits<256>, counted<or_and, true>, counted<or_and, true, false>>(test::seed() + 31, true).run();
}

TEST_CASE("pushed sweeps: max_min<int32> over sparse sources, same pages as pulled, fewer ⊗", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  using S = max_min<std::int32_t>;
  twin_case<S, dense<std::int32_t, 120>, counted<S, true>, counted<S, true, false>>(test::seed() + 32, true).run();
}

TEST_CASE("pushed sweeps: unit weights on a pattern matrix read no weight and multiply nothing", "[graph]")
{
  using S = counted<min_plus<std::int64_t>, false>;
  using L = dense<std::int64_t, 64>;
  page_table<L> t;
  const auto u = t.create(), w = t.create();
  for (std::size_t i = 0; i < 64; ++i) {
    t.at(u).set(i, i % 2 == 0 ? std::int64_t(i) : S::zero());  // half the sources non-zero: pulled
    t.at(w).set(i, S::zero());
  }
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int64_t>> es;
  for (std::uint32_t i = 0; i < 64; ++i)
    for (std::uint32_t k = 1; k <= 4; ++k) es.push_back({i, (i + k) % 64, 0});  // every weight one() == 0
  g.add_matrix_edge(u, w, csr_matrix<std::int64_t>::from_entries(64, 64, {es.data(), es.size()}));
  g.propagate();
  S::muls = 0;
  g.recompute_all();
  CHECK(S::muls == 0);
  for (std::uint32_t i = 0; i < 64; ++i) {  // min over (i + 1 .. i + 4) mod 64 of the even ones
    std::int64_t want = S::zero();
    for (std::uint32_t k = 1; k <= 4; ++k)
      if ((i + k) % 64 % 2 == 0) want = std::min<std::int64_t>(want, (i + k) % 64);
    REQUIRE(g.value(w).get(i) == want);
  }
}
