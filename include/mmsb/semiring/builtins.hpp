// The built-in semirings: plus_times, min_plus, max_plus, max_min and or_and.
//
// min/max select with `a < b ? a : b` / `a > b ? a : b`, the same expression on every backend
// (it is exactly what x86 minps/maxps compute), so SIMD, GPU and scalar agree bit for bit.
// That selection is associative for all non-NaN inputs; NaN is outside these semirings' domain.
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/core/arith.hpp>
#include <mmsb/semiring/concept.hpp>
#include <mmsb/semiring/name.hpp>

#include <cuda/std/limits>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace mmsb {

namespace detail {
template <class T>
MMSB_HD constexpr T select_min(T a, T b) noexcept { return a < b ? a : b; }
template <class T>
MMSB_HD constexpr T select_max(T a, T b) noexcept { return a > b ? a : b; }

// +inf for floating types, the largest value otherwise; the mirror for lowest.
template <class T>
MMSB_HD constexpr T top() noexcept
{
  if constexpr (::cuda::std::numeric_limits<T>::has_infinity) return ::cuda::std::numeric_limits<T>::infinity();
  else return ::cuda::std::numeric_limits<T>::max();
}
template <class T>
MMSB_HD constexpr T bottom() noexcept
{
  if constexpr (::cuda::std::numeric_limits<T>::has_infinity) return -::cuda::std::numeric_limits<T>::infinity();
  else return ::cuda::std::numeric_limits<T>::lowest();
}

// a ⊗ b = a + b where the top (or bottom) element absorbs: on integers that keeps the
// annihilator from wrapping around; on floats inf already absorbs.
template <class T, bool AbsorbTop>
MMSB_HD constexpr T absorbing_add(T a, T b) noexcept
{
  if constexpr (std::is_integral_v<T>) {
    constexpr T absorb = AbsorbTop ? top<T>() : bottom<T>();
    return (a == absorb || b == absorb) ? absorb : wrap_add(a, b);
  } else {
    return a + b;
  }
}

template <class T>
concept arithmetic_value = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

// The words of the built-ins' names (durable: a store's files carry them, see mmsb/bus/shape.hpp).
inline constexpr std::string_view plus_times_word = "plus_times";
inline constexpr std::string_view min_plus_word = "min_plus";
inline constexpr std::string_view max_plus_word = "max_plus";
inline constexpr std::string_view max_min_word = "max_min";
} // namespace detail

// (+, ×, 0, 1): the ring of counts, sums and linear propagation. Integers wrap (two's complement).
template <detail::arithmetic_value T>
struct plus_times {
  using value_type = T;  // the element type
  static constexpr std::string_view name = instantiation_name<detail::plus_times_word, T>;  // e.g. "plus_times<f32>"
  // a + b (integers wrap)
  MMSB_HD static constexpr T add(T a, T b) noexcept { return detail::wrap_add(a, b); }
  // a × b (integers wrap)
  MMSB_HD static constexpr T mul(T a, T b) noexcept { return detail::wrap_mul(a, b); }
  // a - b, the inverse of add (integers wrap)
  MMSB_HD static constexpr T sub(T a, T b) noexcept { return detail::wrap_sub(a, b); }
  // 0, the identity of add
  MMSB_HD static constexpr T zero() noexcept { return T(0); }
  // 1, the identity of mul
  MMSB_HD static constexpr T one() noexcept { return T(1); }
  static constexpr bool idempotent_add = false;  // a + a is 2a, not a
  static constexpr bool commutative_add = true;  // a + b == b + a
  static constexpr bool has_inverse = true;  // sub() undoes add()
};

// (min, +, +inf, 0): the tropical semiring of shortest paths and distance fields.
template <detail::arithmetic_value T>
struct min_plus {
  using value_type = T;  // the element type
  static constexpr std::string_view name = instantiation_name<detail::min_plus_word, T>;  // e.g. "min_plus<f32>"
  // min(a, b) by `a < b ? a : b`
  MMSB_HD static constexpr T add(T a, T b) noexcept { return detail::select_min(a, b); }
  // a + b (integers wrap), except that zero() (+inf; the largest integer) absorbs: x ⊗ zero() == zero()
  MMSB_HD static constexpr T mul(T a, T b) noexcept { return detail::absorbing_add<T, true>(a, b); }
  // +inf (the largest value for integers): the identity of add, absorbing under mul
  MMSB_HD static constexpr T zero() noexcept { return detail::top<T>(); }
  // 0, the identity of mul
  MMSB_HD static constexpr T one() noexcept { return T(0); }
  // -inf (the lowest value for integers): min(-inf, a) == -inf, the annihilator of add
  MMSB_HD static constexpr T terminal() noexcept { return detail::bottom<T>(); }
  static constexpr bool idempotent_add = true;  // min(a, a) == a
  static constexpr bool selective_add = true;   // a ⊕ b is a or b
  static constexpr bool commutative_add = true;  // min(a, b) == min(b, a)
  static constexpr bool has_inverse = false;  // no subtraction
};

