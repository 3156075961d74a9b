// placement: where each page of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md) is
// computed. A page is computed on its owner (dist/partition.hpp) unless it is a member of a
// fixed-point region spanning ranks: the whole region is computed on one rank, its host, in a
// page of the host's local bus (a mirror), while the owner keeps the page as a copy the host
// keeps current (as a ghost). Routed changes go to the host, and edges into the page live there.
// Every rank knows every page's host alike (regions are declared collectively); the mirror's
// local id is known on the host only. Needs no MPI.
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/dist/partition.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb::dist {

// Where each page is computed (see the top of this header).
class placement {
public:
  // Every page on its owner under parts, which must outlive this.
  explicit placement(const partition& parts) : parts_(&parts) {}

  // The partition it starts from.
  [[nodiscard]] const partition& parts() const noexcept { return *parts_; }
  // Pages of the bus.
  [[nodiscard]] std::uint32_t pages() const noexcept { return parts_->pages(); }
  // The rank computing page g (a page of the bus).
  [[nodiscard]] std::uint32_t host(page_id g) const
  {
    if (moved_.empty()) return parts_->owner(g);
    const auto it = moved_.find(g.value());
    return it == moved_.end() ? parts_->owner(g) : it->second.first;
  }
  // The host of page g; throws mmsb::error (unknown_page) as partition::checked_owner.
  [[nodiscard]] std::uint32_t checked_host(page_id g) const
  {
    (void)parts_->checked_owner(g);
    return host(g);
  }
  // Page g's local id on its host (call it on the host).
  [[nodiscard]] page_id local(page_id g) const
  {
    if (moved_.empty()) return parts_->local(g);
    const auto it = moved_.find(g.value());
    return it == moved_.end() ? parts_->local(g) : it->second.second;
  }
  // Whether page g is computed away from its owner.
  [[nodiscard]] bool moved(page_id g) const { return moved_.count(g.value()) != 0; }
  // Page g is computed on `host` from now on, as local page `local` there (ignored elsewhere).
  void move(page_id g, std::uint32_t host, page_id local) { moved_[g.value()] = {host, local}; }

private:
  const partition* parts_;
  std::unordered_map<std::uint32_t, std::pair<std::uint32_t, page_id>> moved_;  // g -> (host, local id on the host)
};

// The host of a fixed-point region with these members (pages of parts' bus, at least one): the
// rank owning most of them, the lowest such rank on a tie.
inline std::uint32_t region_host(const partition& parts, span<const page_id> members)
{
  std::vector<std::uint32_t> count(parts.ranks(), 0);
  for (const page_id m : members) ++count[parts.owner(m)];
  return static_cast<std::uint32_t>(std::max_element(count.begin(), count.end()) - count.begin());
}

} // namespace mmsb::dist
