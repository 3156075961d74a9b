// store_options: how a durable_store logs (sync policy, segments, compression) and how it treats
// damage on open; and the recovery mode that follows from them.
#pragma once

#include <mmsb/core/metrics.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>

namespace mmsb {

// How a durable_store logs (sync policy, segments, compression) and how it treats damage on open.
struct store_options {
  log_options log{};  // the log writer's options
  recovery_mode recovery = recovery_mode::tolerate_torn_tail;  // how recovery treats a damaged log on open (log_reader.hpp)
  // Where the store records (checkpoints, recovery's losses) and its log writer too (this sink
  // replaces log.metrics); off by default (core/metrics.hpp).
  metrics_sink metrics{};
  trace_sink trace{};  // where checkpoints are traced (core/trace.hpp); off by default
};

// The recovery mode a store opened with `o` reads with. Under durability none or group, records
// past the last sync were never promised to survive a power loss, and the kernel may write them
// back in any order, so a power loss can leave damage with valid (unpromised) records after it:
// there the default keeps the prefix, as point_in_time does, and reports the loss the same way.
// Under per_commit every commit that returned is on disk, so damage before one is corruption.
[[nodiscard]] constexpr recovery_mode recovery_mode_in_effect(const store_options& o) noexcept
{
  if (o.recovery == recovery_mode::tolerate_torn_tail && o.log.durability != durability::per_commit)
    return recovery_mode::point_in_time;
  return o.recovery;
}

} // namespace mmsb
