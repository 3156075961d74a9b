// wave_engine: page_graph's incremental propagation. A *wave* starts when propagate() seals what
// was noted: source pages publish their changed slots (before, after) at once; derived pages with
// changed bases or edited edges are queued. Units (a page, or a whole fixed-point region, solved
// by graph/region_solver.hpp) are processed by ascending level, each once per wave, so every
// source of a unit is final when the unit runs. A unit whose values did not change queues nothing
// (the cutoff). Changes noted while a wave is unfinished wait for the next wave, and reads of such
// a page during this wave see its value as of the wave's start, so a wave always works on one
// consistent snapshot of the bases.
//
// Contract: after a complete propagate(), every value equals recompute_all() (bitwise for exact
// types). A budget stops between units (at least one runs per call) and the frontier carries
// over. An error (a region that does not converge, a kernel that throws) restores every value the
// call changed and leaves the wave where the call found it.
//
// Strategy, chosen from the semiring traits at compile time:
//   difference  (has_inverse, exact ⊕: integer rings)      Δvalue(v) = A ⊗ Δvalue(u)
//   monotone    (idempotent ⊕: min/max/or)                push improvements; a value that got
//               worse makes its rows be recomputed (in a region: the region is re-solved)
//   recompute   (anything else, e.g. + over floats)       recompute the rows a change reaches,
//               in one fixed order, so the result is bitwise reproducible
// Kernel edges rerun the kernel when any source changed, and the changed slots go on.
//
// Parallel by level: propagate(budget, sched) computes the plain matrix pages of one level (no
// kernel, no region) on the scheduler, ranges of the level's queue in parallel, each range with
// its own scratch. Pages of one level never read each other (every edge goes up a level), each
// writes only its own value and work record, and what a page computes does not depend on which
// thread computes it; publishing (queueing successors, counting) then runs on the calling thread
// in queue order. So the values, the queue order and every later byte are those of the serial
// engine at any thread count. The budget is checked between levels on that path.
#pragma once

#include <mmsb/core/scheduler.hpp>
#include <mmsb/graph/detail/graph_state.hpp>
#include <mmsb/graph/detail/level_trace.hpp>
#include <mmsb/graph/propagate.hpp>
#include <mmsb/graph/region_solver.hpp>
#include <mmsb/memory/huge_pages.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace mmsb::detail {

template <class Semiring, layout Layout, page_allocator Allocator>
class wave_engine {
  using state = graph_state<Semiring, Layout, Allocator>;
  using traits = semiring_traits<Semiring>;
  using value_type = typename state::value_type;
  using page_type = typename state::page_type;
  using matrix_type = typename state::matrix_type;
  using work = typename state::work;
  using stored_type = std::conditional_t<std::is_same_v<value_type, bool>, std::uint8_t, value_type>;
  static stored_type stored(value_type v) noexcept { return static_cast<stored_type>(v); }
  static constexpr std::size_t extent = state::extent;

public:
  static constexpr propagation_strategy strategy = propagation_strategy_v<Semiring>;

  wave_engine(state& g, region_solver<Semiring, Layout, Allocator>& regions) : g_(g), regions_(regions) { main_.init(); }

  void grow(std::size_t n) { queued_.resize(n, 0); }
  // Where levels and regions are traced from now on (core/trace.hpp); off by default.
  void set_trace(trace_sink t) noexcept { levels_.set(t); }
  [[nodiscard]] bool idle() const noexcept { return !active_ && g_.pending_nodes.empty(); }

