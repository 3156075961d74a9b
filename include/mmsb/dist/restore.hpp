// Reopening a distributed bus (dist/mpi_bus.hpp; docs/distributed.md, "Recovery"): before the
// ranks' local buses open, the ranks agree on the last complete global tick (the newest tick
// record in any rank's global log, dist/global_log.hpp) and each puts its store back at its
// epoch in it (log/cut.hpp); once a local bus has opened there, the edges, ghosts and regions'
// mirrors the record names are rebuilt around it. Collective; needs MPI.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/dist/edges.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/global_log.hpp>
#include <mmsb/dist/partition.hpp>
#include <mmsb/dist/placement.hpp>
#include <mmsb/log/cut.hpp>
#include <mmsb/log/file_system.hpp>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::dist::detail {

// What the ranks agreed to reopen at: the state at the last complete tick (has_tick false for a
// new bus) and the global log's bytes up to it, for every rank to rewrite its own copy with.
struct restore_point {
  global_log_state state;
  std::vector<std::byte> bytes;
};

// The parameters keep the bus's member names (comm_, rank_, ranks_, timeout_, fs_, dir_: fs_
// null for a bus in memory). Every rank reads its global log; the newest tick record any rank
// holds wins (every rank appends it only once every rank's commits of that tick are done, so
// every rank can go back to it), and that log is shared from the lowest rank holding it. Each
// rank then moves its checkpoints newer than its epoch in it and its log past that epoch into
// DIR/set-aside-N/ (cut_store_after), so its store opens at exactly that epoch. A rank whose
// copy is missing, shorter or damaged gets the winner's. No tick record anywhere and no data in
// any store: a new bus. Throws on every rank with the same message: a store holding data with
// no tick record anywhere, a log for another partition (fingerprint) or rank count, an I/O
// failure (naming the rank).
inline restore_point agree_on_restore(MPI_Comm comm_, int rank_, int ranks_, double timeout_, file_system* fs_, const std::string& dir_,
                                      std::uint64_t fingerprint)
{
  std::optional<std::pair<global_log_state, std::vector<std::byte>>> mine;
  std::string why, damaged;
  bool has_data = false;
  if (fs_ != nullptr) {
    try {
      try {
        mine = read_global_log(*fs_, dir_);
      } catch (const error& e) {
        if (e.code() != errc::corrupt) throw;
        damaged = e.what();  // a damaged head: this copy counts as missing
      }
      for (const char* sub : {"/log", "/checkpoints"})
        if (fs_->exists(dir_ + sub) && !fs_->list(dir_ + sub).empty()) has_data = true;
    } catch (const error& e) {
      why = "mpi_bus: rank " + std::to_string(rank_) + ": " + e.what();
    }
  }
  agree_or_throw(comm_, ranks_, timeout_, why, errc::io_error);
  // Every rank's (has a tick record, its tick, has data).
  const bool has_tick = mine && mine->first.has_tick;
  const std::uint64_t mine3[3] = {has_tick ? 1u : 0u, has_tick ? mine->first.tick : 0, has_data ? 1u : 0u};
  std::vector<std::uint64_t> all(3 * static_cast<std::size_t>(ranks_));
  run([&](MPI_Request* q) { return MPI_Iallgather(mine3, 3, MPI_UINT64_T, all.data(), 3, MPI_UINT64_T, comm_, q); }, comm_, timeout_,
      "MPI_Iallgather");
  int from = -1;
  for (int k = 0; k < ranks_; ++k)
    if (all[3 * static_cast<std::size_t>(k)] != 0 && (from < 0 || all[3 * static_cast<std::size_t>(k) + 1] > all[3 * static_cast<std::size_t>(from) + 1]))
      from = k;
  restore_point p;
  if (from < 0) {
    std::string note;  // the first damaged copy's message, the same on every rank
    for (const auto& d : allgather_text(comm_, damaged, ranks_, timeout_))
      if (note.empty()) note = d;
    for (int k = 0; k < ranks_; ++k)
      if (all[3 * static_cast<std::size_t>(k) + 2] != 0)
        throw error(errc::invalid_argument, "mpi_bus: rank " + std::to_string(k) + "'s store holds a log or checkpoints but no rank's global "
                                            "log (dist-log) has a tick to restore every rank to" + (note.empty() ? "" : " (" + note + ")") +
                                            "; give every rank a new directory, or remove these");
    p.state.fingerprint = fingerprint;
    p.state.ranks = static_cast<std::uint32_t>(ranks_);
    put_global_log_head(p.bytes, fingerprint, p.state.ranks);
    return p;
  }
  // The newest log, from the lowest rank holding it, to every rank.
  if (rank_ == from) p.bytes = std::move(mine->second);
  std::uint64_t n = p.bytes.size();
  run([&](MPI_Request* q) { return MPI_Ibcast(&n, 1, MPI_UINT64_T, from, comm_, q); }, comm_, timeout_, "MPI_Ibcast");
  p.bytes.resize(n);
  run([&](MPI_Request* q) { return MPI_Ibcast(p.bytes.data(), mpi_count(n, "restore"), MPI_BYTE, from, comm_, q); }, comm_, timeout_,
      "MPI_Ibcast");
  p.state = decode_global_log(span<const std::byte>(p.bytes.data(), p.bytes.size()), "from rank " + std::to_string(from));
  if (p.state.fingerprint != fingerprint || p.state.ranks != static_cast<std::uint32_t>(ranks_))
    throw error(errc::invalid_argument, "mpi_bus: the global log (dist-log) in rank " + std::to_string(from) + "'s directory (tick " +
                                          std::to_string(p.state.tick) + ") was written on " + std::to_string(p.state.ranks) +
                                          " ranks with partition fingerprint " + std::to_string(p.state.fingerprint) + "; this bus has " +
                                          std::to_string(ranks_) + " ranks and fingerprint " + std::to_string(fingerprint));
  try {
    (void)cut_store_after(*fs_, dir_, mmsb::epoch{p.state.epochs[static_cast<std::size_t>(rank_)]});
  } catch (const error& e) {
    why = "mpi_bus: restoring rank " + std::to_string(rank_) + " (" + dir_ + ") to tick " + std::to_string(p.state.tick) + ": " + e.what();
  }
  agree_or_throw(comm_, ranks_, timeout_, why, errc::io_error);
  return p;
}

