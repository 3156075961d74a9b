// page_graph: the contract is "incremental propagation equals a full recompute". A seeded
// property test checks it over random DAGs (matrix and kernel edges), random deltas, random edge
// edits and weight changes, fixed-point regions with cycles, and budgeted propagation that carries
// its frontier over, for every built-in semiring, against a naive reference written here.
#include <mmsb/graph.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include "../support/cases.hpp"
#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <vector>
#include <sstream>

namespace {

using namespace mmsb;

template <class S, class L, bool Regions>
struct gcase {
  using semiring = S;
  using layout = L;
  static constexpr bool regions = Regions;
};

using graph_cases = std::tuple<gcase<plus_times<std::int64_t>, dense<std::int64_t, 16>, false>,
                               gcase<plus_times<std::int32_t>, dense<std::int32_t, 24>, false>,
                               gcase<plus_times<float>, dense<float, 16>, false>,
                               gcase<min_plus<std::int32_t>, dense<std::int32_t, 16>, true>,
                               gcase<min_plus<float>, dense<float, 20>, true>,
                               gcase<max_plus<std::int64_t>, dense<std::int64_t, 16>, true>,
                               gcase<max_min<float>, dense<float, 16>, true>,
                               gcase<or_and, bits<70>, true>,
                               gcase<test::user_min_plus16, dense<std::int16_t, 16>, true>>;

// Values and weights that keep every semiring well inside its domain: no signed zeros (min over
// floats is order-dependent on ±0), no NaN, and cycles that cannot improve forever (min-plus
// weights ≥ 0, max-plus weights ≤ 0 inside regions).
template <class S, class Rng>
auto gen_value(Rng& rng)
{
  using T = semiring_value_t<S>;
  if constexpr (std::is_same_v<T, bool>) return (rng() % 3) == 0;
  else if constexpr (std::is_same_v<S, plus_times<float>>) return static_cast<T>(static_cast<int>(rng() % 9) - 4) * T(0.5) + T(0.25);
  else return static_cast<T>(rng() % 200);
}
template <class S, class Rng>
auto gen_weight(Rng& rng)
{
  using T = semiring_value_t<S>;
  if constexpr (std::is_same_v<T, bool>) return (rng() % 2) == 0;
  else if constexpr (std::is_same_v<S, max_plus<std::int64_t>>) return -static_cast<T>(rng() % 20);
  else if constexpr (std::is_same_v<S, plus_times<float>>) return static_cast<T>(static_cast<int>(rng() % 5) - 2) * T(0.5);
  else return static_cast<T>(rng() % 20);
}

template <class T>
bool close(T a, T b)
{
  if constexpr (std::is_floating_point_v<T>) return std::fabs(double(a) - double(b)) <= 1e-3 * (1 + std::fabs(double(b)));
  else return a == b;
}

// The model the test keeps on its own: edges in insertion order, and a naive solver.
template <class S, class L>
struct model {
  using T = semiring_value_t<S>;
  struct medge { std::uint32_t src, dst; std::vector<matrix_entry<T>> entries; edge_id id; bool live = true; };
  struct kedge { std::vector<std::uint32_t> srcs; std::uint32_t dst; edge_id id; bool live = true; };
  std::vector<medge> matrix;
  std::vector<kedge> kernels;
  std::vector<std::vector<std::uint32_t>> order;  // per dst: indices into matrix (live, insertion order)

  // Naive Gauss-Seidel to the fixed point: each page is fully recomputed from its current inputs
  // until nothing changes. It starts from the zero (Kleene iteration from the bottom), so inside
  // a cycle it finds the least solution, the one the library promises; starting from the bases
  // instead can keep a stale value alive around a cycle of weight one.
  std::vector<std::vector<T>> solve(const page_table<L>& t, std::size_t n) const
  {
    using tr = semiring_traits<S>;
    std::vector<std::vector<T>> x(n, std::vector<T>(L::extent, tr::zero()));
    for (int round = 0; round < 10000; ++round) {
      bool changed = false;
      for (std::uint32_t v = 0; v < n; ++v) {
        std::vector<T> nv(L::extent);
        bool has_kernel = false;
        for (const auto& k : kernels)
          if (k.live && k.dst == v) {
            has_kernel = true;
            for (std::size_t i = 0; i < L::extent; ++i) nv[i] = kernel_slot(x, k.srcs, i);
          }
        if (!has_kernel) {
          for (std::size_t i = 0; i < L::extent; ++i) nv[i] = t.at(page_id{v}).get(i);
          for (const auto& e : matrix)
            if (e.live && e.dst == v)
              for (const auto& en : e.entries) nv[en.row] = tr::add(nv[en.row], tr::mul(en.value, x[e.src][en.col]));
        }
        for (std::size_t i = 0; i < L::extent; ++i)
          if (!detail::bit_equal(T(nv[i]), T(x[v][i]))) changed = true;  // T(): std::vector<bool> proxies
        x[v] = nv;
      }
      if (!changed) return x;
    }
    FAIL("the naive solver did not converge");
    return x;
  }
  // A pure kernel: slot i = ⊕ over sources s of src_s[(i + s) % extent].
  static T kernel_slot(const std::vector<std::vector<T>>& x, const std::vector<std::uint32_t>& srcs, std::size_t i)
  {
    T r = semiring_traits<S>::zero();
    for (std::size_t s = 0; s < srcs.size(); ++s) r = semiring_traits<S>::add(r, x[srcs[s]][(i + s) % L::extent]);
    return r;
  }
};

template <class S, class L>
typename page_graph<S, L>::kernel_fn make_kernel()
{
  return [](span<const page<L>* const> srcs, page<L>& dst) {
    for (std::size_t i = 0; i < L::extent; ++i) {
      auto r = semiring_traits<S>::zero();
      for (std::size_t s = 0; s < srcs.size(); ++s) r = semiring_traits<S>::add(r, srcs[s]->get((i + s) % L::extent));
      dst.set(i, r);
    }
  };
}

template <class S, class L, class Rng>
std::vector<matrix_entry<semiring_value_t<S>>> random_entries(Rng& rng)
{
  std::vector<matrix_entry<semiring_value_t<S>>> out;
  std::map<std::pair<std::uint32_t, std::uint32_t>, bool> used;
  const std::size_t nnz = 1 + rng() % (2 * L::extent);
  for (std::size_t k = 0; k < nnz; ++k) {
    const auto r = static_cast<std::uint32_t>(rng() % L::extent), c = static_cast<std::uint32_t>(rng() % L::extent);
    if (used.emplace(std::pair{r, c}, true).second) out.push_back({r, c, gen_weight<S>(rng)});
  }
  return out;
}

} // namespace

