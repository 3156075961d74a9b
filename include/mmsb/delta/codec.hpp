// The wire form of a delta: what logs, rings and other processes carry. Explicit little-endian
// fields, never a copied struct, so no padding byte escapes and every machine reads the same
// bytes. decode() (delta/decode.hpp, included here) checks everything before it allocates or
// returns, and names the page and the sizes when a delta was built for another layout.
//
//   u8 version (2) | u8 layout_kind | u8 encoding | u8 value_size | u32 extent | u32 page | u32 count
//   encoding 1, dense:  mask words, assign words (u64 each, words_for(extent) of each), payload
//                       (bits layout: words_for(extent) u64; otherwise extent values)
//   encoding 2, 3, 4, sparse, in columns: count u32 slots (ascending), then count values; the ops
//                       are all accumulate (2), all assign (3), or mixed (4: then ceil(count/8)
//                       bytes of assign bits, bit k of byte k/8 for entry k)
//
// The encoder picks the wire encoding by size, whatever the delta's in-memory encoding: sparse
// exactly when it is smaller than dense. A sparse body is then at most the changed slots' own
// bytes (a u32 slot and a value each) plus one bit per slot when the ops are mixed, so a merged
// delta that touched a few slots of a large page costs what those slots cost. Columns are copied
// in bulk (memcpy on a little-endian host), never field by field through a vector.
//
// Version 1 (written before 2026-12) is still read: its sparse body is count × (u32 slot | u8 op
// | value) under encoding 2, its dense body is version 2's. The encoding is canonical: one change
// has one version-2 byte string, and encode(decode(bytes)) == bytes for every version-2 input.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/decode.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/wire.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

