// The semiring policy: the mmsb::semiring concept, the semiring_traits customization point
// and the capability flags the engine reads with `if constexpr`.
//
// A type opts in either through static members:
//
//   struct my_sr {
//     using value_type = int;
//     static constexpr int add(int a, int b) noexcept;   // ⊕, associative, identity zero()
//     static constexpr int mul(int a, int b) noexcept;   // ⊗, associative, identity one()
//     static constexpr int zero() noexcept;              // annihilates under ⊗
//     static constexpr int one() noexcept;
//     static constexpr bool idempotent_add = false;      // optional flags, default false
//     static constexpr bool commutative_add = true;
//     static constexpr bool has_inverse = false;         // true: also `static T sub(T, T)`
//     static constexpr bool selective_add = false;       // a ⊕ b is always a or b
//     static constexpr int terminal() noexcept;          // optional: terminal() ⊕ a == terminal()
//     static constexpr std::string_view name = "my_sr";  // for durable files; see below
//   };
//
// or, for a type it cannot edit, by specializing mmsb::semiring_traits<T> with the same members.
// Mark the functions MMSB_HD (or constexpr) so that device kernels can call them.
//
// `name` is what a store's files call the semiring (mmsb/bus/shape.hpp): printable ASCII without
// spaces or '=', stable across compilers and builds. A bus refuses a semiring without one; the
// built-ins are named "plus_times<f32>", "min_plus<i64>", "or_and", ... (mmsb/semiring/name.hpp).
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/core/strong_id.hpp>

#include <concepts>
#include <string_view>
#include <type_traits>

namespace mmsb {

// Primary template: empty, so mmsb::semiring<X> is false for an arbitrary X (not a hard error).
template <class S>
struct semiring_traits {};

namespace detail {
template <class S>
concept has_value_type_member = requires { typename S::value_type; };

// The member opt-in's `name`: present only when the type gives one (no default: a name must be
// chosen, never made up).
template <class S>
struct member_name {};
template <class S>
  requires requires { std::string_view(S::name); }
struct member_name<S> {
  static constexpr std::string_view name = S::name;
};
} // namespace detail

// The member opt-in. Each operation exists only if the type provides it, so the concept and the
// diagnostics below can say exactly which piece is missing.
template <detail::has_value_type_member S>
struct semiring_traits<S> : detail::member_name<S> {
  // The semiring's element type, S::value_type.
  using value_type = typename S::value_type;
  // Shorthand for value_type.
  using T = value_type;

  // ⊕: forwards S::add; present only when S has an add(a, b) convertible to T.
  MMSB_HD static constexpr T add(T a, T b) noexcept
    requires requires(T x) { { S::add(x, x) } -> std::convertible_to<T>; }
  { return S::add(a, b); }
  // ⊗: forwards S::mul; present only when S has a mul(a, b) convertible to T.
  MMSB_HD static constexpr T mul(T a, T b) noexcept
    requires requires(T x) { { S::mul(x, x) } -> std::convertible_to<T>; }
  { return S::mul(a, b); }
  // The identity of ⊕ and annihilator of ⊗: forwards S::zero; present only when S has one.
  MMSB_HD static constexpr T zero() noexcept
    requires requires { { S::zero() } -> std::convertible_to<T>; }
  { return S::zero(); }
  // The identity of ⊗: forwards S::one; present only when S has one.
  MMSB_HD static constexpr T one() noexcept
    requires requires { { S::one() } -> std::convertible_to<T>; }
  { return S::one(); }
  // The inverse of ⊕ (sub(add(a, b), b) == a): forwards S::sub; present only when S has one.
  MMSB_HD static constexpr T sub(T a, T b) noexcept
    requires requires(T x) { { S::sub(x, x) } -> std::convertible_to<T>; }
  { return S::sub(a, b); }
  // The annihilator of ⊕ (terminal() ⊕ a == a ⊕ terminal() == terminal() for every a): forwards
  // S::terminal; present only when S has one. A row sum that reaches it can stop early.
  MMSB_HD static constexpr T terminal() noexcept
    requires requires { { S::terminal() } -> std::convertible_to<T>; }
  { return S::terminal(); }

