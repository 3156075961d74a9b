// P2 sweep (BENCHMARKS.md): one semiring relaxation w = A ⊕.⊗ u over a random digraph of 2^20
// nodes with out-degree 16 (16 M edges), MMSB's page graph against GraphBLAS 7.4 at 1 thread.
//
//   P2/sweep/min_plus/<mmsb|graphblas>            built-in (min, +) over float
//   P2/sweep/or_and/<mmsb|graphblas>              built-in (or, and) over bool
//   P2/sweep/user_min_plus/<mmsb|graphblas_udf>   the same (min, +), as a semiring the library
//                                                 does not know (GrB_BinaryOp_new / Monoid / Semiring)
//   P2/bellman_ford/min_plus/<mmsb|graphblas>     single-source shortest paths to convergence
//
// The graph: node j has 16 distinct out-neighbours drawn uniformly (seeded mt19937_64), weights
// uniform in [1, 2); u is uniform in [1, 2) (min_plus) or true with probability 1/20 (or_and).
// A[i, j] is the weight of edge j -> i, so both sides compute w(i) = min_j A(i, j) + u(j):
//   - MMSB: one page of 2^20 slots per vector (dense<float, 1<<20>, bits<1<<20>), a matrix edge
//     u -> w carrying A, base(w) = the semiring's zero; the timed operation is g.recompute_all(),
//     which recomputes every row of w from the bases once (one sweep).
//   - GraphBLAS: GrB_mxv(w, NULL, NULL, semiring, A, u, NULL) with A stored by row, plus
//     GrB_Vector_wait, so the timed call includes building the output vector.
// Bellman-Ford: one page x with a self-loop edge carrying A in a fixed-point region, base(x) = 0
// at node 0 and +inf elsewhere; recompute_all() solves it from the bases. GraphBLAS runs the
// LAGraph_BF_basic loop: d min= A min.+ d until d stops changing (eWiseMult EQ + reduce LAND).
//
// Before timing, every case is run once on both sides and the results compared bit for bit (the
// (min, +) results must be identical floats: min is order-free and each product is one rounding);
// a mismatch aborts. MMSB_BENCH_GRAPH_SMALL=1 shrinks the graph to 2^12 nodes for the smoke test.
#include <mmsb/graph/page_graph.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <benchmark/benchmark.h>

#if MMSB_BENCH_HAVE_GRAPHBLAS
extern "C" {
#include <GraphBLAS.h>
}
#endif

#include <cmath>
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

// A (min, +) semiring over float that MMSB knows nothing about: the generic path.
struct user_min_plus {
  using value_type = float;
  static constexpr float add(float a, float b) noexcept { return a < b ? a : b; }
  static constexpr float mul(float a, float b) noexcept { return a + b; }
  static constexpr float zero() noexcept { return std::numeric_limits<float>::infinity(); }
  static constexpr float one() noexcept { return 0.0f; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
};

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p2_sweep: %s\n", what.c_str());
  std::abort();
}

bool small() { static const bool s = std::getenv("MMSB_BENCH_GRAPH_SMALL") != nullptr; return s; }

float unit_value(std::mt19937_64& rng) { return 1.0f + static_cast<float>(rng() >> 40) * 0x1p-24f; }  // [1, 2)

// The random digraph as (row = destination i, col = source j, weight) entries.
struct graph_data {
  std::size_t n = 0;
  std::vector<mmsb::matrix_entry<float>> entries;
  std::vector<float> u;
  std::vector<std::uint8_t> ub;
};

const graph_data& data(std::size_t n)
{
  static std::unique_ptr<graph_data> d;
  if (d && d->n == n) return *d;
  d = std::make_unique<graph_data>();
  d->n = n;
  std::mt19937_64 rng(20260220);
  d->entries.reserve(n * degree);
  std::vector<std::uint32_t> picked;
  for (std::uint32_t j = 0; j < n; ++j) {
    picked.clear();
    while (picked.size() < degree) {
      const auto i = static_cast<std::uint32_t>(rng() % n);
      bool dup = false;
      for (auto p : picked) dup = dup || p == i;
      if (!dup) picked.push_back(i);
    }
    for (auto i : picked) d->entries.push_back({i, j, unit_value(rng)});
  }
  d->u.resize(n);
  d->ub.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    d->u[i] = unit_value(rng);
    d->ub[i] = rng() % 20 == 0;
  }
  return *d;
}

