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

template <builtin_add Op, class D, class V>
HWY_INLINE V vadd(D, V a, V b)
{
  if constexpr (Op == builtin_add::plus) return hn::Add(a, b);
  else if constexpr (Op == builtin_add::min) return hn::IfThenElse(hn::Lt(a, b), a, b);
  else return hn::IfThenElse(hn::Gt(a, b), a, b);
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
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto xv = hn::LoadU(d, x + i);
    const auto vv = hn::LoadU(d, v + i);
    const auto r = hn::IfThenElse(load_mask(d, assign, i), vv, vadd<Op>(d, xv, vv));
    hn::StoreU(hn::IfThenElse(load_mask(d, mask, i), r, xv), d, x + i);
  }
  for (; i < n; ++i)
    if (test_bit(mask, i)) x[i] = test_bit(assign, i) ? v[i] : sadd<Op>(x[i], v[i]);
}

template <builtin_add Op, class T>
HWY_INLINE void merge_op(T* out, const T* av, const word_t* HWY_RESTRICT amask, const T* bv,
                         const word_t* HWY_RESTRICT bmask, const word_t* HWY_RESTRICT bassign, std::size_t n)
{
  const hn::ScalableTag<T> d;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto a = hn::LoadU(d, av + i);
    const auto b = hn::LoadU(d, bv + i);
    const auto folded = hn::IfThenElse(load_mask(d, amask, i), vadd<Op>(d, a, b), b);
    const auto fromb = hn::IfThenElse(load_mask(d, bassign, i), b, folded);
    hn::StoreU(hn::IfThenElse(load_mask(d, bmask, i), fromb, a), d, out + i);
  }
  for (; i < n; ++i) {
    if (!test_bit(bmask, i)) { out[i] = av[i]; continue; }
    out[i] = (test_bit(bassign, i) || !test_bit(amask, i)) ? bv[i] : sadd<Op>(av[i], bv[i]);
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
