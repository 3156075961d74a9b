// graph_topology, csr_matrix, cyclic_components, write_dot and provenance: structure without values.
#include <mmsb/graph.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

using namespace mmsb;

namespace {
std::uint32_t one(graph_topology& g, std::uint32_t s, std::uint32_t d)
{
  return g.add({&s, 1}, d, edge_kind::matrix, 0).value();
}
// Whether a path of live transfers (region links included) leads from a to b.
bool reaches(const graph_topology& g, std::uint32_t a, std::uint32_t b)
{
  std::vector<std::uint32_t> stack{a};
  std::set<std::uint32_t> seen{a};
  while (!stack.empty()) {
    const auto v = stack.back();
    stack.pop_back();
    if (v == b) return true;
    std::vector<std::uint32_t> next;
    for (const auto t : g.out(v)) next.push_back(g.at(t).dst);
    if (g.region_of(v) != graph_topology::none)
      for (const auto m : g.region_at(g.region_of(v)).members) next.push_back(m);
    for (const auto w : next)
      if (seen.insert(w).second) stack.push_back(w);
  }
  return false;
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

namespace {
// Every live edge rises in level, except inside one region, whose members share one level.
void require_levels_valid(const graph_topology& g)
{
  for (std::uint32_t e = 0; e < g.transfer_count(); ++e) {
    if (!g.at(e).live) continue;
    for (const auto u : g.at(e).srcs) {
      if (g.same_unit(u, g.at(e).dst)) REQUIRE(g.level(u) == g.level(g.at(e).dst));
      else REQUIRE(g.level(u) < g.level(g.at(e).dst));
    }
  }
  for (std::uint32_t r = 0; r < g.region_count(); ++r)
    for (const auto m : g.region_at(r).members) REQUIRE(g.level(m) == g.level(g.region_at(r).members.front()));
}
// Everything a refused edit must leave as it was.
struct snapshot {
  std::vector<std::uint32_t> levels, regions;
  std::vector<std::vector<std::uint32_t>> in, out;
  std::size_t transfers = 0, region_count = 0;
  explicit snapshot(const graph_topology& g, std::uint32_t n) : transfers(g.transfer_count()), region_count(g.region_count())
  {
    for (std::uint32_t v = 0; v < n; ++v) {
      levels.push_back(g.level(v));
      regions.push_back(g.region_of(v));
      in.emplace_back(g.in(v).begin(), g.in(v).end());
      out.emplace_back(g.out(v).begin(), g.out(v).end());
    }
  }
  bool operator==(const snapshot&) const = default;
};
// A named cycle is a closed path of edges: live transfers, `extra` ones, or links inside a region.
void require_real_cycle(const graph_topology& g, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& extra,
                        const std::string& msg)
{
  const auto at = msg.find("would close the cycle ");
  REQUIRE(at != std::string::npos);
  std::vector<std::uint32_t> path;
  std::istringstream in(msg.substr(at + 22));
  for (std::string word; in >> word && !word.empty() && std::isdigit(static_cast<unsigned char>(word[0]));) {
    path.push_back(static_cast<std::uint32_t>(std::stoul(word)));
    if (!(in >> word) || word != "->") break;
  }
  INFO(msg);
  REQUIRE(path.size() >= 2);
  REQUIRE(path.front() == path.back());
  for (std::size_t k = 0; k + 1 < path.size(); ++k) {
    const auto a = path[k], b = path[k + 1];
    bool edge = g.same_unit(a, b) && a != b;
    for (std::uint32_t e = 0; e < g.transfer_count() && !edge; ++e)
      edge = g.at(e).live && g.at(e).dst == b && std::count(g.at(e).srcs.begin(), g.at(e).srcs.end(), a) > 0;
    for (const auto& [u, v] : extra) edge = edge || (u == a && v == b);
    REQUIRE(edge);
  }
}
} // namespace

TEST_CASE("add_bulk: all or none, levels valid, a closed cycle named; small batches go edge by edge", "[graph][property]")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  int added = 0, refused_whole = 0, refused_one_by_one = 0;  // each path is exercised
  for (int trial = 0; trial < 200; ++trial) {
    graph_topology g;
    const std::uint32_t n = 4 + rng() % 40;
    g.reserve_nodes(n);
    if (rng() % 2) {  // a region, some of the time
      const std::uint32_t reg[] = {static_cast<std::uint32_t>(rng() % n), static_cast<std::uint32_t>(rng() % n)};
      if (reg[0] != reg[1]) g.add_region(reg, 10);
    }
    for (int round = 0; round < 6; ++round) {
      // A batch of kernel-like transfers (1-3 sources, a source now and then listed twice),
      // mostly forward in id order (acyclic) and sometimes not.
      const bool forward_only = rng() % 3 != 0;
      std::vector<std::vector<std::uint32_t>> srcs;
      std::vector<std::uint32_t> dsts;
      std::vector<graph_topology::transfer_spec> batch;
      std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
      const std::size_t size = 1 + rng() % (round == 5 ? 2 : 12);
      for (std::size_t k = 0; k < size; ++k) {
        const auto dst = static_cast<std::uint32_t>(1 + rng() % (n - 1));
        std::vector<std::uint32_t> s;
        for (std::size_t j = 0, fan = 1 + rng() % 3; j < fan; ++j)
          s.push_back(static_cast<std::uint32_t>(forward_only ? rng() % dst : rng() % n));
        if (rng() % 4 == 0) s.push_back(s.front());
        for (const auto u : s) pairs.emplace_back(u, dst);
        srcs.push_back(std::move(s));
        dsts.push_back(dst);
      }
      for (std::size_t k = 0; k < size; ++k) batch.push_back({{srcs[k].data(), srcs[k].size()}, dsts[k], edge_kind::kernel, 7});
      const snapshot before(g, n);
      const auto count = g.transfer_count();
      try {
        const auto first = g.add_bulk({batch.data(), batch.size()});
        REQUIRE(first.value() == count);
        REQUIRE(g.transfer_count() == count + size);
        for (std::size_t k = 0; k < size; ++k) {
          const auto& t = g.at(static_cast<std::uint32_t>(count + k));
          REQUIRE(t.live);
          REQUIRE(t.dst == batch[k].dst);
          REQUIRE(std::vector<std::uint32_t>(t.srcs.begin(), t.srcs.end()) == srcs[k]);
          for (const auto u : srcs[k])  // listed once in out(u) however often u is a source
            REQUIRE(std::count(g.out(u).begin(), g.out(u).end(), count + k) == 1);
        }
        ++added;
      } catch (const error& x) {
        REQUIRE(x.code() == errc::cycle);
        ++(size * 8 < count ? refused_one_by_one : refused_whole);
        REQUIRE(snapshot(g, n) == before);
        require_real_cycle(g, pairs, x.what());
      }
      require_levels_valid(g);
      REQUIRE(g.find_cycle().empty());
    }
  }
  CHECK(added > 100);
  CHECK(refused_whole > 10);
  CHECK(refused_one_by_one > 10);
}

TEST_CASE("add_region levels incrementally: members share the top level, what lies downstream is raised", "[graph][property]")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  int added = 0, refused = 0;
  for (int trial = 0; trial < 200; ++trial) {
    graph_topology g;
    const std::uint32_t n = 4 + rng() % 30;
    g.reserve_nodes(n);
    for (int k = 0; k < 2 * static_cast<int>(n); ++k) {
      const auto b = static_cast<std::uint32_t>(1 + rng() % (n - 1)), a = static_cast<std::uint32_t>(rng() % b);
      try {
        one(g, a, b);
      } catch (const error&) {  // a cycle through a region: refused, as tested above
      }
      if (rng() % 6 == 0) {
        std::vector<std::uint32_t> members;
        for (std::uint32_t v = 0; v < n; ++v)
          if (g.region_of(v) == graph_topology::none && rng() % 8 == 0) members.push_back(v);
        if (members.empty()) continue;
        const snapshot before(g, n);
        try {
          g.add_region({members.data(), members.size()}, 5);
          ++added;
        } catch (const error& x) {
          REQUIRE(x.code() == errc::cycle);
          REQUIRE(snapshot(g, n) == before);
          REQUIRE(std::string(x.what()).find("through pages outside it") != std::string::npos);
          std::vector<std::pair<std::uint32_t, std::uint32_t>> links;  // the refused region's own
          for (const auto a : members)
            for (const auto b : members) links.emplace_back(a, b);
          require_real_cycle(g, links, x.what());
          // The refusal is right: with the members merged, some path leaves and comes back.
          bool back = false;
          for (const auto m : members)
            for (const auto t : g.out(m))
              for (const auto o : members)
                back = back || (std::find(members.begin(), members.end(), g.at(t).dst) == members.end() &&
                                !g.same_unit(g.at(t).dst, o) && reaches(g, g.at(t).dst, o));
          REQUIRE(back);
          ++refused;
        }
      }
      require_levels_valid(g);
    }
    REQUIRE(g.find_cycle().empty());
  }
  CHECK(added > 100);
  CHECK(refused > 10);
}

