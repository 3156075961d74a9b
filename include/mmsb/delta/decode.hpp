// Decoding a delta's wire form (the form is described at the top of delta/codec.hpp, which
// includes this header): decode(), decode_into() over a reused delta, and encoded_size_at() for
// a stream of deltas back to back. Every check runs before anything is returned.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/wire.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace mmsb {

// The size of the encoded delta at the front of `bytes` (a stream of deltas back to back, as the
// distributed bus sends them), read from its header alone: what decode() must then be given.
// Throws mmsb::error (size_mismatch) naming the sizes when the header or the size it gives does
// not fit in bytes, and (bad_format) for an unknown version or encoding. decode() still checks
// the rest (the layout, the body).
template <class Layout>
[[nodiscard]] std::size_t encoded_size_at(span<const std::byte> bytes)
{
  using V = detail::wire_t<typename Layout::value_type>;
  if (bytes.size() < delta_header_bytes)
    throw error(errc::size_mismatch, "delta stream: " + std::to_string(bytes.size()) + " bytes left, shorter than the " +
                                       std::to_string(delta_header_bytes) + "-byte header");
  const auto version = static_cast<std::uint8_t>(bytes[0]);
  const auto encoding = static_cast<std::uint8_t>(bytes[2]);
  const auto page = detail::get_le<std::uint32_t>(bytes.data() + 8);
  const std::size_t count = std::min<std::size_t>(detail::get_le<std::uint32_t>(bytes.data() + 12), Layout::extent + 1);
  std::size_t size = 0;
  if (encoding == static_cast<std::uint8_t>(delta_encoding::dense) && (version == 1 || version == 2)) {
    size = detail::dense_wire_bytes<Layout>();
  } else if (version == 1 && encoding == static_cast<std::uint8_t>(delta_encoding::sparse)) {
    size = delta_header_bytes + count * (4 + 1 + sizeof(V));
  } else if (version == 2 && encoding >= static_cast<std::uint8_t>(detail::wire_encoding::sparse_accumulate) &&
             encoding <= static_cast<std::uint8_t>(detail::wire_encoding::sparse_mixed)) {
    size = detail::sparse_wire_bytes<Layout>(count, encoding == static_cast<std::uint8_t>(detail::wire_encoding::sparse_mixed));
  } else {
    throw error(errc::bad_format, "delta stream: the delta for page " + std::to_string(page) + " has version " + std::to_string(version) +
                                    " and encoding " + std::to_string(encoding) + ", which this build does not read");
  }
  if (size > bytes.size())
    throw error(errc::size_mismatch, "delta stream: the delta for page " + std::to_string(page) + " needs " + std::to_string(size) +
                                       " bytes, " + std::to_string(bytes.size()) + " are left");
  return size;
}

