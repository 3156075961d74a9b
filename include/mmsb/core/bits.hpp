// Bit utilities over arrays of 64-bit words: the representation of masks and packed booleans.
#pragma once

#include <mmsb/config/macros.hpp>

#include <cuda/std/bit>
#include <cstddef>
#include <cstdint>

namespace mmsb {

using word_t = std::uint64_t;
inline constexpr std::size_t word_bits = 64;

[[nodiscard]] MMSB_HD constexpr std::size_t words_for(std::size_t bits) noexcept
{
  return (bits + word_bits - 1) / word_bits;
}

[[nodiscard]] MMSB_HD constexpr bool test_bit(const word_t* words, std::size_t i) noexcept
{
  return (words[i / word_bits] >> (i % word_bits)) & 1u;
}

MMSB_HD constexpr void set_bit(word_t* words, std::size_t i) noexcept
{
  words[i / word_bits] |= word_t{1} << (i % word_bits);
}

MMSB_HD constexpr void clear_bit(word_t* words, std::size_t i) noexcept
{
  words[i / word_bits] &= ~(word_t{1} << (i % word_bits));
}

[[nodiscard]] MMSB_HD constexpr int popcount(word_t w) noexcept { return ::cuda::std::popcount(w); }
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
