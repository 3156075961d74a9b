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
// Strategy, chosen from the semiring traits at compile time:
//   difference  (has_inverse, exact ⊕: integer rings)      Δvalue(v) = A ⊗ Δvalue(u)
//   monotone    (idempotent ⊕: min/max/or)                push improvements; a value that got
//               worse makes its rows be recomputed (in a region: the region is re-solved)
//   recompute   (anything else, e.g. + over floats)       recompute the rows a change reaches,
//               in one fixed order, so the result is bitwise reproducible
// Kernel edges rerun the kernel when any source changed, and the changed slots go on.
#pragma once

#include <mmsb/graph/csr_matrix.hpp>
#include <mmsb/graph/detail/change_set.hpp>
#include <mmsb/graph/dot.hpp>
#include <mmsb/graph/provenance.hpp>
#include <mmsb/graph/scc.hpp>
#include <mmsb/graph/topology.hpp>

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/semiring/concept.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <ostream>
#include <memory>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

enum class propagation_strategy : std::uint8_t { difference, monotone, recompute };

template <class Semiring>
inline constexpr propagation_strategy propagation_strategy_v =
  idempotent_add_v<Semiring>                           ? propagation_strategy::monotone
  : (ring<Semiring> && exact_add_v<Semiring>)          ? propagation_strategy::difference
                                                       : propagation_strategy::recompute;

// Who last wrote a page's base: provenance reports it. Zero means "never stamped".
struct writer_stamp {
  mmsb::epoch epoch{};
  txn_id txn{};
};

// Stops propagation between units once the deadline has passed (at least one unit always runs,
// so every call makes progress). The default never stops.
struct propagate_budget {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  [[nodiscard]] bool expired() const noexcept
  {
    return deadline != std::chrono::steady_clock::time_point::max() && std::chrono::steady_clock::now() >= deadline;
  }
};

// What verify() found; empty when every invariant holds.
struct graph_report {
  std::vector<std::string> problems;
  [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
};

struct propagate_result {
  bool complete = true;          // false: the budget ran out; the next call carries on
  std::size_t units = 0;         // pages (or whole regions) processed by this call
  std::size_t changed_slots = 0; // value slots that changed
  std::size_t frontier = 0;      // units still queued when the call returned
  std::size_t region_rounds = 0; // fixed-point rounds summed over regions
};

template <class Semiring, layout Layout, page_allocator Allocator = host_heap>
class page_graph {
  static_assert(require_semiring<Semiring>());
  static_assert(std::is_same_v<typename Layout::value_type, semiring_value_t<Semiring>>,
                "mmsb: page_graph needs a layout whose value_type is the semiring's value_type");

public:
  using semiring_type = Semiring;
  using value_type = typename Layout::value_type;
  using page_type = page<Layout>;
  using table_type = page_table<Layout, Allocator>;
  using matrix_type = csr_matrix<value_type>;
  // A kernel edge's function: writes every slot of dst from the sources' values. It must be
  // pure (same inputs, same bits); add_kernel_edge runs it twice to check.
  using kernel_fn = std::function<void(span<const page_type* const> srcs, page_type& dst)>;
  static constexpr std::size_t extent = Layout::extent;
  static constexpr propagation_strategy strategy = propagation_strategy_v<Semiring>;

