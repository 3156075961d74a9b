// P1 apply (BENCHMARKS.md): a masked semiring apply of one delta onto 4 KiB pages, MMSB against a
// scalar loop, a hand-written AVX-512 loop, GraphBLAS (GrB_Vector_assign / eWiseAdd),
// memcpy and STREAM copy.
//
//   P1/apply/<assign|plus|min|or>/<5|50|100>/<hot|warm|cold>/<contender>
//
// One benchmark iteration applies the delta to one page, so every time is per page. A page is
// 1024 floats (assign, plus, min) or bits<32768> (or); both are 4 KiB. Hot is one page, warm 256
// pages, cold 65,536 pages (256 MiB; MMSB_BENCH_COLD_PAGES shrinks it for the smoke test). Warm
// and cold visit the pages in one fixed shuffled order shared by every contender, so the
// prefetcher cannot stream across pages. Every contender moves the same bytes per page: 4 KiB
// read and 4 KiB written (the delta, 4.25 KiB, is shared by all pages and stays in L1/L2), and
// SetBytesProcessed counts those 8 KiB, the way STREAM counts a copy.
//
// Before anything is timed, every (semiring, density) is checked: mmsb, scalar, hand_avx512 and
// GraphBLAS must give the same bytes (memcmp), or the program aborts.
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/delta/apply.hpp>
#include <mmsb/delta/dense_delta.hpp>
#include <mmsb/delta/simd.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <benchmark/benchmark.h>

#if MMSB_BENCH_HAVE_GRAPHBLAS
extern "C" {  // GraphBLAS 7.4's header has no C++ guard of its own
#include <GraphBLAS.h>
}
#endif
// GCC takes per-function optimize attributes; clang takes loop pragmas instead.
#if defined(__clang__)
#define MMSB_BENCH_SCALAR_FN
#define MMSB_BENCH_SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#define MMSB_BENCH_COPY_LOOP_FN
#else
#define MMSB_BENCH_SCALAR_FN __attribute__((optimize("no-tree-vectorize")))
#define MMSB_BENCH_SCALAR_LOOP
#define MMSB_BENCH_COPY_LOOP_FN __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#define MMSB_BENCH_X86 1
#else
#define MMSB_BENCH_X86 0
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using mmsb::word_t;
using f32_layout = mmsb::dense<float, 1024>;
using bit_layout = mmsb::bits<32768>;
using f32_storage = f32_layout::storage_type;
using bit_storage = bit_layout::storage_type;
// assign runs through plus_times with every masked slot an assign, as a user would write it.
using plus_delta = mmsb::dense_delta<mmsb::plus_times<float>, f32_layout>;
using min_delta = mmsb::dense_delta<mmsb::min_plus<float>, f32_layout>;
using or_delta = mmsb::dense_delta<mmsb::or_and, bit_layout>;

constexpr std::size_t page_bytes = 4096;
constexpr std::size_t f32_slots = 1024, f32_words = f32_slots / 64;
constexpr std::size_t bit_words = 32768 / 64;
constexpr std::size_t warm_pages = 256;
static_assert(sizeof(f32_storage) == page_bytes && sizeof(bit_storage) == page_bytes);

enum class op_kind { assign, plus, min, lor };
enum class set_kind { hot, warm, cold };
constexpr std::array all_ops{op_kind::assign, op_kind::plus, op_kind::min, op_kind::lor};
constexpr std::array all_densities{5, 50, 100};
constexpr std::array all_sets{set_kind::hot, set_kind::warm, set_kind::cold};

const char* op_name(op_kind op)
{
  switch (op) {
  case op_kind::assign: return "assign";
  case op_kind::plus: return "plus";
  case op_kind::min: return "min";
  default: return "or";
  }
}
const char* set_name(set_kind s) { return s == set_kind::hot ? "hot" : s == set_kind::warm ? "warm" : "cold"; }

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p1_apply: %s\n", what.c_str());
  std::abort();
}

std::size_t cold_pages()
{
  static const std::size_t n = [] {
    const char* env = std::getenv("MMSB_BENCH_COLD_PAGES");
    const std::size_t v = env ? std::strtoull(env, nullptr, 10) : 65536;
    return v == 0 ? std::size_t{1} : v;
  }();
  return n;
}

