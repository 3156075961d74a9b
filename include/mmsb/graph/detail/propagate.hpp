// Internal: page_graph's propagation engine (included by graph/page_graph.hpp).
//
// A *wave* starts when propagate() seals what was noted: source pages publish their changed
// slots (before, after) at once; derived pages with changed bases or edited edges are queued.
// Units (a page, or a whole fixed-point region) are processed by ascending level, each once per
// wave, so every source of a unit is final when the unit runs. A unit whose values did not
// change queues nothing (the cutoff). Changes noted while a wave is unfinished wait for the next
// wave, and reads of such a page during this wave see its value as of the wave's start, so a
// wave always works on one consistent snapshot of the bases.
#pragma once

#include <mmsb/graph/page_graph.hpp>

namespace mmsb {

#define MMSB_IMPL_GRAPH template <class Semiring, layout Layout, page_allocator Allocator>
#define MMSB_IMPL_GRAPH_T page_graph<Semiring, Layout, Allocator>

MMSB_IMPL_GRAPH
bool MMSB_IMPL_GRAPH_T::seal()
{
  bool any = false;
  for (const auto v : pending_nodes_) {
    work& p = *pool_[pending_[v]];
    work& w = wave(v);
    const page_type& b = base_page(v);
    auto& into = derived_[v] ? w.notes : w.changes;  // a derived page's base, or a source's value
    for (const auto& c : p.notes.items()) {
      const value_type now = b.get(c.slot);
      if (!detail::bit_equal(c.before, now) && into.add(c.slot, c.before)) into.items().back().after = now;
    }
    for (const auto r : p.rows.items()) w.rows.add(r);
    w.full = w.full || p.full;
    if (derived_[v]) {
      if (!w.notes.empty() || !w.rows.empty() || w.full) {
        enqueue(v);
        any = true;
      }
    } else if (!w.changes.empty()) {
      w.done = true;
      enqueue_successors(v);
      any = true;
    }
    p.clear();
    free_work_.push_back(pending_[v]);
    pending_[v] = graph_topology::none;
  }
  pending_nodes_.clear();
  if (any) {
    wave_active_ = true;
    cursor_ = pos_ = 0;
  } else {
    finish_wave();
  }
  return any;
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::finish_wave()
{
  for (const auto v : wave_nodes_) {
    pool_[wave_[v]]->clear();
    free_work_.push_back(wave_[v]);
    wave_[v] = graph_topology::none;
    queued_[v] = 0;
  }
  wave_nodes_.clear();
  for (auto& b : buckets_) b.clear();
  cursor_ = pos_ = 0;
  wave_active_ = false;
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::enqueue(std::uint32_t v)
{
  const auto r = topo_.region_of(v) == graph_topology::none ? v : topo_.region_at(topo_.region_of(v)).members.front();
  if (queued_[r] || wave(r).done) return;  // each unit runs once per wave
  queued_[r] = 1;
  const auto level = topo_.level(r);
  if (buckets_.size() <= level) buckets_.resize(std::size_t{level} + 1);
  buckets_[level].push_back(r);
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::enqueue_successors(std::uint32_t v)
{
  for (const auto t : topo_.out(v)) {
    const auto d = topo_.at(t).dst;
    if (!topo_.same_unit(v, d)) enqueue(d);
  }
}

MMSB_IMPL_GRAPH
auto MMSB_IMPL_GRAPH_T::wave_base(std::uint32_t v, std::uint32_t i) const -> value_type
{
  const value_type now = base_page(v).get(i);
  return pending_[v] == graph_topology::none ? now : pool_[pending_[v]]->notes.before_or(i, now);
}

MMSB_IMPL_GRAPH
auto MMSB_IMPL_GRAPH_T::wave_value(std::uint32_t u, std::uint32_t j) const -> value_type
{
  return derived_[u] ? shadow_page(u).get(j) : wave_base(u, j);
}

// base(v)[i] ⊕ every matrix edge's row i, in edge order then column order: the one order both
// incremental and full recomputation use.
MMSB_IMPL_GRAPH
auto MMSB_IMPL_GRAPH_T::external_row(std::uint32_t v, std::uint32_t i, bool internal_too) const -> value_type
{
  using traits = semiring_traits<Semiring>;
  value_type r = wave_base(v, i);
  for (const auto t : topo_.in(v)) {
    const auto& tr = topo_.at(t);
    const auto u = tr.srcs.front();
    if (!internal_too && topo_.same_unit(u, v)) continue;
    const matrix_type& a = *matrices_[tr.payload];
    const auto cols = a.row_cols(i);
    const auto ws = a.row_values(i);
    if (derived_[u] || pending_[u] == graph_topology::none) {
      const page_type& src = wave_source(u);
      for (std::size_t k = 0; k < cols.size(); ++k)
        r = traits::add(r, traits::mul(static_cast<value_type>(ws[k]), src.get(cols[k])));
    } else {
      for (std::size_t k = 0; k < cols.size(); ++k)
        r = traits::add(r, traits::mul(static_cast<value_type>(ws[k]), wave_value(u, cols[k])));
    }
  }
  return r;
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::set_value(std::uint32_t v, std::uint32_t i, value_type nv, work& w)
{
  page_type& x = shadow_page(v);
  const value_type old = x.get(i);
  if (detail::bit_equal(old, nv)) return;
  w.changes.add(i, old);
  x.set(i, nv);
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::publish(std::uint32_t v, work& w, propagate_result& res)
{
  const page_type& x = shadow_page(v);
  w.changes.retain([&](auto& c) {
    c.after = x.get(c.slot);
    return !detail::bit_equal(c.before, c.after);  // changed, then changed back: cut off
  });
  const std::size_t kept = w.changes.size();
  res.changed_slots += kept;
  w.done = true;
  if (kept) enqueue_successors(v);
}

// A full sweep of v: one pass over every in-edge's CSR rows (without edges inside v's region
// unless internal_too), page pointers looked up once. The same expression, in the same order, as
// external_row (which it falls back to when a source or v's base has changes noted for the next
// wave).
MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::recompute_every_row(std::uint32_t v, work& w, bool internal_too)
{
  using traits = semiring_traits<Semiring>;
  bool clean = pending_[v] == graph_topology::none;
  struct input { const page_type* src; const matrix_type* a; };
  std::vector<input> in;
  for (const auto t : topo_.in(v)) {
    const auto& tr = topo_.at(t);
    const auto u = tr.srcs.front();
    if (!internal_too && topo_.same_unit(u, v)) continue;
    clean = clean && (derived_[u] || pending_[u] == graph_topology::none);
    in.push_back({&wave_source(u), matrices_[tr.payload].get()});
  }
  if (!clean) {
    for (std::uint32_t i = 0; i < extent; ++i) set_value(v, i, external_row(v, i, internal_too), w);
    return;
  }
  const page_type& b = base_page(v);
  page_type& x = shadow_page(v);
  for (std::uint32_t i = 0; i < extent; ++i) {
    value_type r = b.get(i);
    for (const auto& e : in) {
      const auto ptr = e.a->row_ptr();
      const auto cols = e.a->col_index().data();
      const auto ws = e.a->values().data();
      for (std::uint64_t k = ptr[i]; k < ptr[i + 1]; ++k)
        r = traits::add(r, traits::mul(static_cast<value_type>(ws[k]), e.src->get(cols[k])));
    }
    const value_type old = x.get(i);
    if (!detail::bit_equal(old, r)) {
      w.changes.add(i, old);
      x.set(i, r);
    }
  }
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::process_node(std::uint32_t v, propagate_result& res)
{
  using traits = semiring_traits<Semiring>;
  work& w = wave(v);
  if (kernel_into(v) != graph_topology::none) {
    bool run = w.full;
    for (const auto u : topo_.at(topo_.in(v).front()).srcs)
      run = run || (wave_[u] != graph_topology::none && !pool_[wave_[u]]->changes.empty());
    if (run) run_kernel(v, w);
    publish(v, w, res);
    return;
  }
  if (w.full) {  // every row is recomputed: nothing incremental to do
    recompute_every_row(v, w);
    publish(v, w, res);
    return;
  }
  page_type& x = shadow_page(v);
  // One changed slot j with weight wt reaching row i; `before`/`after` are j's values.
  const auto reach = [&](std::uint32_t i, value_type wt, value_type before, value_type after, bool identity) {
    if constexpr (strategy == propagation_strategy::difference) {
      const value_type d = traits::sub(after, before);
      acc_[i] = stored(traits::add(static_cast<value_type>(acc_[i]), identity ? d : traits::mul(wt, d)));
      acc_rows_.add(i);
    } else if constexpr (strategy == propagation_strategy::monotone) {
      if (detail::bit_equal(traits::add(after, before), after)) {
        acc_[i] = stored(traits::add(static_cast<value_type>(acc_[i]), identity ? after : traits::mul(wt, after)));
        acc_rows_.add(i);
      } else if constexpr (selective_add_v<Semiring>) {
        // x[i] is one selected term; if it was not this one, this one getting worse changes nothing.
        if (detail::bit_equal(x.get(i), identity ? before : traits::mul(wt, before))) w.rows.add(i);
      } else {
        w.rows.add(i);
      }
    } else {
      w.rows.add(i);
    }
  };
  for (const auto t : topo_.in(v)) {
    const auto& tr = topo_.at(t);
    const auto u = tr.srcs.front();
    if (wave_[u] == graph_topology::none) continue;
    const matrix_type& a = *matrices_[tr.payload];
    for (const auto& c : pool_[wave_[u]]->changes.items()) {
      const auto rows = a.col_rows(c.slot);
      const auto ws = a.col_values(c.slot);
      for (std::size_t k = 0; k < rows.size(); ++k) reach(rows[k], static_cast<value_type>(ws[k]), c.before, c.after, false);
    }
  }
  for (const auto& c : w.notes.items()) reach(c.slot, traits::one(), c.before, c.after, true);
  for (const auto i : w.rows.items()) set_value(v, i, external_row(v, i, true), w);
  for (const auto i : acc_rows_.items()) {
    if (!w.rows.contains(i)) set_value(v, i, traits::add(x.get(i), static_cast<value_type>(acc_[i])), w);
    acc_[i] = stored(traits::zero());
  }
  acc_rows_.clear();
  publish(v, w, res);
}

MMSB_IMPL_GRAPH
auto MMSB_IMPL_GRAPH_T::links_of(std::uint32_t rid) -> const region_links&
{
  region_links& l = region_links_[rid];
  const auto& members = topo_.region_at(rid).members;
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (l.out[k].stale) build_links(l.out[k], members[k], true);
    if (l.in[k].stale) build_links(l.in[k], members[k], false);
  }
  return l;
}

// out: for each slot of page, the region slots it feeds (the columns of its edges out); in: the
// region slots feeding it (the rows of its edges in). In edge order, as the rounds push.
MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::build_links(link_list& l, std::uint32_t page, bool out)
{
  const auto each_edge = [&](auto&& f) {  // f(the other end's member index, matrix)
    for (const auto t : out ? topo_.out(page) : topo_.in(page)) {
      const auto& tr = topo_.at(t);
      const auto other = out ? tr.dst : tr.srcs.front();
      if (topo_.same_unit(page, other)) f(region_index_[other], *matrices_[tr.payload]);
    }
  };
  std::size_t edges = 0;
  each_edge([&](std::uint32_t, const matrix_type&) { ++edges; });
  l.own_ptr.clear(), l.own_slot.clear(), l.own_member.clear(), l.own_weight.clear();
  if (edges == 1) {  // a view of the matrix
    each_edge([&](std::uint32_t k, const matrix_type& a) {
      l.only = k;
      l.member = nullptr;
      l.ptr = out ? a.col_ptr().data() : a.row_ptr().data();
      l.slot = out ? a.row_index().data() : a.col_index().data();
      l.weight = out ? a.col_major_values().data() : a.values().data();
    });
  } else {  // fused: count per slot, fill (ptr[j] runs up to ptr[j + 1]), shift back
    const auto slots_of = [&](const matrix_type& a, std::uint32_t j) { return out ? a.col_rows(j) : a.row_cols(j); };
    const auto weights_of = [&](const matrix_type& a, std::uint32_t j) { return out ? a.col_values(j) : a.row_values(j); };
    l.own_ptr.assign(extent + 1, 0);
    each_edge([&](std::uint32_t, const matrix_type& a) {
      for (std::uint32_t j = 0; j < extent; ++j) l.own_ptr[j + 1] += slots_of(a, j).size();
    });
    std::partial_sum(l.own_ptr.begin(), l.own_ptr.end(), l.own_ptr.begin());
    l.own_slot.resize(l.own_ptr[extent]);
    l.own_member.resize(l.own_ptr[extent]);
    l.own_weight.resize(l.own_ptr[extent]);
    each_edge([&](std::uint32_t k, const matrix_type& a) {
      for (std::uint32_t j = 0; j < extent; ++j) {
        const auto ss = slots_of(a, j);
        const auto ws = weights_of(a, j);
        for (std::size_t q = 0; q < ss.size(); ++q, ++l.own_ptr[j]) {
          l.own_slot[l.own_ptr[j]] = ss[q];
          l.own_member[l.own_ptr[j]] = k;
          l.own_weight[l.own_ptr[j]] = ws[q];
        }
      }
    });
    for (std::uint32_t j = extent; j > 0; --j) l.own_ptr[j] = l.own_ptr[j - 1];
    l.own_ptr[0] = 0;
    l.only = 0;
    l.ptr = l.own_ptr.data();
    l.slot = l.own_slot.data();
    l.member = l.own_member.data();
    l.weight = l.own_weight.data();
  }
  l.stale = false;
}

// A fixed-point region (idempotent ⊕), incrementally, by delete and re-derive:
//   1. seeds: the slots where something got worse (a source or base value that ⊕ does not
//      absorb, an edited row, a new member);
//   2. their closure S inside the region (every slot a seed can reach through region edges;
//      with a selective ⊕, only through terms equal to the slot's value) is reset to base ⊕
//      external terms; no slot outside S depended on a seed, so those stay;
//   3. improvements from outside are pushed as they are;
//   4. rounds of pushes from S, from the slots feeding S, and from what improved, until nothing
//      changes: the least fixed point again, touching only what the change can reach.
// Inside the region, slots are (member index, slot) and edges are read from links_of.
MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::process_region(std::uint32_t root, propagate_result& res)
{
  using traits = semiring_traits<Semiring>;
  using slot_ref = std::pair<std::uint32_t, std::uint32_t>;  // (member index, slot)
  const auto rid = topo_.region_of(root);
  const auto& reg = topo_.region_at(rid);
  const auto& links = links_of(rid);
  const auto members = static_cast<std::uint32_t>(reg.members.size());
  region_scratch& r = region_;
  r.frontier.clear(), r.next.clear(), r.reset.clear(), r.feeders.clear(), r.better.clear();
  r.x.clear(), r.w.clear();
  if (region_marks_.size() < members) region_marks_.resize(members);
  for (std::uint32_t k = 0; k < members; ++k) {
    region_marks_[k].init(extent);
    region_marks_[k].clear();  // a round cut short by an error leaves marks behind
    r.x.push_back(&shadow_page(reg.members[k]));
    r.w.push_back(&wave(reg.members[k]));
  }
  const auto worse = [](const auto& c) { return !detail::bit_equal(traits::add(c.after, c.before), c.after); };
  const auto clear_marks = [&](const std::vector<slot_ref>& refs) {
    for (const auto& [k, i] : refs) region_marks_[k].clear();
  };
  const auto add_front = [&](std::uint32_t k, std::uint32_t i) {
    if (!detail::bit_equal(r.x[k]->get(i), traits::zero()) && region_marks_[k].add(i)) r.frontier.push_back({k, i});
  };

  // 1. Seeds, straight into S (marks hold S while it grows). With a selective ⊕ (the value is
  //    one of its terms) a slot depends on a term only if it equals that term: a slot whose
  //    value came from elsewhere is not seeded, and the closure follows only such tight terms
  //    (a distance field loses one target's basin, not the whole grid). Improvements (a better
  //    source or base) are kept for step 3, after the reset.
  const auto seed = [&](std::uint32_t k, std::uint32_t i) {
    if (region_marks_[k].add(i)) r.reset.push_back({k, i});
  };
  const auto depends = [&](std::uint32_t k, std::uint32_t i, value_type term) {
    if constexpr (selective_add_v<Semiring>) return detail::bit_equal(r.x[k]->get(i), term);
    else return true;
  };
  for (std::uint32_t k = 0; k < members; ++k) {
    const auto m = reg.members[k];
    const work& w = *r.w[k];
    if (w.full)
      for (std::uint32_t i = 0; i < extent; ++i) seed(k, i);
    for (const auto i : w.rows.items()) seed(k, i);
    for (const auto& c : w.notes.items()) {
      if (!worse(c)) r.better.push_back({k, c.slot, c.after});
      else if (depends(k, c.slot, c.before)) seed(k, c.slot);
    }
    for (const auto t : topo_.in(m)) {
      const auto& tr = topo_.at(t);
      const auto u = tr.srcs.front();
      if (topo_.same_unit(u, m) || wave_[u] == graph_topology::none) continue;
      const matrix_type& a = *matrices_[tr.payload];
      for (const auto& c : pool_[wave_[u]]->changes.items()) {
        const auto rows = a.col_rows(c.slot);
        const auto ws = a.col_values(c.slot);
        for (std::size_t q = 0; q < rows.size(); ++q) {
          const auto wt = static_cast<value_type>(ws[q]);
          if (!worse(c)) r.better.push_back({k, rows[q], traits::mul(wt, c.after)});
          else if (depends(k, rows[q], traits::mul(wt, c.before))) seed(k, rows[q]);
        }
      }
    }
  }
  // 2. The closure (on the values before any reset), then the reset to base ⊕ external terms.
  //    A closure past half the region costs more to trace than to sweep: then the whole region
  //    is solved again from its bases.
  const std::size_t whole = std::size_t{members} * extent / 2;
  for (std::size_t q = 0; q < r.reset.size() && r.reset.size() <= whole; ++q) {
    const auto [k, j] = r.reset[q];
    const value_type n = r.x[k]->get(j);
    links.out[k].each(j, [&](std::uint32_t kd, std::uint32_t i, value_type wt) {
      if (depends(kd, i, traits::mul(wt, n))) seed(kd, i);
    });
  }
  if (r.reset.size() > whole) {
    clear_marks(r.reset);
    for (std::uint32_t k = 0; k < members; ++k) {
      recompute_every_row(reg.members[k], *r.w[k], false);
      for (std::uint32_t i = 0; i < extent; ++i) add_front(k, i);
    }
  } else {
    for (std::uint32_t k = 0; k < members; ++k) {
      const auto& s_k = region_marks_[k].items();
      if (s_k.size() == extent) recompute_every_row(reg.members[k], *r.w[k], false);  // the whole page: one sweep
      else for (const auto i : s_k) set_value(reg.members[k], i, external_row(reg.members[k], i, false), *r.w[k]);
    }
    // The slots outside S that feed S are final; they must push into S again.
    for (const auto& [k, i] : r.reset)
      links.in[k].each(i, [&](std::uint32_t ku, std::uint32_t j, value_type) {
        if (!region_marks_[ku].contains(j)) r.feeders.push_back({ku, j});
      });
    clear_marks(r.reset);
    for (const auto& [k, i] : r.reset) add_front(k, i);
    for (const auto& [k, j] : r.feeders) add_front(k, j);
  }

  // 3. Improvements from outside (changed external sources, improved bases), pushed as they are.
  for (const auto& [k, i, term] : r.better) {
    page_type& x = *r.x[k];
    const value_type nv = traits::add(x.get(i), term);
    if (detail::bit_equal(nv, x.get(i))) continue;
    set_value(reg.members[k], i, nv, *r.w[k]);
    add_front(k, i);
  }
  clear_marks(r.frontier);

  // 4. Rounds of pushes.
  std::size_t rounds = 0;
  while (!r.frontier.empty()) {
    if (rounds == reg.max_iterations)
      throw error(errc::not_converged, "fixed-point region " + std::to_string(rid) + " (pages " +
                                         graph_topology::path_string({reg.members.data(), reg.members.size()}, ", ") +
                                         ") did not converge within " + std::to_string(reg.max_iterations) + " rounds");
    ++rounds;
    r.next.clear();
    for (const auto& [k, j] : r.frontier) {
      const value_type n = r.x[k]->get(j);
      links.out[k].each(j, [&](std::uint32_t kd, std::uint32_t i, value_type wt) {
        page_type& xd = *r.x[kd];
        const value_type old = xd.get(i);
        const value_type nv = traits::add(old, traits::mul(wt, n));
        if (detail::bit_equal(nv, old)) return;
        r.w[kd]->changes.add(i, old);
        xd.set(i, nv);
        if (region_marks_[kd].add(i)) r.next.push_back({kd, i});
      });
    }
    clear_marks(r.next);  // O(marked), not O(members)
    std::swap(r.frontier, r.next);
  }
  res.region_rounds += rounds;
  for (std::uint32_t k = 0; k < members; ++k) publish(reg.members[k], *r.w[k], res);
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::run_kernel(std::uint32_t v, work& w)
{
  const auto& tr = topo_.at(topo_.in(v).front());
  std::vector<const page_type*> in;
  std::vector<std::unique_ptr<page_type>> snapshots;  // sources with changes noted mid-wave
  for (const auto u : tr.srcs) {
    if (derived_[u] || pending_[u] == graph_topology::none) {
      in.push_back(&value(page_id{u}));
      continue;
    }
    snapshots.push_back(std::make_unique<page_type>(bases_.at(page_id{u})));
    for (const auto& c : pool_[pending_[u]]->notes.items()) snapshots.back()->set(c.slot, c.before);
    in.push_back(snapshots.back().get());
  }
  if (!kernel_out_) kernel_out_ = std::make_unique<page_type>();
  kernels_[tr.payload].f({in.data(), in.size()}, *kernel_out_);
  for (std::uint32_t i = 0; i < extent; ++i) set_value(v, i, kernel_out_->get(i), w);
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::rollback(std::size_t from_cursor, std::size_t from_pos)
{
  for (const auto i : acc_rows_.items()) acc_[i] = stored(semiring_traits<Semiring>::zero());
  acc_rows_.clear();
  const auto undo = [&](std::uint32_t m) {
    work& w = wave(m);
    page_type& x = shadow_page(m);
    for (const auto& c : w.changes.items()) x.set(c.slot, c.before);
    w.changes.clear();
    w.done = false;
  };
  for (const auto v : processed_) {
    if (topo_.region_of(v) == graph_topology::none) undo(v);
    else for (const auto m : topo_.region_at(topo_.region_of(v)).members) undo(m);
  }
  processed_.clear();
  cursor_ = from_cursor;
  pos_ = from_pos;
}

// Runs the sealed wave on from where it stopped; false if the budget ran out first. An error
// restores every value this call changed and leaves the wave where this call found it.
MMSB_IMPL_GRAPH
bool MMSB_IMPL_GRAPH_T::run_wave(const propagate_budget& budget, propagate_result& res)
{
  processed_.clear();
  const std::size_t c0 = cursor_, p0 = pos_;
  try {
    while (cursor_ < buckets_.size()) {
      if (pos_ == buckets_[cursor_].size()) {
        ++cursor_;
        pos_ = 0;
        continue;
      }
      if (res.units > 0 && budget.expired()) {
        for (std::size_t l = cursor_; l < buckets_.size(); ++l) res.frontier += buckets_[l].size() - (l == cursor_ ? pos_ : 0);
        return false;
      }
      const auto v = buckets_[cursor_][pos_++];
      processed_.push_back(v);
      if (topo_.region_of(v) == graph_topology::none) process_node(v, res);
      else process_region(v, res);
      ++res.units;
    }
  } catch (...) {
    rollback(c0, p0);
    throw;
  }
  finish_wave();
  return true;
}

MMSB_IMPL_GRAPH
propagate_result MMSB_IMPL_GRAPH_T::propagate(const propagate_budget& budget)
{
  propagate_result res;
  while (wave_active_ || seal()) {
    if (!run_wave(budget, res)) {
      res.complete = false;
      return res;
    }
    if (budget.expired()) break;
  }
  res.complete = idle();
  return res;
}

// An edit of the topology moves levels and edges under the queued units, so an unfinished wave
// is run to its end first (over budget: edits are rare, and a wave never spans two topologies).
MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::settle_wave()
{
  if (!wave_active_) return;
  propagate_result res;
  run_wave({}, res);
}

MMSB_IMPL_GRAPH
void MMSB_IMPL_GRAPH_T::recompute_all()
{
  finish_wave();
  for (const auto v : pending_nodes_) {
    pool_[pending_[v]]->clear();
    free_work_.push_back(pending_[v]);
    pending_[v] = graph_topology::none;
  }
  pending_nodes_.clear();
  for (std::uint32_t v = 0; v < derived_.size(); ++v)
    if (derived_[v]) pend(v).full = true;
  propagate();
}

MMSB_IMPL_GRAPH
graph_report MMSB_IMPL_GRAPH_T::verify()
{
  graph_report r;
  for (const auto& comp : cyclic_components(topo_)) {
    bool inside = topo_.region_of(comp.front()) != graph_topology::none;
    for (const auto m : comp) inside = inside && topo_.region_of(m) == topo_.region_of(comp.front());
    if (!inside) r.problems.push_back("cycle outside a fixed-point region through pages " + graph_topology::path_string({comp.data(), comp.size()}, ", "));
  }
  for (std::uint32_t e = 0; e < topo_.transfer_count(); ++e) {
    const auto& t = topo_.at(e);
    if (!t.live) continue;
    for (const auto u : t.srcs)
      if (!topo_.same_unit(u, t.dst) && topo_.level(u) >= topo_.level(t.dst))
        r.problems.push_back("edge " + std::to_string(u) + " -> " + std::to_string(t.dst) + ": level " +
                             std::to_string(topo_.level(u)) + " is not below level " + std::to_string(topo_.level(t.dst)));
  }
  for (std::uint32_t v = 0; v < stamps_.size(); ++v) {
    const auto* b = bases_.find(page_id{v});
    if (b && b->epoch().value() < stamps_[v].epoch.value())
      r.problems.push_back("page " + std::to_string(v) + ": epoch " + std::to_string(b->epoch().value()) +
                           " is older than its last recorded write at epoch " + std::to_string(stamps_[v].epoch.value()));
  }
  if (!idle()) {
    r.problems.push_back("values not checked: changes are noted or a propagation is unfinished (run propagate() first)");
    return r;
  }
  std::vector<std::pair<std::uint32_t, std::unique_ptr<page_type>>> saved;
  for (std::uint32_t v = 0; v < derived_.size(); ++v)
    if (derived_[v]) saved.emplace_back(v, std::make_unique<page_type>(shadow_.at(page_id{v})));
  const auto restore = [&] {
    for (auto& [v, p] : saved) shadow_.at(page_id{v}).storage() = p->storage();
  };
  try {
    recompute_all();
  } catch (const error& e) {
    restore();
    r.problems.push_back(std::string("recomputation failed: ") + e.what());
    return r;
  }
  for (auto& [v, p] : saved) {
    const page_type& now = shadow_.at(page_id{v});
    state_hasher a, b;
    a.add(page_id{v}, p->payload_bytes());
    b.add(page_id{v}, now.payload_bytes());
    if (a.digest().value == b.digest().value) continue;
    std::size_t i = 0;
    while (i < extent && detail::bit_equal(p->get(i), now.get(i))) ++i;
    r.problems.push_back("page " + std::to_string(v) + ": value checksum " + std::to_string(a.digest().value) +
                         " differs from its recomputation's " + std::to_string(b.digest().value) + " (first at slot " +
                         std::to_string(i) + ")");
  }
  restore();
  return r;
}

#undef MMSB_IMPL_GRAPH
#undef MMSB_IMPL_GRAPH_T

} // namespace mmsb
