// Alignment of page storage and allocator blocks: one cache line, so SIMD loads never split a
// line and two pages never share one.
#pragma once

#include <cstddef>

namespace mmsb {

inline constexpr std::size_t page_alignment = 64;

[[nodiscard]] constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

} // namespace mmsb
