// The device batch format: one tick's merged deltas as one contiguous, columnar buffer that
// crosses PCIe in ONE copy and is applied by ONE launch (kernels/batch.cuh). The same MMSB_HD
// unit functions below run in the kernels and on the host (replay, the emulated backend), so
// both give the same bits.
//
//   section        element                     count
//   dense_page     u32 index into the resident set   D     dense records: one page each,
//   mask           word_t[words]                  D     in the dense_delta bitmap form
//   assign         word_t[words]                  D     (canonical: unmasked slots zero)
//   payload        Layout::storage_type           D
//   sparse_page    u32 index into the resident set   S     sparse entries: one slot each
//   sparse_slot    u32 slot | assign << 31            S
//   sparse_value   value (bool as one byte)           S
//
// Why both: a dense record streams whole pages (coalesced, 16-byte loads; best above the
// library's 1/16 density rule), while a change to a handful of slots costs 12 bytes of PCIe as
// sparse entries instead of a 4.3 KiB record. A page is in at most one section per batch and a
// slot at most once (the batch was merged per page), so no two threads touch one element and
// the launch needs no atomics. Packed-boolean layouts (bits<N>) take dense records only: slots
// share words, and a word must have one writer.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/delta/apply.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb::gpu {

// The type a sparse entry stores one slot's value as: the layout's value_type, bool as one byte.
template <class Layout>
using slot_value_t = std::conditional_t<std::is_same_v<typename Layout::value_type, bool>, std::uint8_t,
                                        typename Layout::value_type>;

// Set in a sparse_slot word when the entry assigns (else it ⊕-merges); the low 31 bits are the slot.
inline constexpr std::uint32_t sparse_assign_bit = 0x8000'0000u;

// Byte offsets of each section for D dense records and S sparse entries (each 256-aligned).
template <class Layout>
struct batch_layout {
  static constexpr std::size_t words = words_for(Layout::extent);  // words per mask or assign bitmap
  // Number of dense records (D).
  std::size_t dense = 0, sparse = 0;
  // Byte offset of the dense_page section (each section's offset is from the buffer's start).
  std::size_t dense_page = 0, mask = 0, assign = 0, payload = 0, sparse_page = 0, sparse_slot = 0, sparse_value = 0;
  std::size_t bytes = 0;  // the whole buffer's size
  // (The other names declared on the two lines above, for the API reference.)
  /// @var sparse
  /// Number of sparse entries (S).
  /// @var mask
  /// Byte offset of the mask section.
  /// @var assign
  /// Byte offset of the assign section.
  /// @var payload
  /// Byte offset of the payload section (first: the widest elements stay aligned).
  /// @var sparse_page
  /// Byte offset of the sparse_page section.
  /// @var sparse_slot
  /// Byte offset of the sparse_slot section.
  /// @var sparse_value
  /// Byte offset of the sparse_value section.

  [[nodiscard]] static constexpr batch_layout for_counts(std::size_t d, std::size_t s) noexcept
  {
    constexpr auto up = [](std::size_t n) { return (n + 255) / 256 * 256; };
    batch_layout l;
    l.dense = d;
    l.sparse = s;
    std::size_t at = 0;
    l.payload = at;  at += up(d * sizeof(typename Layout::storage_type));  // widest first: stays aligned
    l.mask = at;     at += up(d * words * sizeof(word_t));
    l.assign = at;   at += up(d * words * sizeof(word_t));
    l.dense_page = at; at += up(d * sizeof(std::uint32_t));
    l.sparse_value = at; at += up(s * sizeof(slot_value_t<Layout>));
    l.sparse_page = at;  at += up(s * sizeof(std::uint32_t));
    l.sparse_slot = at;  at += up(s * sizeof(std::uint32_t));
    l.bytes = at;
    return l;
  }
};

