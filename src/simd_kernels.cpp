// Highway kernels for mmsb/delta/simd.hpp, compiled once per SIMD target (foreach_target) and
// dispatched once per call. Each function is the vector form of mmsb::apply_element /
// merge_element; min and max select with the same `a < b ? a : b` as the scalar semirings.
#include <mmsb/delta/simd.hpp>

#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace mmsb::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using detail::builtin_add;

// Lane mask for lanes [i, i + Lanes(d)) from little-endian bit words.
template <class D>
HWY_INLINE auto load_mask(D d, const word_t* words, std::size_t i)
{
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(words);
  const std::size_t lanes = hn::Lanes(d);
  if (lanes >= 8) return hn::LoadMaskBits(d, bytes + i / 8);
  const std::uint8_t part = static_cast<std::uint8_t>((bytes[i / 8] >> (i % 8)) & ((1u << lanes) - 1u));
  return hn::LoadMaskBits(d, &part);
}

// x86 minps/maxps return the second operand on ties and NaN: exactly `a < b ? a : b` and
// `a > b ? a : b`, in one instruction. Other targets' Min/Max differ on NaN and signed zeros,
// so they spell the selection out. Integer Min/Max are the selection on every target.
#undef MMSB_IMPL_NATIVE_FLOAT_MINMAX  // this file is compiled once per target
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#  define MMSB_IMPL_NATIVE_FLOAT_MINMAX 1
#else
#  define MMSB_IMPL_NATIVE_FLOAT_MINMAX 0
#endif

template <builtin_add Op, class D, class V>
HWY_INLINE V vadd(D, V a, V b)
{
  using T = hn::TFromD<D>;
  constexpr bool native = MMSB_IMPL_NATIVE_FLOAT_MINMAX || std::is_integral_v<T>;
  if constexpr (Op == builtin_add::plus) return hn::Add(a, b);
  else if constexpr (Op == builtin_add::min) {
    if constexpr (native) return hn::Min(a, b);
    else return hn::IfThenElse(hn::Lt(a, b), a, b);
  } else {
    if constexpr (native) return hn::Max(a, b);
    else return hn::IfThenElse(hn::Gt(a, b), a, b);
  }
}

template <builtin_add Op, class T>
HWY_INLINE T sadd(T a, T b)
{
  if constexpr (Op == builtin_add::plus) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    } else {
      return a + b;
    }
  } else if constexpr (Op == builtin_add::min) {
    return a < b ? a : b;
  } else {
    return a > b ? a : b;
  }
}

template <builtin_add Op, class T>
HWY_INLINE void apply_op(T* HWY_RESTRICT x, const word_t* HWY_RESTRICT mask, const word_t* HWY_RESTRICT assign,
                         const T* HWY_RESTRICT v, std::size_t n)
{
  const hn::ScalableTag<T> d;
  const std::size_t lanes = hn::Lanes(d);
  const auto step = [&](std::size_t j) HWY_ATTR {
    const auto xv = hn::LoadU(d, x + j);
    const auto vv = hn::LoadU(d, v + j);
    const auto r = hn::IfThenElse(load_mask(d, assign, j), vv, vadd<Op>(d, xv, vv));
    hn::StoreU(hn::IfThenElse(load_mask(d, mask, j), r, xv), d, x + j);
  };
  std::size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {  // four independent vectors in flight
    step(i);
    step(i + lanes);
    step(i + 2 * lanes);
    step(i + 3 * lanes);
  }
  for (; i + lanes <= n; i += lanes) step(i);
  for (; i < n; ++i)
    if (test_bit(mask, i)) x[i] = test_bit(assign, i) ? v[i] : sadd<Op>(x[i], v[i]);
}