  // The graph reads and writes bases in `bases`, which must outlive it. Shadow values use an
  // allocator of the same type.
  explicit page_graph(table_type& bases) : bases_(bases)
  {
    acc_.assign(extent, stored(semiring_traits<Semiring>::zero()));
    acc_rows_.init(extent);
  }
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
    if (kernel_into(dst.value()) != graph_topology::none)
      throw error(errc::invalid_argument, what + ": page " + std::to_string(dst.value()) + " is already computed by a kernel edge");
    if (!row_mask.empty())
      a = std::make_shared<const matrix_type>(a->filter_rows([&](std::uint32_t r) { return test_bit(row_mask.data(), r); }));
    settle_wave();
    grow(std::max(src.value(), dst.value()) + 1);
    // Becoming derived first is harmless if the edge is then refused: with no edge in, value = base.
    make_derived(dst.value());
    reserve_for(matrices_, matrices_.size() + 1);  // geometric: a million edges must not copy a million times
    const std::uint32_t src_v = src.value();
    const edge_id e = topo_.add({&src_v, 1}, dst.value(), edge_kind::matrix, static_cast<std::uint32_t>(matrices_.size()));
    matrices_.push_back(std::move(a));
    mark_rows(dst.value(), *matrices_.back());
    touch_links(src_v, dst.value());
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
    if (!topo_.in(dst.value()).empty())
      throw error(errc::invalid_argument, what + ": page " + std::to_string(dst.value()) + " already has incoming edges");
    if (topo_.region_of(dst.value()) != graph_topology::none)
      throw error(errc::invalid_argument, what + ": page " + std::to_string(dst.value()) + " is in a fixed-point region");
    std::vector<std::uint32_t> ids;
    for (const auto s : srcs) ids.push_back(s.value());
    check_pure(ids, f, what);
    settle_wave();
    make_derived(dst.value());
    reserve_for(kernels_, kernels_.size() + 1);
    const edge_id e = topo_.add({ids.data(), ids.size()}, dst.value(), edge_kind::kernel,
                                static_cast<std::uint32_t>(kernels_.size()));
    kernels_.push_back({std::move(f), std::move(name)});
    pend(dst.value()).full = true;
    return e;
  }

  void remove_edge(edge_id e)
  {
    const auto& t = live_transfer(e);
    const auto dst = t.dst;
    settle_wave();
    if (t.kind == edge_kind::matrix) mark_rows(dst, *matrices_[t.payload]);
    else pend(dst).full = true;
    touch_links(t.srcs.front(), dst);
    topo_.remove(e);
  }