// Pointers to the sections of one batch buffer (device or host memory: the same shape).
template <class Layout>
struct batch_view {
  using storage_type = typename Layout::storage_type;  // one page's payload
  static constexpr std::size_t words = words_for(Layout::extent);  // words per mask or assign bitmap
  const std::uint32_t* dense_page = nullptr;           // D resident-set indices
  const word_t* mask = nullptr;                        // D × words: which slots each record changes
  const word_t* assign = nullptr;                      // D × words: which of those it assigns
  const storage_type* payload = nullptr;               // D page images (unmasked slots zero)
  const std::uint32_t* sparse_page = nullptr;          // S resident-set indices
  const std::uint32_t* sparse_slot = nullptr;          // S slots, | sparse_assign_bit to assign
  const slot_value_t<Layout>* sparse_value = nullptr;  // S values
  std::uint32_t dense_count = 0;                       // D
  std::uint32_t sparse_count = 0;                      // S

  // The view of a buffer at `base` laid out as l (no copy; base must outlive the view).
  [[nodiscard]] static batch_view of(const void* base, const batch_layout<Layout>& l) noexcept
  {
    const auto* b = static_cast<const unsigned char*>(base);
    batch_view v;
    v.dense_page = reinterpret_cast<const std::uint32_t*>(b + l.dense_page);
    v.mask = reinterpret_cast<const word_t*>(b + l.mask);
    v.assign = reinterpret_cast<const word_t*>(b + l.assign);
    v.payload = reinterpret_cast<const storage_type*>(b + l.payload);
    v.sparse_page = reinterpret_cast<const std::uint32_t*>(b + l.sparse_page);
    v.sparse_slot = reinterpret_cast<const std::uint32_t*>(b + l.sparse_slot);
    v.sparse_value = reinterpret_cast<const slot_value_t<Layout>*>(b + l.sparse_value);
    v.dense_count = static_cast<std::uint32_t>(l.dense);
    v.sparse_count = static_cast<std::uint32_t>(l.sparse);
    return v;
  }
};

// Writable dense records (the output of merge).
template <class Layout>
struct dense_records {
  word_t* mask = nullptr;                            // records × words
  word_t* assign = nullptr;                          // records × words
  typename Layout::storage_type* payload = nullptr;  // records page images
};

namespace detail {

// Slots one thread handles in a dense record: a 64-slot word for packed booleans (one writer per
// word), a 16-byte chunk for flat 4- and 8-byte slots (vector loads), else one slot.
template <class Layout>
[[nodiscard]] constexpr std::size_t unit_slots() noexcept
{
  using T = typename Layout::value_type;
  if constexpr (Layout::kind == layout_kind::bits) return word_bits;
  else if constexpr (mmsb::detail::contiguous_as<Layout, T> && (sizeof(T) == 4 || sizeof(T) == 8) &&
                     Layout::extent % (16 / sizeof(T)) == 0 && alignof(typename Layout::storage_type) >= 16)
    return 16 / sizeof(T);
  else return 1;
}

template <class Layout>
inline constexpr std::size_t unit_slots_v = unit_slots<Layout>();
template <class Layout>
inline constexpr std::size_t units_per_page_v = (Layout::extent + unit_slots_v<Layout> - 1) / unit_slots_v<Layout>;

template <class T, std::size_t Lanes>
struct alignas(16) chunk {
  T v[Lanes];
};

} // namespace detail

