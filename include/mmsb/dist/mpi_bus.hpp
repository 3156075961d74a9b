// mpi_bus: a bus whose pages are partitioned across the ranks of an MPI communicator
// (docs/distributed.md). Opt-in: needs MPI (meson: dependency('mpi', language: 'cpp'); the build
// defines OMPI_SKIP_MPICXX). Each rank holds a basic_bus of the pages it owns (dist/partition.hpp)
// and its own log in its own directory; producers live on any rank.
//
// A tick is collective (every rank calls it):
//   1. route   every change pushed here for another rank's page goes to its owner in one
//              MPI_Alltoallv, in the compact wire form of dist/routing.hpp;
//   2. order   the owner sorts what it received by (epoch, producer, sequence), the key one bus
//              folds changes in (producer ids are global), and ticks its local bus (step 0);
//   3. steps   bulk-synchronous propagation across ranks: an edge lives on its destination's
//              rank, a source owned elsewhere is held there as a ghost (dist/ghosts.hpp), kept
//              equal to it by the changed slots its owner sends after each step (encoded deltas,
//              one MPI_Neighbor_alltoallv over a graph topology built from the edges), until an
//              allreduce says no rank has a changed boundary page.
// A row is always computed in one order whatever order its changes came in, and every ghost ends
// the tick equal to its source, so after every tick every page equals, bit for bit, the page of
// one basic_bus fed the same changes and edges, at any number of ranks and under any partition.
// Fixed-point regions may span ranks: a region is computed on one rank, its host (the rank
// owning most of its pages), which keeps a page (a mirror) for each member owned elsewhere;
// changes to a member and edges into it go to the host, and the owner's page is a ghost of the
// mirror (dist/placement.hpp). The region's least solution, on one local bus, is what one bus
// computes; the steps carry its inputs in and its results out.
// Recovery: after every tick each rank appends a tick record (every rank's local epoch, the
// edges and ghosts added) to its global log (dist/global_log.hpp, dist/tick_record.hpp), once
// every rank's commits of the tick are done; reopening brings every rank back to the newest tick
// any rank recorded, bit for bit (dist/restore.hpp, log/cut.hpp). Global checkpoints
// (checkpoint()) bound the logs.
//
// Errors are refused on every rank with the same message: a page outside the bus (naming the
// range), a page owned elsewhere (naming the owner), ranks that disagree at start-up, an edge
// closing a cycle (dist/edges.hpp), a producer id pushing from two ranks or more changes for a
// rank than its ring holds (the tick fails before any page changes), a local tick failing on
// one rank (the ranks may then differ: rebuild the bus). A rank that dies ends the job (Open
// MPI's runtime); one that never arrives ends it after dist_options::collective_timeout.
#pragma once

#include <mmsb/bus/bus.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/dist/edges.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/ghost_sync.hpp>
#include <mmsb/dist/global_log.hpp>
#include <mmsb/dist/options.hpp>
#include <mmsb/dist/partition.hpp>
#include <mmsb/dist/placement.hpp>
#include <mmsb/dist/restore.hpp>
#include <mmsb/dist/routing.hpp>
#include <mmsb/dist/tick_record.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb::dist {

// The distributed bus (see the top of this header). Not copyable or movable; owned by one thread
// of each rank (its producers too).
template <class Semiring, class Layout = dense<semiring_value_t<Semiring>, 256>, class Allocator = host_heap,
          class Scheduler = serial>
class mpi_bus {
public:
  using bus_type = basic_bus<Semiring, Layout, Allocator, Scheduler>;  // each rank's local bus
  using value_type = typename Layout::value_type;  // the element type of one slot
  using page_type = typename bus_type::page_type;  // one page
  using change_type = routed_change<value_type>;  // one change on its way to its owner
  using matrix_type = typename bus_type::matrix_type;  // an edge's matrix (CSR of value_type)

  using producer = routed_producer<mpi_bus>;  // a producer's handle (dist/routing.hpp)

