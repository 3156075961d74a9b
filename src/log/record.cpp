// Record framing (include/mmsb/log/record.hpp): encoding, parsing and checking of log records.
#include <mmsb/log/record.hpp>

#include <mmsb/core/alignment.hpp>

#include "core/xxh3_wide.hpp"

// The one-shot xxh3 functions inlined here (xxHash's own switch, local to this file), so the
// 32-byte header hash compiles for its fixed length and short payloads take no library call:
// per record, the checksum is most of what the log adds to a bare write or read.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <bit>
#include <cstring>

#include <string>

namespace mmsb {

namespace {
// Little-endian fixed-width fields: one load or store each on a little-endian host.
template <class T>
T load(const std::byte* p) noexcept
{
  if constexpr (std::endian::native == std::endian::big) return static_cast<T>(detail::load_le(p, sizeof(T)));
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <class T>
void store(std::byte* p, T v) noexcept
{
  if constexpr (std::endian::native == std::endian::big) detail::store_le(p, v, sizeof(T));
  else std::memcpy(p, &v, sizeof(T));
}

// Payloads from this size on (xxh3's long-input path) are hashed through the CPU dispatch
// (core/xxh3_wide.hpp): the same value, in wider vectors. A record's checksum on this VM (AVX2),
// inlined -> dispatched: 256 B 35 -> 26 ns, 1 KiB 46 -> 36 ns, 4 KiB 135 -> 82 ns. Shorter
// payloads stay inlined.
constexpr std::size_t wide_bytes = 256;

inline std::uint64_t checksum(const std::byte* header, const std::byte* payload, std::size_t n) noexcept
{
  const XXH64_hash_t seed = XXH3_64bits(header, 32);
  if (n >= wide_bytes) return detail::xxh3_wide_seeded(payload, n, seed);
  return XXH3_64bits_withSeed(n == 0 ? static_cast<const void*>(header) : payload, n, seed);
}
} // namespace

std::uint64_t detail::record_checksum(const std::byte* header, span<const std::byte> payload) noexcept
{
  return checksum(header, payload.data(), payload.size());
}

void detail::encode_record_into(std::byte* out, record_type type, mmsb::epoch e, txn_id txn, span<const std::byte> payload,
                                std::uint8_t flags, std::uint32_t raw_bytes) noexcept
{
  std::byte* h = out;
  const auto length = static_cast<std::uint32_t>(payload.size());
  const std::uint32_t raw = (flags & record_flag_compressed) ? raw_bytes : length;
  // The first 16 bytes as two 8-byte words, so that the header hash's 8-byte loads right after
  // are forwarded from stores of the same width (narrower stores under a wider load stall the
  // load until they reach the cache: a quarter of encode's time, measured).
  store<std::uint64_t>(h + 0, std::uint64_t{record_magic} | std::uint64_t{length} << 32);
  store<std::uint64_t>(h + 8, std::uint64_t{static_cast<std::uint8_t>(type)} | std::uint64_t{flags} << 8 |
                                  std::uint64_t{raw} << 32);
  store<std::uint64_t>(h + 16, e.value());
  store<std::uint64_t>(h + 24, txn.value());
  if (!payload.empty()) std::memcpy(out + record_header_bytes, payload.data(), payload.size());
  // Over the copy, which is hot in cache, rather than the caller's bytes: what is checked is what is written.
  store<std::uint64_t>(h + 32, checksum(h, out + record_header_bytes, payload.size()));
}

void encode_record(std::vector<std::byte>& out, record_type type, mmsb::epoch e, txn_id txn, span<const std::byte> payload,
                   std::uint8_t flags, std::uint32_t raw_bytes, std::uint32_t max_bytes)
{
  if (payload.size() > max_bytes)
    throw error(errc::size_mismatch, "log record of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                       std::to_string(max_bytes) + " bytes");
  const std::size_t at = out.size();
  reserve_for(out, at + record_header_bytes + payload.size());
  out.resize(at + record_header_bytes + payload.size());
  detail::encode_record_into(out.data() + at, type, e, txn, payload, flags, raw_bytes);
}

namespace {
// The header checks, inlined into both public entry points (check_record runs once per record
// on replay).
inline record_fault parse_header(const std::byte* h, std::size_t available, record_header& out, std::uint32_t max_bytes) noexcept
{
  if (available < record_header_bytes) return record_fault::short_header;
  if (load<std::uint32_t>(h) != record_magic) return record_fault::bad_magic;
  const auto type = static_cast<std::uint8_t>(h[8]);
  const auto flags = static_cast<std::uint8_t>(h[9]);
  if (!detail::known_type(type) || (flags & ~record_flag_compressed) != 0 || load<std::uint16_t>(h + 10) != 0)
    return record_fault::bad_field;
  out.type = static_cast<record_type>(type);
  out.flags = flags;
  out.payload_bytes = load<std::uint32_t>(h + 4);
  out.raw_bytes = load<std::uint32_t>(h + 12);
  out.epoch = mmsb::epoch{load<std::uint64_t>(h + 16)};
  out.txn = txn_id{load<std::uint64_t>(h + 24)};
  out.checksum = load<std::uint64_t>(h + 32);
  if (out.payload_bytes > max_bytes || out.raw_bytes > max_bytes) return record_fault::too_large;
  if (!(flags & record_flag_compressed) && out.raw_bytes != out.payload_bytes) return record_fault::bad_field;
  return record_fault::none;
}
} // namespace

record_fault parse_record_header(span<const std::byte> bytes, record_header& out, std::uint32_t max_bytes) noexcept
{
  return parse_header(bytes.data(), bytes.size(), out, max_bytes);
}

record_fault check_record(span<const std::byte> bytes, record_header& header, span<const std::byte>& payload,
                          std::uint32_t max_bytes) noexcept
{
  if (const auto f = parse_header(bytes.data(), bytes.size(), header, max_bytes); f != record_fault::none) return f;
  if (bytes.size() - record_header_bytes < header.payload_bytes) return record_fault::short_payload;
  payload = bytes.subspan(record_header_bytes, header.payload_bytes);
  if (checksum(bytes.data(), payload.data(), payload.size()) != header.checksum) return record_fault::bad_checksum;
  return record_fault::none;
}

std::size_t find_next_record(span<const std::byte> bytes, std::size_t from, std::uint32_t max_bytes) noexcept
{
  for (std::size_t off = from; off + record_header_bytes <= bytes.size(); ++off) {
    if (static_cast<unsigned char>(bytes[off]) != (record_magic & 0xffu)) continue;
    record_header h;
    span<const std::byte> p;
    if (check_record(bytes.subspan(off), h, p, max_bytes) == record_fault::none) return off;
  }
  return bytes.size();
}

} // namespace mmsb
