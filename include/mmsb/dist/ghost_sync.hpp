// ghost_sync: keeping a distributed bus's ghosts equal to their sources (dist/mpi_bus.hpp;
// docs/distributed.md): making a ghost (its source's value sent whole, once), and the
// bulk-synchronous steps of a tick. After each local tick every owner sends the changed slots of
// its boundary pages (dist/ghosts.hpp) to the ranks holding ghosts, over a neighbour exchange
// built from the edges (dist/exchange.hpp); the holders assign them and tick again; an allreduce
// ends the loop when no rank has a changed boundary page. A page a region spanning ranks
// computes away from its owner (dist/placement.hpp) is, on its owner, a ghost of its mirror on
// the host, kept current the same way. Collective; needs MPI. Owned by the bus, on its thread;
// it refers to the bus's placement, local bus and local producer.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/ghosts.hpp>
#include <mmsb/dist/options.hpp>
#include <mmsb/dist/placement.hpp>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb::dist {

// Keeps the ghosts of one rank of a distributed bus over local bus LocalBus (see the top of this
// header).
template <class LocalBus>
class ghost_sync {
public:
  using semiring_type = typename LocalBus::semiring_type;  // the bus's semiring
  using layout_type = typename LocalBus::layout_type;      // the bus's layout
  using boundary_type = boundary_set<semiring_type, layout_type>;       // the owner's side
  using storage_type = typename layout_type::storage_type;              // one page's slots
  using update_type = ghost_update<typename layout_type::value_type>;  // one ghost slot to assign

  // The bus's communicator, rank, ranks and collective timeout; its placement, local bus, the
  // local producer it pushes through and that producer's ring capacity.
  ghost_sync(MPI_Comm comm, int rank, int ranks, double timeout, const placement& place, LocalBus& local,
             typename LocalBus::producer_type& producer, std::size_t ring_capacity)
    : comm_(comm), rank_(rank), ranks_(ranks), me_(static_cast<std::uint32_t>(rank)), timeout_(timeout), place_(place), local_(local),
      producer_(producer), ring_capacity_(ring_capacity)
  {
  }

  // Pages this rank owns that other ranks hold ghosts of.
  [[nodiscard]] std::size_t boundary_pages() const noexcept { return boundary_.size(); }
  // Ghosts this rank holds.
  [[nodiscard]] std::size_t ghost_pages() const noexcept { return ghost_local_.size(); }
  // The local id of this rank's ghost of page g (which it must hold).
  [[nodiscard]] page_id ghost_of(page_id g) const { return ghost_local_.at(g.value()); }
  // New ghosts' first values, waiting for the next tick.
  [[nodiscard]] std::size_t pending() const noexcept { return seeds_.size(); }

  // Rank `holder` holds a ghost of page g, made in this order among the ghosts (after reopening:
  // the ghost's local id is `next`, this rank's next page, when the holder is this rank).
  void restore(page_id g, std::uint32_t holder, std::uint32_t& next)
  {
    if (holder == me_) ghost_local_.emplace(g.value(), page_id{next++});
    if (place_.host(g) == me_) {
      const page_id local = place_.local(g);
      (void)boundary_.add_holder(g.value(), local, holder, local_.value(local).storage());
    }
    dirty_ = true;
  }

