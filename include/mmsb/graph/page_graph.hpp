// page_graph<Semiring, Layout, Allocator>: the shadow page graph. Pages in a page_table hold
// what users write (their *base*); a page with incoming edges also has a *value*, kept here in
// a shadow table:
//
//   value(v) = base(v) ⊕ (⊕ over matrix edges u → v of A ⊗ value(u))     (matrix edges)
//   value(v) = f(value(u1), ..., value(uk))                              (one kernel edge)
//
// and a fixed-point region holds the least solution of those equations over its members.
// propagate() brings values up to date after bases changed or edges were edited, touching only
// what the changes reach, and the result equals recompute_all() bit for bit for exact types.
// Logs and checkpoints cover bases only; values are always recomputable from them.
//
// page_graph is a facade: it checks every edit and owns the engines that do the work, each with
// its own contract: graph/topology.hpp (structure, levels, cycles), graph/wave.hpp (incremental
// propagation), graph/region_solver.hpp (fixed points), graph/verify.hpp (invariants) and
// graph/provenance.hpp (ancestors and their writers), over the state in graph/detail/graph_state.hpp.
// Every semiring property is read through semiring_traits<Semiring>.
#pragma once

#include <mmsb/graph/csr_matrix.hpp>
#include <mmsb/graph/detail/graph_state.hpp>
#include <mmsb/graph/dot.hpp>
#include <mmsb/graph/provenance.hpp>
#include <mmsb/graph/region_solver.hpp>
#include <mmsb/graph/topology.hpp>
#include <mmsb/graph/verify.hpp>
#include <mmsb/graph/wave.hpp>

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/semiring/concept.hpp>

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

// The page graph facade (see the top comment) over a page_table of bases that it does not own.
// Not copyable; not thread-safe (the bus drives it from one thread). A refused edit changes no
// base and no topology.
template <class Semiring, layout Layout, page_allocator Allocator = host_heap>
class page_graph {
  static_assert(require_semiring<Semiring>());
  static_assert(std::is_same_v<typename Layout::value_type, semiring_value_t<Semiring>>,
                "mmsb: page_graph needs a layout whose value_type is the semiring's value_type");
  using state_type = detail::graph_state<Semiring, Layout, Allocator>;

public:
  using semiring_type = Semiring;                 // the law values combine under
  using value_type = typename Layout::value_type;  // one slot's value
  using page_type = page<Layout>;                  // a base or value page
  using table_type = page_table<Layout, Allocator>;  // the bases' table (and the shadow values')
  using matrix_type = csr_matrix<value_type>;        // a matrix edge's weights
  // A kernel edge's function: writes every slot of dst from the sources' values. It must be
  // pure (same inputs, same bits); add_kernel_edge runs it twice to check.
  using kernel_fn = typename state_type::kernel_fn;
  static constexpr std::size_t extent = Layout::extent;  // slots per page: matrices are extent × extent
  // How propagate() recomputes a changed page (chosen from the semiring's traits).
  static constexpr propagation_strategy strategy = propagation_strategy_v<Semiring>;

  // The graph reads and writes bases in `bases`, which must outlive it. Shadow values use an
  // allocator of the same type.
  explicit page_graph(table_type& bases) : g_(bases), regions_(g_), wave_(g_, regions_) {}
  page_graph(const page_graph&) = delete;
  page_graph& operator=(const page_graph&) = delete;

