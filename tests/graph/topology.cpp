// graph_topology, csr_matrix, cyclic_components, write_dot and provenance: structure without values.
#include <mmsb/graph.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <sstream>
#include <vector>

using namespace mmsb;

namespace {
std::uint32_t one(graph_topology& g, std::uint32_t s, std::uint32_t d)
{
  return g.add({&s, 1}, d, edge_kind::matrix, 0).value();
}
} // namespace

TEST_CASE("csr_matrix keeps rows and columns sorted in both orders", "[graph]")
{
  std::vector<matrix_entry<int>> e{{2, 0, 5}, {0, 3, 1}, {0, 1, 2}, {2, 3, 7}};
  const auto m = csr_matrix<int>::from_entries(3, 4, {e.data(), e.size()});
  CHECK(m.nnz() == 4);
  CHECK(std::vector<std::uint32_t>(m.row_cols(0).begin(), m.row_cols(0).end()) == std::vector<std::uint32_t>{1, 3});
  CHECK(std::vector<int>(m.row_values(0).begin(), m.row_values(0).end()) == std::vector<int>{2, 1});
  CHECK(m.row_cols(1).empty());
  CHECK(std::vector<std::uint32_t>(m.col_rows(3).begin(), m.col_rows(3).end()) == std::vector<std::uint32_t>{0, 2});
  CHECK(std::vector<int>(m.col_values(3).begin(), m.col_values(3).end()) == std::vector<int>{1, 7});
  CHECK(m.entries().size() == 4);
  const auto kept = m.filter_rows([](std::uint32_t r) { return r == 2; });
  CHECK(kept.nnz() == 2);
}

TEST_CASE("levels rise along every edge under random edits; cycles are refused and named", "[graph][property]")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  for (int trial = 0; trial < 50; ++trial) {
    graph_topology g;
    const std::uint32_t n = 3 + rng() % 30;
    g.reserve_nodes(n);
    std::set<std::pair<std::uint32_t, std::uint32_t>> edges;
    std::vector<std::uint32_t> ids;
    for (int k = 0; k < 3 * static_cast<int>(n); ++k) {
      const std::uint32_t a = rng() % n, b = rng() % n;
      if (!ids.empty() && rng() % 5 == 0) {
        const auto e = ids[rng() % ids.size()];
        if (g.at(e).live) g.remove(edge_id{e});
        continue;
      }
      const auto version = g.version();
      try {
        ids.push_back(one(g, a, b));
      } catch (const error& x) {
        REQUIRE(x.code() == errc::cycle);
        REQUIRE(g.version() == version);
        // The named cycle is a real path of live edges from b back to b through a.
        const std::string msg = x.what();
        REQUIRE(msg.find("would close the cycle") != std::string::npos);
      }
      for (std::uint32_t e = 0; e < g.transfer_count(); ++e)
        if (g.at(e).live) REQUIRE(g.level(g.at(e).srcs[0]) < g.level(g.at(e).dst));
    }
    REQUIRE(cyclic_components(g).empty());
    REQUIRE(g.find_cycle().empty());
    REQUIRE(g.relevel());
  }
}

TEST_CASE("regions: cycles inside are allowed, a cycle through outside pages is refused", "[graph]")
{
  graph_topology g;
  g.reserve_nodes(5);
  const std::uint32_t r[] = {1, 2};
  g.add_region(r, 100);
  one(g, 1, 2);
  one(g, 2, 1);
  one(g, 1, 1);
  one(g, 0, 1);
  one(g, 2, 3);
  CHECK(g.level(1) == g.level(2));
  CHECK(g.level(0) < g.level(1));
  CHECK(g.level(2) < g.level(3));
  CHECK_THROWS_WITH(one(g, 3, 1), Catch::Contains("would close the cycle"));
  const auto comps = cyclic_components(g);
  REQUIRE(comps.size() == 1);
  CHECK(comps[0] == std::vector<std::uint32_t>{1, 2});
  // 3 -> 4 -> 0 exists through a region member? 0 -> {1,2} -> 3 -> 4; a region {4, 0} would
  // close 0 -> 1 -> 3 -> 4 -> 0 through pages outside it.
  one(g, 3, 4);
  const std::uint32_t bad[] = {4, 0};
  const auto version = g.version();
  CHECK_THROWS_WITH(g.add_region(bad, 10), Catch::Contains("through pages outside it"));
  CHECK(g.version() == version);
  CHECK(g.region_of(4) == graph_topology::none);
  CHECK_THROWS_WITH(g.add_region(r, 10), Catch::Contains("already in fixed-point region 0"));
  const std::uint32_t twice[] = {4, 3, 4};
  CHECK_THROWS_WITH(g.add_region(twice, 10), Catch::Contains("page 4 is listed twice in the fixed-point region"));
  CHECK(g.version() == version);
  CHECK(g.region_of(4) == graph_topology::none);
}

