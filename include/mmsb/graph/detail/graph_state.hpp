// Internal: the state page_graph's engines share, and the one row equation they all evaluate.
//
// It holds the bases (the user's page_table, by reference), the shadow values of derived pages,
// the topology and the transfers it indexes (matrices, kernels), and the work records: what was
// noted for the next wave (pending_of) and what the current wave read and changed (wave_of).
// Work records are pooled and reused across waves, so steady-state propagation does not
// allocate. The engines (graph/wave.hpp, graph/region_solver.hpp, graph/verify.hpp) read and
// write it; graph/page_graph.hpp owns it and is the one way in for users.
//
// Row equation (both engines, incremental and full, use this order, so results are bitwise
// reproducible): value(v)[i] = base(v)[i] ⊕ every matrix edge's row i, in edge order then column
// order. A wave reads a page's base as of the wave's start: changes noted mid-wave wait.
#pragma once

#include <mmsb/graph/csr_matrix.hpp>
#include <mmsb/graph/detail/change_set.hpp>
#include <mmsb/graph/provenance.hpp>
#include <mmsb/graph/topology.hpp>

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/apply.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb::detail {

template <class Semiring, layout Layout, page_allocator Allocator>
struct graph_state {
  using traits = semiring_traits<Semiring>;
  using value_type = typename Layout::value_type;
  using page_type = page<Layout>;
  using table_type = page_table<Layout, Allocator>;
  using matrix_type = csr_matrix<value_type>;
  using kernel_fn = std::function<void(span<const page_type* const> srcs, page_type& dst)>;
  static constexpr std::size_t extent = Layout::extent;

  struct kernel_edge {
    kernel_fn f;
    std::string name;
  };
  // Work for one node: notes gathered before a wave (pending), or the wave's inputs and outputs.
  struct work {
    change_set<value_type> notes;    // base slots noted, with their value before
    change_set<value_type> changes;  // value slots this wave changed (published)
    slot_set rows;                   // rows to recompute (edits)
    bool full = false;               // recompute every row / rerun the kernel
    bool done = false;
    std::vector<std::uint32_t> pushed;      // push_sweep's scratch: non-zero source slots,
    std::vector<std::size_t> pushed_ends;   // where each input's end in `pushed`,
    std::unique_ptr<page_type> sum;         // and the page it sums into (allocated on first use)
    void init() { notes.init(extent); changes.init(extent); rows.init(extent); }
    void clear() { notes.clear(); changes.clear(); rows.clear(); full = done = false; }
  };

  // The work records, by index, in chunks that never move: one allocation per chunk_records
  // records (a bulk add of a million kernel edges pends a million), never one per record.
  class work_pool {
  public:
    static constexpr std::uint32_t chunk_records = 64;
    [[nodiscard]] work* operator[](std::uint32_t i) const noexcept { return &chunks_[i / chunk_records][i % chunk_records]; }
    [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
    // Adds a chunk of initialized records; their indices are [size() before, size() after).
    void grow()
    {
      chunks_.reserve(chunks_.size() + 1);
      auto chunk = std::make_unique<work[]>(chunk_records);
      for (std::uint32_t k = 0; k < chunk_records; ++k) chunk[k].init();
      chunks_.push_back(std::move(chunk));
      size_ += chunk_records;
    }

  private:
    std::vector<std::unique_ptr<work[]>> chunks_;
    std::uint32_t size_ = 0;
  };

  explicit graph_state(table_type& b) : bases(b) {}
  graph_state(const graph_state&) = delete;
  graph_state& operator=(const graph_state&) = delete;

  table_type& bases;
  table_type shadow;
  graph_topology topo;
  std::vector<std::shared_ptr<const matrix_type>> matrices;
  std::vector<kernel_edge> kernels;
  std::vector<std::uint8_t> derived;
  std::vector<writer_stamp> stamps;  // explicit stamps given to page_graph::apply(d, stamp)
  work_pool pool;
  std::vector<std::uint32_t> free_work;
  std::vector<std::uint32_t> pending_of, pending_nodes;  // noted before the next wave
  std::vector<std::uint32_t> wave_of, wave_nodes;        // this wave's records

  void grow(std::size_t n)
  {
    if (n <= derived.size()) return;
    topo.reserve_nodes(n);
    const std::size_t old = derived.size();
    try {  // derived last: its size says the others have room
      stamps.resize(n);
      pending_of.resize(n, graph_topology::none);
      wave_of.resize(n, graph_topology::none);
      derived.resize(n, 0);
    } catch (...) {
      stamps.resize(old);  // shrinking never throws
      pending_of.resize(old);
      wave_of.resize(old);
      throw;
    }
  }

  [[nodiscard]] const page_type& value(page_id p) const
  {
    if (p.value() < derived.size() && derived[p.value()]) return shadow.at(p);
    return bases.at(p);
  }
  // The pages of nodes the graph knows (checked when their edges were added): no lookup checks
  // on the propagation paths.
  page_type& shadow_page(std::uint32_t v) noexcept
  {
    page_type* x = shadow.find_unaged(page_id{v});  // the graph's own table: never spilled
    MMSB_ASSERT(x != nullptr);
    return *x;
  }
  const page_type& shadow_page(std::uint32_t v) const noexcept { return const_cast<graph_state*>(this)->shadow_page(v); }
  // Looked up row after row: the wave records each node's uses once (wave_engine::compute_node).
  const page_type& base_page(std::uint32_t v) const
  {
    const page_type* b = bases.find_unaged(page_id{v});
    MMSB_ASSERT(b != nullptr);
    return *b;
  }
  const page_type& wave_source(std::uint32_t u) const { return derived[u] ? shadow_page(u) : base_page(u); }

  std::uint32_t kernel_into(std::uint32_t v) const
  {
    if (v >= topo.node_bound()) return graph_topology::none;
    for (const auto t : topo.in(v))
      if (topo.at(t).kind == edge_kind::kernel) return topo.at(t).payload;
    return graph_topology::none;
  }

  void make_derived(std::uint32_t v)
  {
    if (derived[v]) return;
    shadow.create(page_id{v});
    // The value as last published: the base without changes noted but not yet propagated (those
    // arrive as base changes of the now-derived page, and must not count twice).
    page_type& x = shadow.at(page_id{v});
    x.storage() = bases.at(page_id{v}).storage();
    if (pending_of[v] != graph_topology::none)
      for (const auto& c : pool[pending_of[v]]->notes.items()) x.set(c.slot, c.before);
    derived[v] = 1;
  }

  // ---- checks and iteration -----------------------------------------------------------------
  // Runs a kernel twice on the sources' values; throws mmsb::error (naming the slot) if the two
  // runs differ: a kernel edge must be pure.
  void check_pure(const std::vector<std::uint32_t>& srcs, const kernel_fn& f, const std::string& what) const
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
  // f(slot) for every slot d touches, in ascending order for a dense delta.
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

  // ---- work records --------------------------------------------------------------------------
  std::uint32_t take_work_index()
  {
    if (free_work.empty()) {
      free_work.reserve(free_work.size() + work_pool::chunk_records);
      pool.grow();
      for (std::uint32_t i = pool.size(); i-- > pool.size() - work_pool::chunk_records;) free_work.push_back(i);  // lowest first
    }
    const auto i = free_work.back();
    free_work.pop_back();
    return i;
  }
  work& pend(std::uint32_t v)
  {
    if (pending_of[v] == graph_topology::none) {
      pending_of[v] = take_work_index();
      pending_nodes.push_back(v);
    }
    return *pool[pending_of[v]];
  }
  work& wave(std::uint32_t v)
  {
    if (wave_of[v] == graph_topology::none) {
      wave_of[v] = take_work_index();
      wave_nodes.push_back(v);
    }
    return *pool[wave_of[v]];
  }
  void mark_rows(std::uint32_t dst, const matrix_type& a)
  {
    auto& w = pend(dst);
    for (std::uint32_t i = 0; i < a.rows(); ++i)
      if (!a.row_cols(i).empty()) w.rows.add(i);
  }

  // ---- the row equation ----------------------------------------------------------------------
  value_type wave_base(std::uint32_t v, std::uint32_t i) const
  {
    const value_type now = base_page(v).get(i);
    return pending_of[v] == graph_topology::none ? now : pool[pending_of[v]]->notes.before_or(i, now);
  }
  value_type wave_value(std::uint32_t u, std::uint32_t j) const { return derived[u] ? shadow_page(u).get(j) : wave_base(u, j); }

  // True when r is the ⊕ annihilator (has_terminal_v): no later term of its row can change it, so
  // the row stops there with the value the full sum would give. Constant false otherwise.
  static constexpr bool terminal(const value_type& r) noexcept
  {
    if constexpr (has_terminal_v<Semiring>) return bit_equal(r, traits::terminal());
    else return false;
  }

  // Whether ⊗ by every weight of a is the identity, bit for bit: a uniform matrix of one()s over an
  // integral or boolean type (mul(one, x) == x is a semiring law; over floats it can still turn
  // -0 into +0, as 0 + -0 does in min_plus, so floats always multiply).
  static bool unit_weights(const matrix_type& a) noexcept
  {
    if constexpr (std::is_integral_v<value_type>)
      return a.uniform() && (a.nnz() == 0 || bit_equal(static_cast<value_type>(a.values()[0]), traits::one()));
    else return false;
  }

  // base(v)[i] ⊕ every matrix edge's row i, in edge order then column order (without edges
  // inside v's region unless internal_too); stops at a terminal value.
  value_type external_row(std::uint32_t v, std::uint32_t i, bool internal_too) const;

  // One page's row equation with its pages and notes looked up once (resolve_rows), for a node
  // whose rows are recomputed one by one: row_value(r, i) == external_row(v, i, internal_too),
  // bit for bit, at a fraction of the lookups. Valid until the graph's tables change.
  struct row_input {
    const matrix_type* a;
    const page_type* src;                  // a derived source's shadow, or a base source's page
    const change_set<value_type>* notes;   // a base source's notes this wave (values before), or null
  };
  struct row_inputs {
    const page_type* base = nullptr;                 // v's base page
    const change_set<value_type>* notes = nullptr;   // v's own notes this wave, or null
    std::vector<row_input> in;                       // reused: no allocation once grown
  };
  void resolve_rows(std::uint32_t v, bool internal_too, row_inputs& r) const;
  [[nodiscard]] value_type row_value(const row_inputs& r, std::uint32_t i) const
  {
    const value_type now = r.base->get(i);
    value_type x = r.notes ? r.notes->before_or(i, now) : now;
    if (terminal(x)) return x;
    for (const auto& e : r.in)
      if (add_row_terms(x, e, i)) return x;
    return x;
  }
  // r ⊕= edge e's terms of row i, in column order; true once r is terminal (the row stops there).
  bool add_row_terms(value_type& r, const row_input& e, std::uint32_t i) const
  {
    const auto cols = e.a->row_cols(i);
    const auto ws = e.a->row_values(i);
    for (std::size_t k = 0; k < cols.size(); ++k) {
      const value_type now = e.src->get(cols[k]);
      r = traits::add(r, traits::mul(static_cast<value_type>(ws[k]), e.notes ? e.notes->before_or(cols[k], now) : now));
      if (terminal(r)) return true;
    }
    return false;
  }
  // The edge with index t into a node, its pages looked up.
  row_input input_of(std::uint32_t t) const;
  // Starts bringing in what row_value(r, i) reads (a hint: rows recomputed together overlap their
  // cache misses instead of waiting for each in turn).
  void prefetch_row(const row_inputs& r, std::uint32_t i) const noexcept
  {
    r.base->prefetch_slot(i);
    for (const auto& e : r.in)
      for (const auto j : e.a->row_cols(i)) e.src->prefetch_slot(j);
  }

  void set_value(std::uint32_t v, std::uint32_t i, value_type nv, work& w) { set_value(shadow_page(v), i, nv, w); }
  static void set_value(page_type& x, std::uint32_t i, value_type nv, work& w)
  {
    const value_type old = x.get(i);
    if (bit_equal(old, nv)) return;
    w.changes.add(i, old);
    x.set(i, nv);
  }

  struct sweep_input { const page_type* src; const matrix_type* a; bool unit; };

  // Packed booleans: word q of a value page becomes r, each slot that changes recorded in order.
  static void publish_word(std::size_t q, word_t r, word_t* xw, work& w)
  {
    for (word_t d = r ^ xw[q]; d; d &= d - 1) {
      const auto i = static_cast<std::uint32_t>(q * word_bits + countr_zero(d));
      w.changes.add(i, test_bit(xw, i));
    }
    xw[q] = r;
  }

  // push_sweep is exact where ⊕ is order-free bit for bit: integral or boolean values under a
  // commutative, exactly associative ⊕ (or, min, max, wrap-around +).
  static constexpr bool push_sweep_v =
      std::is_integral_v<value_type> && commutative_add_v<Semiring> && exact_add_v<Semiring>;

  // f(j) for every slot j of p that is not zero(): only those add anything to a row (zero ⊗ w is
  // zero, the identity of ⊕). Packed booleans are scanned a word at a time.
  template <class F>
  static void for_each_nonzero(const page_type& p, F&& f)
  {
    if constexpr (use_word_path_v<Semiring, Layout>) {
      const word_t* pw = Layout::data(p.storage());
      for (std::size_t q = 0; q < words_for(extent); ++q)
        for (word_t m = pw[q]; m; m &= m - 1) f(static_cast<std::uint32_t>(q * word_bits + countr_zero(m)));
    } else {
      for (std::uint32_t j = 0; j < extent; ++j)
        if (!bit_equal(p.get(j), traits::zero())) f(j);
    }
  }

  // The sweep pushed, direction-optimizing: each non-zero source slot goes down its CSC column
  // into a copy of the base, and the sum is compared with x. Taken when the entries pushed are
  // under a quarter of those a pull reads (a pushed entry is a read-modify-write of a random slot,
  // a pulled one a read, and pulled rows stop at a terminal value); false, having changed nothing,
  // otherwise. The same values as pulling, and the changes recorded in the same (slot) order.
  bool push_sweep(span<const sweep_input> in, const page_type& b, page_type& x, work& w);

  // A full sweep of v: one pass over every in-edge's CSR rows, page pointers looked up once, each
  // row stopped at a terminal value. The same expression, in the same order, as external_row
  // (which it falls back to when a source or v's base has changes noted for the next wave).
  void recompute_every_row(std::uint32_t v, work& w, bool internal_too = true);
};

} // namespace mmsb::detail

#include <mmsb/graph/detail/row_equation.hpp>  // external_row, push_sweep, recompute_every_row