std::size_t pages_of(set_kind s) { return s == set_kind::hot ? 1 : s == set_kind::warm ? warm_pages : cold_pages(); }

// ---- the deltas: one per (semiring, density), seeded, shared by every page ------------------

std::uint64_t seed_of(op_kind op, int density) { return 0x9e3779b97f4a7c15ULL * (static_cast<unsigned>(op) + 1) + static_cast<unsigned>(density); }

float random_value(std::mt19937_64& rng)  // [1, 2): no zeros, denormals or NaNs
{
  return 1.0f + static_cast<float>(rng() >> 40) * 0x1p-24f;
}

template <class Delta>
Delta make_f32_delta(op_kind op, int density)
{
  std::mt19937_64 rng(seed_of(op, density));
  std::bernoulli_distribution masked(density / 100.0);
  Delta d{mmsb::page_id{1}};
  for (std::size_t i = 0; i < f32_slots; ++i)
    if (masked(rng)) d.put_unchecked(i, {op == op_kind::assign, random_value(rng)});
  return d;
}

or_delta make_or_delta(int density)
{
  std::mt19937_64 rng(seed_of(op_kind::lor, density));
  std::bernoulli_distribution masked(density / 100.0), value(0.5);
  or_delta d{mmsb::page_id{1}};
  for (std::size_t i = 0; i < 32768; ++i)
    if (masked(rng)) d.put_unchecked(i, {false, value(rng)});
  return d;
}

template <class Delta>
const Delta& cached_delta(op_kind op, int density)
{
  static std::array<std::unique_ptr<Delta>, all_ops.size() * all_densities.size()> cache;  // by (op, density)
  const std::size_t k = static_cast<std::size_t>(op) * all_densities.size() + (density == 5 ? 0 : density == 50 ? 1 : 2);
  if (!cache[k]) {
    if constexpr (std::is_same_v<Delta, or_delta>) cache[k] = std::make_unique<Delta>(make_or_delta(density));
    else cache[k] = std::make_unique<Delta>(make_f32_delta<Delta>(op, density));
  }
  return *cache[k];
}

// A raw view of a delta, for the contenders that do not know MMSB's types.
struct raw_delta {
  const word_t* mask;
  const word_t* assign;
  const void* payload;
};
template <class Delta>
raw_delta raw_of(const Delta& d)
{
  return {d.mask_words(), d.assign_words(), Delta::layout_type::data(d.payload())};
}

// ---- the contenders -------------------------------------------------------------------------

// Scalar: test the bit, branch, apply; one slot at a time (no vectorization, by attribute).
template <op_kind Op>
__attribute__((noinline)) MMSB_BENCH_SCALAR_FN void
scalar_apply_f32(float* x, const word_t* mask, const word_t* assign, const float* v) noexcept
{
  MMSB_BENCH_SCALAR_LOOP
  for (std::size_t i = 0; i < f32_slots; ++i) {
    if ((mask[i / 64] >> (i % 64)) & 1u) {
      if ((assign[i / 64] >> (i % 64)) & 1u) x[i] = v[i];
      else if constexpr (Op == op_kind::min) x[i] = x[i] < v[i] ? x[i] : v[i];
      else x[i] = x[i] + v[i];
    }
  }
}

// Scalar or: the plain u64 word loop (64 slots per operation, no vectorization).
__attribute__((noinline)) MMSB_BENCH_SCALAR_FN void
scalar_apply_or(word_t* x, const word_t* mask, const word_t* assign, const word_t* v) noexcept
{
  MMSB_BENCH_SCALAR_LOOP
  for (std::size_t w = 0; w < bit_words; ++w) {
    const word_t r = (assign[w] & v[w]) | (~assign[w] & (x[w] | v[w]));
    x[w] = (mask[w] & r) | (~mask[w] & x[w]);
  }
}

bool have_avx512()
{
#if MMSB_BENCH_X86
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
#else
  return false;
#endif
}

