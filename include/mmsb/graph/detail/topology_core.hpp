// The page graph's structure as plain data, and the searches over it that change nothing:
// paths (the cycle checks), Kahn's leveling and a cycle's extraction. The engine under
// graph_topology (graph/topology.hpp), which owns every edit and keeps the levels valid.
#pragma once

#include <mmsb/core/span.hpp>
#include <mmsb/graph/detail/adjacency.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

// What carries a transfer: a matrix (dst ⊕= A ⊗ src) or a kernel function (dst = f(srcs...)).
enum class edge_kind : std::uint8_t { matrix, kernel };

namespace detail {

// The data and read-only searches of graph_topology (see the top of this header).
class topology_core {
public:
  // "No node / no region / no payload": the largest uint32, never a valid index.
  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  // One edge: its sources, its destination and what carries it.
  struct transfer {
    span<const std::uint32_t> srcs;   // source nodes (one for a matrix edge), for the topology's life
    std::uint32_t dst = none;         // the destination node
    std::uint32_t payload = none;  // index of the matrix or kernel that carries it
    edge_kind kind = edge_kind::matrix;  // matrix or kernel
    bool live = false;                   // false once removed (or added as removed)
  };
  // One fixed-point region.
  struct region {
    std::vector<std::uint32_t> members;  // its nodes, as given to add_region
    std::uint32_t max_iterations = 0;    // the solver's round limit (then errc::not_converged)
  };
  // Whether an edge a → b may be part of a cycle: both in one region (a == b: a is in one).
  [[nodiscard]] bool same_unit(std::uint32_t a, std::uint32_t b) const noexcept
  {
    return a == b ? region_[a] != none : (region_[a] != none && region_[a] == region_[b]);
  }

  // The nodes joined by sep ("3 -> 5 -> 3"), for error messages.
  static std::string path_string(span<const std::uint32_t> nodes, const char* sep = " -> ")
  {
    std::string s;
    for (std::size_t i = 0; i < nodes.size(); ++i) s += (i ? sep : "") + std::to_string(nodes[i]);
    return s;
  }
  // The nodes joined by " -> ".
  static std::string path_string(std::initializer_list<std::uint32_t> nodes)
  {
    return path_string(span<const std::uint32_t>{nodes.begin(), nodes.size()});
  }

protected:
  // Where the transfers' source lists live: blocks that never move, so each transfer's srcs
  // stays valid for the topology's life. One block per bulk add, not one list per transfer; a
  // removed transfer's list is not reclaimed.
  class source_arena {
  public:
    // Makes room for n more sources, so that the next takes of n in all cannot throw.
    void reserve(std::size_t n)
    {
      if (cap_ - used_ >= n) return;
      const std::size_t size = std::max<std::size_t>(n, block_sources);
      blocks_.reserve(blocks_.size() + 1);
      blocks_.push_back(std::make_unique_for_overwrite<std::uint32_t[]>(size));
      used_ = 0;
      cap_ = size;
    }
    // A lasting copy of s, in room reserved before.
    [[nodiscard]] span<const std::uint32_t> take(span<const std::uint32_t> s) noexcept
    {
      std::uint32_t* at = blocks_.back().get() + used_;
      std::copy(s.begin(), s.end(), at);
      used_ += s.size();
      return {at, s.size()};
    }
    // Hands back the newest take, s (a refused add).
    void give_back(span<const std::uint32_t> s) noexcept
    {
      if (!blocks_.empty() && s.data() + s.size() == blocks_.back().get() + used_) used_ -= s.size();
    }

  private:
    static constexpr std::size_t block_sources = std::size_t{1} << 14;  // 64 KiB blocks for edges added one by one
    std::vector<std::unique_ptr<std::uint32_t[]>> blocks_;
    std::size_t used_ = 0, cap_ = 0;
  };

  // A unit is a page, or a whole region represented by its first member.
  [[nodiscard]] std::uint32_t unit_root(std::uint32_t v) const noexcept
  {
    return region_[v] == none ? v : regions_[region_[v]].members.front();
  }
  template <class F>
  void for_each_member(std::uint32_t root, F&& f) const
  {
    if (region_[root] == none) f(root);
    else for (const auto m : regions_[region_[root]].members) f(m);
  }

