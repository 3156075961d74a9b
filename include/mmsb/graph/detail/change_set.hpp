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

// The bitmap of slots a set holds, made on first use: a work record that only marks a page for a
// full recompute (each new kernel edge's destination, a million in a bulk add) never allocates
// one.
class slot_bits {
public:
  void init(std::size_t extent)
  {
    extent_ = extent;
    if (!words_.empty() && words_.size() != words_for(extent)) words_.assign(words_for(extent), 0);
  }
  [[nodiscard]] bool test(std::uint32_t slot) const noexcept { return !words_.empty() && test_bit(words_.data(), slot); }
  // Sets slot; false if it was set. The first call makes the bitmap, and room in `items`.
  template <class Items>
  bool set(std::uint32_t slot, Items& items)
  {
    if (words_.empty()) {
      words_.assign(words_for(extent_), 0);
      items.reserve(extent_ < set_reserve_slots ? extent_ : set_reserve_slots);
    }
    if (test_bit(words_.data(), slot)) return false;
    set_bit(words_.data(), slot);
    return true;
  }
  void reset(std::uint32_t slot) noexcept { clear_bit(words_.data(), slot); }

private:
  std::vector<word_t> words_;
  std::size_t extent_ = 0;
};

template <class T>
struct slot_change {
  std::uint32_t slot;
  T before;
  T after;
};

template <class T>
class change_set {
public:
  void init(std::size_t extent) { seen_.init(extent); }
  [[nodiscard]] bool contains(std::uint32_t slot) const noexcept { return seen_.test(slot); }
  // Records slot with its value before the wave; false (and nothing recorded) if already there.
  bool add(std::uint32_t slot, T before)
  {
    if (!seen_.set(slot, items_)) return false;
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
    for (const auto& c : items_) seen_.reset(c.slot);
    items_.clear();
  }
  // Keeps the items keep(item) accepts, in order, and forgets the others' slots.
  template <class Keep>
  void retain(Keep keep)
  {
    std::size_t kept = 0;
    for (auto& c : items_) {
      if (keep(c)) items_[kept++] = c;
      else seen_.reset(c.slot);
    }
    items_.resize(kept);
  }

private:
  slot_bits seen_;
  std::vector<slot_change<T>> items_;
};

// A set of slots (rows to recompute), with the same O(touched) clearing.
class slot_set {
public:
  void init(std::size_t extent) { seen_.init(extent); }
  bool add(std::uint32_t slot)
  {
    if (!seen_.set(slot, items_)) return false;
    items_.push_back(slot);
    return true;
  }
  [[nodiscard]] bool contains(std::uint32_t slot) const noexcept { return seen_.test(slot); }
  [[nodiscard]] const std::vector<std::uint32_t>& items() const noexcept { return items_; }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  void clear() noexcept
  {
    for (const auto s : items_) seen_.reset(s);
    items_.clear();
  }

private:
  slot_bits seen_;
  std::vector<std::uint32_t> items_;
};

} // namespace mmsb::detail