#if MMSB_BENCH_X86
// Hand-written AVX-512: 16 floats per step, the lane masks taken straight from the mask words.
//   acc lanes (mask & ~assign): x ⊕ v;  assign lanes (mask & assign): v;  others: x.
// _mm512_min_ps(x, v) is x < v ? x : v, the same selection as mmsb::min_plus.
template <op_kind Op>
__attribute__((noinline, target("avx512f"))) void
hand_apply_f32(float* x, const word_t* mask, const word_t* assign, const float* v) noexcept
{
  for (std::size_t w = 0; w < f32_words; ++w) {
    const word_t mw = mask[w], aw = assign[w];
    for (unsigned q = 0; q < 4; ++q) {
      const std::size_t i = w * 64 + q * 16;
      const __mmask16 m = _cvtu32_mask16(static_cast<unsigned>(mw >> (16 * q)) & 0xffffu);
      const __mmask16 a = _cvtu32_mask16(static_cast<unsigned>(aw >> (16 * q)) & 0xffffu);
      const __m512 xv = _mm512_loadu_ps(x + i);
      const __m512 vv = _mm512_loadu_ps(v + i);
      const __mmask16 acc = _kandn_mask16(a, m);
      __m512 r;
      if constexpr (Op == op_kind::min) r = _mm512_mask_min_ps(xv, acc, xv, vv);
      else r = _mm512_mask_add_ps(xv, acc, xv, vv);
      r = _mm512_mask_mov_ps(r, _kand_mask16(a, m), vv);
      _mm512_storeu_ps(x + i, r);
    }
  }
}

// Hand-written AVX-512 or: 8 words per step; 0xCA is the bit select A ? B : C.
__attribute__((noinline, target("avx512f"))) void
hand_apply_or(word_t* x, const word_t* mask, const word_t* assign, const word_t* v) noexcept
{
  for (std::size_t w = 0; w < bit_words; w += 8) {
    const __m512i xv = _mm512_loadu_si512(x + w);
    const __m512i mv = _mm512_loadu_si512(mask + w);
    const __m512i av = _mm512_loadu_si512(assign + w);
    const __m512i vv = _mm512_loadu_si512(v + w);
    const __m512i r = _mm512_ternarylogic_epi64(av, vv, _mm512_or_si512(xv, vv), 0xCA);
    _mm512_storeu_si512(x + w, _mm512_ternarylogic_epi64(mv, r, xv, 0xCA));
  }
}
#endif

// STREAM's copy kernel on one page (a loop, not a memcpy call), as in bench/reference.cpp.
__attribute__((noinline)) MMSB_BENCH_COPY_LOOP_FN void
stream_copy_page(double* __restrict c, const double* __restrict a) noexcept
{
  for (std::size_t j = 0; j < page_bytes / sizeof(double); ++j) c[j] = a[j];
}

// Applies the case's delta to raw page bytes with the named contender (not GraphBLAS).
enum class contender { mmsb, scalar, hand_avx512 };

void apply_with(contender c, op_kind op, int density, void* page)
{
  if (op == op_kind::lor) {
    const or_delta& d = cached_delta<or_delta>(op, density);
    auto* x = static_cast<bit_storage*>(page);
    if (c == contender::mmsb) mmsb::apply_to(*x, d);
    else if (c == contender::scalar) scalar_apply_or(x->words, d.mask_words(), d.assign_words(), d.payload().words);
#if MMSB_BENCH_X86
    else hand_apply_or(x->words, d.mask_words(), d.assign_words(), d.payload().words);
#endif
    return;
  }
  auto* x = static_cast<f32_storage*>(page);
  auto run = [&](const auto& d, auto scalar_fn, auto hand_fn) {
    if (c == contender::mmsb) mmsb::apply_to(*x, d);
    else if (c == contender::scalar) scalar_fn(x->values, d.mask_words(), d.assign_words(), d.payload().values);
    else hand_fn(x->values, d.mask_words(), d.assign_words(), d.payload().values);
  };
#if MMSB_BENCH_X86
  if (op == op_kind::min) run(cached_delta<min_delta>(op, density), scalar_apply_f32<op_kind::min>, hand_apply_f32<op_kind::min>);
  else run(cached_delta<plus_delta>(op, density), scalar_apply_f32<op_kind::plus>, hand_apply_f32<op_kind::plus>);
#else
  if (op == op_kind::min) run(cached_delta<min_delta>(op, density), scalar_apply_f32<op_kind::min>, scalar_apply_f32<op_kind::min>);
  else run(cached_delta<plus_delta>(op, density), scalar_apply_f32<op_kind::plus>, scalar_apply_f32<op_kind::plus>);
#endif
}

