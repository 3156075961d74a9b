// The compile-time check that a semiring and a layout can form a delta or a bus: the semiring's
// value_type must be the layout's slot type.
#pragma once

#include <mmsb/page/layout.hpp>
#include <mmsb/semiring/concept.hpp>

#include <type_traits>

namespace mmsb {

// Fails to compile, with an "mmsb: " message naming the fix, unless Semiring is a semiring, Layout
// a layout, and the semiring's value_type is the layout's; returns true otherwise. Use it in a
// static_assert.
template <class Semiring, class Layout>
constexpr bool require_compatible() noexcept
{
  static_assert(require_semiring<Semiring>());
  static_assert(layout<Layout>,
                "mmsb: not a layout: use dense<T, N>, bits<N> or soa<N, Fields...>, or provide value_type, "
                "storage_type, extent, kind, load and store (see mmsb/page/layout.hpp)");
  if constexpr (semiring<Semiring> && layout<Layout>) {
    static_assert(std::is_same_v<semiring_value_t<Semiring>, typename Layout::value_type>,
                  "mmsb: the semiring's value_type differs from the layout's value_type; "
                  "pick e.g. min_plus<float> with dense<float, N>, or or_and with bits<N>");
  }
  return true;
}

} // namespace mmsb