  // Joins the bus on comm (collective: every rank constructs one, with equal partitions). opts
  // configures this rank's local bus; give each rank its own opts.dir. A new directory gives a
  // new bus; directories a bus on disk ticked in reopen it at the last tick every rank finished
  // (the newest tick record in any rank's global log), on every rank, with its edges and ghosts;
  // what the ranks did after it is set aside (DIR/set-aside-N). Throws mmsb::error, on every
  // rank with the same message: invalid_argument when the ranks disagree on the partition, its
  // size or the shape, the partition is for another number of ranks, opts.checkpoint_every is
  // not 0 (checkpoints are global), or a store holds data with no tick record anywhere (or a
  // global log for another partition); corrupt when a rank's store cannot reopen at its epoch in
  // the record; io_error for a rank's I/O failure; and whatever basic_bus's constructor throws.
  // d: the collective timeout (see dist_options).
  mpi_bus(MPI_Comm comm, partition parts, bus_options opts = {}, dist_options d = {})
    : parts_(std::move(parts)), place_(parts_), timeout_(d.collective_timeout.count())
  {
    detail::check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    try {
      detail::check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
      detail::check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
      detail::check_mpi(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
      detail::agree_at_start(comm_, ranks_, timeout_,
                             "partition " + parts_.rule() + " of " + std::to_string(parts_.pages()) + " pages over " +
                               std::to_string(parts_.ranks()) + " ranks (fingerprint " + std::to_string(parts_.fingerprint()) + "), shape " +
                               shape_text<Semiring, Layout>(),
                             parts_.ranks());
      ring_capacity_ = opts.ring_capacity;
      fs_ = opts.fs;
      dir_ = opts.dir;
      agree_or_throw(opts.checkpoint_every == 0 ? std::string()
                                                : "mpi_bus: rank " + std::to_string(rank_) + "'s bus_options::checkpoint_every is " +
                                                    std::to_string(opts.checkpoint_every) +
                                                    "; under mpi_bus checkpoints are global (mpi_bus::checkpoint()), so it must be 0",
                     errc::invalid_argument);
      const detail::restore_point restore = detail::agree_on_restore(comm_, rank_, ranks_, timeout_, fs_, dir_, parts_.fingerprint());
      sync_log_ = opts.store.log.durability == durability::per_commit;
      local_ = std::make_unique<bus_type>(std::move(opts));
      in_producer_ = std::make_unique<typename bus_type::producer_type>(local_->make_producer());
      router_ = change_router<Layout>(static_cast<std::size_t>(ranks_));
      ghosts_ = std::make_unique<ghost_sync<bus_type>>(comm_, rank_, ranks_, timeout_, place_, *local_, *in_producer_, ring_capacity_);
      edges_ = global_edges(parts_.pages());
      if (restore.state.has_tick) {
        detail::restore_topology(restore.state, comm_, rank_, ranks_, timeout_, dir_, parts_, *local_, place_, edges_, *ghosts_, regions_);
        ticks_ = restore.state.tick;
      } else {
        for (std::size_t i = 0; i < parts_.owned(me()).size(); ++i) (void)local_->create_page();
      }
      if (fs_ != nullptr) {
        std::string why;
        try {
          glog_.reset(*fs_, dir_, span<const std::byte>(restore.bytes.data(), restore.bytes.size()), sync_log_);
        } catch (const error& e) {
          why = "mpi_bus: rank " + std::to_string(rank_) + " could not write its global log: " + e.what();
        }
        agree_or_throw(why, errc::io_error);
      }
    } catch (...) {
      ghosts_.reset();
      in_producer_.reset();
      local_.reset();
      MPI_Comm_free(&comm_);
      throw;
    }
  }
  mpi_bus(const mpi_bus&) = delete;
  mpi_bus& operator=(const mpi_bus&) = delete;
  ~mpi_bus()
  {
    ghosts_.reset();
    in_producer_.reset();
    local_.reset();
    MPI_Comm_free(&comm_);
  }

  // This rank.
  [[nodiscard]] int rank() const noexcept { return rank_; }
  // The number of ranks.
  [[nodiscard]] int ranks() const noexcept { return ranks_; }
  // Who owns which page.
  [[nodiscard]] const partition& parts() const noexcept { return parts_; }
  // This rank's local bus (its pages under local ids: parts().local(g), then its ghosts; read
  // it, do not write).
  [[nodiscard]] const bus_type& local() const noexcept { return *local_; }
  // Pages this rank owns that other ranks hold ghosts of.
  [[nodiscard]] std::size_t boundary_pages() const noexcept { return ghosts_->boundary_pages(); }
  // Ghosts this rank holds (pages owned elsewhere that its edges read).
  [[nodiscard]] std::size_t ghost_pages() const noexcept { return ghosts_->ghost_pages(); }

  // Global ticks completed (the same on every rank); after reopening, the restored checkpoint's.
  [[nodiscard]] std::uint64_t ticks() const noexcept { return ticks_; }

  // A global checkpoint (collective): every rank checkpoints its local bus (pages and topology)
  // at this tick, which lets its store drop the log before the previous one; once every rank's
  // is durable, every rank rewrites its global log as this tick's state alone (its ghosts, its
  // edges, one tick record; dist/global_log.hpp), so the logs stay bounded. Reopening does not
  // need it: it comes back at the last tick whatever the checkpoints. Call it between ticks,
  // with no edge added since the last tick. Throws mmsb::error on every rank with the same
  // message: unsupported for a bus in memory (bus_options::fs null), state_error after an edge
  // added since the last tick, and a rank's I/O failure (naming the rank; the global log then
  // still reopens at this tick).
  void checkpoint()
  {
    std::string why;
    if (fs_ == nullptr)
      why = "mpi_bus checkpoint: rank " + std::to_string(rank_) + "'s bus is in memory (bus_options::fs is null): nothing to restore from";
    else if (edited_since_tick_)
      why = "mpi_bus checkpoint: edges were added since the last tick; tick first (their ghosts get their values in a tick)";
    std::uint64_t epoch = 0;
    if (why.empty()) {
      try {
        local_->checkpoint();
        epoch = local_->store().current_epoch().value();
      } catch (const error& e) {
        why = "mpi_bus checkpoint: rank " + std::to_string(rank_) + ": " + e.what();
      }
    }
    agree_or_throw(why, errc::io_error);
    global_log_state s;
    s.fingerprint = parts_.fingerprint();
    s.ranks = static_cast<std::uint32_t>(ranks_);
    s.has_tick = true;
    s.tick = ticks_;
    detail::gather_epochs(comm_, timeout_, epoch, epochs_, ranks_);
    s.epochs = epochs_;
    s.edges = edges_.edges();
    s.ghosts = edges_.ghosts();
    s.regions = regions_;
    try {
      const auto bytes = encode_global_log(s);
      glog_.reset(*fs_, dir_, span<const std::byte>(bytes.data(), bytes.size()), sync_log_);
    } catch (const error& e) {
      why = "mpi_bus checkpoint: rank " + std::to_string(rank_) + " could not rewrite its global log: " + e.what();
    }
    agree_or_throw(why, errc::io_error);
  }

  // A producer with global id `id` (local: no communication). The id must be unique across the
  // ranks; the same id pushing on two ranks fails the tick.
  [[nodiscard]] producer make_producer(std::uint32_t id) { return producer(this, id); }

  // An edge src → dst with matrix a (collective: every rank calls it with the same arguments; a
  // is used on dst's host: its owner, or its region's host). src may be a base or a derived page
  // on any rank; when it is computed elsewhere, dst's host keeps a ghost of it (see the top of
  // this header), sent whole from src's host the first time. Throws mmsb::error on every rank
  // with the same message and no edge added: unknown_page for a page outside the bus; cycle for
  // an edge that would close a cycle outside one fixed-point region (naming it, in global ids);
  // invalid_argument for what basic_bus::add_matrix_edge refuses on dst's host (a wrong shape).
  void add_matrix_edge(page_id src, page_id dst, matrix_type a)
  {
    // What every rank can decide alike, from what every rank knows.
    const std::uint32_t from = place_.checked_host(src), to = place_.checked_host(dst);
    edges_.check_acyclic(src, dst);
    const bool remote = from != to;
    std::string why;
    edited_since_tick_ = true;
    if (remote && !edges_.has_ghost(src, to)) {
      // dst's owner gets a ghost of src, kept current from now on (even if its bus refuses the edge).
      edges_.add_ghost(src, to);
      if (fs_ != nullptr) glog_.add(global_record::ghost, src.value(), to);
      why = ghosts_->make(src, from, to);
    }
    if (to == me() && why.empty()) {
      try {
        local_->add_matrix_edge(remote ? ghosts_->ghost_of(src) : place_.local(src), place_.local(dst), std::move(a));
      } catch (const error& e) {
        why = e.what();
      }
    }
    const auto all = detail::allgather_text(comm_, why, ranks_, timeout_);
    for (const std::uint32_t k : {to, from})
      if (!all[k].empty()) throw error(errc::invalid_argument, "mpi_bus: rank " + std::to_string(k) + " refused the edge: " + all[k]);
    edges_.add_edge(src, dst);
    if (fs_ != nullptr) glog_.add(global_record::edge, src.value(), dst.value());
  }

  // Declares a fixed-point region (collective: every rank calls it with the same arguments): its
  // pages may depend on each other in cycles and get the least solution, found in at most
  // max_iterations rounds (idempotent ⊕ required: basic_bus::add_fixed_point_region). The pages
  // may be owned by any ranks: the region is computed on its host, the rank owning most of them
  // (the lowest such rank on a tie), which makes a page for each member owned elsewhere, with
  // its value sent whole (see the top of this header). Declare a region before any edge into or
  // out of its pages, with no change queued. Returns the host. Throws mmsb::error on every rank
  // with the same message and nothing changed: unknown_page for a page outside the bus;
  // invalid_argument for an empty region, a page listed twice, in a region already or with
  // edges; state_error when a rank has changes queued (tick first).
  std::uint32_t add_fixed_point_region(span<const page_id> members, std::uint32_t max_iterations = 1000)
  {
    for (const page_id m : members) (void)parts_.checked_owner(m);
    edges_.check_region(members);
    agree_or_throw(own_.empty() && router_.changes() == 0
                     ? std::string()
                     : "mpi_bus: rank " + std::to_string(rank_) + " has changes queued; tick before declaring a fixed-point region "
                                                                 "(its pages' changes go to its host from then on)",
                   errc::state_error);
    const std::uint32_t host = region_host(parts_, members);
    std::string why;
    global_region rec{host, max_iterations, {}, edges_.ghosts().size()};
    std::vector<page_id> local_ids;
    for (const page_id m : members) {
      rec.members.push_back(m.value());
      const std::uint32_t owner = parts_.owner(m);
      page_id mirror = parts_.local(m);
      if (owner != host) {
        const std::string failed = ghosts_->make_mirror(m, owner, host, mirror);
        if (why.empty()) why = failed;
        place_.move(m, host, mirror);
        edges_.add_holder(m, owner);
      }
      local_ids.push_back(mirror);
    }
    if (me() == host && why.empty()) {
      try {
        (void)local_->add_fixed_point_region(span<const page_id>(local_ids.data(), local_ids.size()), max_iterations);
      } catch (const error& e) {
        why = e.what();
      }
    }
    edges_.add_region(members);
    if (fs_ != nullptr) glog_.add_region(host, max_iterations, span<const std::uint32_t>(rec.members.data(), rec.members.size()));
    regions_.push_back(std::move(rec));
    edited_since_tick_ = true;
    const auto all = detail::allgather_text(comm_, why, ranks_, timeout_);
    for (std::size_t k = 0; k < all.size(); ++k)
      if (!all[k].empty())
        throw error(errc::invalid_argument, "mpi_bus: rank " + std::to_string(k) + " failed to set up the fixed-point region: " + all[k] +
                                              " (the ranks may differ: rebuild the bus)");
    return host;
  }

  // The value of page g, which this rank must own. Throws mmsb::error (unknown_page) naming the
  // range for an id outside the bus, or naming g's owner and this rank.
  [[nodiscard]] const page_type& value(page_id g) const
  {
    const std::uint32_t owner = parts_.checked_owner(g);
    if (owner != me())
      throw error(errc::unknown_page, "page " + std::to_string(g.value()) + " is owned by rank " + std::to_string(owner) +
                                        ", not by rank " + std::to_string(rank_) + " (rule " + parts_.rule() + ")");
    return local_->value(parts_.local(g));
  }

  // One distributed tick (collective; see the top of this header). On disk, every rank then
  // appends the tick record to its global log (synced when the local logs sync per commit):
  // with per_commit durability a tick that returned survives any crash. A rank that cannot
  // append it fails the tick on every rank with io_error, naming it; the tick's state stands
  // (ticks() counts it), and a reopened bus comes back at the tick before.
  dist_tick_report tick()
  {
    dist_tick_report r;
    const auto began = std::chrono::steady_clock::now();
    r.changes_kept = own_.size();
    r.route_bytes = router_.bytes();
    r.changes_sent = router_.changes();
    r.count_bytes += sizeof(int) * static_cast<std::size_t>(ranks_ - 1);
    detail::in_mpi(r, [&] { detail::alltoallv(comm_, router_.streams(), me(), wire_in_, from_, scratch_, wire_packed_, timeout_); });
    router_.clear();
    // Decode and check before anything changes, and agree: every rank fails the tick, or none.
    const std::string why = inbox_.receive(place_, me(), span<const std::byte>(wire_in_.data(), wire_in_.size()), from_, own_,
                                           ring_capacity_, ghosts_->pending());
    r.changes_received = inbox_.received();
    int bad = why.empty() ? 0 : 1, any = 0;
    detail::in_mpi(r, [&] {
      detail::run([&](MPI_Request* q) { return MPI_Iallreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_, q); }, comm_, timeout_, "MPI_Iallreduce");
    });
    if (any != 0) {
      inbox_.clear();
      throw error(errc::invalid_argument, why.empty() ? "mpi_bus tick: another rank refused the tick's changes; nothing changed" : why);
    }
    for (const change_type& c : inbox_.in_order()) {
      in_producer_->set_epoch(mmsb::epoch{c.epoch});
      in_producer_->put(place_.local(page_id{c.page}), c.slot, static_cast<delta_op>(c.op), c.value);
    }
    inbox_.clear();
    ghosts_->run_steps(r);
    edited_since_tick_ = false;
    ++ticks_;  // only a tick that went through counts
    if (fs_ != nullptr)
      detail::record_tick(comm_, rank_, ranks_, timeout_, glog_, dir_, ticks_, local_->store().current_epoch().value(), epochs_, r);
    r.total = std::chrono::steady_clock::now() - began;
    return r;
  }