TEMPLATE_LIST_TEST_CASE("incremental propagation equals a full recompute", "[graph][property]", graph_cases)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  using T = semiring_value_t<S>;
  const std::uint64_t base_seed = test::seed();
  for (std::uint64_t trial = 0; trial < 40; ++trial) {
    const std::uint64_t seed = base_seed + trial;
    MMSB_TEST_INFO_SEED();
    INFO("trial seed " << seed);
    std::mt19937_64 rng(seed);
    const std::uint32_t n = 5 + rng() % 8;
    page_table<L> table;
    for (std::uint32_t v = 0; v < n; ++v) {
      table.create();
      for (std::size_t i = 0; i < L::extent; ++i) table.at(page_id{v}).set(i, gen_value<S>(rng));
    }
    page_graph<S, L> g(table);
    model<S, L> m;
    // A hidden topological order; edges go forward in it, except inside the region.
    std::vector<std::uint32_t> rank(n);
    std::iota(rank.begin(), rank.end(), 0u);
    std::shuffle(rank.begin(), rank.end(), rng);
    std::vector<std::uint32_t> region;
    if constexpr (TestType::regions) {
      if (rng() % 2) {
        for (std::uint32_t v = 0; v < n && region.size() < 3; ++v)
          if (rng() % 3 == 0) region.push_back(v);
        if (!region.empty()) {
          std::vector<page_id> ids;
          for (const auto v : region) ids.push_back(page_id{v});
          g.add_fixed_point_region({ids.data(), ids.size()}, 10000);
        }
      }
    }
    const auto in_region = [&](std::uint32_t v) { return std::find(region.begin(), region.end(), v) != region.end(); };
    const auto has_kernel_in = [&](std::uint32_t v) {
      return std::any_of(m.kernels.begin(), m.kernels.end(), [&](const auto& k) { return k.live && k.dst == v; });
    };
    const auto has_in = [&](std::uint32_t v) {
      return has_kernel_in(v) || std::any_of(m.matrix.begin(), m.matrix.end(), [&](const auto& e) { return e.live && e.dst == v; });
    };
    const auto add_matrix = [&] {
      std::uint32_t a = rng() % n, b = rng() % n;
      const bool internal = in_region(a) && in_region(b);
      if (!internal) {
        if (rank[a] == rank[b]) return;
        if (rank[a] > rank[b]) std::swap(a, b);
      }
      if (has_kernel_in(b)) return;
      auto entries = random_entries<S, L>(rng);
      auto mat = csr_matrix<T>::from_entries(L::extent, L::extent, {entries.data(), entries.size()});
      const auto version = g.topology().version();
      try {
        const edge_id id = g.add_matrix_edge(page_id{a}, page_id{b}, std::move(mat));
        m.matrix.push_back({a, b, entries, id});
      } catch (const error& x) {  // a path region -> outside -> region: refused, nothing changed
        REQUIRE(x.code() == errc::cycle);
        REQUIRE(g.topology().version() == version);
      }
    };
    const auto add_kernel = [&] {
      const std::uint32_t b = rng() % n;
      if (has_in(b) || in_region(b)) return;
      std::vector<std::uint32_t> srcs;
      for (std::uint32_t u = 0; u < n; ++u)
        if (rank[u] < rank[b] && rng() % 3 == 0 && srcs.size() < 3) srcs.push_back(u);
      if (srcs.empty()) return;
      std::vector<page_id> ids;
      for (const auto u : srcs) ids.push_back(page_id{u});
      const auto version = g.topology().version();
      try {
        const edge_id id = g.add_kernel_edge({ids.data(), ids.size()}, page_id{b}, make_kernel<S, L>(), "rotate");
        m.kernels.push_back({srcs, b, id});
      } catch (const error& x) {  // through a region: refused, nothing changed
        REQUIRE(x.code() == errc::cycle);
        REQUIRE(g.topology().version() == version);
      }
    };
    for (int k = 0; k < 2 * static_cast<int>(n); ++k) {
      if (rng() % 5 == 0) add_kernel();
      else add_matrix();
    }
    const auto check = [&] {
      auto r = g.propagate();
      REQUIRE(r.complete);
      const auto want = m.solve(table, n);
      std::ostringstream dot; g.write_dot(dot);
      INFO(dot.str());
      std::ostringstream vals;
      for (std::uint32_t v = 0; v < n; ++v) {
        vals << "p" << v << (g.is_derived(page_id{v}) ? " D" : "  ") << " base:";
        for (std::size_t i = 0; i < L::extent; ++i) vals << ' ' << +T(table.at(page_id{v}).get(i));
        vals << "\n     got:";
        for (std::size_t i = 0; i < L::extent; ++i) vals << ' ' << +T(g.value(page_id{v}).get(i));
        vals << "\n    want:";
        for (std::size_t i = 0; i < L::extent; ++i) vals << ' ' << +T(want[v][i]);
        vals << "\n";
      }
      INFO(vals.str());
      for (std::uint32_t v = 0; v < n; ++v)
        for (std::size_t i = 0; i < L::extent; ++i) {
          INFO("page " << v << " slot " << i);
          if constexpr (exact_add_v<S>) REQUIRE(detail::bit_equal(g.value(page_id{v}).get(i), T(want[v][i])));
          else REQUIRE(close(g.value(page_id{v}).get(i), T(want[v][i])));
        }
      // And bitwise equal to the library's own full recompute (in one fixed order).
      std::vector<page<L>> before;
      for (std::uint32_t v = 0; v < n; ++v) before.push_back(g.value(page_id{v}));
      g.recompute_all();
      for (std::uint32_t v = 0; v < n; ++v) REQUIRE(test::same_bits(before[v], g.value(page_id{v})));
    };
    check();
    for (int step = 0; step < 25; ++step) {
      const int op = static_cast<int>(rng() % 10);
      INFO("step " << step << " op " << op << " wave idle before: " << g.idle());
      if (op < 5) {  // a batch of deltas, some worsening, some improving
        for (int d = 0, nd = 1 + static_cast<int>(rng() % 3); d < nd; ++d) {
          const page_id p{static_cast<std::uint32_t>(rng() % n)};
          delta_builder<S, L> b(p);
          for (int k = 0, nk = 1 + static_cast<int>(rng() % 4); k < nk; ++k) {
            const std::size_t slot = rng() % L::extent;
            if (rng() % 2) b.assign(slot, gen_value<S>(rng));
            else b.accumulate(slot, gen_value<S>(rng));
          }
          g.apply(b.build());
        }
      } else if (op == 5) {
        add_matrix();
      } else if (op == 6 && !m.matrix.empty()) {  // change weights
        auto& e = m.matrix[rng() % m.matrix.size()];
        if (e.live) {
          e.entries = random_entries<S, L>(rng);
          g.set_weights(e.id, csr_matrix<T>::from_entries(L::extent, L::extent, {e.entries.data(), e.entries.size()}));
        }
      } else if (op == 7) {  // remove an edge
        if (!m.matrix.empty() && rng() % 2) {
          auto& e = m.matrix[rng() % m.matrix.size()];
          if (e.live) { g.remove_edge(e.id); e.live = false; }
        } else if (!m.kernels.empty()) {
          auto& k = m.kernels[rng() % m.kernels.size()];
          if (k.live) { g.remove_edge(k.id); k.live = false; }
        }
      } else if (op == 8) {  // budgeted: one unit per call, with new deltas in between (carry-over)
        propagate_budget spent{std::chrono::steady_clock::now()};
        for (int k = 0; k < 3; ++k) {
          g.propagate(spent);
          const page_id p{static_cast<std::uint32_t>(rng() % n)};
          delta_builder<S, L> b(p);
          b.assign(rng() % L::extent, gen_value<S>(rng));
          g.apply(b.build());
        }
      } else {
        add_kernel();
      }
      const bool checkpoint = rng() % 3 == 0;
      if (checkpoint || std::getenv("MMSB_CHECK_ALL")) check();
    }
    check();
    REQUIRE(g.verify().ok());
  }
}