  // ---- structure ---------------------------------------------------------------------------
  // Every edit below first runs an unfinished (budgeted) wave to its end, ignoring the budget:
  // levels and edges must not move under queued work. Bases and topology are untouched by a
  // refused edit; values may then be further along, exactly as after propagate().
  // dst ⊕= A ⊗ src, with A extent × extent. An optional row mask (extent bits) keeps only the
  // destination rows it sets. Throws mmsb::error, with nothing changed, on a missing page, a
  // matrix of another shape, a kernel edge already into dst, or a cycle (named).
  edge_id add_matrix_edge(page_id src, page_id dst, matrix_type a, span<const word_t> row_mask = {})
  {
    return add_matrix_edge(src, dst, std::make_shared<const matrix_type>(std::move(a)), row_mask);
  }
  // The same, sharing one immutable matrix between many edges (a layered graph, a chain).
  edge_id add_matrix_edge(page_id src, page_id dst, std::shared_ptr<const matrix_type> a, span<const word_t> row_mask = {})
  {
    check_page(src, "matrix edge source");
    check_page(dst, "matrix edge destination");
    const std::string what = "matrix edge " + std::to_string(src.value()) + " -> " + std::to_string(dst.value());
    if (!a) throw error(errc::invalid_argument, what + ": no matrix");
    if (a->rows() != extent || a->cols() != extent)
      throw error(errc::size_mismatch, what + ": the matrix is " + std::to_string(a->rows()) + " x " +
                                         std::to_string(a->cols()) + " but pages hold " + std::to_string(extent) + " slots");
    if (!row_mask.empty() && row_mask.size() != words_for(extent))
      throw error(errc::size_mismatch, what + ": the row mask has " + std::to_string(row_mask.size()) +
                                         " words, pages need " + std::to_string(words_for(extent)));
    if (g_.kernel_into(dst.value()) != graph_topology::none)
      throw error(errc::invalid_argument, what + ": page " + std::to_string(dst.value()) + " is already computed by a kernel edge");
    if (!row_mask.empty())
      a = std::make_shared<const matrix_type>(a->filter_rows([&](std::uint32_t r) { return test_bit(row_mask.data(), r); }));
    wave_.settle();
    grow(std::max(src.value(), dst.value()) + 1);
    // Becoming derived first is harmless if the edge is then refused: with no edge in, value = base.
    g_.make_derived(dst.value());
    reserve_for(g_.matrices, g_.matrices.size() + 1);  // geometric: a million edges must not copy a million times
    const std::uint32_t src_v = src.value();
    const edge_id e = g_.topo.add({&src_v, 1}, dst.value(), edge_kind::matrix, static_cast<std::uint32_t>(g_.matrices.size()));
    g_.matrices.push_back(std::move(a));
    g_.mark_rows(dst.value(), *g_.matrices.back());
    regions_.touch(src_v, dst.value());
    return e;
  }

  // dst = f(srcs...). dst must have no other incoming edge and be outside every region.
  edge_id add_kernel_edge(span<const page_id> srcs, page_id dst, kernel_fn f, std::string name = "kernel")
  {
    const std::string what = "kernel edge '" + name + "' -> " + std::to_string(dst.value());
    if (srcs.empty()) throw error(errc::invalid_argument, what + ": it has no source pages");
    for (const auto s : srcs) check_page(s, what + " source");
    check_page(dst, what + " destination");
    grow(dst.value() + 1);
    for (const auto s : srcs) grow(s.value() + 1);
    if (!g_.topo.in(dst.value()).empty())
      throw error(errc::invalid_argument, what + ": page " + std::to_string(dst.value()) + " already has incoming edges");
    if (g_.topo.region_of(dst.value()) != graph_topology::none)
      throw error(errc::invalid_argument, what + ": page " + std::to_string(dst.value()) + " is in a fixed-point region");
    std::vector<std::uint32_t> ids;
    for (const auto s : srcs) ids.push_back(s.value());
    g_.check_pure(ids, f, what);
    wave_.settle();
    g_.make_derived(dst.value());
    reserve_for(g_.kernels, g_.kernels.size() + 1);
    const edge_id e = g_.topo.add({ids.data(), ids.size()}, dst.value(), edge_kind::kernel,
                                  static_cast<std::uint32_t>(g_.kernels.size()));
    g_.kernels.push_back({std::move(f), std::move(name)});
    g_.pend(dst.value()).full = true;
    return e;
  }

