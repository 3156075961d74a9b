// Alignment of page storage and allocator blocks: one cache line, so SIMD loads never split a
// line and two pages never share one.
#pragma once

#include <cstddef>

namespace mmsb {

// Bytes: every page buffer and allocator block starts at a multiple of this.
inline constexpr std::size_t page_alignment = 64;

// Grows a vector's capacity to hold `need` elements, at least doubling it, so a sequence of
// one-more reservations stays linear (reserve(n) alone allocates exactly n).
template <class Vector>
void reserve_for(Vector& v, std::size_t need)
{
  if (v.capacity() < need) v.reserve(need > 2 * v.capacity() ? need : 2 * v.capacity());
}

// n rounded up to the next multiple of `to` (which must be non-zero); n itself if already one.
[[nodiscard]] constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

} // namespace mmsb
