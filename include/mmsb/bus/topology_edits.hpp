// The bus's two topology edits with more to them than "log it, then make it" (bus.hpp):
//   add_logged_kernel_edge  a kernel edge under a name new to the bus's kernel table; the name
//                           is taken back if the graph refuses the edge
//   set_logged_weights      new weights for a matrix edge, logging only the rows that differ
// Both go through topology_writer::logged, so a refused edit leaves the graph, the table and the
// pending log as they were.
#pragma once

#include <mmsb/bus/topology_log.hpp>
#include <mmsb/bus/topology_replay.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/graph/csr_matrix.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::detail {

// Adds a kernel edge srcs -> dst running f under `name`, which must be new to `kernels`
// (check_new_kernel_name); logs it with the next commit.
template <class Graph, class KernelTable, class Writer>
edge_id add_logged_kernel_edge(Graph& graph, KernelTable& kernels, Writer& topology, span<const page_id> srcs, page_id dst,
                               typename Graph::kernel_fn f, std::string name)
{
  check_new_kernel_name(kernels, name, dst.value());
  auto slot = kernels.emplace(name, f).first;  // first: the graph's purity check may throw
  try {
    return topology.logged([&] { topology.kernel_edge(srcs, dst.value(), name); },
                           [&] { return graph.add_kernel_edge(srcs, dst, std::move(f), name); });
  } catch (...) {
    kernels.erase(slot);
    throw;
  }
}

// Gives matrix edge e the weights a, logging only the rows that differ from its current ones
// (changed_rows is scratch). A missing edge or a shape mismatch is refused, naming it.
template <class Graph, class Writer>
void set_logged_weights(Graph& graph, Writer& topology, std::vector<std::uint32_t>& changed_rows, edge_id e,
                        typename Graph::matrix_type a)
{
  auto held = std::make_shared<const typename Graph::matrix_type>(std::move(a));
  const auto& old = graph.matrix(e);  // throws for an edge that does not exist
  changed_rows.clear();
  if (held->rows() == old.rows() && held->cols() == old.cols())
    for_each_differing_row(old, *held, [&](std::uint32_t i) { changed_rows.push_back(i); });
  topology.logged([&] { topology.set_rows(e.value(), *held, {changed_rows.data(), changed_rows.size()}); },
                  [&] { graph.set_weights(e, held); });  // a shape mismatch is refused here, naming it
}

} // namespace mmsb::detail
