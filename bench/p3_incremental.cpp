// P3 incremental (BENCHMARKS.md): change 1 node, or 1% of the nodes, of the P2 graph and bring
// everything downstream up to date, 1, 3 and 10 hops away, with cutoff (a value that did not
// change stops the wave).
//
//   P3/<one|pct1>/h<1|3|10>/<mmsb|graphblas|tbb_flow>
//
// The graph is P2's (bench/p2_sweep.cpp, same generator and seed): 2^20 nodes, out-degree 16,
// weights uniform in [1, 2), A[i, j] the weight of edge j -> i. A chain of K + 1 vectors
// p0 -> p1 -> ... -> pK carries A on every edge, pk = A min.+ p(k-1) (bases of p1..pK are +inf);
// p0 is uniform in [1, 2). The change lowers p0[j] by delta = 0.1 (a genuine improvement) and the
// next iteration puts the old value back (a genuine worsening), alternately, so the timed
// iterations alternate improvement and worsening and the state never drifts: the time is the mean
// over both kinds. `one` cycles through 64 random nodes j; `pct1` changes a fixed random 1% of
// the nodes (10,486) in one delta. The counter changed_per_iter is the number of values that
// changed per iteration, summed over p1..pK (the same for every contender: it is the work).
//
// Contenders (1 thread each):
//   mmsb      one page per vector (dense<float, 1<<20>), a matrix edge per hop, the change as
//             a prebuilt sparse delta: g.apply(delta) + g.propagate() is timed.
//   graphblas the sparse-frontier formulation: f = the changed entries of p(k-1);
//             improvement: t = f min.+ AT (GrB_vxm, AT = A transposed, by row), improved =
//             t < pk (eWiseMult LT), f' = t<improved>; worsening: the rows f reaches are
//             recomputed, r<struct(t), replace> = A min.+ p(k-1) (masked GrB_mxv), changed = r != pk,
//             f' = r<changed>; then pk<struct(f')> = f' (GrB_Vector_assign), stop when f' is empty.
//   tbb_flow  TBB flow_graph with one continue_node per element of p1..pK (K * 2^20 nodes, run
//             in a 1-thread task_arena); a node recomputes its row from p(k-1) and, if its value
//             changed, try_puts the nodes of the slots it feeds in p(k+1) (no static edges: a
//             static edge would fire every successor, which is not incremental).
// Before timing, improvement and worsening steps of both kinds are run on every contender and the
// results compared bit for bit with each other and with a from-scratch recomputation; a mismatch
// aborts. MMSB_BENCH_GRAPH_SMALL=1 uses 2^12 nodes for the smoke test.
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
#if MMSB_BENCH_HAVE_TBB
#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr std::size_t big_nodes = std::size_t{1} << 20;
constexpr std::size_t small_nodes = std::size_t{1} << 12;
constexpr std::size_t degree = 16;
constexpr std::array hop_counts{1u, 3u, 10u};
constexpr std::size_t one_slots = 64;
constexpr float inf = std::numeric_limits<float>::infinity();

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p3_incremental: %s\n", what.c_str());
  std::abort();
}

bool small() { static const bool s = std::getenv("MMSB_BENCH_GRAPH_SMALL") != nullptr; return s; }
float delta_amount()
{
  static const float d = std::getenv("MMSB_BENCH_P3_DELTA") ? std::strtof(std::getenv("MMSB_BENCH_P3_DELTA"), nullptr) : 0.1f;
  return d;
}

float unit_value(std::mt19937_64& rng) { return 1.0f + static_cast<float>(rng() >> 40) * 0x1p-24f; }  // [1, 2)

enum class change_kind { one, pct1 };
const char* kind_name(change_kind k) { return k == change_kind::one ? "one" : "pct1"; }

// P2's graph, plus both adjacency orders for the hand-written parts, the change sets and p0.
struct graph_data {
  std::size_t n = 0;
  std::vector<mmsb::matrix_entry<float>> entries;
  std::vector<float> u;
  std::vector<std::uint64_t> in_ptr, out_ptr;  // by destination row / by source column
  std::vector<std::uint32_t> in_src, out_dst;
  std::vector<float> in_w;
  std::vector<std::uint32_t> one, pct1;  // the changed slots
};