// ---- working sets ---------------------------------------------------------------------------

struct free_deleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
using arena = std::unique_ptr<std::byte, free_deleter>;

void fill_page(op_kind op, std::byte* p, std::mt19937_64& rng)
{
  if (op == op_kind::lor) {
    for (std::size_t w = 0; w < bit_words; ++w) {
      const word_t bits = rng();
      std::memcpy(p + w * sizeof(word_t), &bits, sizeof bits);
    }
  } else {
    for (std::size_t i = 0; i < f32_slots; ++i) {
      const float v = random_value(rng);
      std::memcpy(p + i * sizeof(float), &v, sizeof v);
    }
  }
}

std::byte* allocate_pages(std::size_t pages)
{
  auto* p = static_cast<std::byte*>(std::aligned_alloc(page_bytes, pages * page_bytes));
  if (!p) fail("out of memory for " + std::to_string(pages) + " pages");
  return p;
}

// Page sets live for the whole run (allocation and first touch of 256 MiB must not be timed,
// and interleaved repetitions come back to them many times). Float and bit pages are kept apart
// so that or never turns floats into NaNs or denormals, which would change the float timings.
std::byte* target_pages(op_kind op, std::size_t pages)
{
  static arena f32, bits;
  static std::size_t f32_n = 0, bits_n = 0;
  arena& a = op == op_kind::lor ? bits : f32;
  std::size_t& n = op == op_kind::lor ? bits_n : f32_n;
  if (n < pages) {
    n = std::max({pages, warm_pages, cold_pages()});
    a.reset(allocate_pages(n));
    std::mt19937_64 rng(op == op_kind::lor ? 7 : 3);
    for (std::size_t i = 0; i < n; ++i) fill_page(op, a.get() + i * page_bytes, rng);
  }
  return a.get();
}

// The source pages memcpy and stream_copy read from.
std::byte* source_pages(std::size_t pages)
{
  static arena src;
  static std::size_t n = 0;
  if (n < pages) {
    n = std::max({pages, warm_pages, cold_pages()});
    src.reset(allocate_pages(n));
    std::mt19937_64 rng(11);
    for (std::size_t i = 0; i < n; ++i) fill_page(op_kind::plus, src.get() + i * page_bytes, rng);
  }
  return src.get();
}

// The fixed shuffled visiting order for a page set of this size.
const std::vector<std::uint32_t>& page_order(std::size_t pages)
{
  static std::vector<std::vector<std::uint32_t>> cache;
  for (const auto& o : cache)
    if (o.size() == pages) return o;
  std::vector<std::uint32_t> order(pages);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(pages));
  cache.push_back(std::move(order));
  return cache.back();
}

// ---- GraphBLAS on a 1024-float (or 32768-bool) vector, structural mask M of the masked slots --
// assign: GrB_Vector_assign w<M> = u. plus, min, or: GrB_Vector_eWiseAdd w<M> = w ⊕ u, which in
// GraphBLAS 7.4 is 1.5-4x faster here than the equivalent GrB_Vector_assign w<M> += u with an
// accumulator (measured on this machine), so the peer gets its faster form.

#if MMSB_BENCH_HAVE_GRAPHBLAS
void grb_check(GrB_Info info, const char* what)
{
  if (info != GrB_SUCCESS) fail(std::string("GraphBLAS ") + what + " failed with GrB_Info " + std::to_string(info));
}

struct grb_case {
  GrB_Vector w = nullptr, mask = nullptr, u = nullptr;
  GrB_BinaryOp add = nullptr;  // nullptr: assign
  GrB_Index n = 0;             // slots
  grb_case() = default;
  grb_case(const grb_case&) = delete;
  grb_case& operator=(const grb_case&) = delete;
  ~grb_case()
  {
    GrB_Vector_free(&w);
    GrB_Vector_free(&mask);
    GrB_Vector_free(&u);
  }
  void run() const
  {
    if (add == nullptr) grb_check(GrB_Vector_assign(w, mask, nullptr, u, GrB_ALL, n, GrB_DESC_S), "GrB_Vector_assign");
    else grb_check(GrB_Vector_eWiseAdd_BinaryOp(w, mask, nullptr, add, w, u, GrB_DESC_S), "GrB_Vector_eWiseAdd");
    grb_check(GrB_Vector_wait(w, GrB_MATERIALIZE), "GrB_Vector_wait");
  }
};

