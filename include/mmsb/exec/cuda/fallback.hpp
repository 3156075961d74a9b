// The one warning the CUDA path prints when it falls back to the CPU (no device, no driver,
// MMSB_FORCE_CPU, or a device step that failed). Once per process, to stderr.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

namespace mmsb::gpu {

namespace detail {
inline std::atomic<unsigned>& fallback_count() noexcept
{
  static std::atomic<unsigned> n{0};
  return n;
}
} // namespace detail

// How many times a store fell back in this process (the warning is printed for the first only).
[[nodiscard]] inline unsigned fallback_events() noexcept { return detail::fallback_count().load(); }

// Counts a fallback and, for the first in the process only, prints "mmsb: warning: GPU path
// unavailable, continuing on the CPU: REASON" to stderr. Thread-safe.
inline void warn_fallback(const std::string& reason) noexcept
{
  if (detail::fallback_count().fetch_add(1) == 0)
    std::fprintf(stderr, "mmsb: warning: GPU path unavailable, continuing on the CPU: %s\n", reason.c_str());
}

} // namespace mmsb::gpu