template <builtin_add Op, class T>
HWY_INLINE void merge_op(T* out, const T* av, const word_t* HWY_RESTRICT amask, const T* bv,
                         const word_t* HWY_RESTRICT bmask, const word_t* HWY_RESTRICT bassign, std::size_t n)
{
  const hn::ScalableTag<T> d;
  const std::size_t lanes = hn::Lanes(d);
  const auto step = [&](std::size_t j) HWY_ATTR {
    const auto a = hn::LoadU(d, av + j);
    const auto b = hn::LoadU(d, bv + j);
    const auto folded = hn::IfThenElse(load_mask(d, amask, j), vadd<Op>(d, a, b), b);
    const auto fromb = hn::IfThenElse(load_mask(d, bassign, j), b, folded);
    hn::StoreU(hn::IfThenElse(load_mask(d, bmask, j), fromb, a), d, out + j);
  };
  std::size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    step(i);
    step(i + lanes);
    step(i + 2 * lanes);
    step(i + 3 * lanes);
  }
  for (; i + lanes <= n; i += lanes) step(i);
  for (; i < n; ++i) {
    if (!test_bit(bmask, i)) { out[i] = av[i]; continue; }
    out[i] = (test_bit(bassign, i) || !test_bit(amask, i)) ? bv[i] : sadd<Op>(av[i], bv[i]);
  }
}

// Packed booleans under or: 64 slots per u64 lane.
//   apply: r = assign ? v : x | v;  x' = mask ? r : x
//   merge: a.v' = bmask ? (bassign | ~amask ? bv : av | bv) : av
void apply_words(word_t* HWY_RESTRICT x, const word_t* HWY_RESTRICT m, const word_t* HWY_RESTRICT a,
                 const word_t* HWY_RESTRICT v, std::size_t words)
{
  const hn::ScalableTag<word_t> d;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= words; i += lanes) {
    const auto xv = hn::LoadU(d, x + i), mv = hn::LoadU(d, m + i), asg = hn::LoadU(d, a + i), vv = hn::LoadU(d, v + i);
    const auto r = hn::Or(hn::And(asg, vv), hn::AndNot(asg, hn::Or(xv, vv)));
    hn::StoreU(hn::Or(hn::And(mv, r), hn::AndNot(mv, xv)), d, x + i);
  }
  for (; i < words; ++i) {
    const word_t r = (a[i] & v[i]) | (~a[i] & (x[i] | v[i]));
    x[i] = (m[i] & r) | (~m[i] & x[i]);
  }
}

void merge_words(word_t* HWY_RESTRICT av, const word_t* HWY_RESTRICT am, const word_t* HWY_RESTRICT bv,
                 const word_t* HWY_RESTRICT bm, const word_t* HWY_RESTRICT ba, std::size_t words)
{
  const hn::ScalableTag<word_t> d;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= words; i += lanes) {
    const auto a = hn::LoadU(d, av + i), amv = hn::LoadU(d, am + i), b = hn::LoadU(d, bv + i);
    const auto bmv = hn::LoadU(d, bm + i), bav = hn::LoadU(d, ba + i);
    // (ba | ~am) & bv  |  (~ba & am & (av | bv))
    const auto fromb = hn::Or(hn::And(hn::Or(bav, hn::Not(amv)), b), hn::AndNot(bav, hn::And(amv, hn::Or(a, b))));
    hn::StoreU(hn::Or(hn::And(bmv, fromb), hn::AndNot(bmv, a)), d, av + i);
  }
  for (; i < words; ++i) {
    const word_t fromb = ((ba[i] | ~am[i]) & bv[i]) | (~ba[i] & am[i] & (av[i] | bv[i]));
    av[i] = (bm[i] & fromb) | (~bm[i] & av[i]);
  }
}