// ---- MMSB -------------------------------------------------------------------------------------

template <class S, class L>
struct mmsb_sweep {
  using value_type = typename L::value_type;
  mmsb::page_table<L> table;
  mmsb::page_id pu, pw;
  std::unique_ptr<mmsb::page_graph<S, L>> g;

  explicit mmsb_sweep(const graph_data& d)
  {
    pu = table.create();
    pw = table.create();
    auto& u = table.at(pu);
    auto& w = table.at(pw);
    for (std::size_t i = 0; i < L::extent; ++i) {
      if constexpr (std::is_same_v<value_type, bool>) u.set(i, d.ub[i] != 0);
      else u.set(i, d.u[i]);
      w.set(i, mmsb::semiring_traits<S>::zero());
    }
    g = std::make_unique<mmsb::page_graph<S, L>>(table);
    std::vector<mmsb::matrix_entry<value_type>> e;
    e.reserve(d.entries.size());
    for (const auto& x : d.entries) {
      if constexpr (std::is_same_v<value_type, bool>) e.push_back({x.row, x.col, true});
      else e.push_back(x);
    }
    g->add_matrix_edge(pu, pw, mmsb::csr_matrix<value_type>::from_entries(L::extent, L::extent, {e.data(), e.size()}));
    g->propagate();
  }
  void run() { g->recompute_all(); }
  const mmsb::page<L>& result() const { return g->value(pw); }
};

template <std::size_t N>
struct mmsb_bf {
  using L = mmsb::dense<float, N>;
  mmsb::page_table<L> table;
  mmsb::page_id px;
  std::unique_ptr<mmsb::page_graph<mmsb::min_plus<float>, L>> g;

  explicit mmsb_bf(const graph_data& d)
  {
    px = table.create();
    auto& x = table.at(px);
    for (std::size_t i = 0; i < N; ++i) x.set(i, i == 0 ? 0.0f : std::numeric_limits<float>::infinity());
    g = std::make_unique<mmsb::page_graph<mmsb::min_plus<float>, L>>(table);
    g->add_fixed_point_region({&px, 1}, 1000);
    g->add_matrix_edge(px, px, mmsb::csr_matrix<float>::from_entries(N, N, {d.entries.data(), d.entries.size()}));
    g->propagate();
  }
  void run() { g->recompute_all(); }
  const mmsb::page<L>& result() const { return g->value(px); }
};

// ---- GraphBLAS --------------------------------------------------------------------------------

#if MMSB_BENCH_HAVE_GRAPHBLAS
void grb(GrB_Info info, const char* what)
{
  if (info != GrB_SUCCESS) fail(std::string("GraphBLAS ") + what + " failed with GrB_Info " + std::to_string(info));
}

extern "C" void udf_min(void* z, const void* x, const void* y)
{
  const float a = *static_cast<const float*>(x), b = *static_cast<const float*>(y);
  *static_cast<float*>(z) = a < b ? a : b;
}
extern "C" void udf_plus(void* z, const void* x, const void* y)
{
  *static_cast<float*>(z) = *static_cast<const float*>(x) + *static_cast<const float*>(y);
}

GrB_Semiring user_semiring()
{
  static GrB_Semiring sr = [] {
    GrB_BinaryOp mn = nullptr, pl = nullptr;
    GrB_Monoid mon = nullptr;
    GrB_Semiring s = nullptr;
    grb(GrB_BinaryOp_new(&mn, udf_min, GrB_FP32, GrB_FP32, GrB_FP32), "GrB_BinaryOp_new(min)");
    grb(GrB_BinaryOp_new(&pl, udf_plus, GrB_FP32, GrB_FP32, GrB_FP32), "GrB_BinaryOp_new(plus)");
    grb(GrB_Monoid_new_FP32(&mon, mn, std::numeric_limits<float>::infinity()), "GrB_Monoid_new");
    grb(GrB_Semiring_new(&s, mon, pl), "GrB_Semiring_new");
    return s;
  }();
  return sr;
}

