// memory_budget: how many bytes of pages a store may keep in memory before it spills the
// coldest to a spill file (memory/spill_file.hpp, memory/page_table.hpp; docs/memory.md).
//
// The monitor reads the page allocator's statistics (live bytes: every page block in memory)
// plus the page table's own metadata. Over limit × high_watermark, the maintain phase spills
// the coldest clean pages until usage is at most limit × low_watermark, for at most `pause` per
// tick; what is left carries over to the next tick. The limit itself is a hard cap: a phase that
// finds usage over it when the pause runs out goes on spilling down to it.
#pragma once

#include <mmsb/config/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

namespace mmsb {

// A byte limit on resident pages (see the top of this header). limit_bytes == 0: no budget.
struct memory_budget {
  std::uint64_t limit_bytes = 0;         // 0: no budget, nothing is ever spilled
  double high_watermark = 0.9;           // spill when usage > limit × high
  double low_watermark = 0.75;           // ... down to usage <= limit × low
  std::chrono::microseconds pause{3000}; // the most one tick's maintain phase spends spilling (unless over the limit)
  // The directory of the spill file (must exist and be writable); empty: the system's temporary
  // directory (TMPDIR, else /tmp).
  std::string spill_dir;
  std::uint64_t spill_quota = std::numeric_limits<std::uint64_t>::max();  // the most bytes the spill file may grow to
  // Slots the spill file may keep per record it holds, in [1, 16] (memory/spill_file.hpp, SLOTS):
  // room to spare lets bursts go to long runs of adjacent slots; the file grows into it only
  // while new slots cost no more than refilled ones. 1: freed slots are always refilled.
  double spill_slack = 1.5;
  // The most pages one tick writes, which the budget must hold at its low watermark; 0: the
  // bus's ring_capacity (a full ring, every change to another page).
  std::size_t tick_pages = 0;
  // Ticks without a use that halve a page's use count, which ranks pages for spilling (fewest
  // recent uses first, then oldest; memory/detail/page_aging.hpp). Longer favours a stable hot
  // set; shorter forgets an old one sooner. At least 1.
  std::uint32_t half_life = 64;

  // Whether a budget is set (limit_bytes != 0).
  [[nodiscard]] bool on() const noexcept { return limit_bytes != 0; }

  // Throws mmsb::error (invalid_argument) naming the numbers when the budget cannot hold what
  // one tick must keep in memory: min_pages pages of page_bytes each (both named), at the low
  // watermark; or when the watermarks are not 0 < low <= high <= 1, or half_life is 0.
  void check(std::size_t page_bytes, std::size_t min_pages) const
  {
    if (!on()) return;
    if (half_life == 0) throw error(errc::invalid_argument, "memory budget: half_life must be at least 1 tick (it is 0)");
    if (!(low_watermark > 0 && low_watermark <= high_watermark && high_watermark <= 1))
      throw error(errc::invalid_argument, "memory budget: the watermarks must satisfy 0 < low <= high <= 1 (low " +
                                            std::to_string(low_watermark) + ", high " + std::to_string(high_watermark) + ")");
    const std::uint64_t need = std::uint64_t{page_bytes} * min_pages;
    if (low_bytes() < need)
      throw error(errc::invalid_argument,
                  "memory budget: " + std::to_string(limit_bytes) + " bytes (" + std::to_string(low_bytes()) +
                    " at the low watermark) cannot hold what one tick must keep in memory: " + std::to_string(min_pages) +
                    " pages of " + std::to_string(page_bytes) + " bytes = " + std::to_string(need) + " bytes");
  }
  // The usage spilling starts above: limit × high_watermark.
  [[nodiscard]] std::uint64_t high_bytes() const noexcept { return static_cast<std::uint64_t>(static_cast<double>(limit_bytes) * high_watermark); }
  // The usage spilling stops at: limit × low_watermark.
  [[nodiscard]] std::uint64_t low_bytes() const noexcept { return static_cast<std::uint64_t>(static_cast<double>(limit_bytes) * low_watermark); }
  // The spill directory in effect.
  [[nodiscard]] std::string directory() const
  {
    if (!spill_dir.empty()) return spill_dir;
    const char* t = std::getenv("TMPDIR");
    return t && *t ? std::string(t) : std::string("/tmp");
  }
};

// What one tick's maintain phase did about the budget.
struct spill_report {
  std::size_t spilled = 0;        // pages moved to the spill file this tick
  bool carried_over = false;      // still over the low watermark: the pause ran out, or an error stopped it
  bool over_limit = false;        // usage was over the limit itself: this phase spilled past its pause, down to the limit
  errc failure{};                 // errc{} or what stopped spilling (no_space: the disk or the quota is full)
  std::string message;            // that error's message, naming the page and the file
  std::size_t damaged = 0;        // spill records that failed their check since the last tick (never returned as pages)
  std::size_t rebuilt = 0;        // of those, pages rebuilt from the checkpoint and the log
  std::string damage;             // the last damaged record's message (page, file, offset; whether it was rebuilt)
};

} // namespace mmsb