namespace detail {

// What encode() writes for a delta: the wire encoding, the slot count and the total size.
struct wire_plan {
  wire_encoding encoding = wire_encoding::dense;
  std::size_t count = 0;
  std::size_t bytes = 0;
};


template <class Semiring, class Layout>
wire_plan plan_wire(const delta<Semiring, Layout>& d) noexcept
{
  std::size_t count = 0, assigns = 0;
  if (const auto* s = d.as_sparse()) {
    count = s->count();
    for (const auto& e : s->entries()) assigns += e.op == delta_op::assign;
  } else {
    const auto& dd = *d.as_dense();
    for (std::size_t w = 0; w < words_for(Layout::extent); ++w) {
      count += static_cast<std::size_t>(std::popcount(dd.mask_words()[w]));
      assigns += static_cast<std::size_t>(std::popcount(dd.assign_words()[w]));
    }
  }
  const bool mixed = assigns != 0 && assigns != count;
  const std::size_t sparse = sparse_wire_bytes<Layout>(count, mixed);
  if (sparse < dense_wire_bytes<Layout>())
    return {mixed ? wire_encoding::sparse_mixed : assigns != 0 ? wire_encoding::sparse_assign : wire_encoding::sparse_accumulate,
            count, sparse};
  return {wire_encoding::dense, count, dense_wire_bytes<Layout>()};
}

// The wire bytes of a delta into out[0, plan.bytes), which the caller zeroed.
template <class Semiring, class Layout>
void encode_into(const delta<Semiring, Layout>& d, const wire_plan& plan, std::byte* out) noexcept
{
  using T = typename Layout::value_type;
  using V = wire_t<T>;
  constexpr std::size_t words = words_for(Layout::extent);
  out[0] = std::byte{delta_codec_version};
  out[1] = static_cast<std::byte>(Layout::kind);
  out[2] = static_cast<std::byte>(plan.encoding);
  out[3] = static_cast<std::byte>(sizeof(V));
  write_le<std::uint32_t>(out + 4, static_cast<std::uint32_t>(Layout::extent));
  write_le<std::uint32_t>(out + 8, d.target().value());
  write_le<std::uint32_t>(out + 12, static_cast<std::uint32_t>(plan.count));
  std::byte* body = out + delta_header_bytes;
  const auto set_bit = [](std::byte* bits, std::size_t i) { bits[i / 8] |= static_cast<std::byte>(1u << (i % 8)); };

  if (plan.encoding != wire_encoding::dense) {
    std::byte* slots = body;
    std::byte* values = slots + plan.count * 4;
    std::byte* ops = values + plan.count * sizeof(V);
    const bool mixed = plan.encoding == wire_encoding::sparse_mixed;
    std::size_t k = 0;
    const auto put = [&](std::uint32_t slot, T value, bool assign) {
      write_le<std::uint32_t>(slots + k * 4, slot);
      write_le<V>(values + k * sizeof(V), static_cast<V>(value));
      if (mixed && assign) set_bit(ops, k);
      ++k;
    };
    if (const auto* s = d.as_sparse()) {
      for (const auto& e : s->entries()) put(e.index, e.value, e.op == delta_op::assign);
    } else {
      const auto& dd = *d.as_dense();
      for (std::size_t w = 0; w < words; ++w)
        for (word_t bits = dd.mask_words()[w]; bits != 0; bits &= bits - 1) {
          const std::size_t i = w * word_bits + static_cast<std::size_t>(countr_zero(bits));
          put(static_cast<std::uint32_t>(i), dd.value(i), dd.is_assign(i));
        }
    }
    return;
  }
  std::byte* mask = body;
  std::byte* assign = mask + words * sizeof(word_t);
  std::byte* payload = assign + words * sizeof(word_t);
  if (const auto* dd = d.as_dense()) {
    store_column<word_t>(mask, dd->mask_words(), words);
    store_column<word_t>(assign, dd->assign_words(), words);
    if constexpr (Layout::kind == layout_kind::bits) store_column<word_t>(payload, Layout::data(dd->payload()), words);
    else store_column<V>(payload, Layout::data(dd->payload()), Layout::extent);
    return;
  }
  // A sparse delta that is cheaper dense (most slots changed): bit i of a little-endian word array
  // is bit i % 8 of byte i / 8.
  for (const auto& e : d.as_sparse()->entries()) {
    set_bit(mask, e.index);
    if (e.op == delta_op::assign) set_bit(assign, e.index);
    if constexpr (Layout::kind == layout_kind::bits) {
      if (e.value) set_bit(payload, e.index);
    } else {
      write_le<V>(payload + std::size_t{e.index} * sizeof(V), static_cast<V>(e.value));
    }
  }
}
} // namespace detail

// The encoded size of a delta, without encoding it.
template <class Semiring, class Layout>
[[nodiscard]] std::size_t encoded_size(const delta<Semiring, Layout>& d) noexcept
{
  return detail::plan_wire(d).bytes;
}

// The wire encoding encode() picks for d: sparse exactly when that is smaller.
template <class Semiring, class Layout>
[[nodiscard]] delta_encoding wire_encoding_of(const delta<Semiring, Layout>& d) noexcept
{
  return detail::plan_wire(d).encoding == detail::wire_encoding::dense ? delta_encoding::dense : delta_encoding::sparse;
}

// Appends the wire form of d to out; returns its size. On failure (allocation) out is unchanged.
template <class Semiring, class Layout>
std::size_t encode(const delta<Semiring, Layout>& d, std::vector<std::byte>& out)
{
  static_assert(detail::require_wire_value<typename Layout::value_type>());
  const auto plan = detail::plan_wire(d);
  const std::size_t at = out.size();
  reserve_for(out, at + plan.bytes);
  out.resize(at + plan.bytes);  // zeroed: the bitmaps are or-ed in
  detail::encode_into(d, plan, out.data() + at);
  return plan.bytes;
}

// The wire form of d as a new byte vector (see encode(d, out)).
template <class Semiring, class Layout>
[[nodiscard]] std::vector<std::byte> encode(const delta<Semiring, Layout>& d)
{
  std::vector<std::byte> out;
  encode(d, out);
  return out;
}

} // namespace mmsb
