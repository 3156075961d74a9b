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

// "send+set_weights A, ingest B, ..." from per-tick samples: the time to send the batch's deltas and
// new weights, then each tick phase (tick_report::phase), each as its median in microseconds.
inline std::string phase_medians(const std::array<std::vector<double>, 1 + mmsb::tick_phase_count>& t)
{
  std::string out = format("send+set_weights %.1f", median(t[0]));
  for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p)
    out += format(", %s", mmsb::phase_name(static_cast<mmsb::tick_phase>(p))) + format(" %.1f", median(t[p + 1]));
  return out;
}

} // namespace example03
