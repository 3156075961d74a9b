// bits<N>: N packed booleans in 64-bit words (bit i of word i/64 is slot i). Bits past N stay 0.
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/slot_block.hpp>

#include <cstddef>

namespace mmsb {

// N booleans packed 64 to a word (bit i % 64 of word i / 64 is slot i); bits past N stay 0.
template <std::size_t N>
struct bits {
  static_assert(N > 0, "mmsb: bits<N> needs N > 0");

  using value_type = bool;  // one bool per slot
  static constexpr std::size_t extent = N;  // the number of slots, N
  static constexpr std::size_t words = words_for(N);  // the number of 64-bit words, ceil(N / 64)
  static constexpr layout_kind kind = layout_kind::bits;  // recorded in log records

  // The packed words (bit i % 64 of words[i / 64] is slot i), aligned to page_alignment
  // (64 bytes), with no padding (page/slot_block.hpp). Bits past N stay 0.
  using storage_type = detail::word_block<word_t, words_for(N)>;

  // Slot i; requires i < N.
  MMSB_HD static constexpr bool load(const storage_type& s, std::size_t i) noexcept { return test_bit(s.words, i); }
  // Sets or clears slot i; requires i < N. Leaves the other bits of its word unchanged.
  MMSB_HD static constexpr void store(storage_type& s, std::size_t i, bool v) noexcept
  {
    if (v) set_bit(s.words, i); else clear_bit(s.words, i);
  }
  // The packed words (words of them), for word-wise ⊕/⊗ with bitwise semirings.
  MMSB_HD static constexpr word_t* data(storage_type& s) noexcept { return s.words; }
  // The packed words, read-only.
  MMSB_HD static constexpr const word_t* data(const storage_type& s) noexcept { return s.words; }
};

static_assert(layout<bits<4096>>);
static_assert(sizeof(bits<32768>::storage_type) == 4096);

} // namespace mmsb
