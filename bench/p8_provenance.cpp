// P8 provenance (BENCHMARKS.md): the ancestors of a page to depth 1, 3 and 10 in a 1 M-page,
// 16 M-edge DAG, each with the log record (epoch, transaction) that last wrote it.
//
//   P8/ancestors/d<1|3|10>/<mmsb|graphblas|plain_bfs>   uncached queries
//   P8/ancestors_cached/d<1|3|10>/mmsb                  the same queries answered from the cache
//   P8/build/<mmsb|mmsb_one_by_one|plain_csr>            building the graph from its edge list
//
// The DAG (seeded mt19937_64): page p (p >= 1) depends on 16 distinct pages drawn uniformly from
// the W pages before it, [max(0, p - W), p) (all of them when fewer than 16 exist); W = 1024. The
// window gives the graph locality, so depth-d ancestry stays within d * W pages instead of the
// whole graph, and a query's cost depends on W and d, not on the page count. In MMSB each page is
// a dense<uint32_t, 16> page (64 B) computed by one kernel edge from its 16 sources (a trivial pure
// kernel: slot-wise max), added with add_kernel_edge; every page's base was written once by
// g.apply(delta, writer_stamp{epoch p + 1, txn p + 1}) before the edges, so each ancestor's
// last writer is known and checkable.
//
// Contenders, each returning every ancestor with its depth and last writer:
//   mmsb       g.provenance(page, depth, use_cache = false)
//   graphblas  BFS over the transposed adjacency AT (AT(v, u) = true when u is a source of v):
//              q<¬visited, replace> = q lor.land AT per level (GrB_vxm, GrB_DESC_RSC), visited |= q,
//              each level's pages extracted and their writers read from an array
//   plain_bfs  a hand-written level-synchronous BFS over the same reverse CSR with a
//              generation-stamped visited array
// The time is the p50 per query (the p50_ns counter bench/report reads) over a fixed list of
// random query pages in the upper half of the id range; every contender answers the same list.
// P8/build times building the graph's structure from the DAG's edge list (each page's sources),
// from scratch in every iteration, the pages already existing:
//   mmsb             a page_graph on the pages, every kernel edge added by one add_kernel_edges
//                    (levels, both adjacency directions, the derived pages' values allocated)
//   mmsb_one_by_one  the same with one add_kernel_edge per page (what the bulk add replaces)
//   plain_csr        the forward CSR (each page's dependents) a hand-written engine would build:
//                    a counting sort of the same list (count, prefix sum, scatter)
// The goal is mmsb <= 2x plain_csr (issue 19); the first propagate is not part of it.
// Before timing, every contender's answer (pages, depths, writers) is checked against plain_bfs
// for 16 query pages at each depth; a mismatch aborts.
//
// MMSB_BENCH_P8_PAGES sets the page count (default 2^20), MMSB_BENCH_P8_WINDOW the window W;
// MMSB_BENCH_GRAPH_SMALL=1 uses 4096 pages for the smoke test. Building the graph is timed once
// and reported as context (p8_build_s: page creation and stamping, kernel edges, first propagate).
#include <mmsb/delta/delta.hpp>
#include <mmsb/graph/page_graph.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <benchmark/benchmark.h>

#if MMSB_BENCH_HAVE_GRAPHBLAS
extern "C" {
#include <GraphBLAS.h>
}
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

using layout = mmsb::dense<std::uint32_t, 16>;
using semiring = mmsb::plus_times<std::uint32_t>;
using graph_t = mmsb::page_graph<semiring, layout>;
using clock_type = std::chrono::steady_clock;
constexpr std::size_t fan_in = 16;
constexpr std::array depths{1u, 3u, 10u};
constexpr std::size_t query_count = 1024;

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p8_provenance: %s\n", what.c_str());
  std::abort();
}

std::size_t env_size(const char* name, std::size_t fallback)
{
  const char* e = std::getenv(name);
  return e ? std::strtoull(e, nullptr, 10) : fallback;
}
std::size_t page_count()
{
  static const std::size_t n = std::getenv("MMSB_BENCH_GRAPH_SMALL") ? 4096 : std::max<std::size_t>(env_size("MMSB_BENCH_P8_PAGES", std::size_t{1} << 20), 64);
  return n;
}
std::size_t window() { static const std::size_t w = std::max<std::size_t>(env_size("MMSB_BENCH_P8_WINDOW", 1024), fan_in); return w; }

// One answer: (page, depth, last epoch, last txn), sorted for comparison.
using answer = std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t, std::uint64_t>>;

