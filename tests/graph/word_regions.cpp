// Packed booleans under or_and with diagonal edges: fixed-point regions solved on words
// (graph/detail/diagonal_region.hpp) when the seeds are dense, slot by slot when sparse, and full
// sweeps on words (recompute_every_row). After every step every page must equal an independent
// least-fixed-point solver written here on std::bitset, and equal a fresh recompute_all().
#include <mmsb/graph.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <bitset>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using namespace mmsb;

template <std::size_t N>
struct word_region_case {
  using S = or_and;
  using L = bits<N>;
  using set = std::bitset<N>;
  struct edge_spec {
    std::uint32_t src, dst;
    set present, weight;  // diagonal entries, and which of them are true
    edge_id id{};
  };

  std::mt19937_64 rng;
  std::uint32_t n;
  page_table<L> t;
  std::vector<page_id> ids;
  std::vector<edge_spec> edges;

  explicit word_region_case(std::uint64_t seed, std::uint32_t pages) : rng(seed), n(pages)
  {
    for (std::uint32_t v = 0; v < n; ++v) {
      ids.push_back(t.create());
      for (std::size_t i = 0; i < N; ++i) t.at(ids.back()).set(i, rng() % 8 == 0);
    }
    for (std::uint32_t v = 0; v < n; ++v) {  // a ring, so the region is one cycle, plus chords
      edges.push_back({v, (v + 1) % n, random_set(7), random_set(6)});
      if (rng() % 3 == 0) edges.push_back({v, static_cast<std::uint32_t>(rng() % n), random_set(3), random_set(2)});
    }
  }

  set random_set(int one_in) { set s; for (std::size_t i = 0; i < N; ++i) s[i] = rng() % 8 < static_cast<std::uint64_t>(one_in); return s; }

  csr_matrix<bool> matrix(const edge_spec& e) const
  {
    std::vector<matrix_entry<bool>> es;
    for (std::uint32_t i = 0; i < N; ++i)
      if (e.present[i]) es.push_back({i, i, bool(e.weight[i])});
    return csr_matrix<bool>::from_entries(N, N, {es.data(), es.size()});
  }

  void build(page_graph<S, L>& g, bool keep_ids)
  {
    g.add_fixed_point_region({ids.data(), ids.size()}, 4 * n + 4);
    for (auto& e : edges) {
      const auto id = g.add_matrix_edge(ids[e.src], ids[e.dst], matrix(e));
      if (keep_ids) e.id = id;
    }
  }

  // The least fixed point from zero: value(v) = base(v) | OR over edges u -> v of (weight & value(u)).
  std::vector<set> reference() const
  {
    std::vector<set> base(n), x(n);
    for (std::uint32_t v = 0; v < n; ++v)
      for (std::size_t i = 0; i < N; ++i) base[v][i] = t.at(ids[v]).get(i);
    for (bool changed = true; changed;) {
      changed = false;
      for (std::uint32_t v = 0; v < n; ++v) {
        set r = base[v];
        for (const auto& e : edges)
          if (e.dst == v) r |= e.present & e.weight & x[e.src];
        if (r != x[v]) x[v] = r, changed = true;
      }
    }
    return x;
  }

  void check(const page_graph<S, L>& g, int step)
  {
    INFO("step " << step);
    const auto want = reference();
    page_table<L> copy;
    for (const auto id : ids) {
      (void)copy.create(id);
      copy.at(id).storage() = t.at(id).storage();
    }
    page_graph<S, L> fresh(copy);
    build(fresh, false);
    fresh.recompute_all();
    for (std::uint32_t v = 0; v < n; ++v)
      for (std::size_t i = 0; i < N; ++i) {
        REQUIRE(g.value(ids[v]).get(i) == bool(want[v][i]));
        REQUIRE(fresh.value(ids[v]).get(i) == bool(want[v][i]));
      }
  }

  void run(int steps)
  {
    page_graph<S, L> g(t);
    build(g, true);
    g.propagate();  // every page new: dense seeds, the word path
    check(g, 0);
    for (int step = 1; step <= steps; ++step) {
      const auto kind = rng() % 4;
      if (kind == 0) {  // dense: a third of every page's slots flipped at once
        for (const auto id : ids) {
          delta_builder<S, L> b(id);
          for (std::uint32_t i = 0; i < N; ++i)
            if (rng() % 3 == 0) b.assign(i, !t.at(id).get(i));
          g.apply(b.build());
        }
      } else if (kind == 1) {  // sparse: a slot or two (the slot path)
        for (int k = 0; k < 2; ++k) {
          const auto id = ids[rng() % n];
          const auto i = static_cast<std::uint32_t>(rng() % N);
          delta_builder<S, L> b(id);
          b.assign(i, !t.at(id).get(i));
          g.apply(b.build());
        }
      } else {  // new weights on an edge: its rows, dense or sparse
        auto& e = edges[rng() % edges.size()];
        if (kind == 2) e.weight = random_set(4);
        else e.weight.flip(rng() % N);
        g.set_weights(e.id, matrix(e));
      }
      g.propagate();
      check(g, step);
    }
    CHECK(g.verify().ok());
  }
};

} // namespace

TEST_CASE("or_and on bits: diagonal regions on words agree with a bitset solver (256 slots)", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  word_region_case<256>(test::seed() + 11, 12).run(60);
}

TEST_CASE("or_and on bits: diagonal regions on words agree with a bitset solver (100 slots: a partial last word)", "[graph]")
{
  MMSB_TEST_INFO_SEED();
  word_region_case<100>(test::seed() + 12, 9).run(60);
}

TEST_CASE("or_and on bits: a diagonal region that runs out of rounds on the word path changes nothing", "[graph]")
{
  using L = bits<128>;
  page_table<L> t;
  std::vector<page_id> ids;
  constexpr std::uint32_t n = 16;
  for (std::uint32_t v = 0; v < n; ++v) ids.push_back(t.create());
  for (std::size_t i = 0; i < 128; ++i) t.at(ids[0]).set(i, true);  // every bit of page 0 must travel the ring
  page_graph<or_and, L> g(t);
  g.add_fixed_point_region({ids.data(), ids.size()}, 3);  // a bit needs n - 1 rounds to go round
  std::vector<matrix_entry<bool>> es;
  for (std::uint32_t i = 0; i < 128; ++i) es.push_back({i, i, true});
  for (std::uint32_t v = 0; v < n; ++v) g.add_matrix_edge(ids[v], ids[(v + 1) % n], csr_matrix<bool>::from_entries(128, 128, {es.data(), es.size()}));
  std::vector<std::vector<bool>> before;
  for (const auto id : ids) {
    before.emplace_back();
    for (std::size_t i = 0; i < 128; ++i) before.back().push_back(g.value(id).get(i));
  }
  try {
    g.propagate();
    FAIL("expected not_converged");
  } catch (const error& x) {
    CHECK(x.code() == errc::not_converged);
    CHECK_THAT(x.what(), Catch::Contains("3 rounds"));
  }
  for (std::uint32_t v = 0; v < n; ++v)
    for (std::size_t i = 0; i < 128; ++i) REQUIRE(g.value(ids[v]).get(i) == before[v][i]);
}