// (max, +, -inf, 0): longest paths, critical paths, best scores.
template <detail::arithmetic_value T>
struct max_plus {
  using value_type = T;  // the element type
  static constexpr std::string_view name = instantiation_name<detail::max_plus_word, T>;  // e.g. "max_plus<f32>"
  // max(a, b) by `a > b ? a : b`
  MMSB_HD static constexpr T add(T a, T b) noexcept { return detail::select_max(a, b); }
  // a + b (integers wrap), except that zero() (-inf; the lowest integer) absorbs: x ⊗ zero() == zero()
  MMSB_HD static constexpr T mul(T a, T b) noexcept { return detail::absorbing_add<T, false>(a, b); }
  // -inf (the lowest value for integers): the identity of add, absorbing under mul
  MMSB_HD static constexpr T zero() noexcept { return detail::bottom<T>(); }
  // 0, the identity of mul
  MMSB_HD static constexpr T one() noexcept { return T(0); }
  // +inf (the largest value for integers): max(+inf, a) == +inf, the annihilator of add
  MMSB_HD static constexpr T terminal() noexcept { return detail::top<T>(); }
  static constexpr bool idempotent_add = true;  // max(a, a) == a
  static constexpr bool selective_add = true;   // a ⊕ b is a or b
  static constexpr bool commutative_add = true;  // max(a, b) == max(b, a)
  static constexpr bool has_inverse = false;  // no subtraction
};

// (max, min, -inf, +inf): widest path / bottleneck capacity.
template <detail::arithmetic_value T>
struct max_min {
  using value_type = T;  // the element type
  static constexpr std::string_view name = instantiation_name<detail::max_min_word, T>;  // e.g. "max_min<f32>"
  // max(a, b) by `a > b ? a : b`
  MMSB_HD static constexpr T add(T a, T b) noexcept { return detail::select_max(a, b); }
  // min(a, b) by `a < b ? a : b`
  MMSB_HD static constexpr T mul(T a, T b) noexcept { return detail::select_min(a, b); }
  // -inf (the lowest value for integers): the identity of max
  MMSB_HD static constexpr T zero() noexcept { return detail::bottom<T>(); }
  // +inf (the largest value for integers): the identity of min
  MMSB_HD static constexpr T one() noexcept { return detail::top<T>(); }
  // +inf (the largest value for integers): max(+inf, a) == +inf, the annihilator of add
  MMSB_HD static constexpr T terminal() noexcept { return detail::top<T>(); }
  static constexpr bool idempotent_add = true;  // max(a, a) == a
  static constexpr bool selective_add = true;   // a ⊕ b is a or b
  static constexpr bool commutative_add = true;  // max(a, b) == max(b, a)
  static constexpr bool has_inverse = false;  // no subtraction
};

// (or, and, false, true): reachability, liveness, dataflow facts. `bitwise` says ⊕ and ⊗ extend
// lane-wise to 64-bit words (| and &), which is how the bits<N> layout stores them.
struct or_and {
  using value_type = bool;  // one bool per element (the bits<N> layout packs them 64 to a word)
  // The durable name (mmsb/bus/shape.hpp).
  static constexpr std::string_view name = "or_and";
  // a || b
  MMSB_HD static constexpr bool add(bool a, bool b) noexcept { return a || b; }
  // a && b
  MMSB_HD static constexpr bool mul(bool a, bool b) noexcept { return a && b; }
  // false, the identity of or
  MMSB_HD static constexpr bool zero() noexcept { return false; }
  // true, the identity of and
  MMSB_HD static constexpr bool one() noexcept { return true; }
  // true: true || a == true, the annihilator of add (a row stops at its first true term)
  MMSB_HD static constexpr bool terminal() noexcept { return true; }
  static constexpr bool idempotent_add = true;  // a || a == a
  static constexpr bool selective_add = true;   // a ⊕ b is a or b
  static constexpr bool commutative_add = true;  // a || b == b || a
  static constexpr bool has_inverse = false;  // no subtraction
  static constexpr bool bitwise = true;  // add and mul extend lane-wise to words as | and &
};

namespace detail {
// Which ⊕ a built-in uses, so apply/merge can take a SIMD or GPU fast path chosen once per call.
// Custom semirings are `none` and take the generic path, which gives the same results.
enum class builtin_add : std::uint8_t { none, plus, min, max, logical_or };
template <class S>
inline constexpr builtin_add builtin_add_v = builtin_add::none;
template <class T>
inline constexpr builtin_add builtin_add_v<plus_times<T>> = builtin_add::plus;
template <class T>
inline constexpr builtin_add builtin_add_v<min_plus<T>> = builtin_add::min;
template <class T>
inline constexpr builtin_add builtin_add_v<max_plus<T>> = builtin_add::max;
template <class T>
inline constexpr builtin_add builtin_add_v<max_min<T>> = builtin_add::max;
template <>
inline constexpr builtin_add builtin_add_v<or_and> = builtin_add::logical_or;
} // namespace detail

static_assert(semiring<plus_times<float>> && ring<plus_times<float>> && !exact_add_v<plus_times<float>>);
static_assert(semiring<plus_times<std::int64_t>> && exact_add_v<plus_times<std::int64_t>>);
static_assert(semiring<min_plus<float>> && idempotent_semiring<min_plus<float>> && exact_add_v<min_plus<float>>);
static_assert(semiring<max_plus<double>> && idempotent_semiring<max_plus<double>>);
static_assert(semiring<max_min<std::int32_t>> && idempotent_semiring<max_min<std::int32_t>>);
static_assert(semiring<or_and> && idempotent_semiring<or_and> && !ring<or_and>);
static_assert(has_terminal_v<or_and> && has_terminal_v<min_plus<float>> && !has_terminal_v<plus_times<float>>);
static_assert(semiring_name_v<min_plus<float>> == "min_plus<f32>" && semiring_name_v<or_and> == "or_and");

} // namespace mmsb
