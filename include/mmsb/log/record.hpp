// The framing of every log record: a 40-byte little-endian header and a payload, covered by one
// xxh3-64 checksum over header and payload, so a torn, truncated, bit-flipped, reordered or
// foreign record is detected. Fields are encoded one by one, never by copying a struct, so no
// padding byte can escape the checksum.
//
//   off size field
//     0    4 magic "MSBR"           lets a reader find the next record after damage, and so tell
//                                  mid-log corruption from a torn tail
//     4    4 payload length         checked against a limit before anything is allocated
//     8    1 type                   record_type (segment, commit, checkpoint, page)
//     9    1 flags                  bit 0: payload is zstd-compressed (log/compression.hpp)
//    10    2 reserved (0)
//    12    4 raw length             payload length before compression (= payload length if none)
//    16    8 epoch
//    24    8 transaction id
//    32    8 checksum               xxh3-64 of the payload seeded with xxh3-64 of bytes [0, 32)
//    40    … payload
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mmsb {

enum class record_type : std::uint8_t {
  segment = 1,     // first record of a segment file: payload names the format and the bus shape
  commit = 2,      // one committed transaction: its deltas
  checkpoint = 3,  // a durable checkpoint exists at this epoch (the log before it may go)
  page = 4,        // in a checkpoint file: one page (u32 id, then its payload bytes)
};

inline constexpr std::uint32_t record_magic = 0x5242534du;  // "MSBR" little-endian
inline constexpr std::size_t record_header_bytes = 40;
inline constexpr std::uint32_t default_max_record_bytes = 64u << 20;
inline constexpr std::uint8_t record_flag_compressed = 1;

struct record_header {
  record_type type{};
  std::uint8_t flags = 0;
  std::uint32_t payload_bytes = 0;
  std::uint32_t raw_bytes = 0;
  mmsb::epoch epoch{};
  txn_id txn{};
  std::uint64_t checksum = 0;
};

namespace detail {
inline void store_le(std::byte* out, std::uint64_t v, std::size_t n) noexcept
{
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}
inline std::uint64_t load_le(const std::byte* in, std::size_t n) noexcept
{
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}
// xxh3-64 of the payload, seeded with xxh3-64 of header bytes [0, 32): covers both, with the
// one-shot functions (no streaming state to allocate or to size at compile time).
inline std::uint64_t record_checksum(const std::byte* header, span<const std::byte> payload) noexcept
{
  const XXH64_hash_t seed = XXH3_64bits(header, 32);
  return XXH3_64bits_withSeed(payload.empty() ? static_cast<const void*>(header) : payload.data(), payload.size(), seed);
}
inline bool known_type(std::uint8_t t) noexcept { return t >= 1 && t <= 4; }
} // namespace detail

// Appends one framed record to out. Throws mmsb::error (size_mismatch) if the payload exceeds
// max_bytes, with out unchanged.
inline void encode_record(std::vector<std::byte>& out, record_type type, mmsb::epoch e, txn_id txn,
                          span<const std::byte> payload, std::uint8_t flags = 0, std::uint32_t raw_bytes = 0,
                          std::uint32_t max_bytes = default_max_record_bytes)
{
  if (payload.size() > max_bytes)
    throw error(errc::size_mismatch, "log record of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                       std::to_string(max_bytes) + " bytes");
  std::byte h[record_header_bytes];
  detail::store_le(h + 0, record_magic, 4);
  detail::store_le(h + 4, payload.size(), 4);
  h[8] = static_cast<std::byte>(type);
  h[9] = static_cast<std::byte>(flags);
  detail::store_le(h + 10, 0, 2);
  detail::store_le(h + 12, (flags & record_flag_compressed) ? raw_bytes : payload.size(), 4);
  detail::store_le(h + 16, e.value(), 8);
  detail::store_le(h + 24, txn.value(), 8);
  detail::store_le(h + 32, detail::record_checksum(h, payload), 8);
  reserve_for(out, out.size() + record_header_bytes + payload.size());
  out.insert(out.end(), h, h + record_header_bytes);
  out.insert(out.end(), payload.begin(), payload.end());
}

// Why a header or record was refused.
enum class record_fault : std::uint8_t {
  none, short_header, bad_magic, bad_field, too_large, short_payload, bad_checksum,
  bad_order,   // a commit whose epoch is not its predecessor's + 1 (reordered, duplicated or missing)
  bad_segment, // a segment that does not open with this log's segment record
  bad_payload, // a compressed payload that does not decompress to its recorded length
};

[[nodiscard]] constexpr const char* to_string(record_fault f) noexcept
{
  switch (f) {
  case record_fault::none: return "valid";
  case record_fault::short_header: return "truncated header";
  case record_fault::bad_magic: return "bad magic";
  case record_fault::bad_field: return "invalid header field";
  case record_fault::too_large: return "length over the record limit";
  case record_fault::short_payload: return "truncated payload";
  case record_fault::bad_checksum: return "checksum mismatch";
  case record_fault::bad_order: return "epoch out of sequence (reordered, duplicated or missing record)";
  case record_fault::bad_segment: return "segment does not start with this log's segment record";
  case record_fault::bad_payload: return "payload does not decompress to its recorded length";
  }
  return "unknown";
}

// Parses a header from the first 40 bytes of `bytes` without trusting anything: magic, reserved
// bits, type and the length limit are checked before the caller allocates for the payload.
[[nodiscard]] inline record_fault parse_record_header(span<const std::byte> bytes, record_header& out,
                                                      std::uint32_t max_bytes = default_max_record_bytes) noexcept
{
  if (bytes.size() < record_header_bytes) return record_fault::short_header;
  const std::byte* h = bytes.data();
  if (detail::load_le(h, 4) != record_magic) return record_fault::bad_magic;
  const auto type = static_cast<std::uint8_t>(h[8]);
  const auto flags = static_cast<std::uint8_t>(h[9]);
  if (!detail::known_type(type) || (flags & ~record_flag_compressed) != 0 || detail::load_le(h + 10, 2) != 0)
    return record_fault::bad_field;
  out.type = static_cast<record_type>(type);
  out.flags = flags;
  out.payload_bytes = static_cast<std::uint32_t>(detail::load_le(h + 4, 4));
  out.raw_bytes = static_cast<std::uint32_t>(detail::load_le(h + 12, 4));
  out.epoch = mmsb::epoch{detail::load_le(h + 16, 8)};
  out.txn = txn_id{detail::load_le(h + 24, 8)};
  out.checksum = detail::load_le(h + 32, 8);
  if (out.payload_bytes > max_bytes || out.raw_bytes > max_bytes) return record_fault::too_large;
  if (!(flags & record_flag_compressed) && out.raw_bytes != out.payload_bytes) return record_fault::bad_field;
  return record_fault::none;
}

// Checks a whole record (header and payload) at the start of `bytes`; on success `payload`
// views its payload inside `bytes`.
[[nodiscard]] inline record_fault check_record(span<const std::byte> bytes, record_header& header,
                                               span<const std::byte>& payload,
                                               std::uint32_t max_bytes = default_max_record_bytes) noexcept
{
  if (const auto f = parse_record_header(bytes, header, max_bytes); f != record_fault::none) return f;
  if (bytes.size() - record_header_bytes < header.payload_bytes) return record_fault::short_payload;
  payload = bytes.subspan(record_header_bytes, header.payload_bytes);
  if (detail::record_checksum(bytes.data(), payload) != header.checksum) return record_fault::bad_checksum;
  return record_fault::none;
}

// The offset of the next valid record after `from` in `bytes`, or bytes.size() if none: a valid
// record after damage means the damage is mid-log corruption, not a torn tail.
[[nodiscard]] inline std::size_t find_next_record(span<const std::byte> bytes, std::size_t from,
                                                  std::uint32_t max_bytes = default_max_record_bytes) noexcept
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
