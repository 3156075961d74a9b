// global_edges: what every rank of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md)
// knows alike about its edges, in global page ids: each page's destinations (for the cycle
// check), the ranks holding a ghost of each page that has any, and every edge accepted and ghost
// made, in order (what the global log keeps, dist/global_log.hpp), and the fixed-point regions:
// a cycle is allowed inside one region, and a region counts as one unit for the cycle check (a
// path that leaves it and comes back closes a cycle). Every rank sees every edit (edits are
// collective), so every rank decides alike from it. Needs no MPI.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb::dist {

// The edges every rank knows alike (see the top of this header).
class global_edges {
public:
  using pair_list = std::vector<std::pair<std::uint32_t, std::uint32_t>>;  // (page, page) or (page, rank), in order

  // No edges over `pages` pages.
  explicit global_edges(std::uint32_t pages = 0) : succ_(pages), region_of_(pages, 0), touched_(pages, false) {}

  // Throws mmsb::error (cycle) when src → dst would close a cycle: dst reaches src, or a page of
  // src's region (a region is one unit). An edge inside one region closes none. The message
  // names the cycle in global ids.
  void check_acyclic(page_id src, page_id dst) const
  {
    const std::uint32_t rs = region_of_[src.value()];
    if (rs != 0 && rs == region_of_[dst.value()]) return;
    const auto is_target = [&](std::uint32_t v) { return v == src.value() || (rs != 0 && region_of_[v] == rs); };
    std::unordered_map<std::uint32_t, std::uint32_t> parent{{dst.value(), dst.value()}};
    std::vector<std::uint32_t> stack{dst.value()};
    std::uint32_t hit = is_target(dst.value()) ? dst.value() : ~0u;
    const auto reach = [&](std::uint32_t w, std::uint32_t from) {
      if (hit != ~0u || !parent.emplace(w, from).second) return;
      if (is_target(w)) hit = w;
      stack.push_back(w);
    };
    while (!stack.empty() && hit == ~0u) {
      const std::uint32_t v = stack.back();
      stack.pop_back();
      if (region_of_[v] != 0)  // every page of v's region is reachable from v
        for (const std::uint32_t w : regions_[region_of_[v] - 1]) reach(w, v);
      for (const std::uint32_t w : succ_[v]) reach(w, v);
    }
    if (hit == ~0u) return;
    std::vector<std::uint32_t> path{hit};  // the page reached back to dst along parents
    while (path.back() != dst.value()) path.push_back(parent.at(path.back()));
    if (hit != src.value()) path.insert(path.begin(), src.value());
    std::string cycle;
    for (auto it = path.rbegin(); it != path.rend(); ++it) cycle += std::to_string(*it) + " -> ";
    throw error(errc::cycle, "mpi_bus: edge " + std::to_string(src.value()) + " -> " + std::to_string(dst.value()) +
                               " would close the cycle " + cycle + std::to_string(dst.value()) +
                               " (pages in global ids; cycles are allowed only inside one fixed-point region)");
  }

  // Throws mmsb::error (invalid_argument) unless `members` can form a new region: at least one
  // page, each once, none in a region already, none with an edge in or out yet (declare a
  // region before its edges).
  void check_region(span<const page_id> members) const
  {
    if (members.empty()) throw error(errc::invalid_argument, "mpi_bus: a fixed-point region needs at least one page");
    std::unordered_map<std::uint32_t, int> seen;
    for (const page_id m : members) {
      const std::string p = "mpi_bus: fixed-point region: page " + std::to_string(m.value());
      if (!seen.emplace(m.value(), 0).second) throw error(errc::invalid_argument, p + " is listed twice");
      if (region_of_[m.value()] != 0) throw error(errc::invalid_argument, p + " is in region " + std::to_string(region_of_[m.value()] - 1) + " already");
      if (touched_[m.value()])
        throw error(errc::invalid_argument, p + " has edges already; declare a region before any edge into or out of its pages");
    }
  }
  // Records a region over `members` (checked by check_region); returns its index.
  std::size_t add_region(span<const page_id> members)
  {
    regions_.emplace_back();
    for (const page_id m : members) {
      regions_.back().push_back(m.value());
      region_of_[m.value()] = static_cast<std::uint32_t>(regions_.size());
    }
    return regions_.size() - 1;
  }
  // Records that `rank` holds page g as a ghost without a page made for it (g's owner, when a
  // region spanning ranks computes g elsewhere: dist/placement.hpp).
  void add_holder(page_id g, std::uint32_t rank) { holders_[g.value()].push_back(rank); }

  // Whether `rank` holds a ghost of page g.
  [[nodiscard]] bool has_ghost(page_id g, std::uint32_t rank) const
  {
    const auto it = holders_.find(g.value());
    return it != holders_.end() && std::find(it->second.begin(), it->second.end(), rank) != it->second.end();
  }
  // Records that `rank` now holds a ghost of page g.
  void add_ghost(page_id g, std::uint32_t rank)
  {
    holders_[g.value()].push_back(rank);
    ghosts_.emplace_back(g.value(), rank);
  }
  // Records the accepted edge src → dst.
  void add_edge(page_id src, page_id dst)
  {
    touched_[src.value()] = touched_[dst.value()] = true;
    succ_[src.value()].push_back(dst.value());
    edges_.emplace_back(src.value(), dst.value());
  }
  // Every edge accepted, (source, destination), in order.
  [[nodiscard]] const pair_list& edges() const noexcept { return edges_; }
  // Every ghost made, (page, holder rank), in order.
  [[nodiscard]] const pair_list& ghosts() const noexcept { return ghosts_; }

private:
  std::vector<std::vector<std::uint32_t>> succ_;                           // by page: its destinations
  std::vector<std::uint32_t> region_of_;                                   // by page: its region's index + 1 (0: none)
  std::vector<std::vector<std::uint32_t>> regions_;                        // by region: its pages
  std::vector<bool> touched_;                                              // by page: an edge in or out
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> holders_;  // by page with ghosts: their ranks
  pair_list edges_, ghosts_;
};

} // namespace mmsb::dist