// Builds the GraphBLAS form of the case: w from the page bytes, u from the delta payload (all
// slots), the mask as a structural boolean vector holding the masked slots.
std::unique_ptr<grb_case> make_grb_case(op_kind op, int density, const std::byte* page)
{
  auto c = std::make_unique<grb_case>();
  const raw_delta d = op == op_kind::lor ? raw_of(cached_delta<or_delta>(op, density))
                      : op == op_kind::min ? raw_of(cached_delta<min_delta>(op, density))
                                           : raw_of(cached_delta<plus_delta>(op, density));
  const std::size_t n = op == op_kind::lor ? 32768 : f32_slots;
  c->n = n;
  std::vector<GrB_Index> all(n), masked;
  std::iota(all.begin(), all.end(), GrB_Index{0});
  for (std::size_t i = 0; i < n; ++i)
    if (mmsb::test_bit(d.mask, i)) masked.push_back(i);
  std::unique_ptr<bool[]> trues(new bool[masked.size() + 1]);
  std::fill(trues.get(), trues.get() + masked.size() + 1, true);
  grb_check(GrB_Vector_new(&c->mask, GrB_BOOL, n), "GrB_Vector_new");
  grb_check(GrB_Vector_build_BOOL(c->mask, masked.data(), trues.get(), masked.size(), GrB_LOR), "build mask");
  if (op == op_kind::lor) {
    std::unique_ptr<bool[]> xs(new bool[n]), vs(new bool[n]);
    word_t words[bit_words];
    std::memcpy(words, page, page_bytes);
    for (std::size_t i = 0; i < n; ++i) {
      xs[i] = mmsb::test_bit(words, i);
      vs[i] = mmsb::test_bit(static_cast<const word_t*>(d.payload), i);
    }
    grb_check(GrB_Vector_new(&c->w, GrB_BOOL, n), "GrB_Vector_new");
    grb_check(GrB_Vector_new(&c->u, GrB_BOOL, n), "GrB_Vector_new");
    grb_check(GrB_Vector_build_BOOL(c->w, all.data(), xs.get(), n, GrB_LOR), "build w");
    grb_check(GrB_Vector_build_BOOL(c->u, all.data(), vs.get(), n, GrB_LOR), "build u");
    c->add = GrB_LOR;
  } else {
    std::vector<float> xs(n), vs(n);
    std::memcpy(xs.data(), page, page_bytes);
    std::memcpy(vs.data(), d.payload, page_bytes);
    grb_check(GrB_Vector_new(&c->w, GrB_FP32, n), "GrB_Vector_new");
    grb_check(GrB_Vector_new(&c->u, GrB_FP32, n), "GrB_Vector_new");
    grb_check(GrB_Vector_build_FP32(c->w, all.data(), xs.data(), n, GrB_PLUS_FP32), "build w");
    grb_check(GrB_Vector_build_FP32(c->u, all.data(), vs.data(), n, GrB_PLUS_FP32), "build u");
    c->add = op == op_kind::assign ? nullptr : op == op_kind::min ? GrB_MIN_FP32 : GrB_PLUS_FP32;
  }
  grb_check(GrB_Vector_wait(c->mask, GrB_MATERIALIZE), "wait");
  grb_check(GrB_Vector_wait(c->w, GrB_MATERIALIZE), "wait");
  grb_check(GrB_Vector_wait(c->u, GrB_MATERIALIZE), "wait");
  return c;
}

// w back as page bytes (w stays full: every slot keeps an entry).
void grb_to_page(const grb_case& c, op_kind op, std::byte* out)
{
  GrB_Index nvals = 0;
  grb_check(GrB_Vector_nvals(&nvals, c.w), "nvals");
  if (nvals != c.n) fail("GraphBLAS result lost entries");
  std::vector<GrB_Index> idx(nvals);
  if (op == op_kind::lor) {
    std::unique_ptr<bool[]> xs(new bool[nvals]);
    grb_check(GrB_Vector_extractTuples_BOOL(idx.data(), xs.get(), &nvals, c.w), "extract");
    word_t words[bit_words]{};
    for (GrB_Index k = 0; k < nvals; ++k)
      if (xs[k]) mmsb::set_bit(words, idx[k]);
    std::memcpy(out, words, page_bytes);
  } else {
    std::vector<float> xs(nvals), page(f32_slots);
    grb_check(GrB_Vector_extractTuples_FP32(idx.data(), xs.data(), &nvals, c.w), "extract");
    for (GrB_Index k = 0; k < nvals; ++k) page[idx[k]] = xs[k];
    std::memcpy(out, page.data(), page_bytes);
  }
}
#endif

