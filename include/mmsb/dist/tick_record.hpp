// The per-tick record of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md, "Recovery"):
// after a tick's steps, every rank's local epoch is gathered and every rank appends the tick
// record to its global log (dist/global_log.hpp); an append that fails on one rank fails the
// tick on every rank. Collective; needs MPI.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/global_log.hpp>
#include <mmsb/dist/options.hpp>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mmsb::dist::detail {

// Every rank's local epoch (collective): by rank, `mine` from this one, into epochs (storage
// reused).
inline void gather_epochs(MPI_Comm comm, double timeout, std::uint64_t mine, std::vector<std::uint64_t>& epochs, int ranks)
{
  epochs.resize(static_cast<std::size_t>(ranks));
  run([&](MPI_Request* q) { return MPI_Iallgather(&mine, 1, MPI_UINT64_T, epochs.data(), 1, MPI_UINT64_T, comm, q); }, comm, timeout,
      "MPI_Iallgather");
}

// Tick `tick`'s record in every rank's global log (collective): every rank's local commits of
// the tick are done (the steps' last allreduce came after them), this rank's local epoch is
// `epoch`. Two collectives (the epochs, then whether every rank appended), counted in r; the
// messages travel only on a failure. Throws mmsb::error (io_error) on every rank, naming the
// first rank that could not append and its file (dir's global log).
inline void record_tick(MPI_Comm comm, int rank, int ranks, double timeout, global_log_writer& glog, const std::string& dir,
                        std::uint64_t tick, std::uint64_t epoch, std::vector<std::uint64_t>& epochs, dist_tick_report& r)
{
  in_mpi(r, [&] { gather_epochs(comm, timeout, epoch, epochs, ranks); });
  std::string why;
  try {
    glog.append_tick(tick, span<const std::uint64_t>(epochs.data(), epochs.size()));
  } catch (const error& e) {
    why = "mpi_bus tick " + std::to_string(tick) + ": rank " + std::to_string(rank) + " could not append it to its global log (" +
          global_log_path(dir) + "): " + e.what() + "; the tick's state stands, a reopened bus comes back at the tick before";
  }
  int bad = why.empty() ? 0 : 1, any = 0;
  in_mpi(r, [&] {
    run([&](MPI_Request* q) { return MPI_Iallreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm, q); }, comm, timeout, "MPI_Iallreduce");
  });
  r.record_bytes += (sizeof(std::uint64_t) + sizeof(int)) * static_cast<std::size_t>(ranks - 1);
  if (any != 0) agree_or_throw(comm, ranks, timeout, why, errc::io_error);
}

} // namespace mmsb::dist::detail
