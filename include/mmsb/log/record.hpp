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
//
// Encoding, parsing and checking are compiled into libmmsb (src/log/record.cpp), so <xxhash.h>
// stays out of this header.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mmsb {

// What a record holds (the header's type byte).
enum class record_type : std::uint8_t {
  segment = 1,     // first record of a segment file: payload names the format and the bus shape
  commit = 2,      // one committed transaction: its deltas
  checkpoint = 3,  // a durable checkpoint exists at this epoch (the log before it may go)
  page = 4,        // in a checkpoint file: one page (u32 id, then its payload bytes)
  structure = 5,   // in a checkpoint file: what the pages mean beyond their bytes (the bus's
                   // topology), opaque to the log
};

inline constexpr std::uint32_t record_magic = 0x5242534du;  // "MSBR" little-endian
inline constexpr std::size_t record_header_bytes = 40;  // the fixed header that precedes every payload
inline constexpr std::uint32_t default_max_record_bytes = 64u << 20;  // the default payload limit (64 MiB); longer records are refused
inline constexpr std::uint8_t record_flag_compressed = 1;  // flags bit 0: the payload is zstd-compressed

// A record's header, parsed (see the layout at the top of this header); the magic and reserved
// bytes are checked, not kept.
struct record_header {
  record_type type{};  // what the payload holds
  std::uint8_t flags = 0;  // record_flag_compressed or 0
  std::uint32_t payload_bytes = 0;  // the payload's length as stored
  std::uint32_t raw_bytes = 0;  // the payload's length before compression (= payload_bytes if not compressed)
  mmsb::epoch epoch{};  // a commit's or checkpoint's epoch; a page record's page epoch
  txn_id txn{};  // a commit's transaction id; 0 in the other records
  std::uint64_t checksum = 0;  // xxh3-64 over header and payload, as stored
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
[[nodiscard]] std::uint64_t record_checksum(const std::byte* header, span<const std::byte> payload) noexcept;
inline bool known_type(std::uint8_t t) noexcept { return t >= 1 && t <= 5; }

// Writes one framed record (header, then payload) to out[0, record_header_bytes + payload.size()),
// which the caller sized; the caller also checked the payload against its limit.
void encode_record_into(std::byte* out, record_type type, mmsb::epoch e, txn_id txn, span<const std::byte> payload,
                        std::uint8_t flags = 0, std::uint32_t raw_bytes = 0) noexcept;
} // namespace detail

// Appends one framed record to out. Throws mmsb::error (size_mismatch) if the payload exceeds
// max_bytes, with out unchanged.
void encode_record(std::vector<std::byte>& out, record_type type, mmsb::epoch e, txn_id txn,
                   span<const std::byte> payload, std::uint8_t flags = 0, std::uint32_t raw_bytes = 0,
                   std::uint32_t max_bytes = default_max_record_bytes);

// Why a header or record was refused.
enum class record_fault : std::uint8_t {
  none, short_header, bad_magic, bad_field, too_large, short_payload, bad_checksum,
  bad_order,   // a commit whose epoch is not its predecessor's + 1 (reordered, duplicated or missing)
  bad_segment, // a segment that does not open with this log's segment record
  bad_payload, // a compressed payload that does not decompress to its recorded length
};

// A phrase for messages ("checksum mismatch", ...; "valid" for none).
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
[[nodiscard]] record_fault parse_record_header(span<const std::byte> bytes, record_header& out,
                                               std::uint32_t max_bytes = default_max_record_bytes) noexcept;

// Checks a whole record (header and payload) at the start of `bytes`; on success `payload`
// views its payload inside `bytes`.
[[nodiscard]] record_fault check_record(span<const std::byte> bytes, record_header& header,
                                        span<const std::byte>& payload,
                                        std::uint32_t max_bytes = default_max_record_bytes) noexcept;

// The offset of the next valid record after `from` in `bytes`, or bytes.size() if none: a valid
// record after damage means the damage is mid-log corruption, not a torn tail.
[[nodiscard]] std::size_t find_next_record(span<const std::byte> bytes, std::size_t from,
                                           std::uint32_t max_bytes = default_max_record_bytes) noexcept;

} // namespace mmsb