// ---- the correctness guard ------------------------------------------------------------------

void check_same(const std::string& where, const char* who, const std::byte* got, const std::byte* ref)
{
  for (std::size_t b = 0; b < page_bytes; ++b)
    if (got[b] != ref[b])
      fail(where + ": " + who + " differs from the scalar loop at byte " + std::to_string(b) +
           " of the page; the benchmark would time the wrong computation");
}

// For every (semiring, density): three random pages, each applied to twice (so the second apply
// starts from a changed page), must come out byte-identical from every contender.
void verify_all()
{
  for (op_kind op : all_ops) {
    for (int density : all_densities) {
      const std::string where = std::string("P1/apply/") + op_name(op) + "/" + std::to_string(density);
      for (std::uint64_t trial = 0; trial < 3; ++trial) {
        alignas(64) std::byte initial[page_bytes], ref[page_bytes], got[page_bytes];
        std::mt19937_64 rng(1000 + trial);
        fill_page(op, initial, rng);
        std::memcpy(ref, initial, page_bytes);
        apply_with(contender::scalar, op, density, ref);
        apply_with(contender::scalar, op, density, ref);
        std::vector<contender> others{contender::mmsb};
        if (have_avx512()) others.push_back(contender::hand_avx512);
        for (contender c : others) {
          std::memcpy(got, initial, page_bytes);
          apply_with(c, op, density, got);
          apply_with(c, op, density, got);
          check_same(where, c == contender::mmsb ? "mmsb" : "hand_avx512", got, ref);
        }
#if MMSB_BENCH_HAVE_GRAPHBLAS
        auto g = make_grb_case(op, density, initial);
        g->run();
        g->run();
        grb_to_page(*g, op, got);
        check_same(where, "graphblas", got, ref);
#endif
      }
    }
  }
}

// ---- the cases ------------------------------------------------------------------------------

void finish(benchmark::State& state)
{
  state.SetItemsProcessed(state.iterations());                                    // pages
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * page_bytes));  // read + write
}