struct grb_sweep {
  GrB_Matrix a = nullptr;
  GrB_Vector u = nullptr, w = nullptr;
  GrB_Semiring sr = nullptr;
  GrB_Index n = 0;
  grb_sweep(const graph_data& d, GrB_Semiring s, bool boolean) : sr(s), n(d.n)
  {
    const std::size_t m = d.entries.size();
    std::vector<GrB_Index> I(m), J(m), all(n);
    for (std::size_t k = 0; k < m; ++k) {
      I[k] = d.entries[k].row;
      J[k] = d.entries[k].col;
    }
    for (GrB_Index i = 0; i < n; ++i) all[i] = i;
    if (boolean) {
      std::unique_ptr<bool[]> x(new bool[m]), ub(new bool[n]);
      std::fill(x.get(), x.get() + m, true);
      for (GrB_Index i = 0; i < n; ++i) ub[i] = d.ub[i] != 0;
      grb(GrB_Matrix_new(&a, GrB_BOOL, n, n), "GrB_Matrix_new");
      grb(GrB_Matrix_build_BOOL(a, I.data(), J.data(), x.get(), m, GrB_LOR), "build A");
      grb(GrB_Vector_new(&u, GrB_BOOL, n), "GrB_Vector_new");
      grb(GrB_Vector_build_BOOL(u, all.data(), ub.get(), n, GrB_LOR), "build u");
      grb(GrB_Vector_new(&w, GrB_BOOL, n), "GrB_Vector_new");
    } else {
      std::vector<float> x(m);
      for (std::size_t k = 0; k < m; ++k) x[k] = d.entries[k].value;
      grb(GrB_Matrix_new(&a, GrB_FP32, n, n), "GrB_Matrix_new");
      grb(GrB_Matrix_build_FP32(a, I.data(), J.data(), x.data(), m, GrB_MIN_FP32), "build A");
      grb(GrB_Vector_new(&u, GrB_FP32, n), "GrB_Vector_new");
      grb(GrB_Vector_build_FP32(u, all.data(), d.u.data(), n, GrB_MIN_FP32), "build u");
      grb(GrB_Vector_new(&w, GrB_FP32, n), "GrB_Vector_new");
    }
    grb(GrB_Matrix_wait(a, GrB_MATERIALIZE), "wait A");
    grb(GrB_Vector_wait(u, GrB_MATERIALIZE), "wait u");
  }
  grb_sweep(const grb_sweep&) = delete;
  ~grb_sweep()
  {
    GrB_Matrix_free(&a);
    GrB_Vector_free(&u);
    GrB_Vector_free(&w);
  }
  void run()
  {
    grb(GrB_mxv(w, nullptr, nullptr, sr, a, u, nullptr), "GrB_mxv");
    grb(GrB_Vector_wait(w, GrB_MATERIALIZE), "wait w");
  }
};

