// graph_topology: the structure of the page graph with no values in it. Nodes are page ids;
// a transfer (an edge) runs from one or more source pages to one destination page. It keeps
// topological levels valid under every edit, and refuses an edit that would close a cycle
// outside a fixed-point region, naming the cycle, before anything changes.
//
// Levels: level(src) < level(dst) across every transfer, except between members of one
// fixed-point region, which share one level. Edits keep them valid, not minimal: an added edge
// raises levels downstream; a removed one lowers nothing.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/strong_id.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb {

// The tag (kind) of edge_id.
struct edge_id_tag { static constexpr const char* name = "edge"; };
// The tag (kind) of region_id.
struct region_id_tag { static constexpr const char* name = "region"; };
// (The tags' `name` members, for the API reference: one-line structs leave no room for a comment.)
/// @var edge_id_tag::name
/// The word messages print before an edge id's value ("edge 3").
/// @var region_id_tag::name
/// The word messages print before a region id's value ("region 1").

// An edge (transfer) of the page graph: its index in add order, never reused (removed edges
// keep theirs).
using edge_id = strong_id<edge_id_tag, std::uint32_t>;
// A fixed-point region of the page graph: its index in add order.
using region_id = strong_id<region_id_tag, std::uint32_t>;

// What carries a transfer: a matrix (dst ⊕= A ⊗ src) or a kernel function (dst = f(srcs...)).
enum class edge_kind : std::uint8_t { matrix, kernel };

// The structure engine (see the top comment). Nodes are page-id values; not thread-safe. Node
// arguments must be below node_bound() (reserve_nodes first); they are not checked.
class graph_topology {
public:
  // "No node / no region / no payload": the largest uint32, never a valid index.
  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  // One edge: its sources, its destination and what carries it.
  struct transfer {
    std::vector<std::uint32_t> srcs;  // source nodes (one for a matrix edge)
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

  // Makes room for page ids below n (nodes exist implicitly; the caller checks page existence).
  void reserve_nodes(std::size_t n)
  {
    if (n > level_.size()) {
      const std::size_t old = level_.size();
      try {  // all four or none: node_bound() must never promise room one of them lacks
        in_.resize(n);
        out_.resize(n);
        region_.resize(n, none);
        level_.resize(n, 0);
      } catch (...) {
        in_.resize(old);  // shrinking never throws
        out_.resize(old);
        region_.resize(old);
        throw;
      }
    }
  }
  // Nodes have room below this bound (see reserve_nodes).
  [[nodiscard]] std::size_t node_bound() const noexcept { return level_.size(); }

  // Adds a transfer srcs → dst. Throws mmsb::error (cycle) naming the cycle if it would close
  // one outside a region; the topology is unchanged then.
  edge_id add(span<const std::uint32_t> srcs, std::uint32_t dst, edge_kind kind, std::uint32_t payload)
  {
    std::uint32_t max_src_level = 0;
    bool any_external = false;
    for (const auto u : srcs) {
      if (same_unit(u, dst)) continue;  // inside one region: cycles are allowed there
      if (u == dst) throw error(errc::cycle, "edge " + path_string({dst, dst}) + " would close the cycle " +
                                               path_string({dst, dst}) + " (a self-loop needs a fixed-point region)");
      // A path back from dst needs an edge out of dst (or out of its region).
      if (level_[dst] <= level_[u] && (!out_[dst].empty() || region_[dst] != none)) {
        if (auto cycle = find_path(dst, u); !cycle.empty()) {
          cycle.push_back(dst);
          throw error(errc::cycle, "edge " + std::to_string(u) + " -> " + std::to_string(dst) +
                                     " would close the cycle " + path_string(cycle));
        }
      }
      max_src_level = std::max(max_src_level, level_[u]);
      any_external = true;
    }
    // Every allocation before the first link, so running out of memory leaves nothing half linked.
    std::vector<std::uint32_t> sources(srcs.begin(), srcs.end());
    reserve_for(transfers_, transfers_.size() + 1);
    for (const auto u : srcs) reserve_for(out_[u], out_[u].size() + 1);
    reserve_for(in_[dst], in_[dst].size() + 1);
    transfers_.push_back({std::move(sources), dst, payload, kind, true});
    const auto id = static_cast<std::uint32_t>(transfers_.size() - 1);
    for (const auto u : srcs)
      if (std::find(out_[u].begin(), out_[u].end(), id) == out_[u].end()) out_[u].push_back(id);
    in_[dst].push_back(id);
    if (any_external && level_[dst] <= max_src_level) {
      try {
        raise(dst, max_src_level + 1);
      } catch (...) {  // out of memory: take the edge back (raise changed no level)
        in_[dst].pop_back();
        for (const auto u : srcs)
          if (!out_[u].empty() && out_[u].back() == id) out_[u].pop_back();
        transfers_.pop_back();
        throw;
      }
    }
    ++version_;
    return edge_id{id};
  }