// Decodes one delta from exactly `bytes` (version 1 or 2). Throws mmsb::error, with nothing
// allocated beyond the checks, when the bytes are short or long (size_mismatch), built for
// another layout, extent or value size (size_mismatch, naming the page and both shapes), of an
// unknown version or encoding (bad_format), or not canonical: slots out of order, assign bits
// outside the mask, payload outside the mask, an op section that does not match its encoding
// (invalid_argument), or, in version 2, sparse where dense is smaller or dense where sparse is
// (invalid_argument). A sparse wire form decodes to a sparse_delta, a dense one to a dense_delta.
// decode_into(bytes, out) is the same into `out`, reusing its storage (delta::reuse_sparse,
// reuse_dense): allocation-free once out has held a dense delta and a sparse one of the page's
// extent; on a throw, out holds an unspecified delta.
template <class Semiring, class Layout>
void decode_into(span<const std::byte> bytes, delta<Semiring, Layout>& out)
{
  static_assert(detail::require_wire_value<typename Layout::value_type>());
  using T = typename Layout::value_type;
  using V = detail::wire_t<T>;
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
  const auto where = [&] { return "delta for page " + std::to_string(target.value()); };
  if (version < delta_codec_oldest_version || version > delta_codec_version)
    throw error(errc::bad_format, where() + ": codec version " + std::to_string(version) + " (this build reads versions " +
                                    std::to_string(delta_codec_oldest_version) + " to " +
                                    std::to_string(delta_codec_version) + ")");
  if (kind != static_cast<std::uint8_t>(Layout::kind) || extent != Layout::extent || value_size != sizeof(V))
    throw error(errc::size_mismatch, where() + " was built for " + std::to_string(extent) + " slots of " +
                                       std::to_string(value_size) + " bytes (layout kind " + std::to_string(kind) +
                                       "); these pages have " + std::to_string(Layout::extent) + " slots of " +
                                       std::to_string(sizeof(V)) + " bytes (layout kind " +
                                       std::to_string(static_cast<int>(Layout::kind)) + ")");
  if (count > Layout::extent)
    throw error(errc::invalid_argument, where() + ": " + std::to_string(count) + " changed slots in a page of " +
                                          std::to_string(Layout::extent));
  const std::byte* body = p + delta_header_bytes;
  const std::size_t body_bytes = bytes.size() - delta_header_bytes;
  const auto check_bool = [&](V v, std::size_t k) {
    if constexpr (std::is_same_v<T, bool>) {
      if (v > 1) throw error(errc::invalid_argument, where() + ": entry " + std::to_string(k) + " holds a boolean other than 0 or 1");
    }
  };
  // Version 2 is canonical: sparse on the wire exactly when that is smaller than dense (what encode
  // writes), so encode(decode(bytes)) == bytes.
  const auto not_canonical = [&](const char* is, const char* smaller) {
    return error(errc::invalid_argument, where() + ": " + std::to_string(count) + " changed slots encoded " + is +
                                           ", which is not canonical (" + smaller + " is smaller for this layout)");
  };
  const auto wrong_body = [&](const char* what, std::size_t expected) {
    return error(errc::size_mismatch, where() + ": " + what + " body of " + std::to_string(body_bytes) + " bytes, expected " +
                                        std::to_string(expected) + " for " + std::to_string(count) + " entries");
  };

  if (version == 1 && encoding == static_cast<std::uint8_t>(delta_encoding::sparse)) {
    constexpr std::size_t entry = 4 + 1 + sizeof(V);
    if (body_bytes != std::size_t{count} * entry) throw wrong_body("sparse", std::size_t{count} * entry);
    auto& s = out.reuse_sparse(target);
    s.reserve(count);
    for (std::size_t k = 0; k < count; ++k, body += entry) {
      const auto op = static_cast<std::uint8_t>(body[4]);
      if (op > 1) throw error(errc::invalid_argument, where() + ": entry " + std::to_string(k) + " has an unknown op");
      const V v = detail::get_le<V>(body + 5);
      check_bool(v, k);
      s.push_back(detail::get_le<std::uint32_t>(body), static_cast<delta_op>(op), static_cast<T>(v));
    }
    return;
  }
  if (version == 2 && encoding >= static_cast<std::uint8_t>(detail::wire_encoding::sparse_accumulate) &&
      encoding <= static_cast<std::uint8_t>(detail::wire_encoding::sparse_mixed)) {
    const auto enc = static_cast<detail::wire_encoding>(encoding);
    const bool mixed = enc == detail::wire_encoding::sparse_mixed;
    const std::size_t expected = std::size_t{count} * (4 + sizeof(V)) + (mixed ? (std::size_t{count} + 7) / 8 : 0);
    if (body_bytes != expected) throw wrong_body("sparse", expected);
    const std::byte* slots = body;
    const std::byte* values = slots + std::size_t{count} * 4;
    const std::byte* ops = values + std::size_t{count} * sizeof(V);
    std::size_t assigns = 0;
    if (mixed) {
      for (std::size_t b = 0; b < (std::size_t{count} + 7) / 8; ++b)
        assigns += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(ops[b])));
      const unsigned spare = count % 8 == 0 ? 0u : static_cast<unsigned>(ops[count / 8]) >> (count % 8);
      if (assigns == 0 || assigns == count || spare != 0)
        throw error(errc::invalid_argument, where() + ": mixed-op section holds " + std::to_string(assigns) + " assigns of " +
                                              std::to_string(count) + " entries" + (spare ? " and bits past the last entry" : ""));
    } else if (enc == detail::wire_encoding::sparse_assign && count == 0) {
      throw error(errc::invalid_argument, where() + ": an empty delta encoded as all-assign");
    }
    auto& s = out.reuse_sparse(target);
    s.reserve(count);
    for (std::size_t k = 0; k < count; ++k) {
      const bool assign = mixed ? ((static_cast<unsigned>(ops[k / 8]) >> (k % 8)) & 1u) != 0
                                : enc == detail::wire_encoding::sparse_assign;
      const V v = detail::get_le<V>(values + k * sizeof(V));
      check_bool(v, k);
      s.push_back(detail::get_le<std::uint32_t>(slots + k * 4), assign ? delta_op::assign : delta_op::accumulate,
                  static_cast<T>(v));
    }
    if (expected + delta_header_bytes >= detail::dense_wire_bytes<Layout>()) throw not_canonical("sparse", "dense");
    return;
  }
  if (encoding != static_cast<std::uint8_t>(delta_encoding::dense))
    throw error(errc::bad_format, where() + ": unknown encoding " + std::to_string(encoding));
  const std::size_t expected = 2 * words * sizeof(word_t) + detail::dense_payload_bytes<Layout>();
  if (body_bytes != expected)
    throw error(errc::size_mismatch,
                where() + ": dense body of " + std::to_string(body_bytes) + " bytes, expected " + std::to_string(expected));
  auto& d = out.reuse_dense(target);
  constexpr word_t tail = Layout::extent % word_bits == 0 ? ~word_t{0} : (word_t{1} << (Layout::extent % word_bits)) - 1;
  for (std::size_t w = 0; w < words; ++w) {
    const word_t m = detail::get_le<word_t>(body + w * 8), a = detail::get_le<word_t>(body + (words + w) * 8);
    if ((a & ~m) != 0 || (w + 1 == words && (m & ~tail) != 0))
      throw error(errc::invalid_argument, where() + ": assign or mask bits outside the page's masked slots (word " +
                                            std::to_string(w) + ")");
    d.mask_words()[w] = m;
    d.assign_words()[w] = a;
  }
  const std::byte* payload = body + 2 * words * sizeof(word_t);
  if constexpr (Layout::kind == layout_kind::bits) {
    for (std::size_t w = 0; w < words; ++w) {
      const word_t v = detail::get_le<word_t>(payload + w * 8);
      if ((v & ~d.mask_words()[w]) != 0)
        throw error(errc::invalid_argument, where() + ": payload bits outside the mask (word " + std::to_string(w) + ")");
      Layout::data(d.payload())[w] = v;
    }
  } else {
    for (std::size_t i = 0; i < Layout::extent; ++i) {
      const V v = detail::get_le<V>(payload + i * sizeof(V));
      if (!d.contains(i)) {
        const V zero{};
        if (std::memcmp(&v, &zero, sizeof(V)) != 0)
          throw error(errc::invalid_argument, where() + ": slot " + std::to_string(i) + " has a payload but is not masked");
        continue;
      }
      if constexpr (std::is_same_v<T, bool>) {
        if (v > 1) throw error(errc::invalid_argument, where() + ": slot " + std::to_string(i) + " holds boolean " + std::to_string(v));
      }
      Layout::store(d.payload(), i, static_cast<T>(v));
    }
  }
  if (d.count() != count)
    throw error(errc::invalid_argument, where() + ": header says " + std::to_string(count) + " changed slots, the mask has " +
                                          std::to_string(d.count()));
  if (version == 2) {
    std::size_t assigns = 0;
    for (std::size_t w = 0; w < words; ++w) assigns += static_cast<std::size_t>(std::popcount(d.assign_words()[w]));
    if (detail::sparse_wire_bytes<Layout>(count, assigns != 0 && assigns != count) < detail::dense_wire_bytes<Layout>())
      throw not_canonical("dense", "sparse");
  }
}

// Decodes one delta from exactly `bytes`: see decode_into.
template <class Semiring, class Layout>
[[nodiscard]] delta<Semiring, Layout> decode(span<const std::byte> bytes)
{
  delta<Semiring, Layout> out;
  decode_into(bytes, out);
  return out;
}

} // namespace mmsb