// LAGraph_BF_basic's loop: d = base; repeat { d0 = d; d min= A min.+ d } until d == d0.
struct grb_bf {
  GrB_Matrix a = nullptr;
  GrB_Vector base = nullptr, d = nullptr, d0 = nullptr, eq = nullptr;
  GrB_Index n = 0;
  int rounds = 0;
  explicit grb_bf(const graph_data& g) : n(g.n)
  {
    const std::size_t m = g.entries.size();
    std::vector<GrB_Index> I(m), J(m), all(n);
    std::vector<float> x(m), b(n, std::numeric_limits<float>::infinity());
    b[0] = 0.0f;
    for (std::size_t k = 0; k < m; ++k) {
      I[k] = g.entries[k].row;
      J[k] = g.entries[k].col;
      x[k] = g.entries[k].value;
    }
    for (GrB_Index i = 0; i < n; ++i) all[i] = i;
    grb(GrB_Matrix_new(&a, GrB_FP32, n, n), "GrB_Matrix_new");
    grb(GrB_Matrix_build_FP32(a, I.data(), J.data(), x.data(), m, GrB_MIN_FP32), "build A");
    grb(GrB_Vector_new(&base, GrB_FP32, n), "GrB_Vector_new");
    grb(GrB_Vector_build_FP32(base, all.data(), b.data(), n, GrB_MIN_FP32), "build base");
    grb(GrB_Vector_new(&eq, GrB_BOOL, n), "GrB_Vector_new");
    grb(GrB_Matrix_wait(a, GrB_MATERIALIZE), "wait A");
    grb(GrB_Vector_wait(base, GrB_MATERIALIZE), "wait base");
  }
  grb_bf(const grb_bf&) = delete;
  ~grb_bf()
  {
    GrB_Matrix_free(&a);
    GrB_Vector_free(&base);
    GrB_Vector_free(&d);
    GrB_Vector_free(&d0);
    GrB_Vector_free(&eq);
  }
  void run()
  {
    GrB_Vector_free(&d);
    grb(GrB_Vector_dup(&d, base), "GrB_Vector_dup");
    rounds = 0;
    for (;;) {
      GrB_Vector_free(&d0);
      grb(GrB_Vector_dup(&d0, d), "GrB_Vector_dup");
      grb(GrB_mxv(d, nullptr, GrB_MIN_FP32, GrB_MIN_PLUS_SEMIRING_FP32, a, d, nullptr), "GrB_mxv");
      ++rounds;
      grb(GrB_Vector_eWiseMult_BinaryOp(eq, nullptr, nullptr, GrB_EQ_FP32, d, d0, nullptr), "eWiseMult");
      bool same = false;
      grb(GrB_Vector_reduce_BOOL(&same, nullptr, GrB_LAND_MONOID_BOOL, eq, nullptr), "reduce");
      if (same) break;
      if (rounds > 1000) fail("GraphBLAS Bellman-Ford did not converge");
    }
  }
};

// w as n floats (missing entries are the semiring's zero), or as n bools.
std::vector<float> grb_floats(GrB_Vector w, std::size_t n, float zero)
{
  GrB_Index nv = 0;
  grb(GrB_Vector_nvals(&nv, w), "nvals");
  std::vector<GrB_Index> idx(nv);
  std::vector<float> x(nv), out(n, zero);
  grb(GrB_Vector_extractTuples_FP32(idx.data(), x.data(), &nv, w), "extract");
  for (GrB_Index k = 0; k < nv; ++k) out[idx[k]] = x[k];
  return out;
}
std::vector<std::uint8_t> grb_bools(GrB_Vector w, std::size_t n)
{
  GrB_Index nv = 0;
  grb(GrB_Vector_nvals(&nv, w), "nvals");
  std::vector<GrB_Index> idx(nv);
  std::unique_ptr<bool[]> x(new bool[nv + 1]);
  std::vector<std::uint8_t> out(n, 0);
  grb(GrB_Vector_extractTuples_BOOL(idx.data(), x.get(), &nv, w), "extract");
  for (GrB_Index k = 0; k < nv; ++k) out[idx[k]] = x[k];
  return out;
}
#endif

// ---- checks and cases ---------------------------------------------------------------------------

template <class Page>
void check_floats(const char* what, const Page& got, const std::vector<float>& want)
{
  for (std::size_t i = 0; i < want.size(); ++i) {
    const float g = got.get(i);
    if (std::memcmp(&g, &want[i], sizeof g) != 0)
      fail(std::string(what) + ": mmsb and GraphBLAS differ at node " + std::to_string(i) + " (" + std::to_string(g) +
           " vs " + std::to_string(want[i]) + "); the benchmark would time different computations");
  }
}

// A from-scratch reference for the sweep, independent of both contenders.
std::vector<float> reference_min_plus(const graph_data& d)
{
  std::vector<float> w(d.n, std::numeric_limits<float>::infinity());
  for (const auto& e : d.entries) {
    const float c = e.value + d.u[e.col];
    if (c < w[e.row]) w[e.row] = c;
  }
  return w;
}

template <class Obj>
Obj& instance(std::unique_ptr<Obj>& slot, const graph_data& d)
{
  if (!slot) slot = std::make_unique<Obj>(d);
  return *slot;
}