TEST_CASE("adjacency: pooled lists behave as vectors through growth, bulk reserves and compaction", "[graph][property]")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  detail::adjacency a;
  std::vector<std::vector<std::uint32_t>> model;
  const auto same = [&] {
    REQUIRE(a.size() == model.size());
    for (std::uint32_t v = 0; v < model.size(); ++v) {
      REQUIRE(std::vector<std::uint32_t>(a[v].begin(), a[v].end()) == model[v]);
      REQUIRE(a.empty(v) == model[v].empty());
      if (!model[v].empty()) REQUIRE(a.back(v) == model[v].back());
    }
  };
  for (int step = 0; step < 20000; ++step) {
    const auto op = rng() % 100;
    if (op < 2 || model.empty()) {
      const std::size_t n = model.size() + 1 + rng() % 40;
      a.resize(n);
      model.resize(n);
    } else if (op < 4) {  // a bulk reserve, then the pushes it made room for
      std::vector<std::uint32_t> more(model.size());
      for (auto& m : more) m = rng() % 3 == 0 ? static_cast<std::uint32_t>(rng() % 50) : 0;
      a.reserve_each({more.data(), more.size()});
      for (std::uint32_t v = 0; v < more.size(); ++v)
        for (std::uint32_t k = 0; k < more[v]; ++k) {
          const auto x = static_cast<std::uint32_t>(rng() % 1000);
          a.push(v, x);
          model[v].push_back(x);
        }
    } else {
      const auto v = static_cast<std::uint32_t>(rng() % model.size());
      if (op < 70) {
        const auto x = static_cast<std::uint32_t>(rng() % 1000);
        a.reserve(v, 1);
        a.push(v, x);
        model[v].push_back(x);
      } else if (op < 85 && !model[v].empty()) {
        a.pop(v);
        model[v].pop_back();
      } else if (!model[v].empty()) {
        const auto x = model[v][rng() % model[v].size()];
        a.erase(v, x);
        std::erase(model[v], x);
      }
    }
    if (step % 500 == 0) same();
  }
  same();
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

