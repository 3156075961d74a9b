// graph_topology: the structure of the page graph with no values in it. Nodes are page ids;
// a transfer (an edge) runs from one or more source pages to one destination page. It keeps
// topological levels valid under every edit, and refuses an edit that would close a cycle
// outside a fixed-point region, naming the cycle, before anything changes.
//
// Levels: level(src) < level(dst) across every transfer, except between members of one
// fixed-point region, which share one level. Edits keep them valid, not minimal: an added edge
// or region raises levels downstream; a removed one lowers nothing. A large bulk add (add_bulk)
// levels the whole graph again, minimally, in one pass.
//
// Costs: add() and add_region() are incremental (a cycle check over the levels between the
// ends, a raise of what lies downstream); add_bulk() is linear in the batch, plus one pass over
// the whole graph when the batch is large next to it.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/strong_id.hpp>
#include <mmsb/graph/detail/topology_core.hpp>

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

// The structure engine (see the top comment). Nodes are page-id values; not thread-safe. Node
// arguments must be below node_bound() (reserve_nodes first); they are not checked.
class graph_topology : public detail::topology_core {
public:
  // One transfer of a bulk add (add_bulk): what add() takes.
  struct transfer_spec {
    span<const std::uint32_t> srcs;      // source nodes (one for a matrix edge)
    std::uint32_t dst = none;            // the destination node
    edge_kind kind = edge_kind::matrix;  // matrix or kernel
    std::uint32_t payload = none;        // index of the matrix or kernel that carries it
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
    return add(srcs, dst, kind, payload, nullptr);
  }

  // Adds a batch of transfers, all or none; their ids are consecutive from the one returned.
  // Throws mmsb::error (cycle) naming a cycle the batch would close outside regions; nothing
  // changes then. A batch under an eighth of the transfers already added goes edge by edge
  // through add(); a larger one is linked in one pass and the whole graph leveled again
  // (Kahn's algorithm, O(pages + transfers)).
  edge_id add_bulk(span<const transfer_spec> batch)
  {
    const auto first = static_cast<std::uint32_t>(transfers_.size());
    if (batch.size() * 8 < first) {
      std::vector<std::pair<std::uint32_t, std::uint32_t>> undo;
      const auto version = version_;
      try {
        for (const auto& t : batch) add(t.srcs, t.dst, t.kind, t.payload, &undo);
      } catch (...) {
        truncate(first);
        for (auto it = undo.rbegin(); it != undo.rend(); ++it) level_[it->first] = it->second;
        version_ = version;  // the same structure as before, levels and all
        throw;
      }
      return edge_id{first};
    }
    for (const auto& t : batch)
      for (const auto u : t.srcs)
        if (u == t.dst && !same_unit(u, u))
          throw error(errc::cycle, "edge " + path_string({u, u}) + " would close the cycle " + path_string({u, u}) +
                                     " (a self-loop needs a fixed-point region)");
    // Every allocation before the first link: exact room in each touched list, then the sources.
    {
      std::vector<std::uint32_t> more_in(level_.size(), 0), more_out(level_.size(), 0);
      for (const auto& t : batch) {
        ++more_in[t.dst];
        for (const auto u : t.srcs) ++more_out[u];
      }
      in_.reserve_each({more_in.data(), more_in.size()});
      out_.reserve_each({more_out.data(), more_out.size()});
    }
    transfers_.reserve(transfers_.size() + batch.size());
    std::size_t total = 0;
    for (const auto& t : batch) total += t.srcs.size();
    sources_.reserve(total);
    for (const auto& t : batch) {  // never throws: everything is reserved
      const auto id = static_cast<std::uint32_t>(transfers_.size());
      for (const auto u : t.srcs)
        if (out_.empty(u) || out_.back(u) != id) out_.push(u, id);  // a source listed twice: once
      in_.push(t.dst, id);
      transfers_.push_back({sources_.take(t.srcs), t.dst, t.payload, t.kind, true});
    }
    try {
      if (auto cycle = relevel_or_cycle(); !cycle.empty())
        throw error(errc::cycle, "the " + std::to_string(batch.size()) + " edges added together would close the cycle " +
                                   path_string(cycle));
    } catch (...) {
      truncate(first);
      throw;
    }
    ++version_;
    return edge_id{first};
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
    for (const auto u : t.srcs) out_.erase(u, e.value());
    in_.erase(t.dst, e.value());
    t.live = false;
    ++version_;
  }