// mmsb, scalar and hand_avx512 over the case's page set, in the shared shuffled order. Hot calls
// the public mmsb::apply (target check included) on a mmsb::page; warm and cold share one delta
// across pages, so they call mmsb::apply_to, the noexcept core apply runs after its check.
void bm_apply(benchmark::State& state, contender c, op_kind op, int density, set_kind set)
{
  if (c == contender::hand_avx512 && !have_avx512()) {
    state.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  if (set == set_kind::hot && c == contender::mmsb) {
    std::mt19937_64 rng(5);
    auto run_hot = [&](auto& page, const auto& delta) {
      fill_page(op, reinterpret_cast<std::byte*>(&page.storage()), rng);
      for (auto _ : state) {
        mmsb::apply(page, delta);
        benchmark::ClobberMemory();
      }
    };
    if (op == op_kind::lor) {
      auto page = std::make_unique<mmsb::page<bit_layout>>(mmsb::page_id{1});
      run_hot(*page, cached_delta<or_delta>(op, density));
    } else {
      auto page = std::make_unique<mmsb::page<f32_layout>>(mmsb::page_id{1});
      if (op == op_kind::min) run_hot(*page, cached_delta<min_delta>(op, density));
      else run_hot(*page, cached_delta<plus_delta>(op, density));
    }
    finish(state);
    return;
  }
  const std::size_t n = pages_of(set);
  std::byte* pages = target_pages(op, n);
  const std::uint32_t* order = page_order(n).data();
  std::size_t k = 0;
  for (auto _ : state) {
    apply_with(c, op, density, pages + std::size_t{order[k]} * page_bytes);
    benchmark::ClobberMemory();
    if (++k == n) k = 0;
  }
  finish(state);
}

// memcpy: 4 KiB from a source page set to the target pages, in the same shuffled order.
void bm_memcpy(benchmark::State& state, op_kind op, set_kind set)
{
  const std::size_t n = pages_of(set);
  std::byte* dst = target_pages(op, n);
  const std::byte* src = source_pages(n);
  const std::uint32_t* order = page_order(n).data();
  std::size_t k = 0;
  for (auto _ : state) {
    const std::size_t off = std::size_t{order[k]} * page_bytes;
    std::memcpy(dst + off, src + off, page_bytes);
    benchmark::ClobberMemory();
    if (++k == n) k = 0;
  }
  finish(state);
}

// STREAM copy: the same working set, streamed in address order (the prefetcher's best case).
void bm_stream_copy(benchmark::State& state, op_kind op, set_kind set)
{
  const std::size_t n = pages_of(set);
  auto* dst = reinterpret_cast<double*>(target_pages(op, n));
  const auto* src = reinterpret_cast<const double*>(source_pages(n));
  constexpr std::size_t per_page = page_bytes / sizeof(double);
  std::size_t k = 0;
  for (auto _ : state) {
    stream_copy_page(dst + k * per_page, src + k * per_page);
    benchmark::ClobberMemory();
    if (++k == n) k = 0;
  }
  finish(state);
}

#if MMSB_BENCH_HAVE_GRAPHBLAS
// GraphBLAS, one page per call (hot only): the GrB objects are built outside the timed loop.
void bm_graphblas(benchmark::State& state, op_kind op, int density)
{
  alignas(64) std::byte initial[page_bytes];
  std::mt19937_64 rng(5);
  fill_page(op, initial, rng);
  auto g = make_grb_case(op, density, initial);
  for (auto _ : state) g->run();
  finish(state);
}
#endif

void register_all()
{
  for (op_kind op : all_ops) {
    for (int density : all_densities) {
      for (set_kind set : all_sets) {
        const std::string base =
          std::string("P1/apply/") + op_name(op) + "/" + std::to_string(density) + "/" + set_name(set) + "/";
        auto reg = [&](const std::string& who, auto fn) {
          benchmark::RegisterBenchmark((base + who).c_str(), fn)->Unit(benchmark::kNanosecond);
        };
        reg("mmsb", [=](benchmark::State& s) { bm_apply(s, contender::mmsb, op, density, set); });
        reg("scalar", [=](benchmark::State& s) { bm_apply(s, contender::scalar, op, density, set); });
        reg("hand_avx512", [=](benchmark::State& s) { bm_apply(s, contender::hand_avx512, op, density, set); });
        reg("memcpy", [=](benchmark::State& s) { bm_memcpy(s, op, set); });
        if (set == set_kind::cold) reg("stream_copy", [=](benchmark::State& s) { bm_stream_copy(s, op, set); });
#if MMSB_BENCH_HAVE_GRAPHBLAS
        if (set == set_kind::hot) reg("graphblas", [=](benchmark::State& s) { bm_graphblas(s, op, density); });
#endif
      }
    }
  }
}

} // namespace

int main(int argc, char** argv)
{
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#if MMSB_BENCH_HAVE_GRAPHBLAS
  grb_check(GrB_init(GrB_NONBLOCKING), "GrB_init");
  grb_check(GxB_Global_Option_set(GxB_GLOBAL_NTHREADS, 1), "GxB_Global_Option_set(GxB_NTHREADS)");
  benchmark::AddCustomContext("graphblas", std::to_string(GxB_IMPLEMENTATION_MAJOR) + "." +
                                             std::to_string(GxB_IMPLEMENTATION_MINOR) + "." +
                                             std::to_string(GxB_IMPLEMENTATION_SUB));
#endif
  verify_all();
  register_all();
#if MMSB_ENABLE_SIMD
  benchmark::AddCustomContext("mmsb_simd_target", mmsb::simd::target_name());
#else
  benchmark::AddCustomContext("mmsb_simd_target", "none (MMSB_ENABLE_SIMD=0)");
#endif
  benchmark::AddCustomContext("hand_avx512", have_avx512() ? "avx512f" : "unavailable");
  benchmark::AddCustomContext("cold_pages", std::to_string(cold_pages()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
#if MMSB_BENCH_HAVE_GRAPHBLAS
  GrB_finalize();
#endif
  return 0;
}
