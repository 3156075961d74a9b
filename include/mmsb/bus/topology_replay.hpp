// Topology records meet the page graph: topology_applier replays read_topology's records onto a
// page_graph (a bus's own when it reopens a store, a replica's in hash_at: hash_with_topology),
// and write_topology writes a graph's whole topology as one record for a checkpoint. The format
// is topology_log.hpp.
#pragma once

#include <mmsb/bus/topology_log.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/graph/csr_matrix.hpp>
#include <mmsb/graph/topology.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::detail {

// m with rows `rows` (ascending) replaced by `entries` (theirs, in row order).
template <class T>
[[nodiscard]] csr_matrix<T> replace_rows(const csr_matrix<T>& m, span<const std::uint32_t> rows, span<const matrix_entry<T>> entries)
{
  std::vector<matrix_entry<T>> all;
  all.reserve(m.nnz() + entries.size());
  std::size_t next_row = 0, next_entry = 0;
  for (std::uint32_t r = 0; r < m.rows(); ++r) {
    if (next_row < rows.size() && rows[next_row] == r) {
      for (; next_entry < entries.size() && entries[next_entry].row == r; ++next_entry) all.push_back(entries[next_entry]);
      ++next_row;
      continue;
    }
    const auto cols = m.row_cols(r);
    const auto vals = m.row_values(r);
    for (std::size_t k = 0; k < cols.size(); ++k) all.push_back({r, cols[k], static_cast<T>(vals[k])});
  }
  return csr_matrix<T>::from_entries(m.rows(), m.cols(), {all.data(), all.size()});
}

// The function `name` names in a bus's kernel table, for a kernel edge into page dst;
// mmsb::error (invalid_argument) when none does.
template <class KernelTable>
[[nodiscard]] const typename KernelTable::mapped_type& kernel_named(const KernelTable& kernels, const std::string& name,
                                                                    std::uint32_t dst)
{
  const auto it = kernels.find(name);
  if (it == kernels.end())
    throw error(errc::invalid_argument, "kernel edge '" + name + "' -> " + std::to_string(dst) +
                                          ": no kernel of that name (give its function once, or in the bus's kernel table)");
  return it->second;
}

// Refuses (invalid_argument) a new kernel function under a name the table already holds: kernel
// edges are logged by name, so a name must mean one function for the life of the store.
template <class KernelTable>
void check_new_kernel_name(const KernelTable& kernels, const std::string& name, std::uint32_t dst)
{
  if (kernels.count(name))
    throw error(errc::invalid_argument, "kernel edge '" + name + "' -> " + std::to_string(dst) +
                                          ": the name already names a kernel of this bus; kernel edges are logged "
                                          "by name, so give each function its own (or pass only the name to reuse it)");
}

// A read_topology visitor that replays the records onto a page_graph (a bus's own on reopening,
// a replica's in hash_at), taking kernel functions from `kernels` by name.
template <class Graph, class KernelTable>
struct topology_applier {
  using matrix_type = typename Graph::matrix_type;
  Graph& g;
  const KernelTable& kernels;

  void matrix_edge(std::uint32_t src, std::uint32_t dst, std::shared_ptr<const matrix_type> a, span<const word_t> mask)
  {
    (void)g.add_matrix_edge(page_id{src}, page_id{dst}, std::move(a), mask);
  }
  void kernel_edge(span<const page_id> srcs, std::uint32_t dst, std::string name)
  {
    const auto it = kernels.find(name);
    if (it == kernels.end())
      throw error(errc::invalid_argument, "the store's topology has kernel edge '" + name + "' into page " + std::to_string(dst) +
                                            ", but this bus was given no kernel of that name (pass it in basic_bus(options, kernels))");
    (void)g.add_kernel_edge(srcs, page_id{dst}, it->second, name);
  }
  void remove_edge(std::uint32_t e) { g.remove_edge(edge_id{e}); }
  void removed_edge() { (void)g.add_removed_edge(); }
  void set_weights(std::uint32_t e, std::shared_ptr<const matrix_type> a) { g.set_weights(edge_id{e}, std::move(a)); }
  void set_rows(std::uint32_t e, span<const std::uint32_t> rows, span<const matrix_entry<typename Graph::value_type>> entries)
  {
    g.set_weights(edge_id{e}, std::make_shared<const matrix_type>(replace_rows(g.matrix(edge_id{e}), rows, entries)));
  }
  void region(span<const page_id> members, std::uint32_t max_iterations)
  {
    if constexpr (idempotent_add_v<typename Graph::semiring_type>) (void)g.add_fixed_point_region(members, max_iterations);
    else throw error(errc::corrupt, "the store's topology has a fixed-point region, which this semiring cannot have");
  }
};

// The whole topology of g as one blob, for a checkpoint: regions, then every edge ever added in
// id order, removed ones as reserved ids (see the top comment), kernel edges by name.
template <class Graph>
[[nodiscard]] topology_writer<typename Graph::value_type> write_topology(const Graph& g)
{
  topology_writer<typename Graph::value_type> w;
  const auto& topo = g.topology();
  std::vector<page_id> ids;
  for (std::size_t r = 0; r < topo.region_count(); ++r) {
    const auto& reg = topo.region_at(static_cast<std::uint32_t>(r));
    ids.clear();
    for (const auto m : reg.members) ids.push_back(page_id{m});
    w.region({ids.data(), ids.size()}, reg.max_iterations);
  }
  for (std::size_t k = 0; k < topo.transfer_count(); ++k) {
    const auto e = static_cast<std::uint32_t>(k);
    const auto& t = topo.at(e);
    if (!t.live) w.removed_edge();
    else if (t.kind == edge_kind::matrix) {
      w.matrix_edge(t.srcs.front(), t.dst, g.matrix(edge_id{e}), {});
    } else {
      ids.clear();
      for (const auto src : t.srcs) ids.push_back(page_id{src});
      w.kernel_edge({ids.data(), ids.size()}, t.dst, g.kernel_name(edge_id{e}));
    }
  }
  return w;
}

// The state hash at a store's past epoch `e`, derived pages included: its pages and structure
// then (durable_store::history_at) replayed into a replica Graph with `kernels`, recomputed in
// full. `where` names the store in errors.
// Replays a store's structure records (its recovered_structure(), or history_at's) onto g, in
// order, with kernel functions from `kernels`. `where` names the store in errors.
template <class Layout, class Graph, class KernelTable>
void replay_topology(Graph& g, const KernelTable& kernels, const std::vector<std::vector<std::byte>>& structure,
                     const std::string& where)
{
  topology_applier<Graph, KernelTable> apply{g, kernels};
  for (const auto& blob : structure)
    read_topology<typename Layout::value_type>({blob.data(), blob.size()}, Layout::extent, where, apply);
}

template <class Graph, class Store, class KernelTable>
[[nodiscard]] state_hash hash_with_topology(const Store& store, const KernelTable& kernels, mmsb::epoch e, const std::string& where)
{
  const auto history = store.history_at(e);
  typename Graph::table_type table;
  for (const auto& p : history.state.pages) {
    table.create(p.id());
    table.at(p.id()) = p;
  }
  Graph replica(table);
  replay_topology<typename Store::layout_type>(replica, kernels, history.structure, where);
  replica.recompute_all();
  state_hasher h;
  table.for_each([&](const auto& p) { h.add(p.id(), replica.value(p.id()).payload_bytes()); });
  return h.digest();
}

} // namespace mmsb::detail