  // Page g, owned by `owner`, is computed on `host` from now on (a region spanning ranks): the
  // owner sends its value whole; the host makes a local page for it (its mirror: returned, and
  // its first values queued for the next tick's step 0) and sends the owner the mirror's changed
  // slots from then on; the owner's page becomes a ghost of the mirror. Returns this rank's
  // failure message, or "".
  std::string make_mirror(page_id g, std::uint32_t owner, std::uint32_t host, page_id& mirror)
  {
    dirty_ = true;
    const int tag = 0x6d6e;
    if (me_ == owner) {
      const page_id local = place_.parts().local(g);
      ghost_local_.emplace(g.value(), local);
      const storage_type& sent = local_.value(local).storage();
      detail::run([&](MPI_Request* q) { return MPI_Isend(&sent, sizeof(storage_type), MPI_BYTE, static_cast<int>(host), tag, comm_, q); },
                  comm_, timeout_, "MPI_Isend");
      return {};
    }
    if (me_ != host) return {};
    storage_type now{};
    detail::run([&](MPI_Request* q) { return MPI_Irecv(&now, sizeof(storage_type), MPI_BYTE, static_cast<int>(owner), tag, comm_, q); },
                comm_, timeout_, "MPI_Irecv");
    try {
      mirror = local_.create_page();
      seed(mirror, now);
      (void)boundary_.add_holder(g.value(), mirror, owner, now);
    } catch (const error& e) {
      return e.what();
    }
    return {};
  }
  // After reopening: page g, owned by `owner`, is computed on `host` as its mirror, made in this
  // order among the pages made (the host's next page; see restore()).
  void restore_mirror(page_id g, std::uint32_t owner, std::uint32_t host, std::uint32_t& next, page_id& mirror)
  {
    if (me_ == owner) ghost_local_.emplace(g.value(), place_.parts().local(g));
    if (me_ == host) {
      mirror = page_id{next++};
      (void)boundary_.add_holder(g.value(), mirror, owner, local_.value(mirror).storage());
    }
    dirty_ = true;
  }

  // The tick after step 0's changes were queued: the new ghosts' first values join them, then
  // the steps (see the top of this header).
  void run_steps(dist_tick_report& r)
  {
    push_ghost_updates(seeds_, r);  // within the ring: the bus checked it
    seeds_.clear();
    if (dirty_) build_neighbours();
    propagate_across_ranks(r);
  }

  // A ghost of g (owned by `from`) on rank `to`: from sends g's value; to makes a local base page
  // and queues the slots that differ from a new page for the next tick's step 0; from adds g to
  // its boundary pages with that value as sent. Returns this rank's failure message, or "".
  std::string make(page_id g, std::uint32_t from, std::uint32_t to)
  {
    dirty_ = true;
    const int tag = 0x6d6d;  // the bus's own communicator: no other traffic to confuse
    if (me_ == from) {
      const page_id local = place_.local(g);
      const storage_type& sent = boundary_.add_holder(g.value(), local, to, local_.value(local).storage());
      detail::run([&](MPI_Request* q) { return MPI_Isend(&sent, sizeof(storage_type), MPI_BYTE, static_cast<int>(to), tag, comm_, q); },
                  comm_, timeout_, "MPI_Isend");
      return {};
    }
    if (me_ != to) return {};
    storage_type now{};
    detail::run([&](MPI_Request* q) { return MPI_Irecv(&now, sizeof(storage_type), MPI_BYTE, static_cast<int>(from), tag, comm_, q); }, comm_,
                timeout_, "MPI_Irecv");
    try {
      const page_id ghost = local_.create_page();
      ghost_local_.emplace(g.value(), ghost);
      seed(ghost, now);
    } catch (const error& e) {
      return e.what();
    }
    return {};
  }

private:
  // Queues, for the next tick's step 0, the slots of new page `local` that differ from `now`.
  void seed(page_id local, const storage_type& now)
  {
    const storage_type& fresh = local_.value(local).storage();
    for (std::size_t i = 0; i < layout_type::extent; ++i)
      if (!boundary_type::same_bits(layout_type::load(now, i), layout_type::load(fresh, i)))
        seeds_.push_back({local, static_cast<std::uint32_t>(i), layout_type::load(now, i)});
  }

  // The topology of the ghost exchange (collective): this rank sends to the ranks holding ghosts
  // of its pages and receives from the owners of its ghosts.
  void build_neighbours()
  {
    std::vector<int> out, in;
    boundary_.for_each_holder([&](std::uint32_t h) { out.push_back(static_cast<int>(h)); });
    for (const auto& [g, ghost] : ghost_local_) in.push_back(static_cast<int>(place_.host(page_id{g})));
    nbr_.connect(comm_, ranks_, std::move(out), std::move(in));
    dirty_ = false;
  }