// Applies unit u of one dense record to page x: for each masked slot i of the unit,
//   x[i] = apply_element(x[i], assign bit i, v[i])
// Units with no masked slot are neither read nor written.
template <class Semiring, class Layout>
MMSB_HD inline void apply_dense_unit(typename Layout::storage_type& x, const word_t* mask, const word_t* assign,
                                     const typename Layout::storage_type& v, std::size_t u) noexcept
{
  using T = typename Layout::value_type;
  constexpr std::size_t lanes = detail::unit_slots_v<Layout>;
  if constexpr (Layout::kind == layout_kind::bits) {
    if (mask[u] == 0) return;
    if constexpr (mmsb::detail::use_word_path_v<Semiring, Layout>) {
      mmsb::detail::apply_words_or(Layout::data(x) + u, mask + u, assign + u, Layout::data(v) + u, 1);
    } else {
      for (word_t bits = mask[u]; bits != 0; bits &= bits - 1) {
        const std::size_t i = u * word_bits + static_cast<std::size_t>(countr_zero(bits));
        Layout::store(x, i, apply_element<Semiring>(Layout::load(x, i), test_bit(assign, i), Layout::load(v, i)));
      }
    }
  } else if constexpr (lanes > 1) {
    const std::size_t i0 = u * lanes;
    constexpr word_t lane_mask = (word_t{1} << lanes) - 1;
    const word_t m = (mask[i0 / word_bits] >> (i0 % word_bits)) & lane_mask;
    if (m == 0) return;
    const word_t a = (assign[i0 / word_bits] >> (i0 % word_bits)) & lane_mask;
#if MMSB_IMPL_DEVICE_PASS
    using chunk = detail::chunk<T, lanes>;
    auto* xp = reinterpret_cast<chunk*>(Layout::data(x) + i0);
    chunk xs = *xp;
    const chunk vs = *reinterpret_cast<const chunk*>(Layout::data(v) + i0);
#pragma unroll
    for (std::size_t l = 0; l < lanes; ++l)
      if ((m >> l) & 1u) xs.v[l] = apply_element<Semiring>(xs.v[l], ((a >> l) & 1u) != 0, vs.v[l]);
    *xp = xs;
#else
    T* xd = Layout::data(x);
    const T* vd = Layout::data(v);
    for (std::size_t l = 0; l < lanes; ++l)
      if ((m >> l) & 1u) xd[i0 + l] = apply_element<Semiring>(xd[i0 + l], ((a >> l) & 1u) != 0, vd[i0 + l]);
#endif
  } else {
    if (test_bit(mask, u)) Layout::store(x, u, apply_element<Semiring>(Layout::load(x, u), test_bit(assign, u), Layout::load(v, u)));
  }
}

// Applies sparse entry k of a batch to the resident pages.
template <class Semiring, class Layout>
MMSB_HD inline void apply_sparse_entry(typename Layout::storage_type* pages, const batch_view<Layout>& b,
                                       std::size_t k) noexcept
{
  const std::uint32_t s = b.sparse_slot[k];
  const std::size_t slot = s & ~sparse_assign_bit;
  auto& x = pages[b.sparse_page[k]];
  using T = typename Layout::value_type;
  Layout::store(x, slot, apply_element<Semiring>(Layout::load(x, slot), (s & sparse_assign_bit) != 0,
                                                 static_cast<T>(b.sparse_value[k])));
}

// Unit u (0 .. D * units_per_page + S) of a whole batch: dense units first, then sparse entries.
template <class Semiring, class Layout>
MMSB_HD inline void apply_batch_unit(typename Layout::storage_type* pages, const batch_view<Layout>& b,
                                     std::size_t u) noexcept
{
  constexpr std::size_t upp = detail::units_per_page_v<Layout>;
  constexpr std::size_t words = batch_view<Layout>::words;
  const std::size_t dense_units = std::size_t{b.dense_count} * upp;
  if (u < dense_units) {
    const std::size_t r = u / upp;
    apply_dense_unit<Semiring, Layout>(pages[b.dense_page[r]], b.mask + r * words, b.assign + r * words, b.payload[r],
                                       u - r * upp);
  } else {
    apply_sparse_entry<Semiring, Layout>(pages, b, u - dense_units);
  }
}

// Work units in batch b (one thread each in the kernel): D × units per page, plus S.
template <class Layout>
[[nodiscard]] MMSB_HD constexpr std::size_t batch_units(const batch_view<Layout>& b) noexcept
{
  return std::size_t{b.dense_count} * detail::units_per_page_v<Layout> + b.sparse_count;
}