TEST_CASE("fixed-point region: Bellman-Ford on one page with a self-loop", "[graph]")
{
  using S = min_plus<std::int32_t>;
  using L = dense<std::int32_t, 6>;
  page_table<L> t;
  const page_id d = t.create();
  for (std::size_t i = 0; i < 6; ++i) t.at(d).set(i, S::zero());
  t.at(d).set(0, 0);  // the source
  page_graph<S, L> g(t);
  g.add_fixed_point_region({&d, 1});
  // 0 -> 1 (4), 0 -> 2 (1), 2 -> 1 (2), 1 -> 3 (1), 3 -> 4 (3), 4 -> 1 (1): a cycle 1 -> 3 -> 4 -> 1.
  std::vector<matrix_entry<std::int32_t>> e{{1, 0, 4}, {2, 0, 1}, {1, 2, 2}, {3, 1, 1}, {4, 3, 3}, {1, 4, 1}};
  g.add_matrix_edge(d, d, csr_matrix<std::int32_t>::from_entries(6, 6, {e.data(), e.size()}));
  g.propagate();
  const std::int32_t want[] = {0, 3, 1, 4, 7, S::zero()};
  for (std::size_t i = 0; i < 6; ++i) CHECK(g.value(d).get(i) == want[i]);
  // Worsening the source re-solves the region: the old distances must not hold each other up.
  delta_builder<S, L> b(d);
  b.assign(0, S::zero());
  g.apply(b.build());
  g.propagate();
  for (std::size_t i = 0; i < 6; ++i) CHECK(g.value(d).get(i) == S::zero());
  CHECK(g.verify().ok());
}