  // Steps: tick locally, send changed boundary slots, until no rank has any (see the top).
  void propagate_across_ranks(dist_tick_report& r)
  {
    bool run = true;  // step 0 always ticks; later steps where ghost updates arrived
    std::string failed;
    for (r.steps = 1;; ++r.steps) {
      std::uint64_t out = 0;
      if (run && failed.empty()) {
        try {
          tick_local(r);
          out = collect_boundary(r);
        } catch (const error& e) {
          failed = "mpi_bus tick: rank " + std::to_string(rank_) + ", step " + std::to_string(r.steps - 1) + ": " + e.what();
        }
      }
      int flags[2] = {out != 0 ? 1 : 0, failed.empty() ? 0 : 1}, all[2] = {0, 0};
      detail::in_mpi(r, [&] {
        detail::run([&](MPI_Request* q) { return MPI_Iallreduce(flags, all, 2, MPI_INT, MPI_MAX, comm_, q); }, comm_, timeout_, "MPI_Iallreduce");
      });
      if (all[1] != 0) {
        for (const auto& why : detail::allgather_text(comm_, failed, ranks_, timeout_))
          if (!why.empty()) throw error(errc::io_error, why + " (the tick failed on every rank; ranks may differ: rebuild the bus)");
      }
      if (all[0] == 0) return;
      r.count_bytes += sizeof(int) * nbr_.out_degree();
      detail::in_mpi(r, [&] { nbr_.exchange(timeout_); });
      updates_.clear();
      try {
        read_ghost_updates();
      } catch (const error& e) {
        failed = "mpi_bus tick: rank " + std::to_string(rank_) + ", ghost updates: " + e.what();
      }
      run = !updates_.empty();
      r.ghost_slots += updates_.size();
      if (run && failed.empty()) push_ghost_updates(updates_, r);
    }
  }

  // One local tick (more when the ghost updates queued exceed the ring: see push_ghost_updates).
  void tick_local(dist_tick_report& r)
  {
    const tick_report t = local_.tick();
    if (r.local_ticks++ == 0) r.local = t;
  }

  // The changed slots of every boundary page, as encoded deltas for the ranks holding ghosts.
  // Returns the bytes queued.
  std::uint64_t collect_boundary(dist_tick_report& r)
  {
    const auto [slots, bytes] = boundary_.collect([&](page_id local) -> const storage_type& { return local_.value(local).storage(); },
                                                  [&](std::uint32_t holder, span<const std::byte> delta) {
                                                    auto& to = nbr_.to(holder);
                                                    to.insert(to.end(), delta.begin(), delta.end());
                                                  });
    r.boundary_slots += slots;
    r.boundary_bytes += bytes;
    return bytes;
  }

  // Decodes what the owners sent (a stream of encoded deltas from each neighbour) into updates_.
  void read_ghost_updates()
  {
    for (std::size_t k = 0; k < nbr_.in_degree(); ++k)
      decode_ghost_updates<semiring_type, layout_type>(nbr_.in_rank(k), nbr_.received(k), ghost_local_, updates_, decoded_);
  }

  // Queues ghost assigns through the local producer, ticking the local bus whenever its ring is
  // full (assigns to distinct slots: the end state does not depend on where they are cut). The
  // last part stays queued for the caller's tick.
  void push_ghost_updates(const std::vector<update_type>& u, dist_tick_report& r)
  {
    std::size_t in_ring = 0;
    for (const update_type& g : u) {
      if (in_ring == ring_capacity_) {
        tick_local(r);
        in_ring = 0;
      }
      producer_.put(g.ghost, g.slot, delta_op::assign, g.value);
      ++in_ring;
    }
  }



  MPI_Comm comm_;
  int rank_, ranks_;
  std::uint32_t me_;
  double timeout_;
  const placement& place_;
  LocalBus& local_;
  typename LocalBus::producer_type& producer_;
  std::size_t ring_capacity_;
  boundary_type boundary_;                                   // this rank's boundary pages
  std::unordered_map<std::uint32_t, page_id> ghost_local_;   // this rank's ghosts: global id -> local id
  std::vector<update_type> seeds_;                           // new ghosts' first values, for the next tick
  detail::neighbour_exchange nbr_;                           // the exchange between steps
  bool dirty_ = true;                                        // ghosts added since the exchange was built
  std::vector<update_type> updates_;                         // what one exchange brought
  delta<semiring_type, layout_type> decoded_;                // one received delta (storage reused)
};

} // namespace mmsb::dist
