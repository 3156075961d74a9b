// The tick: the bus's unit of work, in five timed phases, with an optional budget for propagation
// and per-phase statistics (p50, p99) over the most recent ticks.
//
//   ingest      drain every producer's ring into one batch; unknown pages go back as errors
//   merge       order by (page, epoch, producer, sequence) and merge one delta per page
//   apply_log   log the merged deltas as one commit (write-ahead), then apply them in parallel
//   propagate   carry the changes through the page graph, within the budget if one is given
//   maintain    begin a background checkpoint every `checkpoint_every` ticks (retried next tick
//               while one is still in flight)
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <mmsb/core/ids.hpp>
#include <mmsb/memory/budget.hpp>

namespace mmsb {

// The five phases of a tick, in order (see the top of this header).
enum class tick_phase : std::uint8_t { ingest, merge, apply_log, propagate, maintain };
// The number of tick phases.
inline constexpr std::size_t tick_phase_count = 5;
// The phase's name ("ingest", "apply_log", ...).
[[nodiscard]] constexpr const char* phase_name(tick_phase p) noexcept
{
  constexpr const char* names[] = {"ingest", "merge", "apply_log", "propagate", "maintain"};
  return names[static_cast<std::size_t>(p)];
}

// Time allowed to propagation in one tick. Once it is spent, propagation stops between units and
// the unfinished frontier carries over to the next tick (the tick reports it). At least one unit
// runs per tick, so every tick makes progress.
struct tick_budget {
  std::chrono::nanoseconds propagate = std::chrono::nanoseconds::max();  // the time allowed to propagation; max (the default) means unbounded
  // True when no propagation budget is set.
  [[nodiscard]] bool unbounded() const noexcept { return propagate == std::chrono::nanoseconds::max(); }
};

// What one tick did: its epoch, how many changes and pages, whether propagation finished, and how
// long each phase took.
struct tick_report {
  mmsb::epoch epoch{};             // the commit's epoch; unchanged when the tick had no changes
  std::size_t changes = 0;         // slot changes drained from the rings
  std::size_t pages = 0;           // pages changed (merged deltas applied)
  std::size_t rejected = 0;        // changes sent back to their producers as errors
  bool propagation_complete = true;  // false when the budget ran out with propagation work still queued (see frontier)
  std::size_t frontier = 0;        // units left queued for the next tick
  std::array<std::chrono::nanoseconds, tick_phase_count> phase{};  // each phase's duration, indexed by tick_phase
  // Only in the first tick after opening: acknowledged commits the opening recovery dropped (a
  // store opened with recovery_mode::point_in_time over mid-log corruption; the store's
  // recovery() has where and why). 0 otherwise.
  std::uint64_t lost_on_open = 0;
  // The memory budget's work this tick (bus_options::memory; all zero without one): pages
  // spilled, whether usage is still over the low watermark (the pause ran out, a checkpoint
  // was in flight, or the spill file failed: failure and message say which), and spill records
  // found damaged since the last tick (rebuilt from the checkpoint and log, or reported).
  spill_report spill{};
};

// The last `window` durations of each phase; percentiles by nearest rank.
class tick_stats {
public:
  static constexpr std::size_t window = 1024;  // the number of recent ticks each phase's statistics cover

  tick_stats()
  {
    for (auto& s : samples_) s.reserve(window);  // recording never allocates
  }
  // Records one tick's phase durations, dropping the oldest beyond `window`; never allocates.
  void record(const tick_report& r) noexcept
  {
    for (std::size_t p = 0; p < tick_phase_count; ++p) {
      auto& s = samples_[p];
      if (s.size() < window) s.push_back(r.phase[p]);
      else s[ticks_ % window] = r.phase[p];
    }
    ++ticks_;
  }
  // The number of ticks recorded so far.
  [[nodiscard]] std::uint64_t ticks() const noexcept { return ticks_; }
  // The q-quantile (0 ≤ q ≤ 1) of the phase's recent durations; zero before the first tick.
  [[nodiscard]] std::chrono::nanoseconds percentile(tick_phase p, double q) const
  {
    auto s = samples_[static_cast<std::size_t>(p)];
    if (s.empty()) return {};
    const auto rank = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(s.size() - 1) + 0.5);
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(rank), s.end());
    return s[rank];
  }
  // The median of the phase's recent durations.
  [[nodiscard]] std::chrono::nanoseconds p50(tick_phase p) const { return percentile(p, 0.50); }
  // The 99th percentile of the phase's recent durations.
  [[nodiscard]] std::chrono::nanoseconds p99(tick_phase p) const { return percentile(p, 0.99); }

private:
  std::array<std::vector<std::chrono::nanoseconds>, tick_phase_count> samples_;
  std::uint64_t ticks_ = 0;
};

} // namespace mmsb
