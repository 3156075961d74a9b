// xxh3-64 of long inputs through xxHash's run-time CPU dispatch: AVX2 or AVX-512 where the CPU
// has them, SSE2 otherwise, with the same values as XXH3_64bits and XXH3_64bits_withSeed.
// Debian's libxxhash's plain entry points run scalar code. On this VM (AVX2), a 2 KiB page takes
// 460 ns through libxxhash's XXH3_64bits and 42 ns dispatched; a 4 KiB log record's seeded
// checksum, inlined with our flags (SSE2), 135 ns and 82 ns dispatched. One translation unit
// includes the dispatch header (src/core/xxh3_wide.cpp): record.cpp inlines xxhash for its short
// inputs, and the dispatch header's declarations cannot share a file with that. Other CPUs: the
// plain calls.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mmsb::detail {

// XXH3_64bits(p, n), dispatched.
[[nodiscard]] std::uint64_t xxh3_wide(const void* p, std::size_t n) noexcept;
// XXH3_64bits_withSeed(p, n, seed), dispatched.
[[nodiscard]] std::uint64_t xxh3_wide_seeded(const void* p, std::size_t n, std::uint64_t seed) noexcept;

} // namespace mmsb::detail