  // The state hash of every page in global id order (collective): equal to basic_bus::hash() of
  // one bus holding the same pages under the same ids. Rank 0 gathers the pages in chunks and
  // hashes them; every rank gets the digest.
  [[nodiscard]] state_hash hash() const
  {
    return detail::gather_hash(comm_, rank_, parts_, timeout_, sizeof(storage_type),
                               [&](std::size_t local) { return local_->value(page_id{static_cast<std::uint32_t>(local)}).payload_bytes(); });
  }

private:
  using storage_type = typename page_type::storage_type;

  [[nodiscard]] std::uint32_t me() const noexcept { return static_cast<std::uint32_t>(rank_); }

  // Every rank throws mmsb::error(code) with the first rank's non-empty `why`, or none does.
  void agree_or_throw(const std::string& why, errc code) const { detail::agree_or_throw(comm_, ranks_, timeout_, why, code); }

  // A producer's change, checked and queued for its page's owner.
  friend producer;
  void queue(producer& p, page_id g, std::size_t slot, delta_op op, value_type v)
  {
    const std::uint32_t owner = place_.checked_host(g);
    if (slot >= Layout::extent)
      throw error(errc::out_of_range, "page " + std::to_string(g.value()) + " slot " + std::to_string(slot) + ": past the page's " +
                                        std::to_string(Layout::extent) + " slots");
    const auto [epoch, sequence] = p.next_key();
    const change_type c{epoch, sequence, p.id(), g.value(), static_cast<std::uint32_t>(slot), static_cast<std::uint32_t>(op), v};
    if (owner == me()) {
      own_.push_back(c);
      return;
    }
    router_.add(owner, c);
  }

