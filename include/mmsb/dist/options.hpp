// What a distributed bus (dist/mpi_bus.hpp; docs/distributed.md) takes besides each rank's
// bus_options, and what one distributed tick reports. Needs no MPI.
#pragma once

#include <mmsb/bus/tick.hpp>

#include <chrono>
#include <cstdint>

namespace mmsb::dist {

// What one distributed tick did on this rank, and what it sent to other ranks.
struct dist_tick_report {
  tick_report local;                   // the local bus's step 0 (the producers' changes)
  std::uint32_t steps = 0;             // propagation steps (step 0 included; the same on every rank)
  std::uint32_t local_ticks = 0;       // local ticks this rank ran (steps that brought it ghost updates, and step 0)
  std::uint64_t changes_sent = 0;      // changes this rank routed to other ranks
  std::uint64_t changes_kept = 0;      // changes pushed here to pages owned here
  std::uint64_t changes_received = 0;  // changes other ranks routed here
  std::uint64_t route_bytes = 0;       // bytes of routed changes sent to other ranks (their wire form)
  std::uint64_t boundary_slots = 0;    // changed boundary slots sent, once per rank holding a ghost
  std::uint64_t boundary_bytes = 0;    // their encoded deltas (delta/codec.hpp), as sent
  std::uint64_t count_bytes = 0;       // the byte counts that frame every exchange (an int per peer)
  std::uint64_t record_bytes = 0;      // on disk: the tick record's collectives (this rank's epoch and its outcome, to each peer)
  std::uint64_t ghost_slots = 0;       // ghost slots this rank assigned from what it received
  std::uint32_t collectives = 0;       // collective calls this rank made (route, agreement, one reduction and one exchange a step, two for the tick record on disk)
  std::chrono::nanoseconds total{};    // the tick's wall time on this rank
  std::chrono::nanoseconds exchange{}; // of which inside MPI (sending, and waiting for the other ranks); the rest is local work
  // Every byte this rank handed MPI for other ranks in this tick.
  [[nodiscard]] std::uint64_t bytes_sent() const noexcept { return route_bytes + boundary_bytes + count_bytes + record_bytes; }
};

// What the distributed layer adds to each rank's bus_options.
struct dist_options {
  // How long a rank waits in one collective (or a ghost's first transfer) before it ends the job
  // with a message naming the call (MPI_Abort, exit code 124: dist/exchange.hpp); zero or less
  // waits as long as MPI does. A rank that dies is caught by Open MPI's runtime, which ends the
  // job; this catches a rank that is alive but never arrives (stuck, or in a different call).
  std::chrono::duration<double> collective_timeout{0};
};

namespace detail {
// Runs f (MPI calls) and counts it in r as one collective, and its time as exchange time.
template <class F>
void in_mpi(dist_tick_report& r, F&& f)
{
  const auto t0 = std::chrono::steady_clock::now();
  f();
  r.exchange += std::chrono::steady_clock::now() - t0;
  ++r.collectives;
}
} // namespace detail

} // namespace mmsb::dist
