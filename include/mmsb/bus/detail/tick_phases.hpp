// How basic_bus (bus/bus.hpp, which includes this at its end and has the contract) runs a tick,
// phase by phase: ingest (drain the producers' rings), merge (order and combine per page),
// apply_and_log / log_and_apply (bring spilled targets back, note them in the graph, log one
// commit and apply it on the scheduler), then propagate, checkpoint and maintain (run_tick).
#pragma once

#include <mmsb/bus/bus.hpp>

namespace mmsb {

template <class Semiring, class Layout, class Allocator, class Scheduler>
tick_report basic_bus<Semiring, Layout, Allocator, Scheduler>::run_tick(tick_budget budget)
{
  tick_report r;
  r.epoch = store_.current_epoch();
  // A sampled tick is traced whole: the tick, its phases, and propagation's levels and regions.
  graph_.set_trace(observer_.begin());
  auto t = clock::now();
  const auto lap = [&](tick_phase p) {
    const auto now = clock::now();
    r.phase[static_cast<std::size_t>(p)] = now - t;
    t = now;
    observer_.phase_ended(p);
  };
  ingest(r);
  lap(tick_phase::ingest);
  merge(r);
  lap(tick_phase::merge);
  apply_and_log(r);
  lap(tick_phase::apply_log);
  const propagate_budget pb = budget.unbounded() ? propagate_budget{} : propagate_budget{std::chrono::steady_clock::now() + budget.propagate};
  const auto res = parallel_ ? graph_.propagate(pb, sched_) : graph_.propagate(pb);
  r.propagation_complete = res.complete;
  r.frontier = res.frontier;
  lap(tick_phase::propagate);
  if (opts_.checkpoint_every != 0 && ++ticks_since_checkpoint_ >= opts_.checkpoint_every && begin_checkpoint())
    ticks_since_checkpoint_ = 0;  // else due again next tick
  if (opts_.memory.on()) {
    r.spill = store_.maintain_memory(t + opts_.memory.pause, graph_.derived_bytes());  // t: the phase's start
    const auto& pages = store_.pages();
    r.spill.damaged = static_cast<std::size_t>(pages.damaged() - std::exchange(damaged_seen_, pages.damaged()));
    r.spill.rebuilt = static_cast<std::size_t>(pages.rebuilt() - std::exchange(rebuilt_seen_, pages.rebuilt()));
    if (r.spill.damaged != 0) r.spill.damage = pages.last_damage();
  }
  lap(tick_phase::maintain);
  r.lost_on_open = std::exchange(lost_on_open_, 0);  // a tick that completed reports it
  stats_.record(r);
  observer_.end(r, res, store_, producers_seen_);
  return r;
}

template <class Semiring, class Layout, class Allocator, class Scheduler>
void basic_bus<Semiring, Layout, Allocator, Scheduler>::ingest(tick_report& r)
{
  const auto d = ingest_.drain_into(batch_, [&](page_id p) { return store_.pages().contains(p); });
  r.changes += d.changes;
  r.rejected += d.rejected;
  producers_seen_ = d.channels;
}

template <class Semiring, class Layout, class Allocator, class Scheduler>
void basic_bus<Semiring, Layout, Allocator, Scheduler>::merge(tick_report& r)
{
  parallel_ = batch_.size() >= opts_.parallel_min_changes && sched_.concurrency() > 1;
  merged_.merge(batch_, parallel_ ? sched_.concurrency() * work_items_per_thread : 1, sched_);
  r.pages = merged_.size();
  if (r.pages == 0) parallel_ = false;
}

template <class Semiring, class Layout, class Allocator, class Scheduler>
void basic_bus<Semiring, Layout, Allocator, Scheduler>::apply_and_log(tick_report& r)
{
  if (merged_.size() == 0 && topology_.empty()) return;
  r.epoch = log_and_apply();
  batch_.clear();  // only now: a failed commit leaves the changes for the next tick
}

template <class Semiring, class Layout, class Allocator, class Scheduler>
mmsb::epoch basic_bus<Semiring, Layout, Allocator, Scheduler>::log_and_apply()
{
  const auto& topo = graph_.topology();
  const span<const delta_type> merged = merged_.merged();
  // Spilled targets come back first (memory budget): a page that cannot (corrupt, io_error)
  // throws before the graph notes anything or anything is logged.
  if (store_.pages().spilled() != 0) store_.bring_in(merged);
  for (const auto& d : merged) {
    const auto v = d.target().value();
    if (graph_.is_derived(d.target()) || (v < topo.node_bound() && !topo.out(v).empty())) graph_.note(d);
  }
  const auto apply_all = [&](auto& table, span<const delta_type> ds, mmsb::epoch at) {
    merged_.for_each_index(sched_, [&](std::size_t k) {
      page_type& p = table.at(ds[k].target());
      apply(p, ds[k]);
      p.set_epoch(at);
    });
  };
  // The encoding in parts on the scheduler too, on a parallel tick.
  const mmsb::epoch e = parallel_ ? store_.commit(merged, apply_all, topology_.bytes(), sched_)
                                  : store_.commit(merged, apply_all, topology_.bytes(), serial{});
  topology_.clear();  // logged
  opts_.metrics.add(metric_counter::commits);
  if (opts_.heat.on())
    for (const auto& d : merged) opts_.heat.wrote(d.target().value());
  return e;
}

} // namespace mmsb
