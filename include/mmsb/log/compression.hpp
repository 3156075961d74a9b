// Optional zstd compression of log record payloads. The checksum covers the compressed bytes (a
// damaged payload is caught before decompression); the header's raw length bounds the output,
// and it is checked against the record limit before anything is allocated.
//
// Compiled into libmmsb (src/log/compression.cpp), so <zstd.h> stays out of user code.
#pragma once

#include <mmsb/core/span.hpp>

#include <cstddef>
#include <vector>

namespace mmsb::detail {

// Compresses `in` into `out`; returns false (out untouched) when compression does not shrink it.
bool compress_payload(span<const std::byte> in, std::vector<std::byte>& out, int level = 1);

// Decompresses into exactly raw_bytes bytes; false if the data does not decompress to that size.
bool decompress_payload(span<const std::byte> in, std::size_t raw_bytes, std::vector<std::byte>& out);

} // namespace mmsb::detail