struct dag {
  std::size_t n = 0;
  std::vector<std::uint64_t> in_ptr;  // reverse CSR: row v lists v's sources
  std::vector<std::uint32_t> in_src;
  std::vector<std::uint32_t> queries;
  std::vector<std::uint64_t> epoch_of, txn_of;  // the writers, as the peers see them
};

const dag& the_dag()
{
  static const dag d = [] {
    dag g;
    g.n = page_count();
    const std::size_t w = window();
    std::mt19937_64 rng(88);
    g.in_ptr.assign(g.n + 1, 0);
    g.in_src.reserve(g.n * fan_in);
    std::vector<std::uint32_t> picked;
    for (std::uint32_t p = 0; p < g.n; ++p) {
      picked.clear();
      const std::uint32_t lo = p > w ? static_cast<std::uint32_t>(p - w) : 0;
      if (p - lo <= fan_in) {
        for (std::uint32_t u = lo; u < p; ++u) picked.push_back(u);
      } else {
        while (picked.size() < fan_in) {
          const auto u = static_cast<std::uint32_t>(lo + rng() % (p - lo));
          if (std::find(picked.begin(), picked.end(), u) == picked.end()) picked.push_back(u);
        }
      }
      g.in_src.insert(g.in_src.end(), picked.begin(), picked.end());
      g.in_ptr[p + 1] = g.in_src.size();
    }
    g.epoch_of.resize(g.n);
    g.txn_of.resize(g.n);
    for (std::uint32_t p = 0; p < g.n; ++p) {
      g.epoch_of[p] = p + 1;
      g.txn_of[p] = p + 1;
    }
    for (std::size_t k = 0; k < query_count; ++k) g.queries.push_back(static_cast<std::uint32_t>(g.n / 2 + rng() % (g.n - g.n / 2)));
    return g;
  }();
  return d;
}

// ---- mmsb ---------------------------------------------------------------------------------------

// Slot-wise max of the sources: a trivial pure kernel.
const graph_t::kernel_fn slotwise_max = [](mmsb::span<const graph_t::page_type* const> srcs, graph_t::page_type& dst) {
  for (std::size_t i = 0; i < layout::extent; ++i) {
    std::uint32_t m = 0;
    for (const auto* s : srcs) m = std::max(m, s->get(i));
    dst.set(i, m);
  }
};

// Every page's kernel edge (page p >= 1 from its sources), in one bulk add or one at a time.
void add_edges(graph_t& g, const dag& d, bool bulk)
{
  static const std::vector<mmsb::page_id> ids = [&] {
    std::vector<mmsb::page_id> v;
    v.reserve(d.in_src.size());
    for (const auto u : d.in_src) v.push_back(mmsb::page_id{u});
    return v;
  }();
  if (bulk) {
    std::vector<graph_t::kernel_edge_spec> edges;
    edges.reserve(d.n);
    for (std::uint32_t p = 1; p < d.n; ++p)
      edges.push_back({{ids.data() + d.in_ptr[p], d.in_ptr[p + 1] - d.in_ptr[p]}, mmsb::page_id{p}});
    g.add_kernel_edges({edges.data(), edges.size()}, slotwise_max, "max");
  } else {
    for (std::uint32_t p = 1; p < d.n; ++p)
      g.add_kernel_edge({ids.data() + d.in_ptr[p], d.in_ptr[p + 1] - d.in_ptr[p]}, mmsb::page_id{p}, slotwise_max, "max");
  }
}

struct mmsb_side {
  mmsb::page_table<layout> table;
  std::unique_ptr<graph_t> g;
  double create_s = 0, edges_s = 0, propagate_s = 0;

  explicit mmsb_side(const dag& d)
  {
    auto t0 = clock_type::now();
    for (std::size_t p = 0; p < d.n; ++p) table.create();
    g = std::make_unique<graph_t>(table);
    for (std::uint32_t p = 0; p < d.n; ++p) {
      mmsb::delta_builder<semiring, layout> one(mmsb::page_id{p});
      one.assign(0, p);
      g->apply(one.build(), mmsb::writer_stamp{mmsb::epoch{d.epoch_of[p]}, mmsb::txn_id{d.txn_of[p]}});
      g->propagate();
    }
    auto t1 = clock_type::now();
    add_edges(*g, d, /*bulk=*/true);
    auto t2 = clock_type::now();
    g->propagate();
    auto t3 = clock_type::now();
    create_s = std::chrono::duration<double>(t1 - t0).count();
    edges_s = std::chrono::duration<double>(t2 - t1).count();
    propagate_s = std::chrono::duration<double>(t3 - t2).count();
  }