TEST_CASE("fixed-point region: a worsening resets only what it reaches (delete and re-derive)", "[graph]")
{
  // A ring of pages, slot i feeding slot i of the next page (per-slot chains, as in liveness),
  // plus a few cross entries: a worsened slot reaches a small part of the region, so only that
  // part is reset. After every step the values must equal a fresh full solve.
  using S = min_plus<std::int32_t>;
  using L = dense<std::int32_t, 64>;
  constexpr std::uint32_t n = 24;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 77);
  page_table<L> t;
  std::vector<page_id> ids;
  for (std::uint32_t v = 0; v < n; ++v) {
    ids.push_back(t.create());
    for (std::size_t i = 0; i < 64; ++i) t.at(ids.back()).set(i, rng() % 4 == 0 ? static_cast<std::int32_t>(rng() % 100) : S::zero());
  }
  std::vector<std::vector<matrix_entry<std::int32_t>>> entries(n);
  for (std::uint32_t v = 0; v < n; ++v) {
    for (std::uint32_t i = 0; i < 64; ++i) entries[v].push_back({i, i, 1 + static_cast<std::int32_t>(rng() % 3)});
    if (v % 4 == 0) {  // few enough that a slot's closure stays a small part of the region
      const auto r = static_cast<std::uint32_t>(rng() % 64), c = static_cast<std::uint32_t>(rng() % 64);
      if (r != c) entries[v].push_back({r, c, 5});
    }
  }
  const auto build = [&](page_graph<S, L>& g, std::vector<edge_id>* edges) {
    g.add_fixed_point_region({ids.data(), ids.size()}, 10000);
    for (std::uint32_t v = 0; v < n; ++v) {
      const auto e = g.add_matrix_edge(ids[v], ids[(v + 1) % n], csr_matrix<std::int32_t>::from_entries(64, 64, {entries[v].data(), entries[v].size()}));
      if (edges) edges->push_back(e);
    }
  };
  page_graph<S, L> g(t);
  std::vector<edge_id> edges;
  build(g, &edges);
  g.propagate();
  for (int step = 0; step < 150; ++step) {
    const auto p = ids[rng() % n];
    const auto slot = rng() % 64;
    if (rng() % 10 == 0) {  // an edited chain weight: that row only
      const auto v = static_cast<std::uint32_t>(rng() % n);
      entries[v][slot].value = 1 + static_cast<std::int32_t>(rng() % 7);
      g.set_weights(edges[v], csr_matrix<std::int32_t>::from_entries(64, 64, {entries[v].data(), entries[v].size()}));
    } else {
      delta_builder<S, L> b(p);
      b.assign(slot, rng() % 2 ? S::zero() : static_cast<std::int32_t>(rng() % 100));  // worse or better
      g.apply(b.build());
    }
    g.propagate();
    page_table<L> copy;
    for (const auto id : ids) {
      (void)copy.create(id);
      copy.at(id).storage() = t.at(id).storage();
    }
    page_graph<S, L> fresh(copy);
    build(fresh, nullptr);
    fresh.recompute_all();
    for (const auto id : ids)
      for (std::size_t i = 0; i < 64; ++i) REQUIRE(g.value(id).get(i) == fresh.value(id).get(i));
  }
  CHECK(g.verify().ok());
}

TEST_CASE("a region that does not converge is an error and changes nothing", "[graph]")
{
  using S = max_plus<std::int64_t>;
  using L = dense<std::int64_t, 2>;
  page_table<L> t;
  const page_id d = t.create();
  page_graph<S, L> g(t);
  g.add_fixed_point_region({&d, 1}, 50);
  std::vector<matrix_entry<std::int64_t>> e{{1, 0, 1}, {0, 1, 1}};  // a positive cycle: grows forever
  g.add_matrix_edge(d, d, csr_matrix<std::int64_t>::from_entries(2, 2, {e.data(), e.size()}));
  const auto before = g.value(d);
  try {
    g.propagate();
    FAIL("expected not_converged");
  } catch (const error& x) {
    CHECK(x.code() == errc::not_converged);
    CHECK_THAT(x.what(), Catch::Contains("region 0 (pages 0)") && Catch::Contains("50 rounds"));
  }
  CHECK(test::same_bits(before, g.value(d)));
}

TEST_CASE("a region listing a page twice is refused, and the graph carries on as before", "[graph]")
{
  using S = min_plus<std::int32_t>;
  using L = dense<std::int32_t, 4>;
  page_table<L> t;
  const page_id a = t.create(), b = t.create();
  for (std::size_t i = 0; i < L::extent; ++i) {
    t.at(a).set(i, static_cast<std::int32_t>(i));
    t.at(b).set(i, 100);
  }
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int32_t>> e{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}};
  const auto id = csr_matrix<std::int32_t>::from_entries(4, 4, {e.data(), e.size()});
  g.add_matrix_edge(a, b, id);
  g.propagate();
  const auto version = g.topology().version();
  const auto before = g.value(b);
  const page_id twice[] = {a, b, a};
  try {
    (void)g.add_fixed_point_region(twice);
    FAIL("expected invalid_argument");
  } catch (const error& x) {
    CHECK(x.code() == errc::invalid_argument);
    CHECK_THAT(x.what(), Catch::Contains("page 0 is listed twice"));
  }
  CHECK(g.topology().version() == version);
  CHECK(g.topology().region_of(a.value()) == graph_topology::none);
  CHECK(test::same_bits(before, g.value(b)));
  // The same pages, listed once, make a working region (b feeds a back).
  const page_id once[] = {a, b};
  (void)g.add_fixed_point_region(once);
  g.add_matrix_edge(b, a, id);
  g.propagate();
  CHECK(g.value(b).get(3) == 3 + 1);
  CHECK(g.verify().problems.empty());
}