const graph_data& data()
{
  static const graph_data d = [] {
    graph_data g;
    g.n = small() ? small_nodes : big_nodes;
    const std::size_t n = g.n;
    std::mt19937_64 rng(20260220);  // P2's seed and draw order
    g.entries.reserve(n * degree);
    std::vector<std::uint32_t> picked;
    for (std::uint32_t j = 0; j < n; ++j) {
      picked.clear();
      while (picked.size() < degree) {
        const auto i = static_cast<std::uint32_t>(rng() % n);
        bool dup = false;
        for (auto p : picked) dup = dup || p == i;
        if (!dup) picked.push_back(i);
      }
      for (auto i : picked) g.entries.push_back({i, j, unit_value(rng)});
    }
    g.u.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      g.u[i] = unit_value(rng);
      (void)rng();  // P2 draws the or_and input here
    }
    g.in_ptr.assign(n + 1, 0);
    g.out_ptr.assign(n + 1, 0);
    for (const auto& e : g.entries) {
      ++g.in_ptr[e.row + 1];
      ++g.out_ptr[e.col + 1];
    }
    for (std::size_t i = 0; i < n; ++i) {
      g.in_ptr[i + 1] += g.in_ptr[i];
      g.out_ptr[i + 1] += g.out_ptr[i];
    }
    g.in_src.resize(g.entries.size());
    g.in_w.resize(g.entries.size());
    g.out_dst.resize(g.entries.size());
    std::vector<std::uint64_t> in_next(g.in_ptr.begin(), g.in_ptr.end() - 1), out_next(g.out_ptr.begin(), g.out_ptr.end() - 1);
    for (const auto& e : g.entries) {
      const auto a = in_next[e.row]++;
      g.in_src[a] = e.col;
      g.in_w[a] = e.value;
      g.out_dst[out_next[e.col]++] = e.row;
    }
    std::mt19937_64 pick(303);
    std::vector<std::uint32_t> all(n);
    for (std::uint32_t i = 0; i < n; ++i) all[i] = i;
    std::shuffle(all.begin(), all.end(), pick);
    g.one.assign(all.begin(), all.begin() + one_slots);
    g.pct1.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n / 100));
    std::sort(g.pct1.begin(), g.pct1.end());
    return g;
  }();
  return d;
}

// The slots a step changes and their new values: step m of a case (m counts iterations).
struct step {
  const std::vector<std::uint32_t>* slots;
  std::size_t first, count;
  bool improve;
};
step step_of(change_kind k, std::size_t m)
{
  const graph_data& d = data();
  if (k == change_kind::one) return {&d.one, (m / 2) % one_slots, 1, m % 2 == 0};
  return {&d.pct1, 0, d.pct1.size(), m % 2 == 0};
}
float new_value(std::uint32_t j, bool improve) { return improve ? data().u[j] - delta_amount() : data().u[j]; }

// pk from p(k-1), from scratch (the reference).
std::vector<float> sweep(const std::vector<float>& prev)
{
  const graph_data& d = data();
  std::vector<float> out(d.n, inf);
  for (std::size_t i = 0; i < d.n; ++i) {
    float r = inf;
    for (auto e = d.in_ptr[i]; e < d.in_ptr[i + 1]; ++e) {
      const float c = d.in_w[e] + prev[d.in_src[e]];
      r = c < r ? c : r;
    }
    out[i] = r;
  }
  return out;
}

// ---- mmsb ---------------------------------------------------------------------------------------

template <std::size_t N>
struct mmsb_chain {
  using layout = mmsb::dense<float, N>;
  using graph_t = mmsb::page_graph<mmsb::min_plus<float>, layout>;
  using delta_t = mmsb::delta<mmsb::min_plus<float>, layout>;
  mmsb::page_table<layout> table;
  std::vector<mmsb::page_id> pages;
  std::unique_ptr<graph_t> g;
  std::vector<delta_t> one_improve, one_restore;
  std::vector<delta_t> pct_deltas;  // improve, restore
  std::size_t changed = 0;

