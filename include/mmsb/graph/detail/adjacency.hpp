// Internal: per-node lists of transfer ids (the topology's in- and out-lists) in one pool, with
// no allocation per node. A list that runs out of room moves to the pool's end with double the
// room; a bulk reserve lays the lists it grows out back to back, as a CSR would. The pool is
// compacted when more than half of it is left behind by moves.
#pragma once

#include <mmsb/core/span.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mmsb::detail {

class adjacency {
public:
  // Lists for nodes below n (new ones empty). Strong guarantee.
  void resize(std::size_t n) { lists_.resize(n); }
  [[nodiscard]] std::size_t size() const noexcept { return lists_.size(); }

  // Node v's list, valid until the next reserve, push, pop or erase.
  [[nodiscard]] span<const std::uint32_t> operator[](std::uint32_t v) const noexcept
  {
    return {pool_.data() + lists_[v].at, lists_[v].size};
  }
  [[nodiscard]] bool empty(std::uint32_t v) const noexcept { return lists_[v].size == 0; }
  // The last item of a non-empty list.
  [[nodiscard]] std::uint32_t back(std::uint32_t v) const noexcept { return pool_[lists_[v].at + lists_[v].size - 1]; }

  // Room for `more` pushes into v. Strong guarantee: if it throws, nothing moved.
  void reserve(std::uint32_t v, std::size_t more)
  {
    const list& l = lists_[v];
    if (l.cap - l.size >= more) return;
    const std::size_t cap = std::max<std::size_t>({l.size + more, 2 * std::size_t{l.cap}, 2});
    make_room(cap);
    move_to_end(v, cap);
  }
  // Room for more[v] pushes into every node v (more has size() entries), with one growth of the
  // pool: a list that lacks room moves to the end with exactly what it needs. Strong guarantee.
  void reserve_each(span<const std::uint32_t> more)
  {
    std::size_t need = 0;
    for (std::uint32_t v = 0; v < lists_.size(); ++v)
      if (lists_[v].cap - lists_[v].size < more[v]) need += lists_[v].size + more[v];
    if (need == 0) return;
    make_room(need);
    for (std::uint32_t v = 0; v < lists_.size(); ++v)
      if (lists_[v].cap - lists_[v].size < more[v]) move_to_end(v, lists_[v].size + more[v]);
  }

  // Appends x to v's list, into room reserved before.
  void push(std::uint32_t v, std::uint32_t x) noexcept
  {
    list& l = lists_[v];
    pool_[l.at + l.size++] = x;
  }
  // Drops the last item of a non-empty list.
  void pop(std::uint32_t v) noexcept { --lists_[v].size; }
  // Removes every x from v's list, keeping the others' order.
  void erase(std::uint32_t v, std::uint32_t x) noexcept
  {
    list& l = lists_[v];
    std::uint32_t* first = pool_.data() + l.at;
    l.size = static_cast<std::uint32_t>(std::remove(first, first + l.size, x) - first);
  }

private:
  struct list {
    std::size_t at = 0;       // where its items start in pool_
    std::uint32_t size = 0;   // items
    std::uint32_t cap = 0;    // room from `at`
  };

  // Makes the pool's free tail hold at least n more items, compacting first when moves have
  // left more than half of it unused. Strong guarantee.
  void make_room(std::size_t n)
  {
    if (garbage_ > pool_.size() / 2 && garbage_ > 4096) {
      std::vector<std::uint32_t> packed;
      packed.reserve(pool_.size() - garbage_ + n);
      std::vector<std::size_t> at(lists_.size());
      for (std::uint32_t v = 0; v < lists_.size(); ++v) {
        at[v] = packed.size();
        packed.insert(packed.end(), pool_.begin() + static_cast<std::ptrdiff_t>(lists_[v].at),
                      pool_.begin() + static_cast<std::ptrdiff_t>(lists_[v].at + lists_[v].cap));
      }
      for (std::uint32_t v = 0; v < lists_.size(); ++v) lists_[v].at = at[v];  // never throws
      pool_.swap(packed);
      used_ = pool_.size();
      garbage_ = 0;
    }
    if (pool_.size() - used_ < n) {
      std::size_t grown = std::max(pool_.size() * 2, used_ + n);
      pool_.resize(grown);
    }
  }
  // Moves v's list to the pool's free tail (room made before), with room for cap items.
  void move_to_end(std::uint32_t v, std::size_t cap) noexcept
  {
    list& l = lists_[v];
    std::copy_n(pool_.begin() + static_cast<std::ptrdiff_t>(l.at), l.size, pool_.begin() + static_cast<std::ptrdiff_t>(used_));
    garbage_ += l.cap;
    l.at = used_;
    l.cap = static_cast<std::uint32_t>(cap);
    used_ += cap;
  }

  std::vector<list> lists_;
  std::vector<std::uint32_t> pool_;  // [0, used_) holds lists and what moves left behind
  std::size_t used_ = 0;             // the start of the free tail
  std::size_t garbage_ = 0;          // items of pool_ below used_ that no list owns
};

} // namespace mmsb::detail
