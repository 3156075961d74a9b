// The benchmarks' environment knobs: a size from an environment variable, or a default when it is
// unset or empty (MMSB_BENCH_P11_PAGES=256 for a smoke run, say).
#pragma once

#include <cstddef>
#include <cstdlib>

namespace mmsb::bench {

inline std::size_t env_size(const char* name, std::size_t fallback)
{
  const char* v = std::getenv(name);
  return v && *v ? static_cast<std::size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

} // namespace mmsb::bench