TEST_CASE("write_dot names pages, levels, edge labels and regions", "[graph]")
{
  using S = min_plus<int>;
  using L = dense<int, 4>;
  page_table<L> t;
  const page_id a = t.create(), b = t.create();
  page_graph<S, L> g(t);
  g.add_fixed_point_region({&b, 1});
  std::vector<matrix_entry<int>> e{{0, 0, 1}, {1, 0, 1}};
  g.add_matrix_edge(a, b, csr_matrix<int>::from_entries(4, 4, {e.data(), e.size()}));
  std::ostringstream os;
  g.write_dot(os);
  const auto s = os.str();
  CHECK_THAT(s, Catch::StartsWith("digraph mmsb {"));
  CHECK_THAT(s, Catch::Contains("p0 -> p1 [label=\"nnz 2\"]"));
  CHECK_THAT(s, Catch::Contains("subgraph cluster_r0"));
  CHECK_THAT(s, Catch::Contains("page 1\\nlevel 1"));
}

TEST_CASE("provenance: ancestors by depth, element level, writers, cache invalidation", "[graph]")
{
  using S = plus_times<int>;
  using L = dense<int, 4>;
  page_table<L> t;
  std::vector<page_id> p;
  for (int i = 0; i < 6; ++i) p.push_back(t.create());
  page_graph<S, L> g(t);
  // 0 -> 1 -> 2 -> 3 (chain, slot i from slot i+1), and kernel {4, 3} -> 5.
  std::vector<matrix_entry<int>> e{{0, 1, 1}, {1, 2, 1}, {2, 3, 1}};
  const auto m = csr_matrix<int>::from_entries(4, 4, {e.data(), e.size()});
  g.add_matrix_edge(p[0], p[1], m);
  g.add_matrix_edge(p[1], p[2], m);
  g.add_matrix_edge(p[2], p[3], m);
  const page_id ks[] = {p[4], p[3]};
  g.add_kernel_edge(ks, p[5], [](span<const page<L>* const> in, page<L>& out) { out.set(0, in[0]->get(0) + in[1]->get(0)); }, "sum");
  delta_builder<S, L> b(p[0]);
  b.assign(2, 1);
  g.apply(b.build(), {epoch{3}, txn_id{42}});

  auto r = g.provenance(p[3], 2);
  REQUIRE(r.ancestors.size() == 2);
  CHECK(r.ancestors[0].page == p[2]);
  CHECK(r.ancestors[0].depth == 1);
  CHECK(r.ancestors[1].page == p[1]);
  CHECK(r.truncated);
  r = g.provenance(p[5]);
  CHECK(r.ancestors.size() == 5);
  CHECK_FALSE(r.truncated);
  bool saw_writer = false;
  for (const auto& a : r.ancestors)
    if (a.page == p[0]) {
      saw_writer = true;
      CHECK(a.depth == 4);
      CHECK(a.last_epoch == epoch{3});
      CHECK(a.last_txn == txn_id{42});
    }
  CHECK(saw_writer);
  // Element level: slot 0 of page 3 comes from slot 1 of page 2, slot 2 of page 1, slot 3 of page 0.
  r = g.slot_provenance(p[3], 0, 10);
  REQUIRE(r.ancestors.size() == 3);
  CHECK((r.ancestors[2].page == p[0] && r.ancestors[2].slot == 3));
  r = g.slot_provenance(p[3], 1, 10);
  CHECK(r.ancestors.size() == 2);  // slot 4 of page 0 does not exist: the chain stops at page 1
  // The cache follows structural edits.
  CHECK(g.provenance(p[1]).ancestors.size() == 1);
  g.add_matrix_edge(p[4], p[1], m);
  CHECK(g.provenance(p[1]).ancestors.size() == 2);
  CHECK_THROWS_WITH(g.provenance(page_id{77}), Catch::Contains("page 77 does not exist"));
}

