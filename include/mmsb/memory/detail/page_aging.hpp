// Page aging for the page table's spill choice (memory/page_table.hpp; docs/memory.md): each
// page keeps a small count of the epochs it was used in, halved for every `half_life` epochs it
// goes unused, and the epoch of its last use. The coldest page has the fewest recent uses, then
// the oldest last use. This is the classic aging (decayed frequency, as LFU with aging) rather
// than plain LRU: under skewed access a page touched once does not push out a page touched every
// tick. On Zipf(0.99) over 4x the budget it reloads about 30 % fewer pages than LRU (P12).
//
// The count is updated once per page per epoch, with plain loads and stores (no atomic
// read-modify-write): two threads touching one page in one epoch may count it once.
#pragma once

#include <algorithm>
#include <cstdint>

namespace mmsb::detail {

struct page_aging {
  static constexpr std::uint32_t max_uses = 15;         // counts saturate here (4 bits)
  static constexpr std::uint32_t max_age = 0x0FFFFFFF;  // older ages rank as this old (28 bits)

  std::uint32_t half_life = 64;  // epochs without a use that halve a page's count (>= 1)

  // The count `uses` (last used at `last`) decayed to the clock `now`.
  [[nodiscard]] std::uint32_t decayed(std::uint32_t uses, std::uint32_t last, std::uint32_t now) const noexcept
  {
    const std::uint32_t age = now - last;
    if (age < half_life) return uses;  // the common case for a warm page: no division
    const std::uint32_t halvings = age / half_life;
    return halvings >= 32 ? 0 : uses >> halvings;
  }
  // The count after a use at `now`.
  [[nodiscard]] std::uint32_t used(std::uint32_t uses, std::uint32_t last, std::uint32_t now) const noexcept
  {
    return std::min(decayed(uses, last, now) + 1, max_uses);
  }
  // How warm a page is at `now`: its decayed count, then its recency; lower spills first.
  [[nodiscard]] std::uint32_t heat(std::uint32_t uses, std::uint32_t last, std::uint32_t now) const noexcept
  {
    return (decayed(uses, last, now) << 28) | (max_age - std::min(now - last, max_age));
  }
};

} // namespace mmsb::detail
