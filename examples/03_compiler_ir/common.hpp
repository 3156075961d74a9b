// What both modes of 03_compiler_ir share: timing and number formatting.
#pragma once

#include <algorithm>
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

} // namespace example03
