// Optional zstd compression of log record payloads. The checksum covers the compressed bytes (a
// damaged payload is caught before decompression); the header's raw length bounds the output,
// and it is checked against the record limit before anything is allocated.
#pragma once

#include <mmsb/core/span.hpp>

#include <zstd.h>

#include <cstddef>
#include <vector>

namespace mmsb::detail {

// Compresses `in` into `out`; returns false (out untouched) when compression does not shrink it.
inline bool compress_payload(span<const std::byte> in, std::vector<std::byte>& out, int level = 1)
{
  std::vector<std::byte> buf(ZSTD_compressBound(in.size()));
  const std::size_t n = ZSTD_compress(buf.data(), buf.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n) || n >= in.size()) return false;
  buf.resize(n);
  out = std::move(buf);
  return true;
}

// Decompresses into exactly raw_bytes bytes; false if the data does not decompress to that size.
inline bool decompress_payload(span<const std::byte> in, std::size_t raw_bytes, std::vector<std::byte>& out)
{
  out.resize(raw_bytes);
  const std::size_t n = ZSTD_decompress(out.data(), raw_bytes, in.data(), in.size());
  return !ZSTD_isError(n) && n == raw_bytes;
}

} // namespace mmsb::detail
