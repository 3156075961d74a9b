// The row equation of graph_state (graph/detail/graph_state.hpp, which includes this at its end
// and declares these members): a row's value from its external sources (external_row), a whole
// page recomputed row by row (recompute_every_row), and the word-wide sweep that pushes a
// source's words into a bits page (push_sweep).
#pragma once

#include <mmsb/graph/detail/graph_state.hpp>

namespace mmsb::detail {

template <class Semiring, layout Layout, page_allocator Allocator>
auto graph_state<Semiring, Layout, Allocator>::input_of(std::uint32_t t) const -> row_input
{
  const auto& tr = topo.at(t);
  const auto u = tr.srcs.front();
  // A base page with changes this wave is read as its values before them (wave_base).
  const bool noted = !derived[u] && pending_of[u] != graph_topology::none;
  return {matrices[tr.payload].get(), &wave_source(u), noted ? &pool[pending_of[u]]->notes : nullptr};
}

template <class Semiring, layout Layout, page_allocator Allocator>
auto graph_state<Semiring, Layout, Allocator>::external_row(std::uint32_t v, std::uint32_t i, bool internal_too) const -> value_type
{
  value_type r = wave_base(v, i);
  if (terminal(r)) return r;
  for (const auto t : topo.in(v)) {
    if (!internal_too && topo.same_unit(topo.at(t).srcs.front(), v)) continue;
    if (add_row_terms(r, input_of(t), i)) return r;
  }
  return r;
}

template <class Semiring, layout Layout, page_allocator Allocator>
void graph_state<Semiring, Layout, Allocator>::resolve_rows(std::uint32_t v, bool internal_too, row_inputs& r) const
{
  r.base = &base_page(v);
  r.notes = pending_of[v] == graph_topology::none ? nullptr : &pool[pending_of[v]]->notes;
  r.in.clear();
  for (const auto t : topo.in(v))
    if (internal_too || !topo.same_unit(topo.at(t).srcs.front(), v)) r.in.push_back(input_of(t));
}

template <class Semiring, layout Layout, page_allocator Allocator>
bool graph_state<Semiring, Layout, Allocator>::push_sweep(span<const sweep_input> in, const page_type& b, page_type& x, work& w)
{
  std::uint64_t pull = 0, push = 0;
  for (const auto& e : in) pull += e.a->nnz();
  w.pushed.clear();
  w.pushed_ends.clear();
  for (const auto& e : in) {
    const auto cp = e.a->col_ptr();
    for_each_nonzero(*e.src, [&](std::uint32_t j) {
      if (cp[j + 1] == cp[j]) return;
      w.pushed.push_back(j);
      push += cp[j + 1] - cp[j];
    });
    if (4 * push >= pull) return false;
    w.pushed_ends.push_back(w.pushed.size());
  }
  if (!w.sum) w.sum = std::make_unique<page_type>();
  page_type& acc = *w.sum;
  acc.storage() = b.storage();
  for (std::size_t q = 0, s = 0; q < in.size(); ++q) {
    const auto& e = in[q];
    const auto cp = e.a->col_ptr();
    const auto rows = e.a->row_index().data();
    const auto ws = e.a->col_major_values().data();
    for (; s < w.pushed_ends[q]; ++s) {
      const auto j = w.pushed[s];
      const value_type xj = e.src->get(j);
      for (std::uint64_t k = cp[j]; k < cp[j + 1]; ++k)
        acc.set(rows[k], traits::add(acc.get(rows[k]), e.unit ? xj : traits::mul(static_cast<value_type>(ws[k]), xj)));
    }
  }
  if constexpr (use_word_path_v<Semiring, Layout>) {
    const word_t* aw = Layout::data(acc.storage());
    word_t* xw = Layout::data(x.storage());
    for (std::size_t q = 0; q < words_for(extent); ++q) publish_word(q, aw[q], xw, w);
  } else {
    for (std::uint32_t i = 0; i < extent; ++i)
      if (const value_type old = x.get(i), nv = acc.get(i); !bit_equal(old, nv)) {
        w.changes.add(i, old);
        x.set(i, nv);
      }
  }
  return true;
}

template <class Semiring, layout Layout, page_allocator Allocator>
void graph_state<Semiring, Layout, Allocator>::recompute_every_row(std::uint32_t v, work& w, bool internal_too)
{
  bool clean = pending_of[v] == graph_topology::none;
  std::vector<sweep_input> in;
  for (const auto t : topo.in(v)) {
    const auto& tr = topo.at(t);
    const auto u = tr.srcs.front();
    if (!internal_too && topo.same_unit(u, v)) continue;
    clean = clean && (derived[u] || pending_of[u] == graph_topology::none);
    in.push_back({&wave_source(u), matrices[tr.payload].get(), unit_weights(*matrices[tr.payload])});
  }
  if (!clean) {
    row_inputs r;
    resolve_rows(v, internal_too, r);
    page_type& x = shadow_page(v);
    for (std::uint32_t i = 0; i < extent; ++i) set_value(x, i, row_value(r, i), w);
    return;
  }
  const page_type& b = base_page(v);
  page_type& x = shadow_page(v);
  if constexpr (use_word_path_v<Semiring, Layout>) {  // packed booleans under or, diagonal edges: 64 rows a step
    bool diagonal = true;
    for (const auto& e : in) diagonal = diagonal && e.a->diagonal() && e.a->rows() == extent;
    if (diagonal) {
      constexpr std::size_t words = words_for(extent);
      const word_t* bw = Layout::data(b.storage());
      word_t* xw = Layout::data(x.storage());
      for (std::size_t q = 0; q < words; ++q) {
        word_t r = bw[q];
        for (const auto& e : in) {
          const word_t* m = e.a->diagonal_masks().data();
          r |= m[q] & m[words + q] & Layout::data(e.src->storage())[q];
        }
        publish_word(q, r, xw, w);
      }
      return;
    }
  }
  if constexpr (push_sweep_v)  // sparse sources: push (see push_sweep), else pull every row
    if (push_sweep({in.data(), in.size()}, b, x, w)) return;
  for (std::uint32_t i = 0; i < extent; ++i) {
    const value_type r = [&] {  // the row, stopped at a terminal value
      value_type r = b.get(i);
      if (terminal(r)) return r;
      for (const auto& e : in) {
        const auto ptr = e.a->row_ptr();
        const auto cols = e.a->col_index().data();
        const auto ws = e.a->values().data();
        if (std::is_integral_v<value_type> && e.unit) {  // w ⊗ x == x: no weights read (never over floats)
          for (std::uint64_t k = ptr[i]; k < ptr[i + 1]; ++k) {
            r = traits::add(r, e.src->get(cols[k]));
            if (terminal(r)) return r;
          }
        } else {
          for (std::uint64_t k = ptr[i]; k < ptr[i + 1]; ++k) {
            r = traits::add(r, traits::mul(static_cast<value_type>(ws[k]), e.src->get(cols[k])));
            if (terminal(r)) return r;
          }
        }
      }
      return r;
    }();
    const value_type old = x.get(i);
    if (!bit_equal(old, r)) {
      w.changes.add(i, old);
      x.set(i, r);
    }
  }
}

} // namespace mmsb::detail
