// dense<T, N>: N contiguous values of T, the common layout (4 KiB = dense<float, 1024>).
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/slot_block.hpp>

#include <cstddef>
#include <type_traits>

namespace mmsb {

// N contiguous values of a trivially copyable T, cache-line aligned; slot i is values[i].
template <class T, std::size_t N>
struct dense {
  static_assert(std::is_trivially_copyable_v<T>, "mmsb: dense<T, N> needs a trivially copyable T");
  static_assert(N > 0, "mmsb: dense<T, N> needs N > 0");

  using value_type = T;  // the element type of one slot
  static constexpr std::size_t extent = N;  // the number of slots, N
  static constexpr layout_kind kind = layout_kind::dense;  // recorded in log records

  // N values of T (slot i is values[i]), aligned to page_alignment (64 bytes), with no padding
  // (page/slot_block.hpp).
  using storage_type = detail::value_block<T, N>;

  // Slot i; requires i < N.
  MMSB_HD static constexpr T load(const storage_type& s, std::size_t i) noexcept { return s.values[i]; }
  // Sets slot i to v; requires i < N.
  MMSB_HD static constexpr void store(storage_type& s, std::size_t i, T v) noexcept { s.values[i] = v; }
  // The N values, contiguous.
  MMSB_HD static constexpr T* data(storage_type& s) noexcept { return s.values; }
  // The N values, contiguous, read-only.
  MMSB_HD static constexpr const T* data(const storage_type& s) noexcept { return s.values; }
};

static_assert(layout<dense<float, 1024>>);
static_assert(sizeof(dense<float, 1024>::storage_type) == 4096);

} // namespace mmsb