// The whole batch on the host (replay after a device failure, the emulated backend, tests).
template <class Semiring, class Layout>
void apply_batch_host(typename Layout::storage_type* pages, const batch_view<Layout>& b) noexcept
{
  const std::size_t n = batch_units(b);
  for (std::size_t u = 0; u < n; ++u) apply_batch_unit<Semiring, Layout>(pages, b, u);
}

// Merge, per page, of consecutive dense records: segment s is records [seg[s], seg[s + 1]), in
// commit order; its merge goes to output record s. Word w of the output (64 slots) is one unit:
// every slot folds merge_element over the records that mask it, exactly as merge_into does, and
// unmasked slots stay zero (the canonical form), so the result equals the CPU merge bit for bit.
template <class Semiring, class Layout>
MMSB_HD inline void merge_segment_word(const batch_view<Layout>& in, std::uint32_t first, std::uint32_t last,
                                       dense_records<Layout> out, std::size_t s, std::size_t w) noexcept
{
  using T = typename Layout::value_type;
  constexpr std::size_t words = batch_view<Layout>::words;
  word_t m = 0, a = 0;
  auto& payload = out.payload[s];
  for (std::size_t i = w * word_bits; i < (w + 1) * word_bits && i < Layout::extent; ++i) {
    delta_element<T> e{false, T{}};
    bool any = false;
    for (std::uint32_t r = first; r < last; ++r) {
      if (!test_bit(in.mask + r * words, i)) continue;
      const delta_element<T> next{test_bit(in.assign + r * words, i), Layout::load(in.payload[r], i)};
      e = any ? merge_element<Semiring>(e, next) : next;
      any = true;
    }
    if (any) {
      m |= word_t{1} << (i % word_bits);
      if (e.assign) a |= word_t{1} << (i % word_bits);
    }
    Layout::store(payload, i, any ? e.value : T{});
  }
  out.mask[s * words + w] = m;
  out.assign[s * words + w] = a;
}

// Every segment's merge on the host, word by word with merge_segment_word (the kernel's units).
// seg holds segments + 1 record indices.
template <class Semiring, class Layout>
void merge_segments_host(const batch_view<Layout>& in, const std::uint32_t* seg, std::size_t segments,
                         dense_records<Layout> out) noexcept
{
  for (std::size_t s = 0; s < segments; ++s)
    for (std::size_t w = 0; w < batch_view<Layout>::words; ++w)
      merge_segment_word<Semiring, Layout>(in, seg[s], seg[s + 1], out, s, w);
}

// Collects one tick's merged deltas, each for a page named by its index in the resident set,
// and writes them in the device batch format. It keeps pointers: the deltas must outlive write().
template <class Semiring, class Layout>
class batch_builder {
public:
  using storage_type = typename Layout::storage_type;  // one page's payload
  static constexpr std::size_t words = words_for(Layout::extent);  // words per mask or assign bitmap
  // False for packed booleans (bits<N>): their sparse deltas go in as dense records.
  static constexpr bool sparse_ok = Layout::kind != layout_kind::bits;

  // Adds d as a dense record for resident page `index`. May throw std::bad_alloc.
  void add(std::uint32_t index, const dense_delta<Semiring, Layout>& d) { dense_.push_back({index, &d, nullptr, nullptr}); }
  // Adds d as sparse entries (a dense record when !sparse_ok). May throw std::bad_alloc.
  void add(std::uint32_t index, const sparse_delta<Semiring, Layout>& d)
  {
    if constexpr (sparse_ok) {
      sparse_.push_back({index, &d});
      sparse_entries_ += d.count();
    } else {
      dense_.push_back({index, nullptr, &d, nullptr});
    }
  }
  // Adds d in whichever form it holds.
  void add(std::uint32_t index, const delta<Semiring, Layout>& d)
  {
    if (const auto* s = d.as_sparse()) add(index, *s); else add(index, *d.as_dense());
  }
  // The whole page replaced by `image` (every slot assigned).
  void add_image(std::uint32_t index, const storage_type& image) { dense_.push_back({index, nullptr, nullptr, &image}); }

