// bus_options: how a basic_bus stores, sizes and paces itself. Every field has a working default:
// an in-memory store (not durable), 16 Ki-change producer rings, no checkpoints.
#pragma once

#include <mmsb/core/heat.hpp>
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/memory/budget.hpp>
#include <mmsb/memory/spill_file.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mmsb {

// How a basic_bus stores, sizes and paces itself (see the top of this header); every field has a
// working default.
struct bus_options {
  file_system* fs = nullptr;          // nullptr: an in-memory file system the bus owns (not durable)
  // The store's directory on fs (created if missing; its parent must exist).
  std::string dir = "mmsb";
  store_options store{};              // log durability, recovery mode
  std::size_t ring_capacity = 1 << 14; // changes per producer ring (a power of two)
  std::uint64_t checkpoint_every = 0; // ticks between checkpoints; 0: never
  // Ticks with fewer changes than this merge and apply on the owner thread: a fork/join costs
  // more than it saves on small batches (and far more when threads outnumber free cores). The
  // choice is made once per tick and never changes the result.
  std::size_t parallel_min_changes = 16384;
  // Where the bus and its layers record their metrics (core/metrics.hpp: the tick's phases, the
  // log, checkpoints, propagation, producers, recovery); off by default. obs::registry::sink()
  // gives one; the registry must outlive the bus. This sink replaces store.metrics.
  metrics_sink metrics{};
  // Where the bus and its layers trace zones (core/trace.hpp: sampled ticks and their phases,
  // propagation levels and regions, commits, checkpoints, producer pushes); off by default.
  // obs::tracer::sink() gives one; the tracer must outlive the bus. Replaces store.trace.
  trace_sink trace{};
  // Where the bus counts page writes (each commit's changed pages) and reads (value()) per time
  // window, for a heatmap (core/heat.hpp, obs/heatmap.hpp); off by default. The recorder must
  // outlive the bus.
  heat_sink heat{};
  // A limit on the bytes of pages kept in memory (memory/budget.hpp, docs/memory.md): over it,
  // each tick's maintain phase spills the coldest pages to a spill file, and any access brings
  // them back. Off by default. It must hold one tick's pages (memory.tick_pages, by default
  // ring_capacity: a full ring, each change to another page), checked when the bus opens.
  memory_budget memory{};
};

namespace detail {
// The store's options for a bus opened with o: o.store, recording where the bus does.
[[nodiscard]] inline store_options store_options_for(const bus_options& o)
{
  store_options s = o.store;
  s.metrics = o.metrics;
  s.trace = o.trace;
  return s;
}
// The pages one tick must keep in memory: the budget's tick_pages, by default a full ring.
[[nodiscard]] inline std::size_t memory_floor(const bus_options& o) noexcept { return o.memory.tick_pages ? o.memory.tick_pages : o.ring_capacity; }
// o, its memory budget checked before anything opens, so that a refused one leaves no file
// behind: its numbers for blocks of block_bytes, then a spill file for records of page_bytes
// made and removed in its directory (naming the path). Throws mmsb::error.
[[nodiscard]] inline bus_options with_checked_memory(bus_options o, std::size_t block_bytes, std::size_t page_bytes)
{
  o.memory.check(block_bytes, memory_floor(o));
  if (o.memory.on()) spill_file probe(o.memory.directory(), page_bytes, o.memory.spill_quota, o.memory.spill_slack);
  return o;
}
} // namespace detail

} // namespace mmsb
