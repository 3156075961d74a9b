// obs::tracer: owns the per-thread trace buffers the bus and its layers record zones in
// (core/trace.hpp) and writes them as Chrome trace-event JSON, which Perfetto's UI
// (ui.perfetto.dev, "Open trace file") and chrome://tracing open.
//
//   mmsb::obs::tracer tr({.sample_every = 10});   // every 10th tick, whole
//   mmsb::bus_options o;
//   o.trace = tr.sink();                            // the tracer outlives the bus
//   ... ticks ...
//   tr.write_json("trace.json");
//
// The JSON: {"traceEvents": [...]} with one "B" (begin) and one "E" (end) event per zone, each
// with ph, ts (microseconds since the tracer was made), pid, tid (the OS thread id) and name;
// on each thread the pairs nest (a tick's phases inside the tick) and timestamps never go
// backwards. Writing may run while threads record: zones being overwritten are left out.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/trace.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

namespace mmsb::obs {

// How much a tracer keeps and samples.
// The buffers are allocated when the tracer is made: threads × events_per_thread × 40 bytes
// (10 MiB with the defaults).
struct trace_options {
  std::size_t threads = 16;                  // threads that can trace (each its own buffer)
  std::size_t events_per_thread = 1 << 14;   // zones kept per thread: the newest this many
  std::uint32_t sample_every = 1;            // trace every n-th tick (whole) and producer push
};

// Owns a trace (see the top of this header). Not copyable or movable (sinks point into it).
class tracer {
public:
  // Allocates the buffers (see trace_options).
  explicit tracer(trace_options o = {});
  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;

  // Where to trace: give it to bus_options::trace.
  [[nodiscard]] trace_sink sink() noexcept { return trace_sink(&log_); }
  // The trace as Chrome trace-event JSON (see the top of this header).
  void write_json(std::ostream& out) const;
  // The same into a file; throws mmsb::error (io_error) naming the path when it cannot be written.
  void write_json(const std::string& path) const;
  // Zones recorded on all threads so far (kept or not).
  [[nodiscard]] std::uint64_t recorded() const noexcept;
  // The buffers, to read (core/trace.hpp).
  [[nodiscard]] const trace_log& log() const noexcept { return log_; }

private:
  trace_log log_;
  std::uint64_t clock0_;                                 // trace_clock() when made
  std::chrono::steady_clock::time_point time0_;          // steady_clock then
};

} // namespace mmsb::obs