  explicit mmsb_chain(unsigned hops)
  {
    const graph_data& d = data();
    for (unsigned k = 0; k <= hops; ++k) {
      pages.push_back(table.create());
      auto& p = table.at(pages.back());
      for (std::size_t i = 0; i < N; ++i) p.set(i, k == 0 ? d.u[i] : inf);
    }
    g = std::make_unique<graph_t>(table);
    for (unsigned k = 1; k <= hops; ++k)
      g->add_matrix_edge(pages[k - 1], pages[k], mmsb::csr_matrix<float>::from_entries(N, N, {d.entries.data(), d.entries.size()}));
    g->propagate();
    for (const auto j : d.one) {
      one_improve.push_back(mmsb::delta_builder<mmsb::min_plus<float>, layout>(pages[0]).assign(j, new_value(j, true)).build());
      one_restore.push_back(mmsb::delta_builder<mmsb::min_plus<float>, layout>(pages[0]).assign(j, new_value(j, false)).build());
    }
    for (const bool improve : {true, false}) {
      mmsb::delta_builder<mmsb::min_plus<float>, layout> b(pages[0]);
      for (const auto j : d.pct1) b.assign(j, new_value(j, improve));
      pct_deltas.push_back(b.build());
    }
  }
  void run(change_kind k, std::size_t m)
  {
    const step s = step_of(k, m);
    const delta_t& dl = k == change_kind::one ? (s.improve ? one_improve : one_restore)[s.first] : pct_deltas[s.improve ? 0 : 1];
    g->apply(dl);
    changed += g->propagate().changed_slots;
  }
  std::vector<float> values(unsigned k) const
  {
    std::vector<float> out(N);
    const auto& p = g->value(pages[k]);
    for (std::size_t i = 0; i < N; ++i) out[i] = p.get(i);
    return out;
  }
};

// ---- GraphBLAS ----------------------------------------------------------------------------------

#if MMSB_BENCH_HAVE_GRAPHBLAS
void grb(GrB_Info info, const char* what)
{
  if (info != GrB_SUCCESS) fail(std::string("GraphBLAS ") + what + " failed with GrB_Info " + std::to_string(info));
}

// A and AT, shared by every chain length.
struct grb_matrices {
  GrB_Matrix a = nullptr, at = nullptr;
  grb_matrices()
  {
    const graph_data& d = data();
    const std::size_t m = d.entries.size();
    std::vector<GrB_Index> I(m), J(m);
    std::vector<float> x(m);
    for (std::size_t k = 0; k < m; ++k) {
      I[k] = d.entries[k].row;
      J[k] = d.entries[k].col;
      x[k] = d.entries[k].value;
    }
    grb(GrB_Matrix_new(&a, GrB_FP32, d.n, d.n), "GrB_Matrix_new");
    grb(GrB_Matrix_build_FP32(a, I.data(), J.data(), x.data(), m, GrB_MIN_FP32), "build A");
    grb(GrB_Matrix_new(&at, GrB_FP32, d.n, d.n), "GrB_Matrix_new");
    grb(GrB_Matrix_build_FP32(at, J.data(), I.data(), x.data(), m, GrB_MIN_FP32), "build AT");
    grb(GrB_Matrix_wait(a, GrB_MATERIALIZE), "wait");
    grb(GrB_Matrix_wait(at, GrB_MATERIALIZE), "wait");
  }
};
grb_matrices& matrices()
{
  static grb_matrices m;
  return m;
}

GrB_Vector sparse_change(const std::vector<std::uint32_t>& slots, std::size_t first, std::size_t count, bool improve)
{
  const graph_data& d = data();
  GrB_Vector v = nullptr;
  std::vector<GrB_Index> idx;
  std::vector<float> x;
  for (std::size_t k = first; k < first + count; ++k) {
    idx.push_back(slots[k]);
    x.push_back(new_value(slots[k], improve));
  }
  grb(GrB_Vector_new(&v, GrB_FP32, d.n), "GrB_Vector_new");
  grb(GrB_Vector_build_FP32(v, idx.data(), x.data(), idx.size(), GrB_MIN_FP32), "build change");
  grb(GrB_Vector_wait(v, GrB_MATERIALIZE), "wait");
  return v;
}

