// The pieces of a delta's wire form (delta/codec.hpp describes the form) that the encoder
// (codec.hpp) and the decoder (decode.hpp) share: the header's constants, little-endian fields,
// columns, and the sizes of the dense and sparse encodings.
#pragma once

#include <mmsb/core/bits.hpp>
#include <mmsb/page/layout.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

inline constexpr std::uint8_t delta_codec_version = 2;  // the version encode() writes (the header's first byte)
inline constexpr std::uint8_t delta_codec_oldest_version = 1;  // the oldest version decode() reads
inline constexpr std::size_t delta_header_bytes = 16;  // the fixed header: version, layout kind, encoding, value size, extent, page, count

namespace detail {

// The encoding byte (version 2; version 1 has dense = 1 and its interleaved sparse = 2).
enum class wire_encoding : std::uint8_t { dense = 1, sparse_accumulate = 2, sparse_assign = 3, sparse_mixed = 4 };

template <class T>
void write_le(std::byte* out, T v) noexcept
{
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  if constexpr (std::endian::native == std::endian::big)
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  std::memcpy(out, b, sizeof(T));
}

template <class T>
void put_le(std::vector<std::byte>& out, T v)
{
  std::byte b[sizeof(T)];
  write_le(b, v);
  out.insert(out.end(), b, b + sizeof(T));
}

template <class T>
T get_le(const std::byte* in) noexcept
{
  unsigned char b[sizeof(T)];
  std::memcpy(b, in, sizeof(T));
  if constexpr (std::endian::native == std::endian::big)
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// Booleans travel as one byte, 0 or 1.
template <class T>
using wire_t = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>;

// n values of T written as little-endian Wire: one memcpy when the bytes already are the wire
// bytes (little-endian host, same width; a bool is the byte 0 or 1), else value by value.
template <class Wire, class T>
void store_column(std::byte* out, const T* src, std::size_t n) noexcept
{
  if constexpr (std::endian::native == std::endian::little && sizeof(T) == sizeof(Wire) &&
                (std::is_same_v<T, Wire> || std::is_same_v<T, bool>)) {
    if (n != 0) std::memcpy(out, src, n * sizeof(Wire));
  } else {
    for (std::size_t i = 0; i < n; ++i) write_le<Wire>(out + i * sizeof(Wire), static_cast<Wire>(src[i]));
  }
}

template <class T>
constexpr bool require_wire_value() noexcept
{
  static_assert(std::is_arithmetic_v<T>,
                "mmsb: the delta codec encodes arithmetic slot types (integers, floats, bool) field by field; "
                "a struct value type would carry its padding into the log");
  return true;
}

template <class Layout>
constexpr std::size_t dense_payload_bytes() noexcept
{
  if constexpr (Layout::kind == layout_kind::bits) return words_for(Layout::extent) * sizeof(word_t);
  else return Layout::extent * sizeof(wire_t<typename Layout::value_type>);
}

template <class Layout>
constexpr std::size_t dense_wire_bytes() noexcept
{
  return delta_header_bytes + 2 * words_for(Layout::extent) * sizeof(word_t) + dense_payload_bytes<Layout>();
}

template <class Layout>
constexpr std::size_t sparse_wire_bytes(std::size_t count, bool mixed) noexcept
{
  return delta_header_bytes + count * (4 + sizeof(wire_t<typename Layout::value_type>)) + (mixed ? (count + 7) / 8 : 0);
}

} // namespace detail

} // namespace mmsb
