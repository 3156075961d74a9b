// soa<N, Fields...>: N records stored column by column (struct of arrays). Slot f * N + r is
// field f of record r, so one delta can touch any (field, record) pair and each column is a
// contiguous array that SIMD and the GPU read with unit stride.
//
// A field is either a plain value type (soa<1024, float, float>) or a tag with a value_type
// (struct price { using value_type = std::int64_t; }), which lets code name a column:
// column<price>(storage). All fields share one value type: the bus's semiring acts on every slot.
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/slot_block.hpp>

#include <cstddef>
#include <type_traits>

namespace mmsb {

namespace detail {
template <class F>
struct field_value {
  using type = F;
};
template <class F>
  requires requires { typename F::value_type; }
struct field_value<F> {
  using type = typename F::value_type;
};
template <class F>
using field_value_t = typename field_value<F>::type;

template <class Want, class... Fields>
constexpr std::size_t field_index() noexcept
{
  constexpr bool match[] = {std::is_same_v<Want, Fields>...};
  std::size_t found = sizeof...(Fields), count = 0;
  for (std::size_t i = 0; i < sizeof...(Fields); ++i)
    if (match[i]) { found = i; ++count; }
  return count == 1 ? found : sizeof...(Fields);
}

template <class... Ts>
struct first;
template <class First, class... Rest>
struct first<First, Rest...> {
  using type = First;
};
} // namespace detail

// N records of Fields, stored column by column: slot f * N + r is field f of record r. Every
// field has the same value type.
template <std::size_t N, class... Fields>
struct soa {
  static_assert(sizeof...(Fields) > 0, "mmsb: soa<N, Fields...> needs at least one field");
  static_assert(N > 0, "mmsb: soa<N, Fields...> needs N > 0");
  using value_type = detail::field_value_t<typename detail::first<Fields...>::type>;  // the one value type of every field (a tag field's value_type)
  static_assert((std::is_same_v<detail::field_value_t<Fields>, value_type> && ...),
                "mmsb: soa<N, Fields...> needs fields of one value type (the semiring acts on every slot)");
  static_assert(std::is_trivially_copyable_v<value_type>, "mmsb: soa fields must be trivially copyable");

  static constexpr std::size_t records = N;  // the number of records, N
  static constexpr std::size_t fields = sizeof...(Fields);  // the number of fields
  static constexpr std::size_t extent = N * sizeof...(Fields);  // the number of slots, N * fields
  static constexpr layout_kind kind = layout_kind::soa;  // recorded in log records

  // The columns end to end (slot f * N + r, values[f * N + r], is field f of record r), aligned
  // to page_alignment (64 bytes), with no padding (page/slot_block.hpp).
  using storage_type = detail::value_block<value_type, N * sizeof...(Fields)>;

  // Slot i (field i / N of record i % N); requires i < extent.
  MMSB_HD static constexpr value_type load(const storage_type& s, std::size_t i) noexcept { return s.values[i]; }
  // Sets slot i; requires i < extent.
  MMSB_HD static constexpr void store(storage_type& s, std::size_t i, value_type v) noexcept { s.values[i] = v; }
  // All slots, column after column.
  MMSB_HD static constexpr value_type* data(storage_type& s) noexcept { return s.values; }
  // All slots, column after column, read-only.
  MMSB_HD static constexpr const value_type* data(const storage_type& s) noexcept { return s.values; }

  // The slot of field F (by index) of record r.
  MMSB_HD static constexpr std::size_t slot(std::size_t field, std::size_t record) noexcept { return field * N + record; }

  // Column I (field index I < fields, checked at compile time): the N values of that field.
  template <std::size_t I>
  MMSB_HD static constexpr span<value_type, N> column(storage_type& s) noexcept
  {
    static_assert(I < sizeof...(Fields), "mmsb: soa column index out of range");
    return span<value_type, N>(s.values + I * N, N);
  }
  // Column I, read-only.
  template <std::size_t I>
  MMSB_HD static constexpr span<const value_type, N> column(const storage_type& s) noexcept
  {
    static_assert(I < sizeof...(Fields), "mmsb: soa column index out of range");
    return span<const value_type, N>(s.values + I * N, N);
  }
  // Column by field tag; the tag must appear exactly once in Fields.
  template <class Field>
  static constexpr std::size_t index_of = detail::field_index<Field, Fields...>();
  // Column of a field tag, which must appear exactly once in Fields (checked at compile time).
  template <class Field>
  MMSB_HD static constexpr span<value_type, N> column(storage_type& s) noexcept
  {
    static_assert(index_of<Field> < sizeof...(Fields), "mmsb: that field tag is not (exactly once) in this soa layout");
    return column<index_of<Field>>(s);
  }
  // Column of a field tag, read-only.
  template <class Field>
  MMSB_HD static constexpr span<const value_type, N> column(const storage_type& s) noexcept
  {
    static_assert(index_of<Field> < sizeof...(Fields), "mmsb: that field tag is not (exactly once) in this soa layout");
    return column<index_of<Field>>(s);
  }
};

static_assert(layout<soa<256, float, float, float, float>>);

} // namespace mmsb
