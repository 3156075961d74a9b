// DOT export of a graph_topology (Graphviz): pages as nodes labelled with id and level, edges
// labelled by a caller-supplied function, fixed-point regions as clusters.
#pragma once

#include <mmsb/graph/topology.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace mmsb {

// label(edge index) gives each edge's label. Only pages that have an edge (or a region) appear.
template <class Label>
void write_dot(std::ostream& os, const graph_topology& g, Label label)
{
  os << "digraph mmsb {\n  rankdir=LR;\n  node [shape=box];\n";
  std::vector<std::uint8_t> shown(g.node_bound(), 0);
  for (std::uint32_t v = 0; v < g.node_bound(); ++v)
    shown[v] = !g.in(v).empty() || !g.out(v).empty() || g.region_of(v) != graph_topology::none;
  for (std::uint32_t r = 0; r < g.region_count(); ++r) {
    const auto& reg = g.region_at(r);
    if (reg.members.empty() || g.region_of(reg.members.front()) != r) continue;
    os << "  subgraph cluster_r" << r << " {\n    label=\"fixed-point region " << r << "\";\n    style=dashed;\n";
    for (const auto m : reg.members) os << "    p" << m << ";\n";
    os << "  }\n";
  }
  for (std::uint32_t v = 0; v < g.node_bound(); ++v)
    if (shown[v]) os << "  p" << v << " [label=\"page " << v << "\\nlevel " << g.level(v) << "\"];\n";
  for (std::uint32_t e = 0; e < g.transfer_count(); ++e) {
    const auto& t = g.at(e);
    if (!t.live) continue;
    const std::string l = label(e);
    for (const auto s : t.srcs)
      os << "  p" << s << " -> p" << t.dst << " [label=\"" << l << "\""
         << (t.kind == edge_kind::kernel ? ", style=bold" : "") << "];\n";
  }
  os << "}\n";
}

} // namespace mmsb
