// verify: checks page_graph's invariants and reports every violation it finds: no cycle outside
// fixed-point regions, levels rising along every edge, bases not older than their last recorded
// write, and every value equal (by checksum) to its recomputation from the bases, which also
// catches an impure kernel or a value changed behind the graph's back.
// Contract: values are left as found (they are saved, recomputed, compared and restored); values
// are only compared when no work is queued (after a complete propagate()).
#pragma once

#include <mmsb/graph/detail/graph_state.hpp>
#include <mmsb/graph/scc.hpp>
#include <mmsb/graph/wave.hpp>

#include <mmsb/config/error.hpp>
#include <mmsb/core/state_hash.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

// What verify() found; empty when every invariant holds.
struct graph_report {
  std::vector<std::string> problems;  // one message per violation, naming the pages at fault
  // True when no problem was found.
  [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
};

namespace detail {

template <class Semiring, layout Layout, page_allocator Allocator>
graph_report verify(graph_state<Semiring, Layout, Allocator>& g, wave_engine<Semiring, Layout, Allocator>& wave)
{
  using page_type = typename graph_state<Semiring, Layout, Allocator>::page_type;
  const auto& topo = g.topo;
  graph_report r;
  for (const auto& comp : cyclic_components(topo)) {
    bool inside = topo.region_of(comp.front()) != graph_topology::none;
    for (const auto m : comp) inside = inside && topo.region_of(m) == topo.region_of(comp.front());
    if (!inside) r.problems.push_back("cycle outside a fixed-point region through pages " + graph_topology::path_string({comp.data(), comp.size()}, ", "));
  }
  for (std::uint32_t e = 0; e < topo.transfer_count(); ++e) {
    const auto& t = topo.at(e);
    if (!t.live) continue;
    for (const auto u : t.srcs)
      if (!topo.same_unit(u, t.dst) && topo.level(u) >= topo.level(t.dst))
        r.problems.push_back("edge " + std::to_string(u) + " -> " + std::to_string(t.dst) + ": level " +
                             std::to_string(topo.level(u)) + " is not below level " + std::to_string(topo.level(t.dst)));
  }
  for (std::uint32_t v = 0; v < g.stamps.size(); ++v) {
    const auto* b = g.bases.find(page_id{v});
    if (b && b->epoch().value() < g.stamps[v].epoch.value())
      r.problems.push_back("page " + std::to_string(v) + ": epoch " + std::to_string(b->epoch().value()) +
                           " is older than its last recorded write at epoch " + std::to_string(g.stamps[v].epoch.value()));
  }
  if (!wave.idle()) {
    r.problems.push_back("values not checked: changes are noted or a propagation is unfinished (run propagate() first)");
    return r;
  }
  std::vector<std::pair<std::uint32_t, std::unique_ptr<page_type>>> saved;
  for (std::uint32_t v = 0; v < g.derived.size(); ++v)
    if (g.derived[v]) saved.emplace_back(v, std::make_unique<page_type>(g.shadow.at(page_id{v})));
  const auto restore = [&] {
    for (auto& [v, p] : saved) g.shadow.at(page_id{v}).storage() = p->storage();
  };
  try {
    wave.recompute_all();
  } catch (const error& e) {
    restore();
    r.problems.push_back(std::string("recomputation failed: ") + e.what());
    return r;
  }
  for (auto& [v, p] : saved) {
    const page_type& now = g.shadow.at(page_id{v});
    state_hasher a, b;
    a.add(page_id{v}, p->payload_bytes());
    b.add(page_id{v}, now.payload_bytes());
    if (a.digest().value == b.digest().value) continue;
    std::size_t i = 0;
    while (i < Layout::extent && bit_equal(p->get(i), now.get(i))) ++i;
    r.problems.push_back("page " + std::to_string(v) + ": value checksum " + std::to_string(a.digest().value) +
                         " differs from its recomputation's " + std::to_string(b.digest().value) + " (first at slot " +
                         std::to_string(i) + ")");
  }
  restore();
  return r;
}

} // namespace detail
} // namespace mmsb
