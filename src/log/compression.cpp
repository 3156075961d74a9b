// zstd compression of log record payloads (include/mmsb/log/compression.hpp).
#include <mmsb/log/compression.hpp>

#include <zstd.h>

#include <utility>

namespace mmsb::detail {

bool compress_payload(span<const std::byte> in, std::vector<std::byte>& out, int level)
{
  std::vector<std::byte> buf(ZSTD_compressBound(in.size()));
  const std::size_t n = ZSTD_compress(buf.data(), buf.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n) || n >= in.size()) return false;
  buf.resize(n);
  out = std::move(buf);
  return true;
}

bool decompress_payload(span<const std::byte> in, std::size_t raw_bytes, std::vector<std::byte>& out)
{
  out.resize(raw_bytes);
  const std::size_t n = ZSTD_decompress(out.data(), raw_bytes, in.data(), in.size());
  return !ZSTD_isError(n) && n == raw_bytes;
}

} // namespace mmsb::detail
