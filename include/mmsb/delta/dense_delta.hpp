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

template <class Semiring, class Layout>
class dense_delta {
  static_assert(require_compatible<Semiring, Layout>());

public:
  using semiring_type = Semiring;
  using layout_type = Layout;
  using value_type = typename Layout::value_type;
  using storage_type = typename Layout::storage_type;
  static constexpr std::size_t extent = Layout::extent;
  static constexpr std::size_t words = words_for(Layout::extent);

  constexpr dense_delta() noexcept = default;
  MMSB_HD constexpr explicit dense_delta(page_id target) noexcept : target_(target) {}

  [[nodiscard]] MMSB_HD constexpr page_id target() const noexcept { return target_; }
  MMSB_HD constexpr void retarget(page_id target) noexcept { target_ = target; }

  // x ← x ⊕ v. A second change to the same slot merges with the first (merge law order).
  void accumulate(std::size_t i, value_type v) { put(i, false, v); }
  // x ← v.
  void assign(std::size_t i, value_type v) { put(i, true, v); }
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

  void put(std::size_t i, bool assign, value_type v)
  {
    if (i >= extent)
      throw error(errc::out_of_range, "delta for page " + std::to_string(target_.value()) + ": slot " +
                                        std::to_string(i) + " is out of range (the page has " +
                                        std::to_string(extent) + " slots)");
    put_unchecked(i, {assign, v});
  }

  MMSB_HD constexpr void put_unchecked(std::size_t i, delta_element<value_type> e) noexcept
  {
    if (test_bit(mask_, i)) e = merge_element<Semiring>({test_bit(assign_, i), Layout::load(payload_, i)}, e);
    set_bit(mask_, i);
    if (e.assign) set_bit(assign_, i); else clear_bit(assign_, i);
    Layout::store(payload_, i, e.value);
  }

  [[nodiscard]] MMSB_HD constexpr bool contains(std::size_t i) const noexcept { return i < extent && test_bit(mask_, i); }
  [[nodiscard]] MMSB_HD constexpr bool is_assign(std::size_t i) const noexcept { return test_bit(assign_, i); }
  [[nodiscard]] MMSB_HD constexpr value_type value(std::size_t i) const noexcept { return Layout::load(payload_, i); }
  [[nodiscard]] MMSB_HD constexpr std::size_t count() const noexcept { return count_bits(mask_, extent); }
  [[nodiscard]] MMSB_HD constexpr bool empty() const noexcept
  {
    for (std::size_t w = 0; w < words; ++w)
      if (mask_[w]) return false;
    return true;
  }

  [[nodiscard]] MMSB_HD constexpr const word_t* mask_words() const noexcept { return mask_; }
  [[nodiscard]] MMSB_HD constexpr const word_t* assign_words() const noexcept { return assign_; }
  [[nodiscard]] MMSB_HD constexpr const storage_type& payload() const noexcept { return payload_; }
  // Raw access for the merge/apply kernels and decoders, which keep the canonical form.
  [[nodiscard]] MMSB_HD constexpr word_t* mask_words() noexcept { return mask_; }
  [[nodiscard]] MMSB_HD constexpr word_t* assign_words() noexcept { return assign_; }
  [[nodiscard]] MMSB_HD constexpr storage_type& payload() noexcept { return payload_; }

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