  answer query(std::uint32_t p, std::uint32_t depth, bool cache)
  {
    const auto r = g->provenance(mmsb::page_id{p}, depth, cache);
    answer a;
    for (const auto& x : r.ancestors) a.emplace_back(x.page.value(), x.depth, x.last_epoch.value(), x.last_txn.value());
    return a;
  }
};

// ---- plain BFS ----------------------------------------------------------------------------------

struct ancestor_row {
  std::uint32_t page, depth;
  std::uint64_t epoch, txn;
};

struct plain_bfs {
  const dag& d;
  std::vector<std::uint32_t> mark, level, next;
  std::uint32_t gen = 0;
  std::vector<ancestor_row> out;
  explicit plain_bfs(const dag& g) : d(g), mark(g.n, 0) {}

  void run(std::uint32_t p, std::uint32_t depth)
  {
    out.clear();
    ++gen;
    mark[p] = gen;
    level.assign(1, p);
    for (std::uint32_t k = 1; k <= depth && !level.empty(); ++k) {
      next.clear();
      for (const auto v : level)
        for (auto e = d.in_ptr[v]; e < d.in_ptr[v + 1]; ++e) {
          const auto u = d.in_src[e];
          if (mark[u] != gen) {
            mark[u] = gen;
            next.push_back(u);
            out.push_back({u, k, d.epoch_of[u], d.txn_of[u]});
          }
        }
      std::swap(level, next);
    }
  }
  answer query(std::uint32_t p, std::uint32_t depth)
  {
    run(p, depth);
    answer a;
    for (const auto& x : out) a.emplace_back(x.page, x.depth, x.epoch, x.txn);
    return a;
  }
};

// ---- GraphBLAS ----------------------------------------------------------------------------------

#if MMSB_BENCH_HAVE_GRAPHBLAS
void grb(GrB_Info info, const char* what)
{
  if (info != GrB_SUCCESS) fail(std::string("GraphBLAS ") + what + " failed with GrB_Info " + std::to_string(info));
}

struct grb_bfs {
  const dag& d;
  GrB_Matrix at = nullptr;
  GrB_Vector q = nullptr, visited = nullptr;
  std::vector<GrB_Index> idx;
  std::vector<ancestor_row> out;
  explicit grb_bfs(const dag& g) : d(g), idx(g.n)
  {
    const std::size_t m = g.in_src.size();
    std::vector<GrB_Index> I(m), J(m);
    std::unique_ptr<bool[]> x(new bool[m]);
    for (std::uint32_t v = 0; v < g.n; ++v)
      for (auto e = g.in_ptr[v]; e < g.in_ptr[v + 1]; ++e) {
        I[e] = v;
        J[e] = g.in_src[e];
        x[e] = true;
      }
    grb(GrB_Matrix_new(&at, GrB_BOOL, g.n, g.n), "GrB_Matrix_new");
    grb(GrB_Matrix_build_BOOL(at, I.data(), J.data(), x.get(), m, GrB_LOR), "build AT");
    grb(GrB_Matrix_wait(at, GrB_MATERIALIZE), "wait AT");
    grb(GrB_Vector_new(&q, GrB_BOOL, g.n), "GrB_Vector_new");
    grb(GrB_Vector_new(&visited, GrB_BOOL, g.n), "GrB_Vector_new");
  }
  grb_bfs(const grb_bfs&) = delete;
  ~grb_bfs()
  {
    GrB_Matrix_free(&at);
    GrB_Vector_free(&q);
    GrB_Vector_free(&visited);
  }

  void run(std::uint32_t p, std::uint32_t depth)
  {
    out.clear();
    grb(GrB_Vector_clear(q), "clear");
    grb(GrB_Vector_clear(visited), "clear");
    grb(GrB_Vector_setElement_BOOL(q, true, p), "setElement");
    grb(GrB_Vector_setElement_BOOL(visited, true, p), "setElement");
    for (std::uint32_t k = 1; k <= depth; ++k) {
      grb(GrB_vxm(q, visited, nullptr, GrB_LOR_LAND_SEMIRING_BOOL, q, at, GrB_DESC_RSC), "GrB_vxm");
      GrB_Index nv = 0;
      grb(GrB_Vector_nvals(&nv, q), "nvals");
      if (nv == 0) break;
      grb(GrB_Vector_extractTuples_BOOL(idx.data(), nullptr, &nv, q), "extractTuples");
      for (GrB_Index i = 0; i < nv; ++i) {
        const auto u = static_cast<std::uint32_t>(idx[i]);
        out.push_back({u, k, d.epoch_of[u], d.txn_of[u]});
      }
      grb(GrB_Vector_assign(visited, q, nullptr, q, GrB_ALL, d.n, GrB_DESC_S), "assign visited");
    }
  }
  answer query(std::uint32_t p, std::uint32_t depth)
  {
    run(p, depth);
    answer a;
    for (const auto& x : out) a.emplace_back(x.page, x.depth, x.epoch, x.txn);
    return a;
  }
};
#endif