  // Reserves the next id for a transfer that was added and removed before (restoring a topology
  // from a checkpoint, so that later ids match): recorded as removed, with no checks and no
  // links; it never takes part in anything again.
  edge_id add_removed()
  {
    transfers_.push_back({{}, none, none, edge_kind::matrix, false});
    ++version_;
    return edge_id{static_cast<std::uint32_t>(transfers_.size() - 1)};
  }

  // Unlinks a live transfer and marks it removed; levels are not lowered. e must be a live
  // transfer (unchecked: page_graph checks it).
  void remove(edge_id e)
  {
    transfer& t = transfers_[e.value()];
    for (const auto u : t.srcs) std::erase(out_[u], e.value());
    std::erase(in_[t.dst], e.value());
    t.live = false;
    ++version_;
  }

  // Puts members into one fixed-point region. Throws mmsb::error if a member is listed twice or
  // is already in a region (invalid_argument), or if merging them closes a cycle through pages
  // outside the region (cycle, naming it); nothing changes then.
  region_id add_region(span<const std::uint32_t> members, std::uint32_t max_iterations)
  {
    const auto id = static_cast<std::uint32_t>(regions_.size());
    std::vector<std::uint32_t> sorted(members.begin(), members.end());
    std::sort(sorted.begin(), sorted.end());
    if (const auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end())
      throw error(errc::invalid_argument, "page " + std::to_string(*twice) + " is listed twice in the fixed-point region");
    for (const auto m : members)
      if (region_[m] != none)
        throw error(errc::invalid_argument, "page " + std::to_string(m) + " is already in fixed-point region " +
                                              std::to_string(region_[m]));
    const auto saved_levels = level_;
    regions_.push_back({std::vector<std::uint32_t>(members.begin(), members.end()), max_iterations});
    for (const auto m : members) region_[m] = id;
    if (!relevel()) {
      auto cycle = find_cycle();
      for (const auto m : members) region_[m] = none;
      regions_.pop_back();
      level_ = saved_levels;
      throw error(errc::cycle, "a fixed-point region of pages " + path_string(members, ", ") +
                                 " would close the cycle " + path_string(cycle) + " through pages outside it");
    }
    ++version_;
    return region_id{id};
  }

  // Recomputes minimal levels over the region-condensed graph (Kahn). False if it has a cycle.
  bool relevel()
  {
    const std::size_t n = level_.size();
    std::vector<std::uint32_t> indeg(n, 0);
    for (std::uint32_t v = 0; v < n; ++v)
      for (const auto t : in_[v])
        for (const auto u : transfers_[t].srcs)
          if (!same_unit(u, v)) ++indeg[unit_root(v)];
    std::vector<std::uint32_t> ready;
    for (std::uint32_t v = 0; v < n; ++v)
      if (unit_root(v) == v && indeg[v] == 0) ready.push_back(v);
    std::vector<std::uint32_t> next(n, 0);
    std::size_t done = 0, units = 0;
    for (std::uint32_t v = 0; v < n; ++v) units += unit_root(v) == v;
    while (!ready.empty()) {
      const auto r = ready.back();
      ready.pop_back();
      ++done;
      for_each_member(r, [&](std::uint32_t m) { level_[m] = next[r]; });
      for_each_member(r, [&](std::uint32_t m) {
        for (const auto t : out_[m]) {
          const auto d = transfers_[t].dst;
          if (same_unit(m, d)) continue;
          const auto dr = unit_root(d);
          next[dr] = std::max(next[dr], next[r] + 1);
          for (const auto u : transfers_[t].srcs)
            if (u == m && --indeg[dr] == 0) ready.push_back(dr);
        }
      });
    }
    return done == units;
  }

  // One cycle outside regions as a closed path (first node repeated last), or empty.
  [[nodiscard]] std::vector<std::uint32_t> find_cycle() const
  {
    for (std::uint32_t v = 0; v < level_.size(); ++v)
      for (const auto t : in_[v])
        for (const auto u : transfers_[t].srcs)
          if (!same_unit(u, v)) {
            auto p = find_path(v, u, /*prune=*/false);
            if (!p.empty()) {
              p.push_back(v);
              return p;
            }
          }
    return {};
  }