  // Replaces a matrix edge's weights (same shape). The rows whose entries differ are recomputed.
  void set_weights(edge_id e, matrix_type a)
  {
    const auto& t = live_transfer(e);
    if (t.kind != edge_kind::matrix) throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + " is a kernel edge");
    if (a.rows() != extent || a.cols() != extent)
      throw error(errc::size_mismatch, "edge " + std::to_string(e.value()) + ": the matrix is " + std::to_string(a.rows()) +
                                         " x " + std::to_string(a.cols()) + " but pages hold " + std::to_string(extent) + " slots");
    settle_wave();
    auto& m = matrices_[t.payload];
    auto& w = pend(t.dst);
    for (std::uint32_t i = 0; i < extent; ++i) {
      const auto c0 = m->row_cols(i), c1 = a.row_cols(i);
      const auto v0 = m->row_values(i), v1 = a.row_values(i);
      if (c0.size() != c1.size() || !std::equal(c0.begin(), c0.end(), c1.begin()) ||
          !std::equal(v0.begin(), v0.end(), v1.begin(), [](auto x, auto y) { return detail::bit_equal(x, y); }))
        w.rows.add(i);
    }
    m = std::make_shared<const matrix_type>(std::move(a));  // edges sharing the old matrix keep it
    touch_links(t.srcs.front(), t.dst);
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
      if (kernel_into(m.value()) != graph_topology::none)
        throw error(errc::invalid_argument, "fixed-point region: page " + std::to_string(m.value()) + " is computed by a kernel edge");
      ids.push_back(m.value());
    }
    settle_wave();
    // The region's links first (unused if the topology refuses it): nothing that can throw
    // comes between add_region and the member index.
    const auto next = topo_.region_count();
    if (region_links_.size() <= next) region_links_.resize(next + 1);
    region_links_[next].out.assign(ids.size(), {});
    region_links_[next].in.assign(ids.size(), {});
    const region_id r = topo_.add_region({ids.data(), ids.size()}, max_iterations);
    for (std::size_t k = 0; k < ids.size(); ++k) region_index_[ids[k]] = static_cast<std::uint32_t>(k);
    for (const auto m : ids) {
      make_derived(m);
      pend(m).full = true;
    }
    return r;
  }

  // ---- state -------------------------------------------------------------------------------
  [[nodiscard]] const page_type& value(page_id p) const
  {
    if (p.value() < derived_.size() && derived_[p.value()]) return shadow_.at(p);
    return bases_.at(p);
  }
  [[nodiscard]] bool is_derived(page_id p) const noexcept { return p.value() < derived_.size() && derived_[p.value()]; }
  [[nodiscard]] table_type& bases() noexcept { return bases_; }
  [[nodiscard]] const graph_topology& topology() const noexcept { return topo_; }
  [[nodiscard]] const matrix_type& matrix(edge_id e) const { return *matrices_[live_transfer(e).payload]; }
  [[nodiscard]] writer_stamp stamp(page_id p) const noexcept
  {
    return p.value() < stamps_.size() ? stamps_[p.value()] : writer_stamp{};
  }
  [[nodiscard]] bool idle() const noexcept { return !wave_active_ && pending_nodes_.empty(); }

  // Records the current base value of slot before the caller changes it by another path (a
  // store's commit). The next propagate() carries the change on.
  void note(page_id p, std::size_t slot)
  {
    const page_type& b = bases_.at(p);
    if (slot >= extent)
      throw error(errc::out_of_range, "page " + std::to_string(p.value()) + ": slot " + std::to_string(slot) +
                                        " is out of range (pages hold " + std::to_string(extent) + " slots)");
    grow(p.value() + 1);
    pend(p.value()).notes.add(static_cast<std::uint32_t>(slot), b.get(slot));
  }
  void note(const delta<Semiring, Layout>& d)
  {
    const page_type& b = bases_.at(d.target());
    grow(d.target().value() + 1);
    auto& notes = pend(d.target().value()).notes;
    for_each_slot(d, [&](std::uint32_t i) { notes.add(i, b.get(i)); });
  }

  // Applies d to its page's base and notes the change; stamps the page if stamp is set. Throws
  // mmsb::error with nothing changed for an unknown page or an epoch older than the page's last.
  void apply(const delta<Semiring, Layout>& d, writer_stamp s = {})
  {
    page_type& b = bases_.at(d.target());
    grow(d.target().value() + 1);
    auto& last = stamps_[d.target().value()];
    if (s.epoch.value() != 0 && s.epoch.value() < last.epoch.value())
      throw error(errc::invalid_argument, "page " + std::to_string(d.target().value()) + ": epoch " +
                                            std::to_string(s.epoch.value()) + " is older than its last write at epoch " +
                                            std::to_string(last.epoch.value()));
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
  propagate_result propagate(const propagate_budget& budget = {});

  // Recomputes every value from the bases, ignoring what is queued.
  void recompute_all();

  // ---- queries -----------------------------------------------------------------------------
  // The pages p's value depends on, up to `depth` edges back, each with its last writer.
  provenance_result provenance(page_id p, std::uint32_t depth = provenance_finder::default_depth, bool use_cache = true)
  {
    check_page(p, "provenance");
    grow(p.value() + 1);
    return finder_.pages(topo_, p.value(), depth, [&](ancestor& a) { fill_stamp(a); }, use_cache);
  }
  // The slots slot i of page p depends on (whole pages through kernel edges).
  provenance_result slot_provenance(page_id p, std::size_t slot, std::uint32_t depth = provenance_finder::default_depth)
  {
    check_page(p, "provenance");
    if (slot >= extent)
      throw error(errc::out_of_range, "provenance of page " + std::to_string(p.value()) + ": slot " + std::to_string(slot) +
                                        " is out of range (pages hold " + std::to_string(extent) + " slots)");
    grow(p.value() + 1);
    return finder_.slots(topo_, p.value(), static_cast<std::uint32_t>(slot), depth, [&](ancestor& a) { fill_stamp(a); },
                         [&](std::uint32_t t, std::uint32_t row) { return matrices_[topo_.at(t).payload]->row_cols(row); });
  }

  // Graphviz DOT: matrix edges labelled with their entry count, kernel edges with their name.
  void write_dot(std::ostream& os) const
  {
    mmsb::write_dot(os, topo_, [&](std::uint32_t e) {
      const auto& t = topo_.at(e);
      return t.kind == edge_kind::matrix ? "nnz " + std::to_string(matrices_[t.payload]->nnz()) : kernels_[t.payload].name;
    });
  }

  // Checks the invariants: no cycle outside fixed-point regions, levels rising along every edge,
  // bases not older than their last recorded write, and every value equal (by checksum) to its
  // recomputation from the bases, which also catches an impure kernel. Values are left as found.
  graph_report verify();

private:
  using stored_type = std::conditional_t<std::is_same_v<value_type, bool>, std::uint8_t, value_type>;
  static stored_type stored(value_type v) noexcept { return static_cast<stored_type>(v); }

  struct kernel_edge {
    kernel_fn f;
    std::string name;
  };
  // Work for one node: notes gathered before a wave (pending), or the wave's inputs and outputs.
  struct work {
    detail::change_set<value_type> notes;    // base slots noted, with their value before
    detail::change_set<value_type> changes;  // value slots this wave changed (published)
    detail::slot_set rows;                   // rows to recompute (edits)
    bool full = false;                       // recompute every row / rerun the kernel
    bool done = false;
    void init() { notes.init(extent); changes.init(extent); rows.init(extent); }
    void clear() { notes.clear(); changes.clear(); rows.clear(); full = done = false; }
  };

  template <class F>
  static void for_each_slot(const delta<Semiring, Layout>& d, F&& f)
  {
    if (const auto* s = d.as_sparse()) {
      for (const auto& e : s->entries()) f(static_cast<std::uint32_t>(e.index));
    } else if (const auto* dd = d.as_dense()) {
      const word_t* m = dd->mask_words();
      for (std::size_t w = 0; w < words_for(extent); ++w)
        for (word_t bitsleft = m[w]; bitsleft; bitsleft &= bitsleft - 1)
          f(static_cast<std::uint32_t>(w * word_bits + countr_zero(bitsleft)));
    }
  }

  void check_page(page_id p, const std::string& role) const
  {
    if (!bases_.contains(p))
      throw error(errc::unknown_page, role + ": page " + std::to_string(p.value()) + " does not exist");
  }
  const graph_topology::transfer& live_transfer(edge_id e) const
  {
    if (e.value() >= topo_.transfer_count() || !topo_.at(e.value()).live)
      throw error(errc::invalid_argument, "edge " + std::to_string(e.value()) + " does not exist");
    return topo_.at(e.value());
  }
  std::uint32_t kernel_into(std::uint32_t v) const
  {
    if (v >= topo_.node_bound()) return graph_topology::none;
    for (const auto t : topo_.in(v))
      if (topo_.at(t).kind == edge_kind::kernel) return topo_.at(t).payload;
    return graph_topology::none;
  }

  void grow(std::size_t n)
  {
    if (n <= derived_.size()) return;
    topo_.reserve_nodes(n);
    derived_.resize(n, 0);
    stamps_.resize(n);
    pending_.resize(n, graph_topology::none);
    wave_.resize(n, graph_topology::none);
    queued_.resize(n, 0);
    region_index_.resize(n, 0);
  }
  // The pages of nodes the graph knows (checked when their edges were added): no lookup checks
  // on the propagation paths.
  page_type& shadow_page(std::uint32_t v) noexcept
  {
    page_type* x = shadow_.find(page_id{v});
    MMSB_ASSERT(x != nullptr);
    return *x;
  }
  const page_type& shadow_page(std::uint32_t v) const noexcept { return const_cast<page_graph*>(this)->shadow_page(v); }
  const page_type& base_page(std::uint32_t v) const noexcept
  {
    const page_type* b = bases_.find(page_id{v});
    MMSB_ASSERT(b != nullptr);
    return *b;
  }
  const page_type& wave_source(std::uint32_t u) const noexcept { return derived_[u] ? shadow_page(u) : base_page(u); }
  void make_derived(std::uint32_t v)
  {
    if (derived_[v]) return;
    shadow_.create(page_id{v});
    // The value as last published: the base without changes noted but not yet propagated (those
    // arrive as base changes of the now-derived page, and must not count twice).
    page_type& x = shadow_.at(page_id{v});
    x.storage() = bases_.at(page_id{v}).storage();
    if (pending_[v] != graph_topology::none)
      for (const auto& c : pool_[pending_[v]]->notes.items()) x.set(c.slot, c.before);
    derived_[v] = 1;
  }
  work& take_work()
  {
    if (free_work_.empty()) {
      pool_.push_back(std::make_unique<work>());
      pool_.back()->init();
      free_work_.push_back(static_cast<std::uint32_t>(pool_.size() - 1));
    }
    return *pool_[free_work_.back()];
  }
  std::uint32_t take_work_index()
  {
    take_work();
    const auto i = free_work_.back();
    free_work_.pop_back();
    return i;
  }
  work& pend(std::uint32_t v)
  {
    if (pending_[v] == graph_topology::none) {
      pending_[v] = take_work_index();
      pending_nodes_.push_back(v);
    }
    return *pool_[pending_[v]];
  }
  work& wave(std::uint32_t v)
  {
    if (wave_[v] == graph_topology::none) {
      wave_[v] = take_work_index();
      wave_nodes_.push_back(v);
    }
    return *pool_[wave_[v]];
  }
  void mark_rows(std::uint32_t dst, const matrix_type& a)
  {
    auto& w = pend(dst);
    for (std::uint32_t i = 0; i < a.rows(); ++i)
      if (!a.row_cols(i).empty()) w.rows.add(i);
  }

  void check_pure(const std::vector<std::uint32_t>& srcs, const kernel_fn& f, const std::string& what)
  {
    std::vector<const page_type*> in;
    for (const auto s : srcs) in.push_back(&value(page_id{s}));
    auto a = std::make_unique<page_type>(), b = std::make_unique<page_type>();
    f({in.data(), in.size()}, *a);
    f({in.data(), in.size()}, *b);
    for (std::size_t i = 0; i < extent; ++i)
      if (!detail::bit_equal(a->get(i), b->get(i)))
        throw error(errc::invalid_argument, what + ": the kernel is not pure: two runs on the same inputs differ at slot " +
                                              std::to_string(i));
  }

  // ---- propagation (graph/detail/propagate.hpp) ----------------------------------------------
  bool seal();
  void finish_wave();
  bool run_wave(const propagate_budget& budget, propagate_result& res);
  void settle_wave();
  void enqueue(std::uint32_t v);
  void enqueue_successors(std::uint32_t v);
  void process_node(std::uint32_t v, propagate_result& res);
  void recompute_every_row(std::uint32_t v, work& w, bool internal_too = true);
  void process_region(std::uint32_t root, propagate_result& res);
  void touch_links(std::uint32_t src, std::uint32_t dst) noexcept
  {
    if (!topo_.same_unit(src, dst)) return;
    region_links& l = region_links_[topo_.region_of(dst)];
    l.out[region_index_[src]].stale = l.in[region_index_[dst]].stale = true;
  }
  void run_kernel(std::uint32_t v, work& w);
  value_type wave_base(std::uint32_t v, std::uint32_t i) const;
  value_type wave_value(std::uint32_t u, std::uint32_t j) const;
  value_type external_row(std::uint32_t v, std::uint32_t i, bool internal_too) const;
  void set_value(std::uint32_t v, std::uint32_t i, value_type nv, work& w);
  void publish(std::uint32_t v, work& w, propagate_result& res);
  void rollback(std::size_t from_cursor, std::size_t from_pos);

  void fill_stamp(ancestor& a) const
  {
    const auto s = stamp(a.page);
    a.last_epoch = s.epoch;
    a.last_txn = s.txn;
  }

  table_type& bases_;
  table_type shadow_;
  provenance_finder finder_;
  graph_topology topo_;
  std::vector<std::shared_ptr<const matrix_type>> matrices_;
  std::vector<kernel_edge> kernels_;
  std::vector<std::uint8_t> derived_, queued_;
  std::vector<writer_stamp> stamps_;
  // Work records, reused across waves so steady-state propagation does not allocate.
  std::vector<std::unique_ptr<work>> pool_;
  std::vector<std::uint32_t> free_work_;
  std::vector<std::uint32_t> pending_, pending_nodes_;  // noted before the next wave
  std::vector<std::uint32_t> wave_, wave_nodes_;        // this wave's records
  std::vector<std::vector<std::uint32_t>> buckets_;     // queued units by level
  std::vector<std::uint32_t> processed_;                // units processed by the current call
  std::size_t cursor_ = 0, pos_ = 0;
  bool wave_active_ = false;
  // Scratch for one node: the accumulated contribution per row, and which rows it touched.
  std::vector<stored_type> acc_;
  detail::slot_set acc_rows_;
  std::unique_ptr<page_type> kernel_out_;  // a kernel's output, reused
  // A fixed-point region's internal matrix edges, per member and slot, both ways: its rounds read
  // one contiguous list per slot. Where a member has one internal edge that way, its list is a
  // view of that matrix's own CSC (out) or CSR (in) arrays; where it has several, they are fused
  // into one owned list, so a slot costs one list, not one matrix column per edge. A member's
  // lists are rebuilt (lazily, by links_of) after an edge inside the region into or out of it is
  // added, removed or reweighted.
  using weight_type = typename matrix_type::stored_type;
  struct link_list {
    bool stale = true;
    std::uint32_t only = 0;              // every link's member (index in the region) if member is null
    const std::uint64_t* ptr = nullptr;  // by slot, extent + 1 offsets
    const std::uint32_t* slot = nullptr;
    const weight_type* weight = nullptr;
    const std::uint32_t* member = nullptr;
    std::vector<std::uint64_t> own_ptr;  // a fused list's storage
    std::vector<std::uint32_t> own_slot, own_member;
    std::vector<weight_type> own_weight;
    template <class F>
    void each(std::uint32_t j, F&& f) const  // f(member, slot, weight) for slot j's links
    {
      for (std::uint64_t q = ptr[j]; q < ptr[j + 1]; ++q) f(member ? member[q] : only, slot[q], static_cast<value_type>(weight[q]));
    }
  };
  struct region_links {
    std::vector<link_list> out, in;  // by member: the slots a slot feeds, the slots feeding it
  };
  const region_links& links_of(std::uint32_t rid);
  void build_links(link_list& l, std::uint32_t page, bool out);
  // One region's propagation scratch, kept so steady-state rounds do not allocate. Slots are
  // (member index, slot).
  struct region_scratch {
    struct improvement {
      std::uint32_t member, slot;
      value_type term;
    };
    std::vector<std::pair<std::uint32_t, std::uint32_t>> frontier, next, reset, feeders;
    std::vector<improvement> better;
    std::vector<page_type*> x;  // by member: its value page
    std::vector<work*> w;       // by member: its wave record
  };
  std::vector<region_links> region_links_;      // by region id
  region_scratch region_;
  std::vector<detail::slot_set> region_marks_;  // per region member: scratch slot sets (the reset closure, the next round)
  std::vector<std::uint32_t> region_index_;     // page -> its index among its region's members
};

} // namespace mmsb

#include <mmsb/graph/detail/propagate.hpp>
