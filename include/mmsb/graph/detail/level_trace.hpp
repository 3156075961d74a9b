// detail::level_trace: propagation's trace zones (core/trace.hpp): one zone per level of a wave
// (arg: the level) and one per fixed-point region solved (arg: its rounds). Off (one branch per
// unit) unless the page graph was given a sink (page_graph::set_trace).
#pragma once

#include <mmsb/core/trace.hpp>

#include <cstddef>
#include <cstdint>

namespace mmsb::detail {

class level_trace {
public:
  // Where zones go from now on (off by default).
  void set(trace_sink t) noexcept { sink_ = t; }
  // A unit is about to run: the current level's zone starts, if it has not.
  void unit_starting() noexcept
  {
    if (sink_.on() && began_ == 0) began_ = trace_clock();
  }
  // The wave leaves (or stops in) `level`: its zone ends.
  void level_ended(std::size_t level) noexcept
  {
    if (began_ == 0) return;
    sink_.record(trace_zone::level, began_, trace_clock(), level);
    began_ = 0;
  }
  // Drops the open level zone (an error unwinds the wave).
  void abandon() noexcept { began_ = 0; }
  // Runs solve() (a region solve, returning its rounds) as one region zone.
  template <class Solve>
  auto region(Solve&& solve)
  {
    const std::uint64_t at = sink_.now();
    const auto rounds = solve();
    sink_.record(trace_zone::region, at, trace_clock(), rounds);
    return rounds;
  }

private:
  trace_sink sink_{};
  std::uint64_t began_ = 0;  // trace_clock() when the traced level began; 0: none open
};

} // namespace mmsb::detail