  // Puts members into one fixed-point region. Throws mmsb::error if a member is listed twice or
  // is already in a region (invalid_argument), or if merging them closes a cycle through pages
  // outside the region (cycle, naming it); nothing changes then. Incremental: the cycle check
  // visits only pages between the members' levels, and only what lies downstream is raised.
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
    regions_.reserve(regions_.size() + 1);
    region added{std::vector<std::uint32_t>(members.begin(), members.end()), max_iterations};
    // The region shares its highest member's level. A path out of it and back in would close a
    // cycle; levels rise along it, so it never climbs above that level.
    std::uint32_t top = 0;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> leaving;  // (outside successor, member)
    for (const auto m : members) region_[m] = id;
    try {
      for (const auto m : members) {
        top = std::max(top, level_[m]);
        for (const auto t : out_[m])
          if (region_[transfers_[t].dst] != id) leaving.emplace_back(transfers_[t].dst, m);
      }
      auto cycle = find_path(leaving, [&](std::uint32_t v) { return region_[v] == id; }, top);
      if (!cycle.empty()) {
        cycle.push_back(cycle.front());
        throw error(errc::cycle, "a fixed-point region of pages " + path_string(members, ", ") + " would close the cycle " +
                                   path_string(cycle) + " through pages outside it");
      }
      for (auto& l : leaving) l.second = top + 1;
      raise(std::move(leaving));
    } catch (...) {
      for (const auto m : members) region_[m] = none;
      throw;
    }
    for (const auto m : members) level_[m] = top;  // never throws
    regions_.push_back(std::move(added));
    ++version_;
    return region_id{id};
  }

  // Recomputes minimal levels over the region-condensed graph (Kahn's algorithm). False, with
  // the levels as they were, if it has a cycle.
  bool relevel() { return relevel_or_cycle().empty(); }

  // One cycle outside regions as a closed path (first node repeated last), or empty.
  [[nodiscard]] std::vector<std::uint32_t> find_cycle() const
  {
    std::vector<std::uint32_t> next;
    return kahn(next);
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
  [[nodiscard]] span<const std::uint32_t> in(std::uint32_t v) const noexcept { return in_[v]; }
  // The live transfers out of v (each listed once), by index; valid until the next edit.
  [[nodiscard]] span<const std::uint32_t> out(std::uint32_t v) const noexcept { return out_[v]; }
  // Transfer e, live or removed (e < transfer_count(), unchecked).
  [[nodiscard]] const transfer& at(std::uint32_t e) const noexcept { return transfers_[e]; }
  // Transfers ever added, removed ones included: every edge id is below this.
  [[nodiscard]] std::size_t transfer_count() const noexcept { return transfers_.size(); }

private:
  // add(), noting each level it raises in *undo (when given) as (node, level before).
  edge_id add(span<const std::uint32_t> srcs, std::uint32_t dst, edge_kind kind, std::uint32_t payload,
              std::vector<std::pair<std::uint32_t, std::uint32_t>>* undo)
  {
    std::uint32_t max_src_level = 0;
    bool any_external = false;
    for (const auto u : srcs) {
      if (same_unit(u, dst)) continue;  // inside one region: cycles are allowed there
      if (u == dst) throw error(errc::cycle, "edge " + path_string({dst, dst}) + " would close the cycle " +
                                               path_string({dst, dst}) + " (a self-loop needs a fixed-point region)");
      // A path back from dst needs an edge out of dst (or out of its region).
      if (level_[dst] <= level_[u] && (!out_.empty(dst) || region_[dst] != none)) {
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
    sources_.reserve(srcs.size());
    reserve_for(transfers_, transfers_.size() + 1);
    for (const auto u : srcs) out_.reserve(u, 1);
    in_.reserve(dst, 1);
    transfers_.push_back({sources_.take(srcs), dst, payload, kind, true});
    const auto id = static_cast<std::uint32_t>(transfers_.size() - 1);
    for (const auto u : srcs)
      if (out_.empty(u) || out_.back(u) != id) out_.push(u, id);  // a source listed twice: once
    in_.push(dst, id);
    if (any_external && level_[dst] <= max_src_level) {
      try {
        raise({{dst, max_src_level + 1}}, undo);
      } catch (...) {  // out of memory: take the edge back (raise changed no level)
        in_.pop(dst);
        for (const auto u : srcs)
          if (!out_.empty(u) && out_.back(u) == id) out_.pop(u);
        sources_.give_back(transfers_.back().srcs);
        transfers_.pop_back();
        throw;
      }
    }
    ++version_;
    return edge_id{id};
  }
  // Levels every unit minimally (Kahn); the levels are unchanged when it finds a cycle, which
  // it returns (empty: none).
  [[nodiscard]] std::vector<std::uint32_t> relevel_or_cycle()
  {
    std::vector<std::uint32_t> next;
    auto cycle = kahn(next);
    if (!cycle.empty()) return cycle;
    for (std::uint32_t v = 0; v < next.size(); ++v) next[v] = next[unit_root(v)];
    level_.swap(next);
    return {};
  }
  // Takes back every transfer from `first` on: the newest, live and linked, in add order.
  void truncate(std::uint32_t first) noexcept
  {
    while (transfers_.size() > first) {
      const auto id = static_cast<std::uint32_t>(transfers_.size() - 1);
      const transfer& t = transfers_.back();
      for (const auto u : t.srcs)
        if (!out_.empty(u) && out_.back(u) == id) out_.pop(u);
      if (!in_.empty(t.dst) && in_.back(t.dst) == id) in_.pop(t.dst);
      sources_.give_back(t.srcs);
      transfers_.pop_back();
    }
  }

  // Raises each (node, level) of work to at least that level, with its unit and everything
  // downstream as needed. The new levels are worked out first and written after, so running
  // out of memory midway leaves every level as it was. Each level it changes is noted in *undo
  // (when given) as (node, level before).
  void raise(std::vector<std::pair<std::uint32_t, std::uint32_t>> work,
             std::vector<std::pair<std::uint32_t, std::uint32_t>>* undo = nullptr)
  {
    std::unordered_map<std::uint32_t, std::uint32_t> raised;  // node -> its new level
    const auto level_of = [&](std::uint32_t w) {
      const auto it = raised.find(w);
      return it == raised.end() ? level_[w] : it->second;
    };
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
    if (undo) {
      undo->reserve(undo->size() + raised.size());
      for (const auto& [m, l] : raised) undo->emplace_back(m, level_[m]);
    }
    for (const auto& [m, l] : raised) level_[m] = l;  // never throws
  }
};

} // namespace mmsb
