// The wire form of a delta: what logs, rings and other processes carry. Explicit little-endian
// fields, never a copied struct, so no padding byte escapes and every machine reads the same
// bytes. decode() checks everything before it allocates or returns, and names the page and the
// sizes when a delta was built for another layout.
//
//   u8 version (1) | u8 layout_kind | u8 encoding | u8 value_size | u32 extent | u32 page | u32 count
//   dense:  mask words, assign words (u64 each, words_for(extent) of each), payload
//           (bits layout: words_for(extent) u64; otherwise extent values)
//   sparse: count × (u32 slot | u8 op | value)
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/delta.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

inline constexpr std::uint8_t delta_codec_version = 1;
inline constexpr std::size_t delta_header_bytes = 16;

namespace detail {

template <class T>
void put_le(std::vector<std::byte>& out, T v)
{
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  if constexpr (std::endian::native == std::endian::big)
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  const auto* p = reinterpret_cast<const std::byte*>(b);
  out.insert(out.end(), p, p + sizeof(T));
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
} // namespace detail

// The encoded size of a delta, without encoding it.
template <class Semiring, class Layout>
[[nodiscard]] std::size_t encoded_size(const delta<Semiring, Layout>& d) noexcept
{
  using V = detail::wire_t<typename Layout::value_type>;
  if (d.as_sparse()) return delta_header_bytes + d.count() * (4 + 1 + sizeof(V));
  return delta_header_bytes + 2 * words_for(Layout::extent) * sizeof(word_t) + detail::dense_payload_bytes<Layout>();
}

// Appends the wire form of d to out.
template <class Semiring, class Layout>
void encode(const delta<Semiring, Layout>& d, std::vector<std::byte>& out)
{
  static_assert(detail::require_wire_value<typename Layout::value_type>());
  using V = detail::wire_t<typename Layout::value_type>;
  reserve_for(out, out.size() + encoded_size(d));
  out.push_back(std::byte{delta_codec_version});
  out.push_back(static_cast<std::byte>(Layout::kind));
  out.push_back(static_cast<std::byte>(d.encoding()));
  out.push_back(static_cast<std::byte>(sizeof(V)));
  detail::put_le<std::uint32_t>(out, static_cast<std::uint32_t>(Layout::extent));
  detail::put_le<std::uint32_t>(out, d.target().value());
  detail::put_le<std::uint32_t>(out, static_cast<std::uint32_t>(d.count()));
  if (const auto* s = d.as_sparse()) {
    for (const auto& e : s->entries()) {
      detail::put_le<std::uint32_t>(out, e.index);
      out.push_back(static_cast<std::byte>(e.op));
      detail::put_le<V>(out, static_cast<V>(e.value));
    }
    return;
  }
  const auto& dd = *d.as_dense();
  constexpr std::size_t words = words_for(Layout::extent);
  for (std::size_t w = 0; w < words; ++w) detail::put_le<word_t>(out, dd.mask_words()[w]);
  for (std::size_t w = 0; w < words; ++w) detail::put_le<word_t>(out, dd.assign_words()[w]);
  if constexpr (Layout::kind == layout_kind::bits) {
    for (std::size_t w = 0; w < words; ++w) detail::put_le<word_t>(out, Layout::data(dd.payload())[w]);
  } else {
    for (std::size_t i = 0; i < Layout::extent; ++i) detail::put_le<V>(out, static_cast<V>(dd.value(i)));
  }
}

template <class Semiring, class Layout>
[[nodiscard]] std::vector<std::byte> encode(const delta<Semiring, Layout>& d)
{
  std::vector<std::byte> out;
  encode(d, out);
  return out;
}

// Decodes one delta from exactly `bytes`. Throws mmsb::error, with nothing allocated beyond the
// checks, when the bytes are short or long (size_mismatch), built for another layout, extent or
// value size (size_mismatch, naming the page and both shapes), of an unknown version or encoding
// (bad_format), or not canonical: slots out of order, assign bits outside the mask, payload
// outside the mask (invalid_argument).
template <class Semiring, class Layout>
[[nodiscard]] delta<Semiring, Layout> decode(span<const std::byte> bytes)
{
  static_assert(detail::require_wire_value<typename Layout::value_type>());
  using V = detail::wire_t<typename Layout::value_type>;
  constexpr std::size_t words = words_for(Layout::extent);
  if (bytes.data() == nullptr && !bytes.empty()) throw error(errc::invalid_argument, "delta decode: null buffer");
  if (bytes.size() < delta_header_bytes)
    throw error(errc::size_mismatch, "delta decode: " + std::to_string(bytes.size()) + " bytes is shorter than the " +
                                       std::to_string(delta_header_bytes) + "-byte header");
  const std::byte* p = bytes.data();
  const auto version = static_cast<std::uint8_t>(p[0]);
  const auto kind = static_cast<std::uint8_t>(p[1]);
  const auto encoding = static_cast<std::uint8_t>(p[2]);
  const auto value_size = static_cast<std::uint8_t>(p[3]);
  const auto extent = detail::get_le<std::uint32_t>(p + 4);
  const page_id target{detail::get_le<std::uint32_t>(p + 8)};
  const auto count = detail::get_le<std::uint32_t>(p + 12);
  const std::string where = "delta for page " + std::to_string(target.value());
  if (version != delta_codec_version)
    throw error(errc::bad_format, where + ": codec version " + std::to_string(version) + " (this build reads version " +
                                    std::to_string(delta_codec_version) + ")");
  if (kind != static_cast<std::uint8_t>(Layout::kind) || extent != Layout::extent || value_size != sizeof(V))
    throw error(errc::size_mismatch, where + " was built for " + std::to_string(extent) + " slots of " +
                                       std::to_string(value_size) + " bytes (layout kind " + std::to_string(kind) +
                                       "); these pages have " + std::to_string(Layout::extent) + " slots of " +
                                       std::to_string(sizeof(V)) + " bytes (layout kind " +
                                       std::to_string(static_cast<int>(Layout::kind)) + ")");
  if (count > Layout::extent)
    throw error(errc::invalid_argument, where + ": " + std::to_string(count) + " changed slots in a page of " +
                                          std::to_string(Layout::extent));
  const std::byte* body = p + delta_header_bytes;
  const std::size_t body_bytes = bytes.size() - delta_header_bytes;

  if (encoding == static_cast<std::uint8_t>(delta_encoding::sparse)) {
    constexpr std::size_t entry = 4 + 1 + sizeof(V);
    if (body_bytes != std::size_t{count} * entry)
      throw error(errc::size_mismatch, where + ": sparse body of " + std::to_string(body_bytes) + " bytes, expected " +
                                         std::to_string(std::size_t{count} * entry) + " for " + std::to_string(count) + " entries");
    sparse_delta<Semiring, Layout> s(target);
    s.reserve(count);
    for (std::size_t k = 0; k < count; ++k, body += entry) {
      const auto op = static_cast<std::uint8_t>(body[4]);
      if (op > 1) throw error(errc::invalid_argument, where + ": entry " + std::to_string(k) + " has an unknown op");
      if constexpr (std::is_same_v<typename Layout::value_type, bool>) {
        if (detail::get_le<V>(body + 5) > 1)
          throw error(errc::invalid_argument, where + ": entry " + std::to_string(k) + " holds a boolean other than 0 or 1");
      }
      s.push_back(detail::get_le<std::uint32_t>(body), static_cast<delta_op>(op),
                  static_cast<typename Layout::value_type>(detail::get_le<V>(body + 5)));
    }
    return s;
  }
  if (encoding != static_cast<std::uint8_t>(delta_encoding::dense))
    throw error(errc::bad_format, where + ": unknown encoding " + std::to_string(encoding));
  const std::size_t expected = 2 * words * sizeof(word_t) + detail::dense_payload_bytes<Layout>();
  if (body_bytes != expected)
    throw error(errc::size_mismatch,
                where + ": dense body of " + std::to_string(body_bytes) + " bytes, expected " + std::to_string(expected));
  dense_delta<Semiring, Layout> d(target);
  constexpr word_t tail = Layout::extent % word_bits == 0 ? ~word_t{0} : (word_t{1} << (Layout::extent % word_bits)) - 1;
  for (std::size_t w = 0; w < words; ++w) {
    const word_t m = detail::get_le<word_t>(body + w * 8), a = detail::get_le<word_t>(body + (words + w) * 8);
    if ((a & ~m) != 0 || (w + 1 == words && (m & ~tail) != 0))
      throw error(errc::invalid_argument, where + ": assign or mask bits outside the page's masked slots (word " +
                                            std::to_string(w) + ")");
    d.mask_words()[w] = m;
    d.assign_words()[w] = a;
  }
  const std::byte* payload = body + 2 * words * sizeof(word_t);
  if constexpr (Layout::kind == layout_kind::bits) {
    for (std::size_t w = 0; w < words; ++w) {
      const word_t v = detail::get_le<word_t>(payload + w * 8);
      if ((v & ~d.mask_words()[w]) != 0)
        throw error(errc::invalid_argument, where + ": payload bits outside the mask (word " + std::to_string(w) + ")");
      Layout::data(d.payload())[w] = v;
    }
  } else {
    for (std::size_t i = 0; i < Layout::extent; ++i) {
      const V v = detail::get_le<V>(payload + i * sizeof(V));
      if (!d.contains(i)) {
        const V zero{};
        if (std::memcmp(&v, &zero, sizeof(V)) != 0)
          throw error(errc::invalid_argument, where + ": slot " + std::to_string(i) + " has a payload but is not masked");
        continue;
      }
      if constexpr (std::is_same_v<typename Layout::value_type, bool>) {
        if (v > 1) throw error(errc::invalid_argument, where + ": slot " + std::to_string(i) + " holds boolean " + std::to_string(v));
      }
      Layout::store(d.payload(), i, static_cast<typename Layout::value_type>(v));
    }
  }
  if (d.count() != count)
    throw error(errc::invalid_argument, where + ": header says " + std::to_string(count) + " changed slots, the mask has " +
                                          std::to_string(d.count()));
  return d;
}

} // namespace mmsb