// ---- setup, checks, cases -----------------------------------------------------------------------

std::unique_ptr<mmsb_side> the_mmsb;
std::unique_ptr<plain_bfs> the_plain;
#if MMSB_BENCH_HAVE_GRAPHBLAS
std::unique_ptr<grb_bfs> the_grb;
#endif

void check(const char* who, std::uint32_t p, std::uint32_t depth, answer got, answer want)
{
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  if (got != want)
    fail(std::string(who) + ": the ancestors of page " + std::to_string(p) + " to depth " + std::to_string(depth) +
         " differ from plain_bfs (" + std::to_string(got.size()) + " vs " + std::to_string(want.size()) +
         " ancestors); the benchmark would time different answers");
}

void build_and_verify()
{
  const dag& d = the_dag();
  the_mmsb = std::make_unique<mmsb_side>(d);
  the_plain = std::make_unique<plain_bfs>(d);
#if MMSB_BENCH_HAVE_GRAPHBLAS
  the_grb = std::make_unique<grb_bfs>(d);
#endif
  std::size_t sizes[depths.size()] = {};
  for (std::size_t k = 0; k < 16; ++k) {
    const auto p = d.queries[k];
    for (std::size_t di = 0; di < depths.size(); ++di) {
      const auto want = the_plain->query(p, depths[di]);
      sizes[di] += want.size();
      for (const auto& [page, depth, e, t] : want)
        if (e != page + 1u || t != page + 1u) fail("plain_bfs: wrong writer for page " + std::to_string(page));
      check("mmsb", p, depths[di], the_mmsb->query(p, depths[di], false), want);
      check("mmsb (cached)", p, depths[di], the_mmsb->query(p, depths[di], true), want);
      check("mmsb (cached, second)", p, depths[di], the_mmsb->query(p, depths[di], true), want);
#if MMSB_BENCH_HAVE_GRAPHBLAS
      check("graphblas", p, depths[di], the_grb->query(p, depths[di]), want);
#endif
    }
  }
  std::fprintf(stderr,
               "p8_provenance: %zu pages, %zu edges, window %zu; build: pages + stamps %.2f s, %zu kernel edges %.2f s, "
               "first propagate %.2f s; mean ancestors at depth 1/3/10: %zu/%zu/%zu; answers agree\n",
               d.n, d.in_src.size(), window(), the_mmsb->create_s, d.n - 1, the_mmsb->edges_s, the_mmsb->propagate_s,
               sizes[0] / 16, sizes[1] / 16, sizes[2] / 16);
  benchmark::AddCustomContext("p8_pages", std::to_string(d.n));
  benchmark::AddCustomContext("p8_window", std::to_string(window()));
  benchmark::AddCustomContext("p8_build_s", "pages+stamps " + std::to_string(the_mmsb->create_s) + ", kernel edges " +
                                              std::to_string(the_mmsb->edges_s) + ", first propagate " +
                                              std::to_string(the_mmsb->propagate_s));
}

// Times each query alone; the p50 over all of them is the case's figure.
template <class F>
void time_queries(benchmark::State& state, F&& query)
{
  const dag& d = the_dag();
  std::vector<double> ns;
  std::size_t k = 0, found = 0;
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    found += query(d.queries[k]);
    const auto t1 = clock_type::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    if (++k == d.queries.size()) k = 0;
  }
  benchmark::DoNotOptimize(found);
  std::sort(ns.begin(), ns.end());
  if (!ns.empty()) {
    state.counters["p50_ns"] = ns[ns.size() / 2];
    state.counters["p99_ns"] = ns[std::min(ns.size() - 1, ns.size() * 99 / 100)];
  }
  state.counters["ancestors"] = static_cast<double>(found) / static_cast<double>(std::max<std::size_t>(1, ns.size()));
}

// ---- P8/build -------------------------------------------------------------------------------------

