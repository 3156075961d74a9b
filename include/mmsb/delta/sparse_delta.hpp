// sparse_delta<Semiring, Layout>: the list encoding of a change to one page: entries sorted by
// strictly ascending slot index, each with its op and value. Chosen over dense_delta when few
// slots change (see delta.hpp). Validated on construction, so apply never re-checks.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/compatible.hpp>
#include <mmsb/delta/element.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mmsb {

// One entry of a sparse_delta: slot `index` changes by `op` with `value`.
template <class T>
struct sparse_entry {
  std::uint32_t index;  // the slot, < the layout's extent
  delta_op op;  // accumulate (x ← x ⊕ value) or assign (x ← value)
  T value;  // the change's value
  // Member-wise (values compared with ==).
  friend constexpr bool operator==(const sparse_entry&, const sparse_entry&) noexcept = default;
};

// The list encoding of a change to one page (see the top of this header). Owns its entries (a
// std::vector); not thread-safe.
template <class Semiring, class Layout>
class sparse_delta {
  static_assert(require_compatible<Semiring, Layout>());

public:
  using semiring_type = Semiring;  // the semiring whose ⊕ accumulates
  using layout_type = Layout;  // the page layout it changes
  using value_type = typename Layout::value_type;  // the element type of one slot
  using entry_type = sparse_entry<value_type>;  // one entry: index, op, value
  static constexpr std::size_t extent = Layout::extent;  // the number of slots of the page

  sparse_delta() = default;
  // No change, to page `target`.
  explicit sparse_delta(page_id target) : target_(target) {}

  // Validates and copies parallel arrays: same length, no null buffer with a non-zero count,
  // indices in range and strictly ascending. Throws mmsb::error naming the page and the position.
  static sparse_delta from_arrays(page_id target, span<const std::uint32_t> indices, span<const value_type> values,
                                  span<const delta_op> ops)
  {
    const auto where = [&] { return "sparse delta for page " + std::to_string(target.value()); };
    if ((indices.data() == nullptr && !indices.empty()) || (values.data() == nullptr && !values.empty()) ||
        (ops.data() == nullptr && !ops.empty()))
      throw error(errc::invalid_argument, where() + ": null buffer with a non-zero count");
    if (indices.size() != values.size() || indices.size() != ops.size())
      throw error(errc::size_mismatch, where() + ": " + std::to_string(indices.size()) + " indices, " +
                                         std::to_string(values.size()) + " values, " +
                                         std::to_string(ops.size()) + " ops");
    sparse_delta d(target);
    d.entries_.reserve(indices.size());
    for (std::size_t k = 0; k < indices.size(); ++k) d.push_back(indices[k], ops[k], values[k]);
    return d;
  }

  // Appends one entry; its index must exceed the last one. Throws mmsb::error otherwise, with
  // the delta unchanged.
  void push_back(std::uint32_t index, delta_op op, value_type v)
  {
    const auto where = [&] { return "sparse delta for page " + std::to_string(target_.value()) + ": "; };
    if (index >= extent)
      throw error(errc::out_of_range, where() + "slot " + std::to_string(index) + " is out of range (the page has " +
                                        std::to_string(extent) + " slots)");
    if (!entries_.empty() && entries_.back().index >= index)
      throw error(errc::invalid_argument,
                  where() + "slot " + std::to_string(index) + " at entry " + std::to_string(entries_.size()) +
                    (entries_.back().index == index ? " is duplicated" : " is out of order") +
                    " (previous slot " + std::to_string(entries_.back().index) + "); indices must be strictly ascending");
    if (op != delta_op::accumulate && op != delta_op::assign)
      throw error(errc::invalid_argument, where() + "entry " + std::to_string(entries_.size()) + " has an unknown op");
    entries_.push_back({index, op, v});
  }
  // The same without the checks, for callers that produce valid entries by construction
  // (ascending, in range, a known op); capacity must have been reserved.
  void push_back_unchecked(std::uint32_t index, delta_op op, value_type v) noexcept
  {
    MMSB_EXPECTS(index < extent && (entries_.empty() || entries_.back().index < index) && entries_.size() < entries_.capacity());
    entries_.push_back({index, op, v});
  }
  // Back to no change (same target), keeping the capacity.
  void clear() noexcept { entries_.clear(); }

  // The page this change is for.
  [[nodiscard]] page_id target() const noexcept { return target_; }
  // Points the same change at another page.
  void retarget(page_id target) noexcept { target_ = target; }
  // The number of entries (changed slots).
  [[nodiscard]] std::size_t count() const noexcept { return entries_.size(); }
  // True when no slot is changed.
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  // The entries, by strictly ascending index; valid until the delta is next modified.
  [[nodiscard]] span<const entry_type> entries() const noexcept { return {entries_.data(), entries_.size()}; }
  // Reserves room for n entries (may throw std::bad_alloc, with the delta unchanged).
  void reserve(std::size_t n) { entries_.reserve(n); }

  // Same target and equal entries.
  friend bool operator==(const sparse_delta&, const sparse_delta&) = default;

private:
  page_id target_{};
  std::vector<entry_type> entries_;
};

} // namespace mmsb