  // A path from `from` to `to` following transfers (regions count as one unit), as nodes from
  // `from` to `to`; empty if none. With prune, only nodes at or below to's level are visited:
  // levels rise along every path, so no other node can lead to `to`.
  [[nodiscard]] std::vector<std::uint32_t> find_path(std::uint32_t from, std::uint32_t to, bool prune = true) const
  {
    const std::pair<std::uint32_t, std::uint32_t> start{from, none};
    return find_path({&start, 1}, [&](std::uint32_t v) { return v == to; },
                     prune ? level_[to] : std::numeric_limits<std::uint32_t>::max());
  }
  // The general search: from every (node, via) of starts to the first node is_target accepts,
  // visiting nodes at or below level `limit`; the path runs from `via` (unless none) through
  // the start to the target. A target's region is not entered.
  template <class IsTarget>
  [[nodiscard]] std::vector<std::uint32_t> find_path(span<const std::pair<std::uint32_t, std::uint32_t>> starts,
                                                     IsTarget&& is_target, std::uint32_t limit) const
  {
    const std::uint32_t gen = next_generation();
    std::vector<std::uint32_t> stack;
    auto visit = [&](std::uint32_t next, std::uint32_t via) {
      if (mark_[next] != gen && level_[next] <= limit) {
        mark_[next] = gen;
        parent_[next] = via;
        stack.push_back(next);
      }
    };
    for (const auto& [v, via] : starts) visit(v, v);
    while (!stack.empty()) {
      const auto v = stack.back();
      stack.pop_back();
      if (is_target(v)) {
        std::vector<std::uint32_t> path{v};
        for (auto w = v; parent_[w] != w; w = parent_[w]) path.push_back(parent_[w]);
        for (const auto& [s, via] : starts)
          if (s == path.back() && via != none) {
            path.push_back(via);
            break;
          }
        std::reverse(path.begin(), path.end());
        return path;
      }
      if (region_[v] != none)
        for (const auto m : regions_[region_[v]].members) visit(m, v);
      for (const auto t : out_[v]) visit(transfers_[t].dst, v);
    }
    return {};
  }
  // A fresh stamp for mark_ (generation-stamped marks: O(what a search reaches) per search).
  [[nodiscard]] std::uint32_t next_generation() const
  {
    if (mark_.size() < level_.size()) {
      mark_.resize(level_.size(), 0);
      parent_.resize(level_.size(), none);
    }
    if (++generation_ == 0) {
      std::fill(mark_.begin(), mark_.end(), 0);
      generation_ = 1;
    }
    return generation_;
  }

  // Kahn's algorithm over the region-condensed graph: the minimal level of every unit into
  // next (at the unit's root) and an empty result; or, when there is a cycle, one as a closed
  // path. O(pages + transfers).
  [[nodiscard]] std::vector<std::uint32_t> kahn(std::vector<std::uint32_t>& next) const
  {
    return regions_.empty() ? kahn_over<false>(next) : kahn_over<true>(next);
  }
  // kahn(), compiled without the region lookups when there are no regions (each unit a page).
  template <bool Regions>
  [[nodiscard]] std::vector<std::uint32_t> kahn_over(std::vector<std::uint32_t>& next) const
  {
    const auto unit = [&](std::uint32_t v) { return Regions ? unit_root(v) : v; };
    const auto inside = [&](std::uint32_t a, std::uint32_t b) { return Regions && same_unit(a, b); };
    const auto n = static_cast<std::uint32_t>(level_.size());
    std::vector<std::uint32_t> indeg(n, 0), ready;
    next.assign(n, 0);
    for (std::uint32_t m = 0; m < n; ++m)
      for (const auto t : out_[m])
        if (!inside(m, transfers_[t].dst)) ++indeg[unit(transfers_[t].dst)];
    for (std::uint32_t v = 0; v < n; ++v)
      if (unit(v) == v && indeg[v] == 0) ready.push_back(v);
    const auto release = [&](std::uint32_t r, std::uint32_t m) {
      for (const auto t : out_[m]) {
        const auto d = transfers_[t].dst;
        if (inside(m, d)) continue;
        const auto dr = unit(d);
        next[dr] = std::max(next[dr], next[r] + 1);
        if (--indeg[dr] == 0) ready.push_back(dr);
      }
    };
    while (!ready.empty()) {
      const auto r = ready.back();
      ready.pop_back();
      if constexpr (Regions) for_each_member(r, [&](std::uint32_t m) { release(r, m); });
      else release(r, r);
    }
    // A unit never leveled has an edge in from another such unit: walking back along those
    // must repeat a unit, and the walk between the repeats is a cycle.
    std::uint32_t v = 0;
    while (v < n && indeg[unit_root(v)] == 0) ++v;
    if (v == n) return {};
    const std::uint32_t gen = next_generation();
    std::vector<std::uint32_t> walk{v};  // backwards: each node has an edge (or a region link) to the one before
    mark_[unit_root(v)] = gen;
    parent_[unit_root(v)] = 0;
    for (;;) {
      std::uint32_t into = none, from = none;
      for_each_member(unit_root(walk.back()), [&](std::uint32_t m) {
        for (const auto t : in_[m])
          for (const auto u : transfers_[t].srcs)
            if (from == none && !same_unit(u, m) && indeg[unit_root(u)] != 0) {
              into = m;
              from = u;
            }
      });
      if (from == none) return {v, v};  // unreachable: indeg counts exactly such edges
      if (into != walk.back()) walk.push_back(into);
      walk.push_back(from);
      const auto r = unit_root(from);
      if (mark_[r] == gen) {
        std::vector<std::uint32_t> cycle(walk.rbegin(), walk.rend() - parent_[r]);
        if (cycle.back() != cycle.front()) cycle.push_back(cycle.front());  // region mates: close it
        return cycle;
      }
      mark_[r] = gen;
      parent_[r] = static_cast<std::uint32_t>(walk.size() - 1);
    }
  }

  std::vector<std::uint32_t> level_, region_;  // per node: its level, its region (or none)
  // Per node: the live transfers into it and out of it (each listed once).
  adjacency in_, out_;
  std::vector<transfer> transfers_;
  source_arena sources_;  // the transfers' source lists
  std::vector<region> regions_;
  std::uint64_t version_ = 0;
  mutable std::vector<std::uint32_t> mark_, parent_;  // find_path's scratch
  mutable std::uint32_t generation_ = 0;
};

} // namespace detail
} // namespace mmsb