#define MMSB_IMPL_SIMD_ENTRY(T, SUFFIX)                                                            \
  void apply_##SUFFIX(builtin_add op, T* x, const word_t* m, const word_t* a, const T* v, std::size_t n) \
  {                                                                                                \
    switch (op) {                                                                                  \
    case builtin_add::plus: return apply_op<builtin_add::plus>(x, m, a, v, n);                     \
    case builtin_add::min: return apply_op<builtin_add::min>(x, m, a, v, n);                       \
    case builtin_add::max: return apply_op<builtin_add::max>(x, m, a, v, n);                       \
    default: return;                                                                               \
    }                                                                                              \
  }                                                                                                \
  void merge_##SUFFIX(builtin_add op, T* o, const T* av, const word_t* am, const T* bv, const word_t* bm, \
                      const word_t* ba, std::size_t n)                                             \
  {                                                                                                \
    switch (op) {                                                                                  \
    case builtin_add::plus: return merge_op<builtin_add::plus>(o, av, am, bv, bm, ba, n);          \
    case builtin_add::min: return merge_op<builtin_add::min>(o, av, am, bv, bm, ba, n);            \
    case builtin_add::max: return merge_op<builtin_add::max>(o, av, am, bv, bm, ba, n);            \
    default: return;                                                                               \
    }                                                                                              \
  }

MMSB_IMPL_SIMD_ENTRY(float, f32)
MMSB_IMPL_SIMD_ENTRY(double, f64)
MMSB_IMPL_SIMD_ENTRY(std::int32_t, i32)
MMSB_IMPL_SIMD_ENTRY(std::int64_t, i64)
#undef MMSB_IMPL_SIMD_ENTRY

} // namespace mmsb::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mmsb::simd {

HWY_EXPORT(apply_f32);
HWY_EXPORT(apply_f64);
HWY_EXPORT(apply_i32);
HWY_EXPORT(apply_i64);
HWY_EXPORT(merge_f32);
HWY_EXPORT(merge_f64);
HWY_EXPORT(merge_i32);
HWY_EXPORT(merge_i64);
HWY_EXPORT(apply_words);
HWY_EXPORT(merge_words);

void apply_or_words(word_t* x, const word_t* mask, const word_t* assign, const word_t* v, std::size_t words) noexcept
{
  HWY_DYNAMIC_DISPATCH(apply_words)(x, mask, assign, v, words);
}

void merge_or_words(word_t* av, const word_t* amask, const word_t* bv, const word_t* bmask, const word_t* bassign,
                    std::size_t words) noexcept
{
  HWY_DYNAMIC_DISPATCH(merge_words)(av, amask, bv, bmask, bassign, words);
}

#define MMSB_IMPL_SIMD_DISPATCH(T, SUFFIX)                                                         \
  template <>                                                                                      \
  void apply_dense<T>(detail::builtin_add op, T* x, const word_t* m, const word_t* a, const T* v,  \
                      std::size_t n) noexcept                                                      \
  {                                                                                                \
    HWY_DYNAMIC_DISPATCH(apply_##SUFFIX)(op, x, m, a, v, n);                                       \
  }                                                                                                \
  template <>                                                                                      \
  void merge_dense_values<T>(detail::builtin_add op, T* o, const T* av, const word_t* am, const T* bv, \
                             const word_t* bm, const word_t* ba, std::size_t n) noexcept           \
  {                                                                                                \
    HWY_DYNAMIC_DISPATCH(merge_##SUFFIX)(op, o, av, am, bv, bm, ba, n);                            \
  }

MMSB_IMPL_SIMD_DISPATCH(float, f32)
MMSB_IMPL_SIMD_DISPATCH(double, f64)
MMSB_IMPL_SIMD_DISPATCH(std::int32_t, i32)
MMSB_IMPL_SIMD_DISPATCH(std::int64_t, i64)
#undef MMSB_IMPL_SIMD_DISPATCH

const char* target_name(std::int64_t target) noexcept { return hwy::TargetName(target); }

const char* target_name() noexcept
{
  const std::int64_t best = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(best & -best);
}

std::vector<std::int64_t> available_targets() { return hwy::SupportedAndGeneratedTargets(); }

void force_target(std::int64_t target) noexcept { hwy::SetSupportedTargetsForTest(target); }

} // namespace mmsb::simd
#endif