// Times `build` alone per iteration (manual time); `undo` (untimed) frees what it made.
template <class Build, class Undo>
void time_builds(benchmark::State& state, Build&& build, Undo&& undo)
{
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    build();
    const auto t1 = clock_type::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    undo();
  }
  state.counters["edges"] = static_cast<double>(the_dag().in_src.size());
}

void build_mmsb(benchmark::State& state, bool bulk)
{
  const dag& d = the_dag();
  static mmsb::page_table<layout> pages;
  while (pages.size() < d.n) pages.create();
  std::unique_ptr<graph_t> g;
  time_builds(
      state,
      [&] {
        g = std::make_unique<graph_t>(pages);
        add_edges(*g, d, bulk);
      },
      [&] {
        if (g->topology().transfer_count() != d.n - 1) fail("P8/build: the graph has the wrong edge count");
        g.reset();
      });
}

void build_plain_csr(benchmark::State& state)
{
  const dag& d = the_dag();
  std::vector<std::uint64_t> out_ptr;
  std::vector<std::uint32_t> out_dst;
  time_builds(
      state,
      [&] {
        out_ptr.assign(d.n + 1, 0);
        for (const auto u : d.in_src) ++out_ptr[u + 1];
        for (std::size_t v = 0; v < d.n; ++v) out_ptr[v + 1] += out_ptr[v];
        out_dst.resize(d.in_src.size());
        std::vector<std::uint64_t> at(out_ptr.begin(), out_ptr.end() - 1);
        for (std::uint32_t v = 0; v < d.n; ++v)
          for (auto k = d.in_ptr[v]; k < d.in_ptr[v + 1]; ++k) out_dst[at[d.in_src[k]]++] = v;
        benchmark::DoNotOptimize(out_dst.data());
      },
      [&] {
        if (out_ptr[d.n] != d.in_src.size()) fail("P8/build: plain_csr lost edges");
        out_ptr = {};
        out_dst = {};
      });
}

void register_all()
{
  auto build = [](const char* name, auto fn, int iterations) {
    benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(iterations);
  };
  build("P8/build/mmsb", [](benchmark::State& s) { build_mmsb(s, true); }, 5);
  build("P8/build/mmsb_one_by_one", [](benchmark::State& s) { build_mmsb(s, false); }, 2);
  build("P8/build/plain_csr", build_plain_csr, 5);
  for (const auto depth : depths) {
    const std::string dn = "/d" + std::to_string(depth) + "/";
    auto reg = [](const std::string& name, auto fn) { benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMicrosecond)->UseRealTime(); };
    reg("P8/ancestors" + dn + "mmsb", [depth](benchmark::State& s) {
      time_queries(s, [&](std::uint32_t p) { return the_mmsb->g->provenance(mmsb::page_id{p}, depth, false).ancestors.size(); });
    });
    reg("P8/ancestors" + dn + "plain_bfs", [depth](benchmark::State& s) {
      time_queries(s, [&](std::uint32_t p) {
        the_plain->run(p, depth);
        return the_plain->out.size();
      });
    });
#if MMSB_BENCH_HAVE_GRAPHBLAS
    reg("P8/ancestors" + dn + "graphblas", [depth](benchmark::State& s) {
      time_queries(s, [&](std::uint32_t p) {
        the_grb->run(p, depth);
        return the_grb->out.size();
      });
    });
#endif
    reg("P8/ancestors_cached" + dn + "mmsb", [depth](benchmark::State& s) {
      const dag& d = the_dag();
      for (const auto p : d.queries) the_mmsb->g->provenance(mmsb::page_id{p}, depth, true);  // warm the cache
      time_queries(s, [&](std::uint32_t p) { return the_mmsb->g->provenance(mmsb::page_id{p}, depth, true).ancestors.size(); });
    });
  }
}

} // namespace

int main(int argc, char** argv)
{
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#if MMSB_BENCH_HAVE_GRAPHBLAS
  grb(GrB_init(GrB_NONBLOCKING), "GrB_init");
  grb(GxB_Global_Option_set(GxB_GLOBAL_NTHREADS, 1), "GxB_Global_Option_set(GxB_NTHREADS)");
  benchmark::AddCustomContext("graphblas", std::to_string(GxB_IMPLEMENTATION_MAJOR) + "." +
                                             std::to_string(GxB_IMPLEMENTATION_MINOR) + "." +
                                             std::to_string(GxB_IMPLEMENTATION_SUB));
#endif
  build_and_verify();
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