  propagate_result propagate(const propagate_budget& budget) { return propagate(budget, serial{}); }
  // The same with the plain pages of each level computed on `sched` (a scheduler policy:
  // concurrency(), run(n, f)).
  template <class Sched>
  propagate_result propagate(const propagate_budget& budget, const Sched& sched)
  {
    propagate_result res;
    while (active_ || seal()) {
      if (!run(budget, res, sched)) {
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
  void settle()
  {
    if (!active_) return;
    propagate_result res;
    run({}, res, serial{});
  }

  // Drops what is queued and recomputes every derived page from the bases.
  void recompute_all()
  {
    finish();
    for (const auto v : g_.pending_nodes) {
      g_.pool[g_.pending_of[v]]->clear();
      g_.free_work.push_back(g_.pending_of[v]);
      g_.pending_of[v] = graph_topology::none;
    }
    g_.pending_nodes.clear();
    for (std::uint32_t v = 0; v < g_.derived.size(); ++v)
      if (g_.derived[v]) g_.pend(v).full = true;
    propagate({});
  }

private:
  // One worker's scratch for a page: the accumulated contribution per row, which rows, and the
  // node's row equation looked up once.
  struct scratch {
    std::vector<stored_type, huge_page_allocator<stored_type>> acc;  // read at random rows: huge pages
    slot_set rows;
    typename state::row_inputs inputs;
    void init()
    {
      if (acc.size() == extent) return;
      acc.assign(extent, stored(traits::zero()));
      rows.init(extent);
    }
    void reset() noexcept
    {
      for (const auto i : rows.items()) acc[i] = stored(traits::zero());
      rows.clear();
    }
  };
  // A level is computed in parallel when it holds at least this many plain pages.
  static constexpr std::size_t parallel_min_nodes = 8;

  bool seal();
  void finish();
  void fetch_sources(std::size_t level);
  template <class Sched>
  bool run(const propagate_budget& budget, propagate_result& res, const Sched& sched);
  template <class Sched>
  void run_level_parallel(const Sched& sched, propagate_result& res);
  [[nodiscard]] bool plain(std::uint32_t v) const
  {
    return g_.topo.region_of(v) == graph_topology::none && g_.kernel_into(v) == graph_topology::none;
  }
  void enqueue(std::uint32_t v);
  void enqueue_successors(std::uint32_t v)
  {
    for (const auto t : g_.topo.out(v)) {
      const auto d = g_.topo.at(t).dst;
      if (!g_.topo.same_unit(v, d)) enqueue(d);
    }
  }
  // Computes v's new values into its shadow page and work record (touches nothing else).
  void compute_node(std::uint32_t v, scratch& sc);
  void process_node(std::uint32_t v, propagate_result& res)
  {
    compute_node(v, main_);
    publish(v, g_.wave(v), res);
  }
  void run_kernel(std::uint32_t v, work& w);
  // Cuts off slots that changed back (per page, safe in parallel), then, on the calling thread,
  // counts and queues v's successors.
  void retain_changed(std::uint32_t v, work& w);
  void publish(std::uint32_t v, work& w, propagate_result& res)
  {
    retain_changed(v, w);
    publish_retained(v, w, res);
  }
  void publish_retained(std::uint32_t v, work& w, propagate_result& res);
  void rollback(std::size_t from_cursor, std::size_t from_pos);

  state& g_;
  region_solver<Semiring, Layout, Allocator>& regions_;
  std::vector<std::vector<std::uint32_t>> buckets_;  // queued units by level
  std::vector<std::uint32_t> processed_;             // units processed by the current call
  std::vector<std::uint8_t> queued_;
  std::size_t cursor_ = 0, pos_ = 0;
  bool active_ = false;
  scratch main_;                           // the calling thread's
  std::vector<scratch> workers_;           // one per parallel range, kept
  std::vector<std::size_t> cuts_;          // a parallel level's ranges
  std::vector<page_id> sources_;           // fetch_sources', reused
  std::unique_ptr<page_type> kernel_out_;  // a kernel's output, reused
  detail::level_trace levels_;            // levels' and regions' trace zones (off by default)
};

template <class Semiring, layout Layout, page_allocator Allocator>
bool wave_engine<Semiring, Layout, Allocator>::seal()
{
  bool any = false;
  for (const auto v : g_.pending_nodes) {  // start reading the noted slots' values, all at once
    const page_type& b = g_.base_page(v);
    for (const auto& c : g_.pool[g_.pending_of[v]]->notes.items()) b.prefetch_slot(c.slot);
  }
  // Each pending record joins the wave first, so that a derived page noted in the same tick as
  // its source gets one wave record (its source queues it below).
  for (const auto v : g_.pending_nodes) {
    const page_type& b = g_.base_page(v);
    work& p = *g_.pool[g_.pending_of[v]];
    work& w = g_.wave(v);
    auto& into = g_.derived[v] ? w.notes : w.changes;  // a derived page's base, or a source's value
    for (const auto& c : p.notes.items()) {
      const value_type now = b.get(c.slot);
      if (!bit_equal(c.before, now) && into.add(c.slot, c.before)) into.items().back().after = now;
    }
    for (const auto r : p.rows.items()) w.rows.add(r);
    w.full = w.full || p.full;
    p.clear();
    g_.free_work.push_back(g_.pending_of[v]);
    g_.pending_of[v] = graph_topology::none;
  }
  for (const auto v : g_.pending_nodes) {
    work& w = g_.wave(v);
    if (g_.derived[v]) {
      if (!w.notes.empty() || !w.rows.empty() || w.full) {
        enqueue(v);
        any = true;
      }
    } else if (!w.changes.empty()) {
      w.done = true;
      enqueue_successors(v);
      any = true;
    }
  }
  g_.pending_nodes.clear();
  if (any) {
    active_ = true;
    cursor_ = pos_ = 0;
  } else {
    finish();
  }
  return any;
}

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::finish()
{
  for (const auto v : g_.wave_nodes) {
    g_.pool[g_.wave_of[v]]->clear();
    g_.free_work.push_back(g_.wave_of[v]);
    g_.wave_of[v] = graph_topology::none;
    queued_[v] = 0;
  }
  g_.wave_nodes.clear();
  for (auto& b : buckets_) b.clear();
  cursor_ = pos_ = 0;
  active_ = false;
}

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::enqueue(std::uint32_t v)
{
  const auto& topo = g_.topo;
  const auto r = topo.region_of(v) == graph_topology::none ? v : topo.region_at(topo.region_of(v)).members.front();
  if (queued_[r] || g_.wave(r).done) return;  // each unit runs once per wave
  queued_[r] = 1;
  const auto level = topo.level(r);
  if (buckets_.size() <= level) buckets_.resize(std::size_t{level} + 1);
  buckets_[level].push_back(r);
}

template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::rollback(std::size_t from_cursor, std::size_t from_pos)
{
  main_.reset();
  for (auto& sc : workers_) sc.reset();
  const auto undo = [&](std::uint32_t m) {
    work& w = g_.wave(m);
    page_type& x = g_.shadow_page(m);
    for (const auto& c : w.changes.items()) x.set(c.slot, c.before);
    w.changes.clear();
    w.done = false;
  };
  for (const auto v : processed_) {
    if (g_.topo.region_of(v) == graph_topology::none) undo(v);
    else for (const auto m : g_.topo.region_at(g_.topo.region_of(v)).members) undo(m);
  }
  processed_.clear();
  cursor_ = from_cursor;
  pos_ = from_pos;
}

// Runs the sealed wave on from where it stopped; false if the budget ran out first.
template <class Semiring, layout Layout, page_allocator Allocator>
template <class Sched>
bool wave_engine<Semiring, Layout, Allocator>::run(const propagate_budget& budget, propagate_result& res, const Sched& sched)
{
  processed_.clear();
  const std::size_t c0 = cursor_, p0 = pos_;
  std::size_t fetched = SIZE_MAX;  // none yet: the level whose spilled sources were brought back by this call
  try {
    while (cursor_ < buckets_.size()) {
      if (pos_ == buckets_[cursor_].size()) {
        levels_.level_ended(cursor_);
        ++cursor_;
        pos_ = 0;
        continue;
      }
      if (fetched != cursor_ && g_.bases.spilled() != 0) fetch_sources(fetched = cursor_);
      levels_.unit_starting();
      if (res.units > 0 && budget.expired()) {
        for (std::size_t l = cursor_; l < buckets_.size(); ++l) res.frontier += buckets_[l].size() - (l == cursor_ ? pos_ : 0);
        levels_.level_ended(cursor_);
        return false;
      }
      if (sched.concurrency() > 1 && buckets_[cursor_].size() - pos_ >= parallel_min_nodes) {
        run_level_parallel(sched, res);
        continue;
      }
      const auto v = buckets_[cursor_][pos_++];
      processed_.push_back(v);
      if (g_.topo.region_of(v) == graph_topology::none) {
        process_node(v, res);
      } else {
        res.region_rounds += levels_.region([&] { return regions_.solve(v); });
        for (const auto m : g_.topo.region_at(g_.topo.region_of(v)).members) publish(m, g_.wave(m), res);
      }
      ++res.units;
    }
  } catch (...) {
    levels_.abandon();
    rollback(c0, p0);
    throw;
  }
  finish();
  return true;
}

// Memory budget: brings the spilled base sources of the rest of `level` back in one call, in
// file order, before any is read (a level is fixed once it runs: successors are a level up).
template <class Semiring, layout Layout, page_allocator Allocator>
void wave_engine<Semiring, Layout, Allocator>::fetch_sources(std::size_t level)
{
  const auto& topo = g_.topo;
  sources_.clear();
  const auto add = [&](std::uint32_t v) {
    for (const auto t : topo.in(v))
      for (const auto u : topo.at(t).srcs) if (!g_.derived[u]) sources_.push_back(page_id{u});
  };
  for (std::size_t k = pos_; k < buckets_[level].size(); ++k) {
    const auto v = buckets_[level][k];
    if (topo.region_of(v) == graph_topology::none) add(v);
    else for (const auto m : topo.region_at(topo.region_of(v)).members) add(m);
  }
  g_.bases.bring_back(sources_);
}

// The rest of the current level: its plain pages computed in parallel ranges, then every unit
// published (regions and kernel pages computed first) in queue order on this thread. Nothing
// here may queue into this level (successors are a level up), so the level is fixed meanwhile.
template <class Semiring, layout Layout, page_allocator Allocator>
template <class Sched>
void wave_engine<Semiring, Layout, Allocator>::run_level_parallel(const Sched& sched, propagate_result& res)
{
  const auto& level = buckets_[cursor_];
  const std::size_t first = pos_, n = level.size() - pos_;
  const std::size_t ranges = std::min(sched.concurrency(), n);
  if (workers_.size() < ranges) workers_.resize(ranges);
  for (std::size_t r = 0; r < ranges; ++r) workers_[r].init();
  cuts_.resize(ranges + 1);
  for (std::size_t r = 0; r <= ranges; ++r) cuts_[r] = first + n * r / ranges;
  processed_.insert(processed_.end(), level.begin() + static_cast<std::ptrdiff_t>(first), level.end());
  pos_ = level.size();  // the whole rest of the level is in processed_ (rollback undoes it all)
  sched.run(ranges, [&](std::size_t r) {
    for (std::size_t k = cuts_[r]; k < cuts_[r + 1]; ++k) {
      const auto v = level[k];
      if (!plain(v)) continue;
      compute_node(v, workers_[r]);
      retain_changed(v, *g_.pool[g_.wave_of[v]]);
    }
  });
  for (std::size_t k = first; k < level.size(); ++k) {
    const auto v = level[k];
    if (plain(v)) {
      publish_retained(v, *g_.pool[g_.wave_of[v]], res);
    } else if (g_.topo.region_of(v) == graph_topology::none) {
      process_node(v, res);
    } else {
      res.region_rounds += regions_.solve(v);
      for (const auto m : g_.topo.region_at(g_.topo.region_of(v)).members) publish(m, g_.wave(m), res);
    }
    ++res.units;
  }
}

} // namespace mmsb::detail

#include <mmsb/graph/detail/wave_nodes.hpp>  // compute_node, run_kernel, retain_changed, publish_retained
