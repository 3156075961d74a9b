// What both modes of 03_compiler_ir share: timing and number formatting.
#pragma once

#include <mmsb/bus/tick.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace example03 {

using clock_type = std::chrono::steady_clock;

inline double micros(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// The median of v; 0 for no values.
inline double median(std::vector<double> v)
{
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

template <class T>
std::string format(const char* fmt, T v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// The timed part of an edit batch, per batch: the whole (sending the deltas, set_weights and the
// tick), the sending and new weights alone, and each tick phase (tick_report::phase).
struct tick_timings {
  std::vector<double> total;
  std::array<std::vector<double>, 1 + mmsb::tick_phase_count> phase;

  // One batch, started at start, its deltas and weights sent by sent, its tick's report r.
  void record(clock_type::time_point start, clock_type::time_point sent, const mmsb::tick_report& r)
  {
    total.push_back(micros(clock_type::now() - start));
    phase[0].push_back(micros(sent - start));
    for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p) phase[p + 1].push_back(micros(r.phase[p]));
  }
  // "send+set_weights A, ingest B, ...": each part's median in microseconds.
  [[nodiscard]] std::string phases() const
  {
    std::string out = format("send+set_weights %.1f", median(phase[0]));
    for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p)
      out += format(", %s", mmsb::phase_name(static_cast<mmsb::tick_phase>(p))) + format(" %.1f", median(phase[p + 1]));
    return out;
  }
};

} // namespace example03