  // One kernel edge of a bulk add (add_kernel_edges): dst = f(srcs...).
  struct kernel_edge_spec {
    span<const page_id> srcs;  // its source pages
    page_id dst;               // the page it computes
  };
  // Many kernel edges computed by one function f, all or none: each as add_kernel_edge would
  // take it, and no destination twice. f is checked for purity once, on the first edge. Linear
  // in the edges (graph_topology::add_bulk), against one add_kernel_edge per edge; the ids are
  // consecutive from the one returned. Throws mmsb::error naming the page (or the cycle) that
  // is refused, with nothing changed.
  edge_id add_kernel_edges(span<const kernel_edge_spec> edges, kernel_fn f, std::string name = "kernel")
  {
    const std::string what = "kernel edges '" + name + "'";
    if (edges.empty()) throw error(errc::invalid_argument, what + ": none given");
    std::size_t bound = 0, sources = 0;
    for (const auto& e : edges) {
      const auto where = [&] { return what + " -> " + std::to_string(e.dst.value()); };
      if (e.srcs.empty()) throw error(errc::invalid_argument, where() + ": it has no source pages");
      for (const auto s : e.srcs)
        if (!g_.bases.contains(s))
          throw error(errc::unknown_page, where() + " source: page " + std::to_string(s.value()) + " does not exist");
      if (!g_.bases.contains(e.dst))
        throw error(errc::unknown_page, where() + " destination: page " + std::to_string(e.dst.value()) + " does not exist");
      for (const auto s : e.srcs) bound = std::max<std::size_t>(bound, s.value() + 1);
      bound = std::max<std::size_t>(bound, e.dst.value() + 1);
      sources += e.srcs.size();
    }
    grow(bound);
    std::vector<std::uint8_t> taken(bound, 0);
    for (const auto& e : edges) {
      const auto d = e.dst.value();
      if (taken[d])
        throw error(errc::invalid_argument, what + " -> " + std::to_string(d) + ": page " + std::to_string(d) +
                                              " is the destination of two edges in the batch");
      if (!g_.topo.in(d).empty())
        throw error(errc::invalid_argument, what + " -> " + std::to_string(d) + ": page " + std::to_string(d) +
                                              " already has incoming edges");
      if (g_.topo.region_of(d) != graph_topology::none)
        throw error(errc::invalid_argument, what + " -> " + std::to_string(d) + ": page " + std::to_string(d) +
                                              " is in a fixed-point region");
      taken[d] = 1;
    }
    std::vector<std::uint32_t> ids;
    ids.reserve(sources);
    for (const auto& e : edges)
      for (const auto s : e.srcs) ids.push_back(s.value());
    g_.check_pure(std::vector<std::uint32_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(edges[0].srcs.size())), f,
                  what + " -> " + std::to_string(edges[0].dst.value()));
    std::vector<graph_topology::transfer_spec> batch;
    batch.reserve(edges.size());
    const auto payload = static_cast<std::uint32_t>(g_.kernels.size());
    for (std::size_t k = 0, at = 0; k < edges.size(); at += edges[k].srcs.size(), ++k)
      batch.push_back({{ids.data() + at, edges[k].srcs.size()}, edges[k].dst.value(), edge_kind::kernel, payload});
    wave_.settle();
    for (const auto& e : edges) g_.make_derived(e.dst.value());  // harmless if refused below (see add_matrix_edge)
    reserve_for(g_.kernels, g_.kernels.size() + 1);
    const edge_id first = g_.topo.add_bulk({batch.data(), batch.size()});
    g_.kernels.push_back({std::move(f), std::move(name)});  // one function for the whole batch
    for (const auto& e : edges) g_.pend(e.dst.value()).full = true;
    return first;
  }

  // Reserves the next edge id for an edge that was added and removed before: a bus restoring its
  // topology from a checkpoint keeps every later id as it was. Nothing is checked, linked or made
  // derived (a page is derived only while an edge leads into it, which this one never does).
  edge_id add_removed_edge()
  {
    wave_.settle();
    return g_.topo.add_removed();
  }

  // Removes a live edge; its destination's affected rows (or whole value) are recomputed by the
  // next propagate(). Throws mmsb::error (invalid_argument) naming an edge that is not live.
  void remove_edge(edge_id e)
  {
    const auto& t = live_transfer(e);
    const auto dst = t.dst;
    wave_.settle();
    if (t.kind == edge_kind::matrix) g_.mark_rows(dst, *g_.matrices[t.payload]);
    else g_.pend(dst).full = true;
    regions_.touch(t.srcs.front(), dst);
    g_.topo.remove(e);
  }

  // Replaces a matrix edge's weights (same shape). The rows whose entries differ are recomputed.
  void set_weights(edge_id e, matrix_type a) { set_weights(e, std::make_shared<const matrix_type>(std::move(a))); }
  // The same, sharing one immutable matrix (the bus logs the one it hands over).
  void set_weights(edge_id e, std::shared_ptr<const matrix_type> a)
  {
    const auto& t = live_transfer(e);
    if (t.kind != edge_kind::matrix) throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + " is a kernel edge");
    if (!a) throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + ": no matrix");
    if (a->rows() != extent || a->cols() != extent)
      throw error(errc::size_mismatch, "edge " + std::to_string(e.value()) + ": the matrix is " + std::to_string(a->rows()) +
                                         " x " + std::to_string(a->cols()) + " but pages hold " + std::to_string(extent) + " slots");
    wave_.settle();
    auto& m = g_.matrices[t.payload];
    auto& w = g_.pend(t.dst);
    for_each_differing_row(*m, *a, [&](std::uint32_t i) { w.rows.add(i); });
    m = std::move(a);  // edges sharing the old matrix keep it
    regions_.touch(t.srcs.front(), t.dst);
  }

  // Fixed-point region: members may depend on each other in cycles; their values are the least
  // solution, found by iterating at most max_iterations rounds.
  region_id add_fixed_point_region(span<const page_id> members, std::uint32_t max_iterations = 1000)
  {
    static_assert(idempotent_add_v<Semiring>,
                  "mmsb: fixed-point regions need an idempotent semiring (min_plus, max_plus, max_min, or_and)");
    std::vector<std::uint32_t> ids;
    for (const auto m : members) {
      check_page(m, "fixed-point region member");
      grow(m.value() + 1);
      if (g_.kernel_into(m.value()) != graph_topology::none)
        throw error(errc::invalid_argument, "fixed-point region: page " + std::to_string(m.value()) + " is computed by a kernel edge");
      ids.push_back(m.value());
    }
    wave_.settle();
    // The region's links first (unused if the topology refuses it): nothing that can throw
    // comes between add_region and the member index.
    regions_.prepare(g_.topo.region_count(), ids.size());
    const region_id r = g_.topo.add_region({ids.data(), ids.size()}, max_iterations);
    regions_.index_members(ids);
    for (const auto m : ids) {
      g_.make_derived(m);
      g_.pend(m).full = true;
    }
    return r;
  }

  // ---- state -------------------------------------------------------------------------------
  // p's value: its shadow page if derived, else its base (current as of the last propagate()).
  // Throws mmsb::error (unknown_page) naming p.
  [[nodiscard]] const page_type& value(page_id p) const { return g_.value(p); }
  // Whether p has (or had) edges into it or a region, so its value is kept apart from its base.
  [[nodiscard]] bool is_derived(page_id p) const noexcept { return p.value() < g_.derived.size() && g_.derived[p.value()]; }
  // The bases' table, as given to the constructor. Writes through it bypass the graph: call
  // note() before each such write (or use apply() instead) so that propagate() sees it.
  [[nodiscard]] table_type& bases() noexcept { return g_.bases; }
  // The structure (levels, edges, regions), read-only.
  [[nodiscard]] const graph_topology& topology() const noexcept { return g_.topo; }
  // Bytes the derived pages hold in memory: their blocks and their table's metadata (a memory
  // budget counts them; they are never spilled).
  [[nodiscard]] std::uint64_t derived_bytes() const noexcept
  {
    return g_.shadow.allocator().stats().live_bytes + g_.shadow.metadata_bytes();
  }
  // A live matrix edge's weights. Throws mmsb::error (invalid_argument) for an edge not live
  // or a kernel edge.
  [[nodiscard]] const matrix_type& matrix(edge_id e) const
  {
    const auto& t = live_transfer(e);
    if (t.kind != edge_kind::matrix) throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + " is a kernel edge");
    return *g_.matrices[t.payload];
  }
  // A live kernel edge's name. Throws mmsb::error (invalid_argument) for another edge.
  [[nodiscard]] const std::string& kernel_name(edge_id e) const
  {
    const auto& t = live_transfer(e);
    if (t.kind != edge_kind::kernel) throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + " is a matrix edge");
    return g_.kernels[t.payload].name;
  }
  // p's last writer: the epoch of its base's last committed change (however it was written),
  // with the txn given to apply(d, stamp) at that epoch, else the epoch's number.
  [[nodiscard]] writer_stamp stamp(page_id p) const noexcept
  {
    return writer_of(g_.bases, g_.stamps, p);
  }
  // True when no budgeted wave is unfinished and no change waits for propagate().
  [[nodiscard]] bool idle() const noexcept { return wave_.idle(); }

  // Records the current base value of slot before the caller changes it by another path (a
  // store's commit). The next propagate() carries the change on.
  void note(page_id p, std::size_t slot)
  {
    const page_type& b = g_.bases.at(p);
    if (slot >= extent)
      throw error(errc::out_of_range, "page " + std::to_string(p.value()) + ": slot " + std::to_string(slot) +
                                        " is out of range (pages hold " + std::to_string(extent) + " slots)");
    grow(p.value() + 1);
    g_.pend(p.value()).notes.add(static_cast<std::uint32_t>(slot), b.get(slot));
  }
  // note() for every slot d writes, before the caller applies d by another path. Throws
  // mmsb::error (unknown_page) for d's target.
  void note(const delta<Semiring, Layout>& d)
  {
    const page_type& b = g_.bases.at(d.target());
    grow(d.target().value() + 1);
    auto& notes = g_.pend(d.target().value()).notes;
    g_.for_each_slot(d, [&](std::uint32_t i) { notes.add(i, b.get(i)); });
  }

  // Applies d to its page's base and notes the change; stamps the page if stamp is set. Throws
  // mmsb::error with nothing changed for an unknown page or an epoch older than the page's last.
  void apply(const delta<Semiring, Layout>& d, writer_stamp s = {})
  {
    page_type& b = g_.bases.at(d.target());
    grow(d.target().value() + 1);
    auto& last = g_.stamps[d.target().value()];
    const std::uint64_t last_epoch = std::max(last.epoch.value(), b.epoch().value());
    if (s.epoch.value() != 0 && s.epoch.value() < last_epoch)
      throw error(errc::invalid_argument, "page " + std::to_string(d.target().value()) + ": epoch " +
                                            std::to_string(s.epoch.value()) + " is older than its last write at epoch " +
                                            std::to_string(last_epoch));
    note(d);
    mmsb::apply(b, d);
    if (s.epoch.value() != 0) {
      last = s;
      b.set_epoch(s.epoch);
    }
  }

  // Brings every value up to date (or as far as the budget allows). Throws mmsb::error
  // (not_converged) if a region hits its bound, or whatever a kernel throws; values are then
  // as before the call and the work stays queued.
  propagate_result propagate(const propagate_budget& budget = {}) { return wave_.propagate(budget); }
  // The same, with the plain matrix pages of each level computed on a scheduler policy
  // (concurrency(), run(n, f)): identical values, queue order and results at any thread count
  // (graph/wave.hpp, "Parallel by level").
  template <class Sched>
  propagate_result propagate(const propagate_budget& budget, const Sched& sched)
  {
    return wave_.propagate(budget, sched);
  }
  // Where propagation traces its levels and regions from now on (core/trace.hpp: the bus sets
  // it per tick, on for sampled ticks); off by default. Tracing never changes a value.
  void set_trace(trace_sink t) noexcept { wave_.set_trace(t); }

  // Recomputes every value from the bases, ignoring what is queued.
  void recompute_all() { wave_.recompute_all(); }

  // ---- queries -----------------------------------------------------------------------------
  // The pages p's value depends on, up to `depth` edges back, each with its last writer.
  provenance_result provenance(page_id p, std::uint32_t depth = provenance_finder::default_depth, bool use_cache = true)
  {
    check_page(p, "provenance");
    grow(p.value() + 1);
    return finder_.pages(g_.topo, p.value(), depth, [&](span<ancestor> as) { fill_writers(as, g_.bases, g_.stamps); }, use_cache);
  }
  // The slots slot i of page p depends on (whole pages through kernel edges).
  provenance_result slot_provenance(page_id p, std::size_t slot, std::uint32_t depth = provenance_finder::default_depth)
  {
    check_page(p, "provenance");
    if (slot >= extent)
      throw error(errc::out_of_range, "provenance of page " + std::to_string(p.value()) + ": slot " + std::to_string(slot) +
                                        " is out of range (pages hold " + std::to_string(extent) + " slots)");
    grow(p.value() + 1);
    return finder_.slots(g_.topo, p.value(), static_cast<std::uint32_t>(slot), depth, [&](span<ancestor> as) { fill_writers(as, g_.bases, g_.stamps); },
                         [&](std::uint32_t t, std::uint32_t row) { return g_.matrices[g_.topo.at(t).payload]->row_cols(row); });
  }

  // Graphviz DOT: matrix edges labelled with their entry count, kernel edges with their name.
  void write_dot(std::ostream& os) const
  {
    mmsb::write_dot(os, g_.topo, [&](std::uint32_t e) {
      const auto& t = g_.topo.at(e);
      return t.kind == edge_kind::matrix ? "nnz " + std::to_string(g_.matrices[t.payload]->nnz()) : g_.kernels[t.payload].name;
    });
  }

  // Checks the invariants (graph/verify.hpp): no cycle outside fixed-point regions, levels rising
  // along every edge, bases not older than their last recorded write, and every value equal (by
  // checksum) to its recomputation from the bases. Values are left as found.
  graph_report verify() { return detail::verify(g_, wave_); }

private:
  void check_page(page_id p, const std::string& role) const
  {
    if (!g_.bases.contains(p))
      throw error(errc::unknown_page, role + ": page " + std::to_string(p.value()) + " does not exist");
  }
  const graph_topology::transfer& live_transfer(edge_id e) const
  {
    if (e.value() >= g_.topo.transfer_count() || !g_.topo.at(e.value()).live)
      throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + " does not exist");
    return g_.topo.at(e.value());
  }
  void grow(std::size_t n)
  {
    if (n <= g_.derived.size()) return;
    wave_.grow(n);  // first: g_'s size is what says every part has room (kept if g_ cannot grow)
    regions_.grow(n);
    g_.grow(n);
  }

  state_type g_;
  detail::region_solver<Semiring, Layout, Allocator> regions_;
  detail::wave_engine<Semiring, Layout, Allocator> wave_;
  provenance_finder finder_;
};

} // namespace mmsb
