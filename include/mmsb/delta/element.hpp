// The per-element law every apply and merge path shares (scalar, SIMD and CUDA):
//   apply:  x' = assign ? v : x ⊕ v
//   merge:  (a then b) = (a.assign || b.assign,  b.assign ? b.v : a.v ⊕ b.v)
// so that apply(apply(x, a), b) == apply(x, merge(a, b)) whenever ⊕ is associative.
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cstdint>

namespace mmsb {

// How a masked element changes: accumulate (x ← x ⊕ v) or assign (x ← v).
enum class delta_op : std::uint8_t { accumulate = 0, assign = 1 };

// x' = assign ? v : x ⊕ v: one slot of x after one masked delta element (v, assign).
template <semiring Semiring>
[[nodiscard]] MMSB_HD constexpr semiring_value_t<Semiring>
apply_element(semiring_value_t<Semiring> x, bool assign, semiring_value_t<Semiring> v) noexcept
{
  return assign ? v : semiring_traits<Semiring>::add(x, v);
}

// One masked element of a delta.
template <class T>
struct delta_element {
  bool assign;  // set: x ← value; clear: x ← x ⊕ value
  T value;  // the element's value
};

// The element equivalent to a then b: assign if either assigns; the value is b's when b assigns,
// else a.value ⊕ b.value. Associative whenever ⊕ is.
template <semiring Semiring>
[[nodiscard]] MMSB_HD constexpr delta_element<semiring_value_t<Semiring>>
merge_element(delta_element<semiring_value_t<Semiring>> a, delta_element<semiring_value_t<Semiring>> b) noexcept
{
  return {a.assign || b.assign, b.assign ? b.value : semiring_traits<Semiring>::add(a.value, b.value)};
}

} // namespace mmsb
