// xxh3-64 through xxHash's run-time CPU dispatch (src/core/xxh3_wide.hpp).
#include "core/xxh3_wide.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <xxh_x86dispatch.h>  // redirects the XXH3 calls below to their *_dispatch versions
#else
#include <xxhash.h>
#endif

namespace mmsb::detail {

std::uint64_t xxh3_wide(const void* p, std::size_t n) noexcept { return XXH3_64bits(p, n); }

std::uint64_t xxh3_wide_seeded(const void* p, std::size_t n, std::uint64_t seed) noexcept { return XXH3_64bits_withSeed(p, n, seed); }

} // namespace mmsb::detail
