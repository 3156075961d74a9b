// dense_delta<Semiring, Layout>: the bitmap encoding of a change to one page: a mask word per 64
// slots, an assign word per 64 slots (set = x ← v, clear = x ← x ⊕ v), and a full payload block.
// Fixed size and trivially copyable, so it crosses rings, logs and PCIe as plain bytes.
// Canonical form: unmasked payload slots and assign bits are zero, so equal deltas are equal bytes.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/delta/compatible.hpp>
#include <mmsb/delta/element.hpp>

#include <cstddef>
#include <cstring>
#include <string>

namespace mmsb {

// The bitmap encoding of a change to one page (see the top of this header): fixed size, trivially
// copyable, canonical (equal changes are equal bytes). Not thread-safe.
template <class Semiring, class Layout>
class dense_delta {
  static_assert(require_compatible<Semiring, Layout>());

public:
  using semiring_type = Semiring;  // the semiring whose ⊕ accumulates
  using layout_type = Layout;  // the page layout it changes
  using value_type = typename Layout::value_type;  // the element type of one slot
  using storage_type = typename Layout::storage_type;  // the layout's slot block, used for the payload
  static constexpr std::size_t extent = Layout::extent;  // the number of slots
  static constexpr std::size_t words = words_for(Layout::extent);  // the number of 64-bit mask (and assign) words, ceil(extent / 64)

  constexpr dense_delta() noexcept = default;
  // No change, to page `target`.
  MMSB_HD constexpr explicit dense_delta(page_id target) noexcept : target_(target) {}

  // The page this change is for.
  [[nodiscard]] MMSB_HD constexpr page_id target() const noexcept { return target_; }
  // Points the same change at another page.
  MMSB_HD constexpr void retarget(page_id target) noexcept { target_ = target; }

  // x ← x ⊕ v. A second change to the same slot merges with the first (merge law order).
  void accumulate(std::size_t i, value_type v) { put(i, false, v); }
  // x ← v.
  void assign(std::size_t i, value_type v) { put(i, true, v); }
  // put(i, assign or not, v) by delta_op; throws mmsb::error (invalid_argument) naming the page
  // and slot for an op outside the enum, or (out_of_range) if i >= extent; nothing changes then.
  void put(std::size_t i, delta_op op, value_type v)
  {
    if (op != delta_op::accumulate && op != delta_op::assign)
      throw error(errc::invalid_argument, "delta for page " + std::to_string(target_.value()) + ": slot " +
                                            std::to_string(i) + " has an unknown op");
    put(i, op == delta_op::assign, v);
  }

  // Back to no change (same target), in place: no page-sized temporary.
  void clear() noexcept
  {
    payload_ = storage_type{};
    for (std::size_t w = 0; w < words; ++w) mask_[w] = assign_[w] = 0;
  }

  // Adds a change to slot i (x ← v if assign, else x ← x ⊕ v), merged after any earlier change to
  // i. Throws mmsb::error (out_of_range) naming the page, slot and extent if i >= extent; nothing
  // changes then.
  void put(std::size_t i, bool assign, value_type v)
  {
    if (i >= extent)
      throw error(errc::out_of_range, "delta for page " + std::to_string(target_.value()) + ": slot " +
                                        std::to_string(i) + " is out of range (the page has " +
                                        std::to_string(extent) + " slots)");
    put_unchecked(i, {assign, v});
  }

  // put without the range check; requires i < extent (device-callable, for kernels and decoders).
  MMSB_HD constexpr void put_unchecked(std::size_t i, delta_element<value_type> e) noexcept
  {
    if (test_bit(mask_, i)) e = merge_element<Semiring>({test_bit(assign_, i), Layout::load(payload_, i)}, e);
    set_bit(mask_, i);
    if (e.assign) set_bit(assign_, i); else clear_bit(assign_, i);
    Layout::store(payload_, i, e.value);
  }

  // True when slot i is changed (false for any i >= extent).
  [[nodiscard]] MMSB_HD constexpr bool contains(std::size_t i) const noexcept { return i < extent && test_bit(mask_, i); }
  // True when slot i's change is an assign (x ← v); false for an accumulate or an unchanged slot.
  [[nodiscard]] MMSB_HD constexpr bool is_assign(std::size_t i) const noexcept { return test_bit(assign_, i); }
  // The payload of slot i: its change's value if contains(i), else zero; requires i < extent.
  [[nodiscard]] MMSB_HD constexpr value_type value(std::size_t i) const noexcept { return Layout::load(payload_, i); }
  // The number of changed slots.
  [[nodiscard]] MMSB_HD constexpr std::size_t count() const noexcept { return count_bits(mask_, extent); }
  // True when no slot is changed.
  [[nodiscard]] MMSB_HD constexpr bool empty() const noexcept
  {
    for (std::size_t w = 0; w < words; ++w)
      if (mask_[w]) return false;
    return true;
  }

  // The mask: bit i % 64 of word i / 64 is set when slot i is changed (words of them).
  [[nodiscard]] MMSB_HD constexpr const word_t* mask_words() const noexcept { return mask_; }
  // The assign bits, laid out as the mask; set only where the mask is.
  [[nodiscard]] MMSB_HD constexpr const word_t* assign_words() const noexcept { return assign_; }
  // The payload block; zero where the mask is clear.
  [[nodiscard]] MMSB_HD constexpr const storage_type& payload() const noexcept { return payload_; }
  // Raw access for the merge/apply kernels and decoders, which keep the canonical form.
  [[nodiscard]] MMSB_HD constexpr word_t* mask_words() noexcept { return mask_; }
  // Writable assign bits, for kernels and decoders that keep the canonical form.
  [[nodiscard]] MMSB_HD constexpr word_t* assign_words() noexcept { return assign_; }
  // Writable payload block, for kernels and decoders that keep the canonical form.
  [[nodiscard]] MMSB_HD constexpr storage_type& payload() noexcept { return payload_; }

  // Same target, same masks and assign bits, and bit-identical values in every changed slot.
  friend bool operator==(const dense_delta& a, const dense_delta& b) noexcept
  {
    if (a.target_ != b.target_) return false;
    for (std::size_t w = 0; w < words; ++w)
      if (a.mask_[w] != b.mask_[w] || a.assign_[w] != b.assign_[w]) return false;
    for (std::size_t i = 0; i < extent; ++i) {
      if (!test_bit(a.mask_, i)) continue;
      const value_type x = Layout::load(a.payload_, i), y = Layout::load(b.payload_, i);
      if (std::memcmp(&x, &y, sizeof x) != 0) return false;
    }
    return true;
  }

private:
  storage_type payload_{};
  word_t mask_[words]{};
  word_t assign_[words]{};
  page_id target_{};
};

} // namespace mmsb