  // a ⊕ a == a: S::idempotent_add when S gives it, else false.
  static constexpr bool idempotent_add = [] {
    if constexpr (requires { S::idempotent_add; }) return bool(S::idempotent_add); else return false;
  }();
  // a ⊕ b == b ⊕ a: S::commutative_add when S gives it, else false.
  static constexpr bool commutative_add = [] {
    if constexpr (requires { S::commutative_add; }) return bool(S::commutative_add); else return false;
  }();
  // ⊕ has an inverse, sub(a, b): S::has_inverse when S gives it, else false.
  static constexpr bool has_inverse = [] {
    if constexpr (requires { S::has_inverse; }) return bool(S::has_inverse); else return false;
  }();
  // a ⊕ b is always a or b (min, max, or): S::selective_add when S gives it, else false.
  static constexpr bool selective_add = [] {
    if constexpr (requires { S::selective_add; }) return bool(S::selective_add); else return false;
  }();
  // ⊕ and ⊗ extend lane-wise to 64-bit words (| and &): S::bitwise when S gives it, else false.
  static constexpr bool bitwise = [] {
    if constexpr (requires { S::bitwise; }) return bool(S::bitwise); else return false;
  }();
  // ⊕ is associative bit for bit: S::exact_add when S gives it, else true unless T is floating
  // and ⊕ is not idempotent (+ over floats holds the merge law only up to rounding).
  static constexpr bool exact_add = [] {
    if constexpr (requires { S::exact_add; }) return bool(S::exact_add);
    else return !std::is_floating_point_v<T> || idempotent_add;
  }();
};

// The element type of semiring S: `semiring_traits<S>::value_type`.
template <class S>
using semiring_value_t = typename semiring_traits<S>::value_type;

namespace detail {
template <class S>
concept traits_have_value_type = requires { typename semiring_traits<S>::value_type; };
template <class S>
concept traits_have_add = traits_have_value_type<S> && requires(semiring_value_t<S> a) {
  { semiring_traits<S>::add(a, a) } -> std::same_as<semiring_value_t<S>>;
};
template <class S>
concept traits_have_mul = traits_have_value_type<S> && requires(semiring_value_t<S> a) {
  { semiring_traits<S>::mul(a, a) } -> std::same_as<semiring_value_t<S>>;
};
template <class S>
concept traits_have_zero = traits_have_value_type<S> && requires {
  { semiring_traits<S>::zero() } -> std::same_as<semiring_value_t<S>>;
};
template <class S>
concept traits_have_one = traits_have_value_type<S> && requires {
  { semiring_traits<S>::one() } -> std::same_as<semiring_value_t<S>>;
};
template <class S>
concept traits_have_sub = traits_have_value_type<S> && requires(semiring_value_t<S> a) {
  { semiring_traits<S>::sub(a, a) } -> std::same_as<semiring_value_t<S>>;
};
template <class S>
concept traits_have_terminal = traits_have_value_type<S> && requires {
  { semiring_traits<S>::terminal() } -> std::same_as<semiring_value_t<S>>;
};

} // namespace detail

// (value_type, ⊕, ⊗, 0, 1) over a trivially copyable value type: what pages can hold.
template <class S>
concept semiring = detail::traits_have_add<S> && detail::traits_have_mul<S> &&
                   detail::traits_have_zero<S> && detail::traits_have_one<S> &&
                   std::is_trivially_copyable_v<semiring_value_t<S>>;

// Capability flags, false when a traits specialization leaves them out.
#define MMSB_IMPL_TRAITS_FLAG(name)                                                                \
  [] {                                                                                             \
    if constexpr (requires { semiring_traits<S>::name; }) return bool(semiring_traits<S>::name);   \
    else return false;                                                                             \
  }()
// a ⊕ a == a (min, max, or): what monotone propagation and fixed-point regions require.
template <class S>
inline constexpr bool idempotent_add_v = MMSB_IMPL_TRAITS_FLAG(idempotent_add);
// a ⊕ b == b ⊕ a, per `semiring_traits<S>` (false when it leaves the flag out).
template <class S>
inline constexpr bool commutative_add_v = MMSB_IMPL_TRAITS_FLAG(commutative_add);
// ⊕ has an inverse, `semiring_traits<S>::sub` (plus_times); the concept mmsb::ring checks sub exists.
template <class S>
inline constexpr bool has_inverse_v = MMSB_IMPL_TRAITS_FLAG(has_inverse);
// ⊕ selects one of its operands (min, max, or): a value then comes from one term, so a term
// that got worse matters only where it was the one selected (graph propagation uses this).
template <class S>
inline constexpr bool selective_add_v = MMSB_IMPL_TRAITS_FLAG(selective_add);
// Packed-boolean semirings whose ⊕/⊗ extend lane-wise to 64-bit words (| and &).
template <class S>
inline constexpr bool bitwise_v = MMSB_IMPL_TRAITS_FLAG(bitwise);
#undef MMSB_IMPL_TRAITS_FLAG
// ⊕ has an annihilator, `semiring_traits<S>::terminal()` (true for or, -inf for min, +inf for max):
// a row sum  r = b ⊕ (w1 ⊗ x1) ⊕ ...  that reaches it is final, so sweeps and recomputes stop the
// row there; the result is the same value, bit for bit, as summing every term.
template <class S>
inline constexpr bool has_terminal_v = detail::traits_have_terminal<S>;
// ⊕ is associative bit for bit (integers, booleans, min/max selection); false for + over floats,
// where the merge law holds up to rounding only. A traits specialization that omits it gets the
// same default as the member opt-in.
template <class S>
inline constexpr bool exact_add_v = [] {
  if constexpr (requires { semiring_traits<S>::exact_add; }) return bool(semiring_traits<S>::exact_add);
  else return !std::is_floating_point_v<semiring_value_t<S>> || idempotent_add_v<S>;
}();

// Refinements the engine dispatches on.
template <class S>
concept idempotent_semiring = semiring<S> && idempotent_add_v<S>;
template <class S>
concept commutative_semiring = semiring<S> && commutative_add_v<S>;
template <class S>
concept ring = semiring<S> && has_inverse_v<S> && detail::traits_have_sub<S>;

// Names the missing piece of a would-be semiring with an `mmsb:` message. Entry points that take
// a Semiring parameter call this so a misuse reads as one line instead of a template backtrace.
template <class S>
constexpr bool require_semiring() noexcept
{
  if constexpr (!detail::traits_have_value_type<S>) {
    static_assert(detail::always_false<S>,
                  "mmsb: not a semiring: the type has no value_type; give it `using value_type = T;` "
                  "and static add/mul/zero/one, or specialize mmsb::semiring_traits");
  } else {
    static_assert(detail::traits_have_add<S>, "mmsb: semiring has no add(a, b) returning value_type (⊕)");
    static_assert(detail::traits_have_mul<S>, "mmsb: semiring has no mul(a, b) returning value_type (⊗)");
    static_assert(detail::traits_have_zero<S>, "mmsb: semiring has no zero(); add `static constexpr value_type zero() noexcept` (identity of ⊕)");
    static_assert(detail::traits_have_one<S>, "mmsb: semiring has no one(); add `static constexpr value_type one() noexcept` (identity of ⊗)");
    static_assert(std::is_trivially_copyable_v<semiring_value_t<S>>, "mmsb: a semiring's value_type must be trivially copyable");
    static_assert(!has_inverse_v<S> || detail::traits_have_sub<S>, "mmsb: semiring claims has_inverse but has no sub(a, b)");
  }
  return true;
}

} // namespace mmsb
