// How wave_engine (graph/wave.hpp, which includes this at its end and has the contract)
// computes and publishes one node: the push rows of a matrix page (compute_node, per strategy),
// a kernel page (run_kernel), and keeping only the slots that really changed (retain_changed,
// publish_retained). The level loop, the parallel path, rollback and the spilled sources'
// bulk reload stay in wave.hpp.
#pragma once

#include <mmsb/graph/wave.hpp>

namespace mmsb::detail {

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::retain_changed(std::uint32_t v, work& w)
{
  const page_type& x = g_.shadow_page(v);
  w.changes.retain([&](auto& c) {
    c.after = x.get(c.slot);
    return !bit_equal(c.before, c.after);  // changed, then changed back: cut off
  });
}

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::publish_retained(std::uint32_t v, work& w, propagate_result& res)
{
  const std::size_t kept = w.changes.size();
  res.changed_slots += kept;
  w.done = true;
  if (kept) enqueue_successors(v);
}

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::compute_node(std::uint32_t v, scratch& sc)
{
  const auto& topo = g_.topo;
  work& w = *g_.pool[g_.wave_of[v]];  // created when v was queued
  for (const auto t : topo.in(v))  // page aging (spill): v reads its base sources
    for (const auto u : topo.at(t).srcs) if (!g_.derived[u]) g_.bases.note_use(page_id{u});
  if (g_.kernel_into(v) != graph_topology::none) {
    bool run = w.full;
    for (const auto u : topo.at(topo.in(v).front()).srcs)
      run = run || (g_.wave_of[u] != graph_topology::none && !g_.pool[g_.wave_of[u]]->changes.empty());
    if (run) run_kernel(v, w);
    return;
  }
  if (w.full) {  // every row is recomputed: nothing incremental to do
    g_.recompute_every_row(v, w);
    return;
  }
  auto& acc_ = sc.acc;
  auto& acc_rows_ = sc.rows;
  page_type& x = g_.shadow_page(v);
  // One changed slot j with weight wt reaching row i; `before`/`after` are j's values.
  const auto reach = [&](std::uint32_t i, value_type wt, value_type before, value_type after, bool identity) {
    if constexpr (strategy == propagation_strategy::difference) {
      const value_type d = traits::sub(after, before);
      acc_[i] = stored(traits::add(static_cast<value_type>(acc_[i]), identity ? d : traits::mul(wt, d)));
      if (acc_rows_.add(i)) x.prefetch_slot(i);
    } else if constexpr (strategy == propagation_strategy::monotone) {
      if (bit_equal(traits::add(after, before), after)) {
        acc_[i] = stored(traits::add(static_cast<value_type>(acc_[i]), identity ? after : traits::mul(wt, after)));
        if (acc_rows_.add(i)) x.prefetch_slot(i);  // read when the row is published
      } else if constexpr (selective_add_v<Semiring>) {
        // x[i] is one selected term; if it was not this one, this one getting worse changes nothing.
        if (bit_equal(x.get(i), identity ? before : traits::mul(wt, before))) w.rows.add(i);
      } else {
        w.rows.add(i);
      }
    } else {
      w.rows.add(i);
    }
  };
  for (const auto t : topo.in(v)) {
    const auto& tr = topo.at(t);
    const auto u = tr.srcs.front();
    if (g_.wave_of[u] == graph_topology::none) continue;
    const matrix_type& a = *g_.matrices[tr.payload];
    for (const auto& c : g_.pool[g_.wave_of[u]]->changes.items()) {
      const auto rows = a.col_rows(c.slot);
      const auto ws = a.col_values(c.slot);
      for (std::size_t k = 0; k < rows.size(); ++k) reach(rows[k], static_cast<value_type>(ws[k]), c.before, c.after, false);
    }
  }
  for (const auto& c : w.notes.items()) reach(c.slot, traits::one(), c.before, c.after, true);
  if (!w.rows.empty()) {  // pages looked up once; every row's reads started before the first is summed
    auto& r = sc.inputs;
    g_.resolve_rows(v, true, r);
    for (const auto i : w.rows.items()) {
      g_.prefetch_row(r, i);
      x.prefetch_slot(i);
    }
    for (const auto i : w.rows.items()) state::set_value(x, i, g_.row_value(r, i), w);
  }
  for (const auto i : acc_rows_.items()) {
    if (!w.rows.contains(i)) state::set_value(x, i, traits::add(x.get(i), static_cast<value_type>(acc_[i])), w);
    acc_[i] = stored(traits::zero());
  }
  acc_rows_.clear();
}

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::run_kernel(std::uint32_t v, work& w)
{
  const auto& tr = g_.topo.at(g_.topo.in(v).front());
  std::vector<const page_type*> in;
  std::vector<std::unique_ptr<page_type>> snapshots;  // sources with changes noted mid-wave
  for (const auto u : tr.srcs) {
    if (g_.derived[u] || g_.pending_of[u] == graph_topology::none) {
      in.push_back(&g_.value(page_id{u}));
      continue;
    }
    snapshots.push_back(std::make_unique<page_type>(g_.bases.at(page_id{u})));
    for (const auto& c : g_.pool[g_.pending_of[u]]->notes.items()) snapshots.back()->set(c.slot, c.before);
    in.push_back(snapshots.back().get());
  }
  if (!kernel_out_) kernel_out_ = std::make_unique<page_type>();
  g_.kernels[tr.payload].f({in.data(), in.size()}, *kernel_out_);
  for (std::uint32_t i = 0; i < extent; ++i) g_.set_value(v, i, kernel_out_->get(i), w);
}

} // namespace mmsb::detail
