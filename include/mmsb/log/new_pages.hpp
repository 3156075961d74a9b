// Internal to durable_store: the pages created since the last commit (the next commit's record
// names them, so recovery creates them) and the initial values of those not created at zero()
// (logged as "every slot := initial" with them).
#pragma once

#include <mmsb/core/alignment.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace mmsb::detail {

template <class T>
class new_pages {
public:
  // Room for one more page (and its initial value), so the add() after it cannot throw.
  void reserve_one(bool with_initial)
  {
    reserve_for(ids_, ids_.size() + 1);
    if (with_initial) reserve_for(initial_, initial_.size() + 1);
  }
  void add(std::uint32_t id) noexcept { ids_.push_back(id); }
  void add(std::uint32_t id, T initial) noexcept
  {
    initial_.insert(std::lower_bound(initial_.begin(), initial_.end(), id, by_id), {id, initial});
    ids_.push_back(id);
  }
  // The initial value of page id, or nullptr if it was created at zero() (or is not new).
  // Ascending by id (ids are issued in order): a binary search, so a commit naming many new
  // pages stays O(n log n).
  [[nodiscard]] const T* initial_of(std::uint32_t id) const noexcept
  {
    const auto it = std::lower_bound(initial_.begin(), initial_.end(), id, by_id);
    return it != initial_.end() && it->first == id ? &it->second : nullptr;
  }
  [[nodiscard]] const std::vector<std::uint32_t>& ids() const noexcept { return ids_; }
  [[nodiscard]] bool empty() const noexcept { return ids_.empty(); }
  [[nodiscard]] bool any_initial() const noexcept { return !initial_.empty(); }
  void clear() noexcept
  {
    ids_.clear();
    initial_.clear();
  }

private:
  static bool by_id(const std::pair<std::uint32_t, T>& entry, std::uint32_t id) noexcept { return entry.first < id; }
  std::vector<std::uint32_t> ids_;
  std::vector<std::pair<std::uint32_t, T>> initial_;
};

} // namespace mmsb::detail
