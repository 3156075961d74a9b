// Internal: the slots of one page that changed during a propagation wave, each with its value
// before the wave and (once published) after it. A bitmap keeps each slot once, so the first
// "before" value wins; clearing touches only the slots that were set, so a record reused for a
// 2^20-slot page costs nothing for a one-slot change.
#pragma once

#include <mmsb/core/bits.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

namespace mmsb::detail {

template <class T>
[[nodiscard]] inline bool bit_equal(const T& a, const T& b) noexcept
{
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Items a set reserves when it is first set up: a page of up to this many slots never regrows a
// set (each slot is in it at most once), so a reused work record allocates nothing in steady
// state; a larger page's set grows geometrically past it.
inline constexpr std::size_t set_reserve_slots = 1024;

template <class T>
struct slot_change {
  std::uint32_t slot;
  T before;
  T after;
};

template <class T>
class change_set {
public:
  void init(std::size_t extent)
  {
    if (seen_.size() != words_for(extent)) seen_.assign(words_for(extent), 0);
    items_.reserve(extent < set_reserve_slots ? extent : set_reserve_slots);
  }
  [[nodiscard]] bool contains(std::uint32_t slot) const noexcept { return test_bit(seen_.data(), slot); }
  // Records slot with its value before the wave; false (and nothing recorded) if already there.
  bool add(std::uint32_t slot, T before)
  {
    if (contains(slot)) return false;
    set_bit(seen_.data(), slot);
    items_.push_back({slot, before, before});
    return true;
  }
  // The recorded "before" value of slot, or fallback if the slot is not in the set.
  [[nodiscard]] T before_or(std::uint32_t slot, T fallback) const noexcept
  {
    if (!contains(slot)) return fallback;
    for (const auto& c : items_)
      if (c.slot == slot) return c.before;
    return fallback;
  }
  [[nodiscard]] std::vector<slot_change<T>>& items() noexcept { return items_; }
  [[nodiscard]] const std::vector<slot_change<T>>& items() const noexcept { return items_; }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept
  {
    for (const auto& c : items_) clear_bit(seen_.data(), c.slot);
    items_.clear();
  }
  // Keeps the items keep(item) accepts, in order, and forgets the others' slots.
  template <class Keep>
  void retain(Keep keep)
  {
    std::size_t kept = 0;
    for (auto& c : items_) {
      if (keep(c)) items_[kept++] = c;
      else clear_bit(seen_.data(), c.slot);
    }
    items_.resize(kept);
  }

private:
  std::vector<word_t> seen_;
  std::vector<slot_change<T>> items_;
};

// A set of slots (rows to recompute), with the same O(touched) clearing.
class slot_set {
public:
  void init(std::size_t extent)
  {
    if (seen_.size() != words_for(extent)) seen_.assign(words_for(extent), 0);
    items_.reserve(extent < set_reserve_slots ? extent : set_reserve_slots);
  }
  bool add(std::uint32_t slot)
  {
    if (test_bit(seen_.data(), slot)) return false;
    set_bit(seen_.data(), slot);
    items_.push_back(slot);
    return true;
  }
  [[nodiscard]] bool contains(std::uint32_t slot) const noexcept { return test_bit(seen_.data(), slot); }
  [[nodiscard]] const std::vector<std::uint32_t>& items() const noexcept { return items_; }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  void clear() noexcept
  {
    for (const auto s : items_) clear_bit(seen_.data(), s);
    items_.clear();
  }

private:
  std::vector<word_t> seen_;
  std::vector<std::uint32_t> items_;
};

} // namespace mmsb::detail