TEST_CASE("bad input: errors name the page, shape or cycle, and nothing changes", "[graph]")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 4>;
  page_table<L> t;
  const page_id a = t.create(), b = t.create(), c = t.create();
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int32_t>> e{{0, 0, 2}};
  const auto m = csr_matrix<std::int32_t>::from_entries(4, 4, {e.data(), e.size()});
  g.add_matrix_edge(a, b, m);
  g.add_matrix_edge(b, c, m);
  auto version = g.topology().version();  // refreshed after each deliberate edit
  const auto fails = [&](auto f, errc code, const char* text) {
    try {
      f();
      FAIL("expected an error containing " << text);
    } catch (const error& x) {
      CHECK(x.code() == code);
      CHECK_THAT(x.what(), Catch::Contains(text));
    }
    CHECK(g.topology().version() == version);
  };
  fails([&] { g.add_matrix_edge(c, a, m); }, errc::cycle, "would close the cycle 0 -> 1 -> 2 -> 0");
  fails([&] { g.add_matrix_edge(a, a, m); }, errc::cycle, "0 -> 0");
  fails([&] { g.add_matrix_edge(a, page_id{9}, m); }, errc::unknown_page, "page 9 does not exist");
  const auto wide = csr_matrix<std::int32_t>::from_entries(4, 5, {e.data(), e.size()});
  fails([&] { g.add_matrix_edge(a, c, wide); }, errc::size_mismatch, "the matrix is 4 x 5 but pages hold 4 slots");
  int calls = 0;
  auto impure = [&](span<const page<L>* const>, page<L>& out) { out.set(0, ++calls); };
  const page_id srcs[] = {a};
  const page_id d = t.create();
  fails([&] { g.add_kernel_edge(srcs, d, impure, "counter"); }, errc::invalid_argument, "not pure");
  fails([&] { g.add_kernel_edge(srcs, b, [](auto, auto&) {}, "k"); }, errc::invalid_argument, "already has incoming edges");
  std::vector<matrix_entry<std::int32_t>> dup{{0, 0, 1}, {0, 0, 2}};
  CHECK_THROWS_WITH(csr_matrix<std::int32_t>::from_entries(4, 4, {dup.data(), dup.size()}), Catch::Contains("(0, 0) appears twice"));
  std::vector<matrix_entry<std::int32_t>> out{{4, 0, 1}};
  CHECK_THROWS_WITH(csr_matrix<std::int32_t>::from_entries(4, 4, {out.data(), out.size()}), Catch::Contains("outside the 4 x 4"));
  const word_t short_mask[] = {1, 0};  // 4 slots need 1 word
  fails([&] { g.add_matrix_edge(a, c, m, short_mask); }, errc::size_mismatch, "the row mask has 2 words, pages need 1");
  fails([&] { g.remove_edge(edge_id{99}); }, errc::invalid_argument, "edge 99 does not exist");
  fails([&] { g.set_weights(edge_id{0}, wide); }, errc::size_mismatch, "edge 0: the matrix is 4 x 5");
  const edge_id k = g.add_kernel_edge(srcs, d, [](span<const page<L>* const> in, page<L>& o) { o = *in[0]; }, "copy");
  version = g.topology().version();
  fails([&] { g.set_weights(k, m); }, errc::invalid_argument, "is a kernel edge");
  fails([&] { (void)g.matrix(k); }, errc::invalid_argument, "is a kernel edge");
  CHECK(g.kernel_name(k) == "copy");
  fails([&] { g.note(a, 4); }, errc::out_of_range, "page 0: slot 4 is out of range");
  fails([&] { (void)g.slot_provenance(c, 7); }, errc::out_of_range, "slot 7 is out of range");
  g.remove_edge(k);
  version = g.topology().version();
  fails([&] { g.remove_edge(k); }, errc::invalid_argument, "does not exist");  // twice
  // A delta with an older epoch than the page's last write is refused before it is applied.
  delta_builder<S, L> db(a);
  db.assign(0, 7);
  g.apply(db.build(), {epoch{5}, txn_id{1}});
  delta_builder<S, L> old(a);
  old.assign(0, 9);
  CHECK_THROWS_WITH(g.apply(old.build(), {epoch{4}, txn_id{2}}), Catch::Contains("epoch 4 is older than its last write at epoch 5"));
  CHECK(t.at(a).get(0) == 7);
  g.propagate();
  CHECK(g.value(c).get(0) == 7 * 4);  // c = 2 * b, b = 2 * a
  CHECK(g.verify().ok());
}

TEST_CASE("row mask: only the masked destination rows receive", "[graph]")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 4>;
  page_table<L> t;
  const page_id a = t.create(), b = t.create();
  for (std::size_t i = 0; i < 4; ++i) t.at(a).set(i, 1);
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int32_t>> e{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}};
  const word_t mask[] = {0b0101};
  g.add_matrix_edge(a, b, csr_matrix<std::int32_t>::from_entries(4, 4, {e.data(), e.size()}), mask);
  g.propagate();
  CHECK(g.value(b).get(0) == 1);
  CHECK(g.value(b).get(1) == 0);
  CHECK(g.value(b).get(2) == 1);
  CHECK(g.value(b).get(3) == 0);
}