  // The buffer layout for what was added so far (its bytes is what write() fills).
  [[nodiscard]] batch_layout<Layout> layout() const noexcept
  {
    return batch_layout<Layout>::for_counts(dense_.size(), sparse_entries_);
  }
  // Number of deltas and images added.
  [[nodiscard]] std::size_t pages() const noexcept { return dense_.size() + sparse_.size(); }
  // Whether nothing was added.
  [[nodiscard]] bool empty() const noexcept { return pages() == 0; }
  // Forgets everything added (keeps the capacity for the next tick).
  void clear() noexcept
  {
    dense_.clear();
    sparse_.clear();
    sparse_entries_ = 0;
  }

  // Writes layout().bytes bytes at dst (host memory, e.g. a pinned staging buffer).
  void write(void* dst) const noexcept
  {
    const auto l = layout();
    auto* b = static_cast<unsigned char*>(dst);
    auto* page = reinterpret_cast<std::uint32_t*>(b + l.dense_page);
    auto* mask = reinterpret_cast<word_t*>(b + l.mask);
    auto* assign = reinterpret_cast<word_t*>(b + l.assign);
    auto* payload = reinterpret_cast<storage_type*>(b + l.payload);
    for (std::size_t r = 0; r < dense_.size(); ++r) {
      const auto& e = dense_[r];
      page[r] = e.index;
      word_t* m = mask + r * words;
      word_t* a = assign + r * words;
      if (e.dense) {
        std::memcpy(m, e.dense->mask_words(), words * sizeof(word_t));
        std::memcpy(a, e.dense->assign_words(), words * sizeof(word_t));
        std::memcpy(static_cast<void*>(payload + r), &e.dense->payload(), sizeof(storage_type));
      } else if (e.image) {
        for (std::size_t w = 0; w < words; ++w)
          m[w] = a[w] = (w + 1) * word_bits <= Layout::extent ? ~word_t{0} : (word_t{1} << (Layout::extent % word_bits)) - 1;
        std::memcpy(static_cast<void*>(payload + r), e.image, sizeof(storage_type));
      } else {  // a sparse delta as a dense record (packed booleans)
        std::memset(m, 0, words * sizeof(word_t));
        std::memset(a, 0, words * sizeof(word_t));
        std::memset(static_cast<void*>(payload + r), 0, sizeof(storage_type));
        for (const auto& en : e.sparse->entries()) {
          set_bit(m, en.index);
          if (en.op == delta_op::assign) set_bit(a, en.index);
          Layout::store(payload[r], en.index, en.value);
        }
      }
    }
    auto* spage = reinterpret_cast<std::uint32_t*>(b + l.sparse_page);
    auto* sslot = reinterpret_cast<std::uint32_t*>(b + l.sparse_slot);
    auto* sval = reinterpret_cast<slot_value_t<Layout>*>(b + l.sparse_value);
    std::size_t k = 0;
    for (const auto& s : sparse_)
      for (const auto& en : s.delta->entries()) {
        spage[k] = s.index;
        sslot[k] = en.index | (en.op == delta_op::assign ? sparse_assign_bit : 0u);
        sval[k] = static_cast<slot_value_t<Layout>>(en.value);
        ++k;
      }
  }

private:
  struct dense_item {
    std::uint32_t index;
    const dense_delta<Semiring, Layout>* dense;
    const sparse_delta<Semiring, Layout>* sparse;
    const storage_type* image;
  };
  struct sparse_item {
    std::uint32_t index;
    const sparse_delta<Semiring, Layout>* delta;
  };
  std::vector<dense_item> dense_;
  std::vector<sparse_item> sparse_;
  std::size_t sparse_entries_ = 0;
};

} // namespace mmsb::gpu
