// Reopening a distributed bus (dist/mpi_bus.hpp; docs/distributed.md, "Recovery"): before the
// ranks' local buses open, the ranks agree on the global checkpoint to go back to
// (dist/manifest.hpp) and each puts its store back at its epoch in it. Collective; needs MPI.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/manifest.hpp>
#include <mmsb/log/file_system.hpp>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mmsb::dist::detail {

// The parameters keep the bus's member names (comm_, rank_, ranks_, timeout_, fs_, dir_: fs_
// null for a bus in memory). Every rank reads its global checkpoint record; the newest tick any
// rank recorded wins (a record is written only once every rank's checkpoint of its tick is
// durable, so every rank can go back to it), and its record is shared from the lowest rank
// holding it. Each rank then sets aside (renames into DIR/set-aside-N/) its log and its
// checkpoints newer than its epoch in that record, so its store opens at exactly that epoch.
// Nothing (no record anywhere and no data in any store): a new bus. Throws on every rank with
// the same message: a store holding data with no record anywhere, a record for another
// partition (fingerprint) or rank count, a rank's missing checkpoint, a damaged record, an I/O
// failure.
inline std::optional<global_checkpoint> agree_on_restore(MPI_Comm comm_, int rank_, int ranks_, double timeout_, file_system* fs_,
                                                       const std::string& dir_, std::uint64_t fingerprint)
{
  std::optional<global_checkpoint> mine;
  std::string why;
  bool has_data = false;
  if (fs_ != nullptr) {
    try {
      mine = read_global_checkpoint(*fs_, dir_);
      for (const char* sub : {"/log", "/checkpoints"})
        if (fs_->exists(dir_ + sub) && !fs_->list(dir_ + sub).empty()) has_data = true;
    } catch (const error& e) {
      why = "mpi_bus: rank " + std::to_string(rank_) + ": " + e.what();
    }
  }
  agree_or_throw(comm_, ranks_, timeout_, why, errc::corrupt);
  // Every rank's (has a record, its tick, has data).
  const std::uint64_t mine3[3] = {mine ? 1u : 0u, mine ? mine->tick : 0, has_data ? 1u : 0u};
  std::vector<std::uint64_t> all(3 * static_cast<std::size_t>(ranks_));
  run([&](MPI_Request* q) { return MPI_Iallgather(mine3, 3, MPI_UINT64_T, all.data(), 3, MPI_UINT64_T, comm_, q); }, comm_, timeout_,
              "MPI_Iallgather");
  int from = -1;
  for (int k = 0; k < ranks_; ++k)
    if (all[3 * static_cast<std::size_t>(k)] != 0 && (from < 0 || all[3 * static_cast<std::size_t>(k) + 1] > all[3 * static_cast<std::size_t>(from) + 1]))
      from = k;
  if (from < 0) {
    for (int k = 0; k < ranks_; ++k)
      if (all[3 * static_cast<std::size_t>(k) + 2] != 0)
        throw error(errc::invalid_argument, "mpi_bus: rank " + std::to_string(k) + "'s store holds a log or checkpoints but no rank has a "
                                            "global checkpoint record (mpi_bus::checkpoint()) to restore every rank to; give every rank a "
                                            "new directory, or remove these");
    return std::nullopt;
  }
  // The newest record, from the lowest rank holding it, to every rank.
  std::vector<std::byte> bytes = rank_ == from ? encode_global_checkpoint(*mine) : std::vector<std::byte>{};
  std::uint64_t n = bytes.size();
  run([&](MPI_Request* q) { return MPI_Ibcast(&n, 1, MPI_UINT64_T, from, comm_, q); }, comm_, timeout_, "MPI_Ibcast");
  bytes.resize(n);
  run([&](MPI_Request* q) { return MPI_Ibcast(bytes.data(), mpi_count(n, "restore"), MPI_BYTE, from, comm_, q); }, comm_,
              timeout_, "MPI_Ibcast");
  global_checkpoint c = decode_global_checkpoint(span<const std::byte>(bytes.data(), bytes.size()), "from rank " + std::to_string(from));
  if (c.fingerprint != fingerprint || c.epochs.size() != static_cast<std::size_t>(ranks_))
    throw error(errc::invalid_argument, "mpi_bus: the global checkpoint (tick " + std::to_string(c.tick) + ", in rank " + std::to_string(from) +
                                          "'s " + dir_ + ") was taken on " + std::to_string(c.epochs.size()) +
                                          " ranks with partition fingerprint " + std::to_string(c.fingerprint) + "; this bus has " +
                                          std::to_string(ranks_) + " ranks and fingerprint " + std::to_string(fingerprint));
  try {
    set_aside_after(*fs_, dir_, mmsb::epoch{c.epochs[static_cast<std::size_t>(rank_)]});
  } catch (const error& e) {
    why = "mpi_bus: restoring rank " + std::to_string(rank_) + " (" + dir_ + ") to tick " + std::to_string(c.tick) + ": " + e.what();
  }
  agree_or_throw(comm_, ranks_, timeout_, why, errc::corrupt);
  return c;
}


} // namespace mmsb::dist::detail