struct grb_chain {
  std::vector<GrB_Vector> p;  // p0..pK, full
  GrB_Vector t = nullptr, r = nullptr, c = nullptr, f[2] = {nullptr, nullptr};
  std::vector<GrB_Vector> one_improve, one_restore, pct;  // prebuilt changes of p0
  std::size_t changed = 0;
  GrB_Index n;

  explicit grb_chain(unsigned hops) : n(data().n)
  {
    const graph_data& d = data();
    std::vector<GrB_Index> all(n);
    for (GrB_Index i = 0; i < n; ++i) all[i] = i;
    p.resize(hops + 1);
    grb(GrB_Vector_new(&p[0], GrB_FP32, n), "GrB_Vector_new");
    grb(GrB_Vector_build_FP32(p[0], all.data(), d.u.data(), n, GrB_MIN_FP32), "build p0");
    for (unsigned k = 1; k <= hops; ++k) {
      grb(GrB_Vector_new(&p[k], GrB_FP32, n), "GrB_Vector_new");
      grb(GrB_mxv(p[k], nullptr, nullptr, GrB_MIN_PLUS_SEMIRING_FP32, matrices().a, p[k - 1], nullptr), "GrB_mxv");
      grb(GrB_Vector_wait(p[k], GrB_MATERIALIZE), "wait");
    }
    for (GrB_Vector* v : {&t, &r, &c, &f[0], &f[1]}) grb(GrB_Vector_new(v, GrB_FP32, n), "GrB_Vector_new");
    GrB_Vector_free(&c);
    grb(GrB_Vector_new(&c, GrB_BOOL, n), "GrB_Vector_new");
    for (std::size_t k = 0; k < one_slots; ++k) {
      one_improve.push_back(sparse_change(d.one, k, 1, true));
      one_restore.push_back(sparse_change(d.one, k, 1, false));
    }
    pct.push_back(sparse_change(d.pct1, 0, d.pct1.size(), true));
    pct.push_back(sparse_change(d.pct1, 0, d.pct1.size(), false));
  }

  void run(change_kind k, std::size_t m)
  {
    const step s = step_of(k, m);
    GrB_Vector change = k == change_kind::one ? (s.improve ? one_improve : one_restore)[s.first] : pct[s.improve ? 0 : 1];
    const GrB_Matrix a = matrices().a, at = matrices().at;
    grb(GrB_Vector_assign(p[0], change, nullptr, change, GrB_ALL, n, GrB_DESC_S), "assign p0");
    GrB_Vector front = change;
    for (std::size_t h = 1; h < p.size(); ++h) {
      GrB_Vector next = f[h % 2];
      grb(GrB_vxm(t, nullptr, nullptr, GrB_MIN_PLUS_SEMIRING_FP32, front, at, nullptr), "GrB_vxm");
      if (s.improve) {
        grb(GrB_Vector_eWiseMult_BinaryOp(c, nullptr, nullptr, GrB_LT_FP32, t, p[h], nullptr), "eWiseMult LT");
        grb(GrB_Vector_apply(next, c, nullptr, GrB_IDENTITY_FP32, t, GrB_DESC_R), "apply");
      } else {
        grb(GrB_mxv(r, t, nullptr, GrB_MIN_PLUS_SEMIRING_FP32, a, p[h - 1], GrB_DESC_RS), "masked GrB_mxv");
        grb(GrB_Vector_eWiseMult_BinaryOp(c, nullptr, nullptr, GrB_NE_FP32, r, p[h], nullptr), "eWiseMult NE");
        grb(GrB_Vector_apply(next, c, nullptr, GrB_IDENTITY_FP32, r, GrB_DESC_R), "apply");
      }
      GrB_Index nv = 0;
      grb(GrB_Vector_nvals(&nv, next), "nvals");
      if (nv == 0) break;
      changed += nv;
      grb(GrB_Vector_assign(p[h], next, nullptr, next, GrB_ALL, n, GrB_DESC_S), "assign pk");
      grb(GrB_Vector_wait(p[h], GrB_MATERIALIZE), "wait");
      front = next;
    }
    grb(GrB_Vector_wait(p[0], GrB_MATERIALIZE), "wait");
  }
  std::vector<float> values(unsigned k) const
  {
    GrB_Index nv = 0;
    grb(GrB_Vector_nvals(&nv, p[k]), "nvals");
    std::vector<GrB_Index> idx(nv);
    std::vector<float> x(nv), out(n, inf);
    grb(GrB_Vector_extractTuples_FP32(idx.data(), x.data(), &nv, p[k]), "extract");
    for (GrB_Index i = 0; i < nv; ++i) out[idx[i]] = x[i];
    return out;
  }
};
#endif