// After the local bus `local` opened at the restore point's epoch (agree_on_restore): the edges,
// the ghosts (a ghost's local id is this rank's page count plus its place among this rank's
// ghosts), the regions' mirrors, into place, edges, ghosts and regions; the boundary pages
// are as sent (every ghost equals its source at a tick's end). Checked first, on every rank:
// the epoch and the page count the record implies (throws mmsb::error, corrupt, naming the rank,
// its directory dir_ and both figures, on every rank). The parameters named with a trailing _
// are the bus's members of that name; Ghosts is dist/ghost_sync.hpp's ghost_sync.
template <class Bus, class Ghosts>
void restore_topology(const global_log_state& c, MPI_Comm comm_, int rank_, int ranks_, double timeout_, const std::string& dir_,
                      const partition& parts_, const Bus& local, placement& place_, global_edges& edges_, Ghosts& ghosts,
                      std::vector<global_region>& regions_)
{
  const auto me = static_cast<std::uint32_t>(rank_);
  std::string why;
  std::size_t pages = parts_.owned(me).size();
  for (const auto& [g, holder] : c.ghosts) pages += holder == me ? 1 : 0;
  for (const auto& r : c.regions)
    for (const std::uint32_t m : r.members) pages += r.host == me && parts_.owner(page_id{m}) != me ? 1 : 0;
  const auto at = local.store().current_epoch().value();
  if (at != c.epochs[me] || local.store().pages().size() != pages)
    why = "mpi_bus: rank " + std::to_string(rank_) + "'s store (" + dir_ + ") opened at epoch " + std::to_string(at) + " with " +
          std::to_string(local.store().pages().size()) + " pages; the global log's record of tick " + std::to_string(c.tick) +
          " needs epoch " + std::to_string(c.epochs[me]) + " and " + std::to_string(pages) + " pages";
  agree_or_throw(comm_, ranks_, timeout_, why, errc::corrupt);
  // Ghosts and regions' mirrors in the order made: each new page here is the next local id.
  auto next = static_cast<std::uint32_t>(parts_.owned(me).size());
  std::size_t r = 0;
  const auto regions_before = [&](std::size_t k) {
    for (; r < c.regions.size() && c.regions[r].after_ghosts == k; ++r) {
      const global_region& reg = c.regions[r];
      std::vector<page_id> members;
      for (const std::uint32_t m : reg.members) {
        members.push_back(page_id{m});
        const std::uint32_t owner = parts_.owner(page_id{m});
        if (owner == reg.host) continue;
        page_id mirror{};
        ghosts.restore_mirror(page_id{m}, owner, reg.host, next, mirror);
        place_.move(page_id{m}, reg.host, mirror);
        edges_.add_holder(page_id{m}, owner);
      }
      edges_.add_region(span<const page_id>(members.data(), members.size()));
      regions_.push_back(reg);
    }
  };
  for (std::size_t k = 0; k < c.ghosts.size(); ++k) {
    regions_before(k);
    edges_.add_ghost(page_id{c.ghosts[k].first}, c.ghosts[k].second);
    ghosts.restore(page_id{c.ghosts[k].first}, c.ghosts[k].second, next);
  }
  regions_before(c.ghosts.size());
  for (const auto& [src, dst] : c.edges) edges_.add_edge(page_id{src}, page_id{dst});
}

} // namespace mmsb::dist::detail
