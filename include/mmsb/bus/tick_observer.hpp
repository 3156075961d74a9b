// detail::tick_observer: what one tick hands to observability (docs/observability.md). It
// decides whether the tick is traced (every sample_every-th, whole), records the tick's zone and
// its phases' zones, closes the page-heat window, and records the tick's metrics (its phase
// durations, counts, and the gauges the bus owns). Off sinks cost a branch each.
#pragma once

#include <mmsb/bus/options.hpp>
#include <mmsb/bus/tick.hpp>
#include <mmsb/core/heat.hpp>
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/graph/propagate.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mmsb::detail {

class tick_observer {
public:
  explicit tick_observer(const bus_options& o) noexcept : metrics_(o.metrics), sampler_(o.trace), heat_(o.heat) {}

  // Starts a tick; returns where it is traced (off unless this tick is sampled).
  trace_sink begin() noexcept
  {
    trace_ = sampler_.sampled(ticks_++) ? sampler_ : trace_sink{};
    began_ = phase_began_ = trace_.now();
    return trace_;
  }
  // Phase p ended now (its zone runs from the previous phase's end).
  void phase_ended(tick_phase p) noexcept
  {
    if (!trace_.on()) return;
    const std::uint64_t at = trace_clock();
    trace_.record(static_cast<trace_zone>(static_cast<std::size_t>(trace_zone::ingest) + static_cast<std::size_t>(p)), phase_began_, at);
    phase_began_ = at;
  }
  // The tick ended with report r and propagation result res; store is the bus's durable store
  // (epoch, pages, allocator, checkpoint state), producers the channels its drain visited.
  template <class Store>
  void end(const tick_report& r, const propagate_result& res, const Store& store, std::size_t producers)
  {
    trace_.record(trace_zone::tick, began_, phase_began_, r.epoch.value());
    heat_.tick_ended();
    if (metrics_.on()) record_metrics(r, res, store, producers);
  }

private:
  template <class Store>
  void record_metrics(const tick_report& r, const propagate_result& res, const Store& store, std::size_t producers) const
  {
    const metrics_sink m = metrics_;
    std::chrono::nanoseconds total{};
    for (std::size_t p = 0; p < tick_phase_count; ++p) {
      m.observe(static_cast<metric_histogram>(static_cast<std::size_t>(metric_histogram::phase_ingest) + p), r.phase[p]);
      total += r.phase[p];
    }
    m.observe(metric_histogram::tick, total);
    m.add(metric_counter::ticks);
    m.add(metric_counter::changes, r.changes);
    m.add(metric_counter::changes_rejected, r.rejected);
    m.add(metric_counter::pages_applied, r.pages);
    m.add(metric_counter::propagate_waves, res.complete && res.units > 0 ? 1 : 0);
    m.add(metric_counter::propagate_units, res.units);
    m.add(metric_counter::propagate_changed_slots, res.changed_slots);
    m.add(metric_counter::region_rounds, res.region_rounds);
    m.add(metric_counter::pages_spilled, r.spill.spilled);
    m.add(metric_counter::spill_failures, r.spill.failure != errc{} ? 1 : 0);
    m.add(metric_counter::spill_damaged, r.spill.damaged);
    const std::uint64_t reloads = store.pages().reloads();
    m.add(metric_counter::pages_reloaded, reloads - std::exchange(reloads_seen_, reloads));
    m.set(metric_gauge::pages_in_spill_file, static_cast<std::int64_t>(store.pages().spilled()));
    const auto alloc = store.pages().allocator().stats();
    m.set(metric_gauge::epoch, static_cast<std::int64_t>(store.current_epoch().value()));
    m.set(metric_gauge::pages, static_cast<std::int64_t>(store.pages().size()));
    m.set(metric_gauge::page_bytes_resident, static_cast<std::int64_t>(alloc.live_bytes));
    m.set(metric_gauge::page_bytes_reserved, static_cast<std::int64_t>(alloc.reserved_bytes));
    m.set(metric_gauge::propagate_frontier, static_cast<std::int64_t>(r.frontier));
    m.set(metric_gauge::ring_depth, static_cast<std::int64_t>(r.changes + r.rejected));
    m.set(metric_gauge::producers, static_cast<std::int64_t>(producers));
    m.set(metric_gauge::checkpoint_in_flight, store.checkpoint_in_flight() ? 1 : 0);
    m.set(metric_gauge::last_tick_unix_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch()).count());
  }

  metrics_sink metrics_;
  trace_sink sampler_;   // the bus's trace sink: every sampled tick goes there
  heat_sink heat_;
  trace_sink trace_{};   // this tick's (off unless sampled)
  std::uint64_t ticks_ = 0;
  mutable std::uint64_t reloads_seen_ = 0;  // the table's reloads() at the last tick, for the counter
  std::uint64_t began_ = 0, phase_began_ = 0;  // trace_clock() at the tick's and the phase's start
};

} // namespace mmsb::detail