  // Changes with every structural edit (for caches of derived answers such as provenance).
  [[nodiscard]] std::uint64_t version() const noexcept { return version_; }
  // v's topological level (see the top comment).
  [[nodiscard]] std::uint32_t level(std::uint32_t v) const noexcept { return level_[v]; }
  // The region v belongs to, or none.
  [[nodiscard]] std::uint32_t region_of(std::uint32_t v) const noexcept { return region_[v]; }
  // Region r (r < region_count(), unchecked).
  [[nodiscard]] const region& region_at(std::uint32_t r) const noexcept { return regions_[r]; }
  // Number of regions added.
  [[nodiscard]] std::size_t region_count() const noexcept { return regions_.size(); }
  // The live transfers into v, by index; valid until the next edit.
  [[nodiscard]] span<const std::uint32_t> in(std::uint32_t v) const noexcept { return {in_[v].data(), in_[v].size()}; }
  // The live transfers out of v (each listed once), by index; valid until the next edit.
  [[nodiscard]] span<const std::uint32_t> out(std::uint32_t v) const noexcept { return {out_[v].data(), out_[v].size()}; }
  // Transfer e, live or removed (e < transfer_count(), unchecked).
  [[nodiscard]] const transfer& at(std::uint32_t e) const noexcept { return transfers_[e]; }
  // Transfers ever added, removed ones included: every edge id is below this.
  [[nodiscard]] std::size_t transfer_count() const noexcept { return transfers_.size(); }
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

private:
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
    const std::uint32_t limit = prune ? level_[to] : std::numeric_limits<std::uint32_t>::max();
    // Generation-stamped marks: O(what the search reaches), not O(pages), per check.
    if (mark_.size() < level_.size()) {
      mark_.resize(level_.size(), 0);
      parent_.resize(level_.size(), none);
    }
    if (++generation_ == 0) {
      std::fill(mark_.begin(), mark_.end(), 0);
      generation_ = 1;
    }
    std::vector<std::uint32_t> stack{from};
    mark_[from] = generation_;
    parent_[from] = from;
    auto visit = [&](std::uint32_t next, std::uint32_t via) {
      if (mark_[next] != generation_ && level_[next] <= limit) {
        mark_[next] = generation_;
        parent_[next] = via;
        stack.push_back(next);
      }
    };
    while (!stack.empty()) {
      const auto v = stack.back();
      stack.pop_back();
      if (v == to) {
        std::vector<std::uint32_t> path{to};
        for (auto w = to; w != from; w = parent_[w]) path.push_back(parent_[w]);
        std::reverse(path.begin(), path.end());
        return path;
      }
      if (region_[v] != none)
        for (const auto m : regions_[region_[v]].members) visit(m, v);
      for (const auto t : out_[v]) visit(transfers_[t].dst, v);
    }
    return {};
  }

  // Raises v's unit to at least `to`, and everything downstream as needed.
  // The new levels are worked out first and written after, so running out of memory midway
  // leaves every level as it was (and add() can take its edge back).
  void raise(std::uint32_t v, std::uint32_t to)
  {
    std::unordered_map<std::uint32_t, std::uint32_t> raised;  // node -> its new level
    const auto level_of = [&](std::uint32_t w) {
      const auto it = raised.find(w);
      return it == raised.end() ? level_[w] : it->second;
    };
    std::vector<std::pair<std::uint32_t, std::uint32_t>> work{{v, to}};
    while (!work.empty()) {
      // Plain names, not a structured binding: clang -fopenmp cannot capture one in a lambda.
      const std::uint32_t w = work.back().first, l = work.back().second;
      work.pop_back();
      if (level_of(w) >= l) continue;
      for_each_member(unit_root(w), [&](std::uint32_t m) {
        raised[m] = l;
        for (const auto t : out_[m])
          if (!same_unit(m, transfers_[t].dst)) work.push_back({transfers_[t].dst, l + 1});
      });
    }
    for (const auto& [m, l] : raised) level_[m] = l;  // never throws
  }

  std::vector<std::uint32_t> level_, region_;
  std::vector<std::vector<std::uint32_t>> in_, out_;
  std::vector<transfer> transfers_;
  std::vector<region> regions_;
  std::uint64_t version_ = 0;
  mutable std::vector<std::uint32_t> mark_, parent_;  // find_path's scratch
  mutable std::uint32_t generation_ = 0;
};

} // namespace mmsb