TEST_CASE("cutoff: a change that leaves a value as it was stops the wave", "[graph]")
{
  using S = min_plus<std::int32_t>;
  using L = dense<std::int32_t, 4>;
  page_table<L> t;
  std::vector<page_id> p;
  for (int i = 0; i < 5; ++i) p.push_back(t.create());
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int32_t>> e{{0, 0, 1}};
  for (int i = 0; i + 1 < 5; ++i) g.add_matrix_edge(p[i], p[i + 1], csr_matrix<std::int32_t>::from_entries(4, 4, {e.data(), e.size()}));
  g.propagate();
  delta_builder<S, L> b(p[0]);
  b.accumulate(3, 100);  // slot 3 reaches nothing
  g.apply(b.build());
  const auto r = g.propagate();
  CHECK(r.units == 0);
  delta_builder<S, L> c(p[0]);
  c.assign(0, -10);
  g.apply(c.build());
  const auto r2 = g.propagate();
  CHECK(r2.units == 4);
  CHECK(g.value(p[4]).get(0) == -6);
}

TEST_CASE("verify finds a value changed behind the graph's back, and leaves it", "[graph]")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 4>;
  page_table<L> t;
  const page_id a = t.create(), b = t.create();
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int32_t>> e{{2, 1, 3}};
  g.add_matrix_edge(a, b, csr_matrix<std::int32_t>::from_entries(4, 4, {e.data(), e.size()}));
  g.propagate();
  t.at(a).set(1, 5);  // no note(): the graph cannot know
  const auto r = g.verify();
  REQUIRE(r.problems.size() == 1);
  CHECK_THAT(r.problems[0], Catch::Contains("page 1: value checksum") && Catch::Contains("first at slot 2"));
  CHECK(g.value(b).get(2) == 0);  // left as found
  g.note(a, 1);                   // too late for the "before" value; recompute_all repairs
  g.recompute_all();
  CHECK(g.value(b).get(2) == 15);
  CHECK(g.verify().ok());
}

TEST_CASE("an edit during an unfinished wave first finishes that wave", "[graph]")
{
  // A budgeted propagate() stops between units; an edge added then must not move levels under
  // the queued units. The edit completes the wave, and the result equals a full recompute.
  using S = max_plus<std::int64_t>;
  using L = dense<std::int64_t, 4>;
  page_table<L> t;
  std::vector<page_id> p;
  for (int i = 0; i < 4; ++i) p.push_back(t.create());
  page_graph<S, L> g(t);
  std::vector<matrix_entry<std::int64_t>> e{{0, 0, 0}, {1, 1, -1}};
  const auto m = csr_matrix<std::int64_t>::from_entries(4, 4, {e.data(), e.size()});
  g.add_matrix_edge(p[0], p[1], m);
  g.add_matrix_edge(p[1], p[3], m);
  g.propagate();
  delta_builder<S, L> b(p[0]);
  b.assign(0, 50);
  g.apply(b.build());
  const auto r = g.propagate(propagate_budget{std::chrono::steady_clock::now()});  // one unit
  REQUIRE_FALSE(r.complete);
  REQUIRE(r.frontier == 1);
  // p2 := p0 rotated, then p2 -> p3: p3's level rises while p3 is still queued.
  g.add_kernel_edge({&p[0], 1}, p[2], [](span<const page<L>* const> in, page<L>& o) { o = *in[0]; }, "copy");
  g.add_matrix_edge(p[2], p[3], m);
  CHECK(g.value(p[3]).get(0) == 50);  // the unfinished wave ran to its end inside the edit
  g.propagate();
  std::vector<page<L>> got;
  for (const auto q : p) got.push_back(g.value(q));
  g.recompute_all();
  for (std::size_t i = 0; i < p.size(); ++i) CHECK(test::same_bits(got[i], g.value(p[i])));
  CHECK(g.verify().ok());
}

// A semiring defined only the documented second way: a semiring_traits specialization, with no
// members on the type at all. The graph must read every property through the traits.
namespace {
struct traits_only_min_plus {};
} // namespace