TEST_CASE("provenance on a random DAG equals a plain BFS at every depth, cached or not, with fresh writers", "[graph]")
{
  // Large enough answers for the writers' prefetch pipeline (16 pages ahead) to run over them.
  using S = plus_times<int>;
  using L = dense<int, 4>;
  constexpr std::uint32_t n = 400;
  page_table<L> t;
  std::vector<page_id> p;
  for (std::uint32_t i = 0; i < n; ++i) p.push_back(t.create());
  page_graph<S, L> g(t);
  std::vector<matrix_entry<int>> e{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}};
  const auto m = csr_matrix<int>::from_entries(4, 4, {e.data(), e.size()});
  std::mt19937_64 rng(test::seed());
  std::vector<std::vector<std::uint32_t>> sources(n);
  for (std::uint32_t v = 1; v < n; ++v) {
    std::set<std::uint32_t> from;
    const std::uint32_t k = rng() % 5;
    for (std::uint32_t j = 0; j < k; ++j) from.insert(static_cast<std::uint32_t>(rng() % v));
    for (const auto u : from) {
      g.add_matrix_edge(p[u], p[v], m);
      sources[v].push_back(u);
    }
  }
  for (std::uint32_t v = 0; v < n; v += 3) t.at(p[v]).set_epoch(epoch{v + 1u});
  // Some bases written with an explicit stamp (their txn differs from their epoch).
  std::vector<writer_stamp> stamped(n);
  for (std::uint32_t v = 0; v < n; v += 2)
    if (sources[v].empty()) {
      delta_builder<S, L> b(p[v]);
      b.assign(1, static_cast<int>(v));
      stamped[v] = {epoch{5000u + v}, txn_id{7000u + v}};
      g.apply(b.build(), stamped[v]);
    }
  g.propagate();
  // (page, depth, epoch, txn), sorted, and whether the limit cut sources off.
  using row = std::tuple<std::uint32_t, std::uint32_t, std::uint64_t, std::uint64_t>;
  const auto writer = [&](std::uint32_t u) {
    const auto w = last_writer(t.at(p[u]).epoch(), stamped[u]);
    return std::pair{w.epoch.value(), w.txn.value()};
  };
  const auto plain_bfs = [&](std::uint32_t q, std::uint32_t depth) {
    std::vector<row> out;
    std::vector<bool> seen(n, false);
    std::vector<std::uint32_t> level{q};
    seen[q] = true;
    bool truncated = false;
    for (std::uint32_t d = 1; !level.empty(); ++d) {
      if (d > depth) {
        for (const auto v : level) truncated = truncated || !sources[v].empty();
        break;
      }
      std::vector<std::uint32_t> next;
      for (const auto v : level)
        for (const auto u : sources[v])
          if (!seen[u]) {
            seen[u] = true;
            next.push_back(u);
            out.emplace_back(u, d, writer(u).first, writer(u).second);
          }
      level = next;
    }
    std::sort(out.begin(), out.end());
    return std::pair{out, truncated};
  };
  const auto rows = [&](const provenance_result& r) {
    std::vector<row> out;
    std::uint32_t last_depth = 0;
    for (const auto& a : r.ancestors) {
      CHECK(a.depth >= last_depth);  // by depth
      last_depth = a.depth;
      CHECK(a.slot == ancestor::whole_page);
      out.emplace_back(a.page.value(), a.depth, a.last_epoch.value(), a.last_txn.value());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  // The first trial asks for the largest answer this DAG has (at depth 64), so that every seed
  // runs the pipeline over more than 64 pages; the others are random.
  std::uint32_t q_big = n - 1;
  for (std::size_t v = n / 2, most = 0; v < n; ++v)
    if (const std::size_t size = plain_bfs(static_cast<std::uint32_t>(v), 64).first.size(); size > most) {
      most = size;
      q_big = static_cast<std::uint32_t>(v);
    }
  std::size_t largest = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const std::uint32_t q = trial == 0 ? q_big : n - 1 - static_cast<std::uint32_t>(rng() % (n / 2));
    const std::uint32_t depth = trial == 0 ? 64 : std::array<std::uint32_t, 6>{0, 1, 2, 3, 6, 64}[rng() % 6];
    INFO("page " << q << ", depth " << depth);
    const auto [want, truncated] = plain_bfs(q, depth);
    for (const bool cached : {false, true, true}) {  // the second cached query is answered from the cache
      const auto r = g.provenance(p[q], depth, cached);
      CHECK(rows(r) == want);
      CHECK(r.truncated == truncated);
    }
    largest = std::max(largest, want.size());
    // Writers are read fresh, also for a cached answer.
    if (!want.empty()) {
      const std::uint32_t u = std::get<0>(want[rng() % want.size()]);
      t.at(p[u]).set_epoch(epoch{t.at(p[u]).epoch().value() + 1000});
      CHECK(rows(g.provenance(p[q], depth)) == plain_bfs(q, depth).first);
    }
  }
  CHECK(largest > 64);
  CHECK(std::count_if(stamped.begin(), stamped.end(), [](const writer_stamp& w) { return w.txn.value() != 0; }) > 0);
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