// ---- TBB flow graph -----------------------------------------------------------------------------

#if MMSB_BENCH_HAVE_TBB
struct tbb_chain {
  using node_t = tbb::flow::continue_node<tbb::flow::continue_msg>;
  tbb::task_arena arena{1};
  std::unique_ptr<tbb::flow::graph> g;
  std::vector<std::vector<float>> vals;  // p0..pK
  std::vector<node_t> nodes;             // (k - 1) * n + i for element i of pk, k >= 1
  std::size_t changed = 0, hops;

  explicit tbb_chain(unsigned k_hops) : hops(k_hops)
  {
    const graph_data& d = data();
    vals.push_back(d.u);
    for (unsigned k = 1; k <= hops; ++k) vals.push_back(sweep(vals.back()));
    arena.execute([&] {
      g = std::make_unique<tbb::flow::graph>();
      nodes.reserve(hops * d.n);
      for (unsigned k = 1; k <= hops; ++k)
        for (std::uint32_t i = 0; i < d.n; ++i)
          nodes.emplace_back(*g, [this, k, i](const tbb::flow::continue_msg&) {
            fire(k, i);
            return tbb::flow::continue_msg();
          });
    });
  }
  void fire(unsigned k, std::uint32_t i)
  {
    const graph_data& d = data();
    const std::vector<float>& prev = vals[k - 1];
    float r = inf;
    for (auto e = d.in_ptr[i]; e < d.in_ptr[i + 1]; ++e) {
      const float c = d.in_w[e] + prev[d.in_src[e]];
      r = c < r ? c : r;
    }
    float& x = vals[k][i];
    if (std::memcmp(&r, &x, sizeof r) == 0) return;  // cutoff
    x = r;
    ++changed;
    if (k < hops)
      for (auto e = d.out_ptr[i]; e < d.out_ptr[i + 1]; ++e) nodes[k * d.n + d.out_dst[e]].try_put(tbb::flow::continue_msg());
  }
  void run(change_kind kind, std::size_t m)
  {
    const graph_data& d = data();
    const step s = step_of(kind, m);
    arena.execute([&] {
      for (std::size_t q = s.first; q < s.first + s.count; ++q) {
        const auto j = (*s.slots)[q];
        vals[0][j] = new_value(j, s.improve);
      }
      for (std::size_t q = s.first; q < s.first + s.count; ++q) {
        const auto j = (*s.slots)[q];
        for (auto e = d.out_ptr[j]; e < d.out_ptr[j + 1]; ++e) nodes[d.out_dst[e]].try_put(tbb::flow::continue_msg());
      }
      g->wait_for_all();
    });
  }
  std::vector<float> values(unsigned k) const { return vals[k]; }
};
#endif

// ---- setup, checks, cases -----------------------------------------------------------------------

template <std::size_t N>
struct suite {
  static inline std::vector<std::unique_ptr<mmsb_chain<N>>> mm;
#if MMSB_BENCH_HAVE_GRAPHBLAS
  static inline std::vector<std::unique_ptr<grb_chain>> gb;
#endif
#if MMSB_BENCH_HAVE_TBB
  static inline std::vector<std::unique_ptr<tbb_chain>> tb;
#endif