template <std::size_t N>
struct suite {
  using f32 = mmsb::dense<float, N>;
  using b1 = mmsb::bits<N>;
  static inline std::unique_ptr<mmsb_sweep<mmsb::min_plus<float>, f32>> mp;
  static inline std::unique_ptr<mmsb_sweep<mmsb::or_and, b1>> oa;
  static inline std::unique_ptr<mmsb_sweep<user_min_plus, f32>> ump;
  static inline std::unique_ptr<mmsb_bf<N>> bf;
#if MMSB_BENCH_HAVE_GRAPHBLAS
  static inline std::unique_ptr<grb_sweep> gmp, goa, gump;
  static inline std::unique_ptr<grb_bf> gbf;
#endif

  static void build_and_verify()
  {
    const graph_data& d = data(N);
    mp = std::make_unique<mmsb_sweep<mmsb::min_plus<float>, f32>>(d);
    oa = std::make_unique<mmsb_sweep<mmsb::or_and, b1>>(d);
    ump = std::make_unique<mmsb_sweep<user_min_plus, f32>>(d);
    bf = std::make_unique<mmsb_bf<N>>(d);
    mp->run();
    ump->run();
    oa->run();
    bf->run();
    const auto ref = reference_min_plus(d);
    check_floats("P2/sweep/min_plus (reference)", mp->result(), ref);
    check_floats("P2/sweep/user_min_plus (reference)", ump->result(), ref);
#if MMSB_BENCH_HAVE_GRAPHBLAS
    gmp = std::make_unique<grb_sweep>(d, GrB_MIN_PLUS_SEMIRING_FP32, false);
    goa = std::make_unique<grb_sweep>(d, GrB_LOR_LAND_SEMIRING_BOOL, true);
    gump = std::make_unique<grb_sweep>(d, user_semiring(), false);
    gbf = std::make_unique<grb_bf>(d);
    gmp->run();
    goa->run();
    gump->run();
    gbf->run();
    const float inf = std::numeric_limits<float>::infinity();
    check_floats("P2/sweep/min_plus", mp->result(), grb_floats(gmp->w, N, inf));
    check_floats("P2/sweep/user_min_plus", ump->result(), grb_floats(gump->w, N, inf));
    check_floats("P2/bellman_ford/min_plus", bf->result(), grb_floats(gbf->d, N, inf));
    const auto bools = grb_bools(goa->w, N);
    std::size_t trues = 0;
    for (std::size_t i = 0; i < N; ++i) {
      trues += bools[i];
      if (oa->result().get(i) != (bools[i] != 0))
        fail("P2/sweep/or_and: mmsb and GraphBLAS differ at node " + std::to_string(i));
    }
    std::fprintf(stderr, "p2_sweep: %zu nodes, %zu edges; results agree bit for bit (or_and: %zu of %zu true; "
                         "GraphBLAS Bellman-Ford rounds %d)\n", N, d.entries.size(), trues, N, gbf->rounds);
#endif
  }

  template <class Obj>
  static void time(benchmark::State& state, Obj& o)
  {
    for (auto _ : state) {
      o.run();
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(N * degree));  // edges relaxed per sweep
  }

  static void register_all()
  {
    auto reg = [](const char* name, auto fn) { benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond)->UseRealTime(); };
    reg("P2/sweep/min_plus/mmsb", [](benchmark::State& s) { time(s, *mp); });
    reg("P2/sweep/or_and/mmsb", [](benchmark::State& s) { time(s, *oa); });
    reg("P2/sweep/user_min_plus/mmsb", [](benchmark::State& s) { time(s, *ump); });
    reg("P2/bellman_ford/min_plus/mmsb", [](benchmark::State& s) { time(s, *bf); });
#if MMSB_BENCH_HAVE_GRAPHBLAS
    reg("P2/sweep/min_plus/graphblas", [](benchmark::State& s) { time(s, *gmp); });
    reg("P2/sweep/or_and/graphblas", [](benchmark::State& s) { time(s, *goa); });
    reg("P2/sweep/user_min_plus/graphblas_udf", [](benchmark::State& s) { time(s, *gump); });
    reg("P2/bellman_ford/min_plus/graphblas", [](benchmark::State& s) { time(s, *gbf); });
#endif
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
  benchmark::AddCustomContext("p2_nodes", std::to_string(small() ? small_nodes : big_nodes));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