template <>
struct mmsb::semiring_traits<traits_only_min_plus> {
  using value_type = std::int32_t;
  static constexpr std::int32_t inf = std::numeric_limits<std::int32_t>::max();
  static constexpr std::int32_t add(std::int32_t a, std::int32_t b) noexcept { return a < b ? a : b; }
  static constexpr std::int32_t mul(std::int32_t a, std::int32_t b) noexcept { return (a == inf || b == inf) ? inf : a + b; }
  static constexpr std::int32_t zero() noexcept { return inf; }
  static constexpr std::int32_t one() noexcept { return 0; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
  static constexpr bool selective_add = true;
};

TEST_CASE("a traits-only semiring: matrix edges, a kernel edge and a region equal a full recompute", "[graph]")
{
  using S = traits_only_min_plus;
  using L = dense<std::int32_t, 8>;
  static_assert(semiring<S> && idempotent_add_v<S> && selective_add_v<S>);
  static_assert(page_graph<S, L>::strategy == propagation_strategy::monotone);
  constexpr std::int32_t inf = semiring_traits<S>::inf;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  page_table<L> t;
  std::vector<page_id> p;  // 0 a, 1 b, 2 c (a -> b -> c), 3 k = kernel(a, c), 4 r1, 5 r2 (region, fed by c)
  for (int i = 0; i < 6; ++i) p.push_back(t.create());
  for (const auto q : p)
    for (std::size_t i = 0; i < L::extent; ++i) t.at(q).set(i, static_cast<std::int32_t>(rng() % 100));
  page_graph<S, L> g(t);
  // Shift by one slot with weight 2, and the identity with weight 5.
  std::vector<matrix_entry<std::int32_t>> shift, ident;
  for (std::uint32_t i = 0; i < L::extent; ++i) {
    shift.push_back({i, (i + 1) % 8, 2});
    ident.push_back({i, i, 5});
  }
  const auto m_shift = csr_matrix<std::int32_t>::from_entries(8, 8, {shift.data(), shift.size()});
  const auto m_ident = csr_matrix<std::int32_t>::from_entries(8, 8, {ident.data(), ident.size()});
  g.add_matrix_edge(p[0], p[1], m_shift);
  g.add_matrix_edge(p[1], p[2], m_ident);
  const page_id ks[] = {p[0], p[2]};
  g.add_kernel_edge(ks, p[3], [](span<const page<L>* const> in, page<L>& o) {
    for (std::size_t i = 0; i < L::extent; ++i) o.set(i, std::min(in[0]->get(i), in[1]->get(i)) + 1);
  }, "min_plus_one");
  const page_id region[] = {p[4], p[5]};
  g.add_fixed_point_region(region);
  g.add_matrix_edge(p[2], p[4], m_ident);
  g.add_matrix_edge(p[4], p[5], m_shift);  // r1 -> r2 -> r1: a cycle with positive weights
  g.add_matrix_edge(p[5], p[4], m_shift);
  g.propagate();
  // By hand: b[i] = min(base b[i], a[i + 1] + 2); k[i] = min(a[i], c[i]) + 1.
  for (std::size_t i = 0; i < L::extent; ++i) {
    CHECK(g.value(p[1]).get(i) == std::min(t.at(p[1]).get(i), t.at(p[0]).get((i + 1) % 8) + 2));
    CHECK(g.value(p[3]).get(i) == std::min(g.value(p[0]).get(i), g.value(p[2]).get(i)) + 1);
  }
  for (int step = 0; step < 200; ++step) {
    const page_id q = p[rng() % p.size()];
    delta_builder<S, L> b(q);
    const auto slots = 1 + rng() % 3;
    for (std::size_t s = 0; s < slots; ++s) {
      const auto v = (rng() % 10 == 0) ? inf : static_cast<std::int32_t>(rng() % 100);  // some get worse
      b.assign(rng() % L::extent, v);
    }
    g.apply(b.build());
    g.propagate();
    std::vector<page<L>> got;
    for (const auto x : p) got.push_back(g.value(x));
    g.recompute_all();
    for (std::size_t i = 0; i < p.size(); ++i) REQUIRE(test::same_bits(got[i], g.value(p[i])));
  }
  CHECK(g.verify().ok());
  const auto r = g.provenance(p[3]);
  CHECK(r.ancestors.size() == 3);  // a and c, then b
  const auto rs = g.slot_provenance(p[2], 0, 1);
  REQUIRE(rs.ancestors.size() == 1);
  CHECK((rs.ancestors[0].page == p[1] && rs.ancestors[0].slot == 0));
  CHECK(g.provenance(p[4]).ancestors.size() == 4);  // r2, c, b, a
}

TEST_CASE("add_kernel_edges: a bulk add equals one add_kernel_edge per edge, bit for bit; refusals change nothing",
          "[graph][property]")
{
  using S = plus_times<std::uint32_t>;
  using L = dense<std::uint32_t, 8>;
  using graph = page_graph<S, L>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  const graph::kernel_fn slotwise_max = [](span<const page<L>* const> in, page<L>& o) {
    for (std::size_t i = 0; i < L::extent; ++i) {
      std::uint32_t m = 0;
      for (const auto* s : in) m = std::max(m, s->get(i));
      o.set(i, m + 1);
    }
  };
  // A DAG of n pages: page p >= 1 is computed from up to 4 pages before it (one now and then
  // listed twice), page 0 and a few others are inputs only.
  const std::uint32_t n = 300;
  page_table<L> ta, tb;
  for (std::uint32_t p = 0; p < n; ++p) {
    ta.create();
    tb.create();
    for (std::size_t i = 0; i < L::extent; ++i) {
      const auto v = static_cast<std::uint32_t>(rng() % 1000);
      ta.at(page_id{p}).set(i, v);
      tb.at(page_id{p}).set(i, v);
    }
  }
  graph one_by_one(ta), bulk(tb);
  std::vector<std::vector<page_id>> srcs;
  std::vector<graph::kernel_edge_spec> edges;
  for (std::uint32_t p = 1; p < n; ++p) {
    if (p % 17 == 0) continue;
    std::vector<page_id> s;
    for (std::size_t k = 0, fan = 1 + rng() % 4; k < fan; ++k) s.push_back(page_id{static_cast<std::uint32_t>(rng() % p)});
    if (rng() % 5 == 0) s.push_back(s.front());
    srcs.push_back(std::move(s));
  }
  for (std::uint32_t p = 1, k = 0; p < n; ++p) {
    if (p % 17 == 0) continue;
    edges.push_back({{srcs[k].data(), srcs[k].size()}, page_id{p}});
    one_by_one.add_kernel_edge({srcs[k].data(), srcs[k].size()}, page_id{p}, slotwise_max, "max");
    ++k;
  }
  const edge_id first = bulk.add_kernel_edges({edges.data(), edges.size()}, slotwise_max, "max");
  CHECK(first.value() == 0);
  CHECK(bulk.topology().transfer_count() == edges.size());
  CHECK(bulk.kernel_name(edge_id{static_cast<std::uint32_t>(edges.size() - 1)}) == "max");
  const auto same = [&] {
    one_by_one.propagate();
    bulk.propagate();
    for (std::uint32_t p = 0; p < n; ++p)
      for (std::size_t i = 0; i < L::extent; ++i) REQUIRE(one_by_one.value(page_id{p}).get(i) == bulk.value(page_id{p}).get(i));
    for (std::uint32_t p = 0; p < n; ++p) REQUIRE(one_by_one.topology().level(p) == bulk.topology().level(p));
  };
  same();
  for (int round = 0; round < 20; ++round) {  // base edits propagate the same through both
    delta_builder<S, L> d(page_id{static_cast<std::uint32_t>(17 * (1 + rng() % (n / 17 - 1)))});
    d.assign(rng() % L::extent, static_cast<std::uint32_t>(rng() % 5000));
    const auto built = d.build();
    one_by_one.apply(built);
    bulk.apply(built);
    same();
  }

  // Refusals: each names what is wrong, and nothing changes.
  const auto transfers = bulk.topology().transfer_count();
  const auto version = bulk.topology().version();
  const auto fails = [&](std::vector<graph::kernel_edge_spec> batch, const graph::kernel_fn& f, errc code, const char* text) {
    try {
      bulk.add_kernel_edges({batch.data(), batch.size()}, f, "again");
      FAIL("expected an error containing " << text);
    } catch (const error& x) {
      CHECK(x.code() == code);
      CHECK_THAT(x.what(), Catch::Contains(text));
    }
    CHECK(bulk.topology().transfer_count() == transfers);
    CHECK(bulk.topology().version() == version);
    same();
  };
  const page_id p17[] = {page_id{17}}, p0[] = {page_id{0}}, missing[] = {page_id{n + 5}};
  fails({{p0, page_id{17}}, {p0, page_id{34}}, {p17, page_id{34}}}, slotwise_max, errc::invalid_argument,
        "page 34 is the destination of two edges in the batch");
  fails({{p0, page_id{17}}, {missing, page_id{34}}}, slotwise_max, errc::unknown_page, "page 305 does not exist");
  fails({{p0, page_id{17}}, {p0, page_id{5}}}, slotwise_max, errc::invalid_argument, "page 5 already has incoming edges");
  fails({{{}, page_id{17}}}, slotwise_max, errc::invalid_argument, "-> 17: it has no source pages");
  fails({}, slotwise_max, errc::invalid_argument, "none given");
  int calls = 0;
  fails({{p0, page_id{17}}}, [&](span<const page<L>* const>, page<L>& o) { o.set(0, static_cast<std::uint32_t>(++calls)); },
        errc::invalid_argument, "not pure");
  // A small batch goes edge by edge: an edge from a page back into an input it reads closes a
  // cycle, and the edges before it in the batch are taken back.
  std::uint32_t reader = 0, input = 0;
  for (std::size_t k = 0; k < edges.size() && !reader; ++k)
    for (const auto s : edges[k].srcs)
      if (s.value() % 17 == 0 && s.value() != 0) reader = edges[k].dst.value(), input = s.value();
  REQUIRE(reader != 0);
  const page_id from_reader[] = {page_id{reader}};
  const page_id other_input{input == 17 ? 34u : 17u};
  fails({{p0, other_input}, {from_reader, page_id{input}}}, slotwise_max, errc::cycle,
        ("would close the cycle " + std::to_string(input) + " -> ").c_str());

  // A batch as large as the graph is linked at once and leveled in one pass; a cycle in it is
  // found then, named, and the whole batch taken back.
  page_table<L> tc;
  const page_id c[] = {tc.create(), tc.create(), tc.create(), tc.create()};
  graph small(tc);
  const graph::kernel_edge_spec ring[] = {{{&c[0], 1}, c[1]}, {{&c[1], 1}, c[2]}, {{&c[2], 1}, c[0]}, {{&c[0], 1}, c[3]}};
  try {
    small.add_kernel_edges(ring, slotwise_max, "ring");
    FAIL("expected a cycle");
  } catch (const error& x) {
    CHECK(x.code() == errc::cycle);
    CHECK_THAT(x.what(), Catch::Contains("the 4 edges added together would close the cycle"));
    CHECK_THAT(x.what(), Catch::Contains("0 -> 1 -> 2 -> 0") || Catch::Contains("1 -> 2 -> 0 -> 1") ||
                           Catch::Contains("2 -> 0 -> 1 -> 2"));
  }
  CHECK(small.topology().transfer_count() == 0);
  for (const auto p : c) CHECK(small.topology().in(p.value()).empty());
  small.add_kernel_edges({ring + 1, 3}, slotwise_max, "chain");  // without 0 -> 1 it is a DAG
  small.propagate();
  CHECK(small.topology().level(c[1].value()) == 0);  // 1 -> 2 -> 0 -> 3, leveled minimally
  CHECK(small.topology().level(c[2].value()) == 1);
  CHECK(small.topology().level(c[0].value()) == 2);
  CHECK(small.topology().level(c[3].value()) == 3);
  CHECK(small.value(c[1]).get(0) == tc.at(c[1]).get(0));  // an input: its base
}