  static void check(const char* who, unsigned hops, unsigned k, const std::vector<float>& got, const std::vector<float>& want)
  {
    if (std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) != 0)
      fail(std::string(who) + ": with " + std::to_string(hops) + " hops, p" + std::to_string(k) +
           " differs from its recomputation from scratch; the benchmark would time a wrong answer");
  }

  static void build_and_verify()
  {
    const graph_data& d = data();
    for (std::size_t h = 0; h < hop_counts.size(); ++h) {
      const unsigned hops = hop_counts[h];
      mm.push_back(std::make_unique<mmsb_chain<N>>(hops));
#if MMSB_BENCH_HAVE_GRAPHBLAS
      gb.push_back(std::make_unique<grb_chain>(hops));
#endif
#if MMSB_BENCH_HAVE_TBB
      tb.push_back(std::make_unique<tbb_chain>(hops));
#endif
      // Steps: one-node improve and restore, 1% improve and restore; check after each.
      const std::pair<change_kind, std::size_t> steps[] = {{change_kind::one, 0}, {change_kind::one, 1}, {change_kind::one, 2},
                                                           {change_kind::one, 3}, {change_kind::pct1, 0}, {change_kind::pct1, 1}};
      std::vector<float> p0 = d.u;
      for (const auto& [kind, m] : steps) {
        const step s = step_of(kind, m);
        for (std::size_t q = s.first; q < s.first + s.count; ++q) p0[(*s.slots)[q]] = new_value((*s.slots)[q], s.improve);
        std::vector<std::vector<float>> want{p0};
        for (unsigned k = 1; k <= hops; ++k) want.push_back(sweep(want.back()));
        const std::size_t before = mm.back()->changed;
        mm.back()->run(kind, m);
#if MMSB_BENCH_HAVE_GRAPHBLAS
        gb.back()->run(kind, m);
#endif
#if MMSB_BENCH_HAVE_TBB
        tb.back()->run(kind, m);
#endif
        for (unsigned k = 0; k <= hops; ++k) {
          check("mmsb", hops, k, mm.back()->values(k), want[k]);
#if MMSB_BENCH_HAVE_GRAPHBLAS
          check("graphblas", hops, k, gb.back()->values(k), want[k]);
#endif
#if MMSB_BENCH_HAVE_TBB
          check("tbb_flow", hops, k, tb.back()->values(k), want[k]);
#endif
        }
        std::fprintf(stderr, "p3_incremental: %u hops, %s %s: %zu values changed\n", hops, kind_name(kind),
                     s.improve ? "improve" : "restore", mm.back()->changed - before);
      }
    }
    std::fprintf(stderr, "p3_incremental: %zu nodes, %zu edges, delta %.3g; every contender agrees with the recomputation\n",
                 d.n, d.entries.size(), static_cast<double>(delta_amount()));
  }

  // Alternates improvement and worsening; leaves the state as found (an even number of steps).
  template <class Chain>
  static void time(benchmark::State& state, Chain& c, change_kind kind)
  {
    std::size_t m = 0;
    const std::size_t before = c.changed;
    for (auto _ : state) {
      c.run(kind, m++);
      benchmark::ClobberMemory();
    }
    const std::size_t changed = c.changed - before;
    if (m % 2) c.run(kind, m++);  // put back the last improvement (untimed)
    state.counters["changed_per_iter"] = static_cast<double>(changed) / static_cast<double>(std::max<std::size_t>(1, state.iterations()));
  }

  static void register_all()
  {
    for (const change_kind kind : {change_kind::one, change_kind::pct1}) {
      for (std::size_t h = 0; h < hop_counts.size(); ++h) {
        const std::string base = std::string("P3/") + kind_name(kind) + "/h" + std::to_string(hop_counts[h]) + "/";
        const auto unit = kind == change_kind::one ? benchmark::kMicrosecond : benchmark::kMillisecond;
        auto reg = [&](const std::string& who, auto fn) { benchmark::RegisterBenchmark((base + who).c_str(), fn)->Unit(unit)->UseRealTime(); };
        reg("mmsb", [kind, h](benchmark::State& s) { time(s, *mm[h], kind); });
#if MMSB_BENCH_HAVE_GRAPHBLAS
        reg("graphblas", [kind, h](benchmark::State& s) { time(s, *gb[h], kind); });
#endif
#if MMSB_BENCH_HAVE_TBB
        reg("tbb_flow", [kind, h](benchmark::State& s) { time(s, *tb[h], kind); });
#endif
      }
    }
  }
};

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
  if (small()) {
    suite<small_nodes>::build_and_verify();
    suite<small_nodes>::register_all();
  } else {
    suite<big_nodes>::build_and_verify();
    suite<big_nodes>::register_all();
  }
  benchmark::AddCustomContext("p3_nodes", std::to_string(data().n));
  benchmark::AddCustomContext("p3_delta", std::to_string(delta_amount()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
