// Tarjan's strongly connected components over a graph_topology, iterative (no recursion, so a
// million-page chain cannot overflow the stack). verify() uses it: every component with more
// than one page, or a page with an edge to itself, must lie inside one fixed-point region.
#pragma once

#include <mmsb/graph/topology.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mmsb {

// The components with a cycle (size > 1, or a self-loop) of any directed graph of n nodes, node v
// having degree(v) successors successor(v, 0 .. degree(v) - 1), each component sorted ascending;
// singletons without a self-loop are left out. Order: by smallest member.
template <class Degree, class Successor>
[[nodiscard]] std::vector<std::vector<std::uint32_t>> cyclic_components(std::size_t n, Degree&& degree, Successor&& successor)
{
  constexpr auto none = graph_topology::none;
  std::vector<std::uint32_t> index(n, none), low(n, 0), stack;
  std::vector<std::uint8_t> on_stack(n, 0);
  std::vector<std::vector<std::uint32_t>> out;
  std::uint32_t next = 0;
  struct frame { std::uint32_t v; std::size_t k; };  // a node and its next successor
  std::vector<frame> call;
  for (std::uint32_t root = 0; root < n; ++root) {
    if (index[root] != none) continue;
    call.push_back({root, 0});
    index[root] = low[root] = next++;
    stack.push_back(root);
    on_stack[root] = 1;
    while (!call.empty()) {
      auto& f = call.back();
      if (f.k < static_cast<std::size_t>(degree(f.v))) {
        const std::uint32_t w = successor(f.v, f.k++);
        if (index[w] == none) {
          index[w] = low[w] = next++;
          stack.push_back(w);
          on_stack[w] = 1;
          call.push_back({w, 0});
        } else if (on_stack[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
        continue;
      }
      const auto v = f.v;
      call.pop_back();
      if (!call.empty()) low[call.back().v] = std::min(low[call.back().v], low[v]);
      if (low[v] != index[v]) continue;
      std::vector<std::uint32_t> comp;
      std::uint32_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = 0;
        comp.push_back(w);
      } while (w != v);
      bool cyclic = comp.size() > 1;
      for (std::size_t k = 0; !cyclic && k < static_cast<std::size_t>(degree(v)); ++k) cyclic = successor(v, k) == v;
      if (cyclic) {
        std::sort(comp.begin(), comp.end());
        out.push_back(std::move(comp));
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The same over a graph_topology: its pages, an edge's destination being a successor.
[[nodiscard]] inline std::vector<std::vector<std::uint32_t>> cyclic_components(const graph_topology& g)
{
  return cyclic_components(
    g.node_bound(), [&](std::uint32_t v) { return g.out(v).size(); }, [&](std::uint32_t v, std::size_t k) { return g.at(g.out(v)[k]).dst; });
}

} // namespace mmsb
