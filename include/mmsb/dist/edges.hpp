// global_edges: what every rank of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md)
// knows alike about its edges, in global page ids: each page's destinations (for the cycle
// check), the ranks holding a ghost of each page that has any, and every edge accepted and ghost
// made, in order (what the global log keeps, dist/global_log.hpp). Every rank sees
// every edit (edits are collective), so every rank decides alike from it. Needs no MPI.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>

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
  explicit global_edges(std::uint32_t pages = 0) : succ_(pages) {}

  // Throws mmsb::error (cycle) when src → dst would close a cycle: dst reaches src. The message
  // names the cycle in global ids.
  void check_acyclic(page_id src, page_id dst) const
  {
    std::unordered_map<std::uint32_t, std::uint32_t> parent{{dst.value(), dst.value()}};
    std::vector<std::uint32_t> stack{dst.value()};
    while (!stack.empty() && !parent.count(src.value())) {
      const std::uint32_t v = stack.back();
      stack.pop_back();
      for (const std::uint32_t w : succ_[v])
        if (parent.emplace(w, v).second) stack.push_back(w);
    }
    if (!parent.count(src.value())) return;
    std::vector<std::uint32_t> path{src.value()};  // src back to dst along parents
    while (path.back() != dst.value()) path.push_back(parent.at(path.back()));
    std::string cycle;
    for (auto it = path.rbegin(); it != path.rend(); ++it) cycle += std::to_string(*it) + " -> ";
    throw error(errc::cycle, "mpi_bus: edge " + std::to_string(src.value()) + " -> " + std::to_string(dst.value()) +
                               " would close the cycle " + cycle + std::to_string(dst.value()) +
                               " (pages in global ids; fixed-point regions across ranks are not built yet)");
  }

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
    succ_[src.value()].push_back(dst.value());
    edges_.emplace_back(src.value(), dst.value());
  }
  // Every edge accepted, (source, destination), in order.
  [[nodiscard]] const pair_list& edges() const noexcept { return edges_; }
  // Every ghost made, (page, holder rank), in order.
  [[nodiscard]] const pair_list& ghosts() const noexcept { return ghosts_; }

private:
  std::vector<std::vector<std::uint32_t>> succ_;                           // by page: its destinations
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> holders_;  // by page with ghosts: their ranks
  pair_list edges_, ghosts_;
};

} // namespace mmsb::dist