TEST_CASE("provenance reports each page's own epoch, however its base was written", "[graph]")
{
  using S = plus_times<int>;
  using L = dense<int, 4>;
  page_table<L> t;
  std::vector<page_id> p;
  for (int i = 0; i < 3; ++i) p.push_back(t.create());
  page_graph<S, L> g(t);
  std::vector<matrix_entry<int>> e{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}};
  const auto m = csr_matrix<int>::from_entries(4, 4, {e.data(), e.size()});
  g.add_matrix_edge(p[0], p[1], m);
  g.add_matrix_edge(p[1], p[2], m);
  // As a store commits (the bus's path): note the delta, apply it to the base, set the epoch.
  const auto commit = [&](page_id q, std::size_t slot, int v, std::uint64_t at) {
    delta_builder<S, L> b(q);
    b.assign(slot, v);
    const auto d = b.build();
    g.note(d);
    mmsb::apply(t.at(q), d);
    t.at(q).set_epoch(epoch{at});
  };
  const auto writer_of = [&](const provenance_result& r, page_id q) {
    for (const auto& a : r.ancestors)
      if (a.page == q) return std::pair{a.last_epoch, a.last_txn};
    FAIL("page " << q.value() << " is not an ancestor");
    return std::pair{epoch{}, txn_id{}};
  };
  auto r = g.provenance(p[2]);
  CHECK(writer_of(r, p[0]) == std::pair{epoch{}, txn_id{}});  // never written
  commit(p[0], 1, 5, 7);
  commit(p[1], 2, 3, 9);
  g.propagate();
  CHECK(g.value(p[2]).get(1) == 5);
  CHECK(g.value(p[2]).get(2) == 3);
  r = g.provenance(p[2]);
  CHECK(writer_of(r, p[0]) == std::pair{epoch{7}, txn_id{7}});  // txn defaults to the epoch
  CHECK(writer_of(r, p[1]) == std::pair{epoch{9}, txn_id{9}});
  CHECK(g.stamp(p[0]).epoch == epoch{7});
  // Element level, the same writers.
  const auto rs = g.slot_provenance(p[2], 1);
  REQUIRE(rs.ancestors.size() == 2);
  CHECK((rs.ancestors[1].page == p[0] && rs.ancestors[1].last_epoch == epoch{7}));
  // An explicit stamp names its txn while it is the page's last write ...
  delta_builder<S, L> b(p[0]);
  b.assign(0, 4);
  g.apply(b.build(), {epoch{12}, txn_id{99}});
  CHECK(writer_of(g.provenance(p[2]), p[0]) == std::pair{epoch{12}, txn_id{99}});
  // ... and not after a later commit by another path.
  commit(p[0], 3, 6, 15);
  CHECK(writer_of(g.provenance(p[2]), p[0]) == std::pair{epoch{15}, txn_id{15}});
  // A stamp older than the page's own epoch is refused, with nothing changed.
  delta_builder<S, L> old(p[0]);
  old.assign(0, 8);
  CHECK_THROWS_WITH(g.apply(old.build(), {epoch{14}, txn_id{1}}), Catch::Contains("epoch 14 is older than its last write at epoch 15"));
  CHECK(t.at(p[0]).get(0) == 4);
  g.propagate();
  CHECK(g.value(p[2]).get(3) == 6);
  CHECK(g.verify().ok());
}
