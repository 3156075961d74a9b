// The layout policy: what a page holds. A layout names its element type, its element count and
// a trivially copyable storage block, with MMSB_HD load/store of element i.
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/core/alignment.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mmsb {

// Recorded in log records and checked when a delta meets a page built for another layout.
enum class layout_kind : std::uint8_t { dense = 1, bits = 2, soa = 3 };

// A layout L provides:
//   L::value_type     the semiring element type of one slot (bool for bits<N>)
//   L::storage_type   a trivially copyable block holding all slots; value-initialized = all zero
//   L::extent         the number of slots
//   L::kind           its layout_kind
//   L::load(s, i), L::store(s, i, v)   MMSB_HD element access, i < extent
template <class L>
concept layout = requires(typename L::storage_type& s, const typename L::storage_type& cs, std::size_t i,
                          typename L::value_type v) {
  typename L::value_type;
  typename L::storage_type;
  { L::extent } -> std::convertible_to<std::size_t>;
  { L::kind } -> std::convertible_to<layout_kind>;
  { L::load(cs, i) } -> std::same_as<typename L::value_type>;
  { L::store(s, i, v) } -> std::same_as<void>;
} && std::is_trivially_copyable_v<typename L::storage_type> && (L::extent > 0);

} // namespace mmsb