  partition parts_;
  placement place_;  // where each page is computed (its owner, or its region's host)
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, ranks_ = 1;
  double timeout_ = 0;  // dist_options::collective_timeout, in seconds
  std::size_t ring_capacity_ = 0;  // the local producer's ring
  std::unique_ptr<bus_type> local_;
  std::unique_ptr<typename bus_type::producer_type> in_producer_;  // the local producer the owner pushes through
  std::uint64_t ticks_ = 0;  // ticks completed (the same on every rank)
  file_system* fs_ = nullptr;  // the local store's file system (null: in memory), and its directory
  std::string dir_;
  bool edited_since_tick_ = false;  // an edge added since the last tick
  bool sync_log_ = false;  // sync each tick record (the local logs sync per commit)
  global_log_writer glog_;  // this rank's global log (on disk only)
  std::vector<global_region> regions_;  // the fixed-point regions, in the order declared
  std::vector<std::uint64_t> epochs_;  // every rank's local epoch at the last tick record (storage reused)
  // Routing (step 1): by owner rank, the changes pushed here since the last tick; what arrived.
  std::vector<change_type> own_;                  // changes to this rank's own pages
  change_router<Layout> router_;                  // the changes for other ranks' pages, by owner rank
  std::vector<std::byte> wire_in_, wire_packed_;  // what arrived; the outgoing streams in one buffer
  change_inbox<Layout> inbox_;                    // this tick's changes for pages owned here, decoded
  std::vector<int> from_, scratch_;  // from_: bytes, then changes, from each rank
  // Edges, known alike on every rank; this rank's boundary pages, its ghosts (global id -> local
  // id), and new ghosts' first values for the next tick.
  global_edges edges_;
  std::unique_ptr<ghost_sync<bus_type>> ghosts_;  // keeping the ghosts current (made once the local bus is)
};

} // namespace mmsb::dist
