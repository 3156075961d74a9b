// Bit utilities over arrays of 64-bit words: the representation of masks and packed booleans.
#pragma once

#include <mmsb/config/macros.hpp>

#include <cuda/std/bit>
#include <cstddef>
#include <cstdint>

namespace mmsb {

using word_t = std::uint64_t;               // one word of a bit array; bit i lives in word i / 64
inline constexpr std::size_t word_bits = 64;  // bits per word_t

// Words needed to hold `bits` bits (rounded up).
[[nodiscard]] MMSB_HD constexpr std::size_t words_for(std::size_t bits) noexcept
{
  return (bits + word_bits - 1) / word_bits;
}

// Bit i of the array (bit i % 64 of word i / 64). No bounds check: i must be in range.
[[nodiscard]] MMSB_HD constexpr bool test_bit(const word_t* words, std::size_t i) noexcept
{
  return (words[i / word_bits] >> (i % word_bits)) & 1u;
}

// Sets bit i to 1. No bounds check; not atomic.
MMSB_HD constexpr void set_bit(word_t* words, std::size_t i) noexcept
{
  words[i / word_bits] |= word_t{1} << (i % word_bits);
}

// Sets bit i to 0. No bounds check; not atomic.
MMSB_HD constexpr void clear_bit(word_t* words, std::size_t i) noexcept
{
  words[i / word_bits] &= ~(word_t{1} << (i % word_bits));
}

// Number of set bits in w.
[[nodiscard]] MMSB_HD constexpr int popcount(word_t w) noexcept { return ::cuda::std::popcount(w); }
// Index of w's lowest set bit; 64 when w is 0.
[[nodiscard]] MMSB_HD constexpr int countr_zero(word_t w) noexcept { return ::cuda::std::countr_zero(w); }

// Number of set bits in the first `bits` bits of `words`.
[[nodiscard]] MMSB_HD constexpr std::size_t count_bits(const word_t* words, std::size_t bits) noexcept
{
  std::size_t n = 0;
  const std::size_t full = bits / word_bits;
  for (std::size_t w = 0; w < full; ++w) n += static_cast<std::size_t>(popcount(words[w]));
  if (const std::size_t rest = bits % word_bits; rest != 0)
    n += static_cast<std::size_t>(popcount(words[full] & ((word_t{1} << rest) - 1)));
  return n;
}

} // namespace mmsb
