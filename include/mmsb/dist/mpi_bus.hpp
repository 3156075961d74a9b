// mpi_bus: a bus whose pages are partitioned across the ranks of an MPI communicator
// (docs/distributed.md). Opt-in: needs MPI (meson: dependency('mpi', language: 'cpp'); the build
// defines OMPI_SKIP_MPICXX). Each rank holds a basic_bus of the pages it owns (dist/partition.hpp)
// and its own log in its own directory; producers live on any rank.
//
// A tick is collective (every rank calls it):
//   1. route    every change pushed on this rank since the last tick goes to its page's owner,
//               in one MPI_Alltoallv, encoded compactly (below); a rank's changes to its own
//               pages never pass through MPI;
//   2. order    the owner sorts what it received by (epoch, producer, sequence), the key the
//               single-process bus folds changes in, with producer ids global (the caller's
//               make_producer(id)), so the result does not depend on which rank pushed;
//   3. step 0   the owner pushes them, in that order, through one producer of its local bus and
//               ticks it (ingest, merge, apply+log, propagate, maintain);
//   4. steps    bulk-synchronous propagation across ranks. An edge lives on the rank that owns
//               its destination; a source owned elsewhere is held there as a ghost, a local base
//               page. After each step, every owner compares its boundary pages (those with ghosts
//               elsewhere) with what it last sent, and sends the slots that changed, as one
//               encoded delta per page (delta/codec.hpp: assigns of the new values), to the ranks
//               holding ghosts, in one MPI_Neighbor_alltoallv over a distributed graph topology
//               built from the edges. The holders assign them to their ghosts and tick again.
//               A global reduction ends the loop when no rank has a changed boundary page. The
//               steps number the longest chain of edges across ranks, plus one.
// A derived value is a deterministic function of its sources' values (docs/propagation.md: a row
// is always computed in one order), and every ghost ends the tick equal to its source bit for
// bit, so the state after every tick is, page for page and bit for bit, the state of one
// basic_bus fed the same changes and edges, at any number of ranks and under any partition;
// hash() (collective) gives that bus's state hash. Only changed slots travel, never pages (a
// new ghost is sent whole once, when its edge is added).
//
// Each step that changes pages on a rank is one commit (one epoch) of that rank's local bus, so
// local epochs run ahead of the global tick count. Recovery is by coordinated checkpoints:
// checkpoint() (collective) checkpoints every rank at one tick and, once all are durable, writes
// the global checkpoint record (dist/manifest.hpp) that names each rank's epoch at it; a bus
// reopened on the same directories restores every rank to the newest such tick, bit for bit,
// after any rank died. Not yet (issue 23 goes on): a record per tick (restoring to the last
// tick, not the last checkpoint: each rank's log would be cut back to its epoch), and
// fixed-point regions spanning ranks.
//
// Errors: a page id outside the bus names the range and the ranks; a page owned elsewhere names
// its owner; ranks that disagree at start-up (partition, page count, shape, communicator size)
// are refused on every rank with the same message; an edge closing a cycle (across ranks or not)
// is refused on every rank, naming the cycle in global ids; a producer id whose changes reach
// one rank from two ranks in one tick, or more changes routed to one rank than its local ring
// holds, fail the tick on every rank before any page changes (that tick's changes are dropped).
// A local tick that fails on one rank fails the distributed tick on every rank with that rank's
// message (the ranks' states may then differ: the bus must be rebuilt). A rank that dies ends the
// job (Open MPI's runtime stops every rank) rather than leaving the others waiting in a
// collective.
#pragma once

#include <mmsb/bus/bus.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/dist/edges.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/ghosts.hpp>
#include <mmsb/dist/manifest.hpp>
#include <mmsb/dist/options.hpp>
#include <mmsb/dist/partition.hpp>
#include <mmsb/dist/routing.hpp>

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

  // A producer's handle: changes pushed here reach their pages' owners at the next tick. Use it
  // on the bus's thread; it must not outlive the bus.
  class producer {
  public:
    // Its global id.
    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
    // Changes pushed from now on carry epoch e.
    void set_epoch(mmsb::epoch e) noexcept { epoch_ = e.value(); }
    // x ← x ⊕ v at slot `slot` of page g (a global id). Throws mmsb::error with nothing queued:
    // unknown_page naming g and the bus's range, out_of_range naming the page and slot.
    void accumulate(page_id g, std::size_t slot, value_type v) { bus_->queue(*this, g, slot, delta_op::accumulate, v); }
    // x ← v at slot `slot` of page g; as accumulate.
    void assign(page_id g, std::size_t slot, value_type v) { bus_->queue(*this, g, slot, delta_op::assign, v); }

  private:
    friend class mpi_bus;
    producer(mpi_bus* b, std::uint32_t id) : bus_(b), id_(id) {}
    mpi_bus* bus_;
    std::uint32_t id_;
    std::uint64_t epoch_ = 0;
    std::uint64_t sequence_ = 0;
  };

  // Joins the bus on comm (collective: every rank constructs one, with equal partitions). opts
  // configures this rank's local bus; give each rank its own opts.dir. A new directory gives a
  // new bus; directories holding a global checkpoint (checkpoint()) reopen it at that tick on
  // every rank. Throws mmsb::error, on every rank with the same message: invalid_argument when
  // the ranks disagree on the partition, its size or the shape, the partition is for another
  // number of ranks, opts.checkpoint_every is not 0 (checkpoints are global), or a store holds
  // data with no global checkpoint anywhere; corrupt when the record or a rank's checkpoint
  // cannot restore it; and whatever basic_bus's constructor throws. d: the collective timeout
  // (see dist_options).
  mpi_bus(MPI_Comm comm, partition parts, bus_options opts = {}, dist_options d = {})
    : parts_(std::move(parts)), timeout_(d.collective_timeout.count())
  {
    detail::check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    try {
      detail::check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
      detail::check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
      detail::check_mpi(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
      agree();
      ring_capacity_ = opts.ring_capacity;
      fs_ = opts.fs;
      dir_ = opts.dir;
      agree_or_throw(opts.checkpoint_every == 0 ? std::string()
                                                : "mpi_bus: rank " + std::to_string(rank_) + "'s bus_options::checkpoint_every is " +
                                                    std::to_string(opts.checkpoint_every) +
                                                    "; under mpi_bus checkpoints are global (mpi_bus::checkpoint()), so it must be 0",
                     errc::invalid_argument);
      const std::optional<global_checkpoint> restore = agree_on_restore();
      local_ = std::make_unique<bus_type>(std::move(opts));
      in_producer_ = std::make_unique<typename bus_type::producer_type>(local_->make_producer());
      router_ = change_router<Layout>(static_cast<std::size_t>(ranks_));
      edges_ = global_edges(parts_.pages());
      if (restore) {
        restore_from(*restore);
      } else {
        for (std::size_t i = 0; i < parts_.owned(me()).size(); ++i) (void)local_->create_page();
      }
    } catch (...) {
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
    in_producer_.reset();
    local_.reset();
    if (nbr_ != MPI_COMM_NULL) MPI_Comm_free(&nbr_);
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
  [[nodiscard]] std::size_t boundary_pages() const noexcept { return boundary_.size(); }
  // Ghosts this rank holds (pages owned elsewhere that its edges read).
  [[nodiscard]] std::size_t ghost_pages() const noexcept { return ghost_local_.size(); }

  // Global ticks completed (the same on every rank); after reopening, the restored checkpoint's.
  [[nodiscard]] std::uint64_t ticks() const noexcept { return ticks_; }

  // A global checkpoint (collective): every rank checkpoints its local bus (pages and topology)
  // at this tick; once every rank's is durable, every rank writes the global checkpoint record
  // in its directory (dist/manifest.hpp). A bus reopened on the same directories (the same
  // partition, shape and ranks) comes back at the newest tick every rank's checkpoint reached,
  // bit for bit, with its edges and ghosts; whatever the ranks did after it is set aside. Call
  // it between ticks, with no edge added since the last tick. Throws mmsb::error on every rank
  // with the same message and no record written: unsupported for a bus in memory (bus_options::fs
  // null), state_error after an edge added since the last tick, and a rank's I/O failure
  // (naming the rank; the previous record then stays).
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
    global_checkpoint c;
    c.tick = ticks_;
    c.fingerprint = parts_.fingerprint();
    c.epochs.assign(static_cast<std::size_t>(ranks_), 0);
    detail::run([&](MPI_Request* q) { return MPI_Iallgather(&epoch, 1, MPI_UINT64_T, c.epochs.data(), 1, MPI_UINT64_T, comm_, q); }, comm_,
                timeout_, "MPI_Iallgather");
    c.edges = edges_.edges();
    c.ghosts = edges_.ghosts();
    try {
      write_global_checkpoint(*fs_, dir_, c);
    } catch (const error& e) {
      why = "mpi_bus checkpoint: rank " + std::to_string(rank_) + " could not write its record: " + e.what();
    }
    agree_or_throw(why, errc::io_error);
  }

  // A producer with global id `id` (local: no communication). The id must be unique across the
  // ranks; the same id pushing on two ranks fails the tick.
  [[nodiscard]] producer make_producer(std::uint32_t id) { return producer(this, id); }

  // An edge src → dst with matrix a (collective: every rank calls it with the same arguments; a
  // is used on dst's owner). src may be a base or a derived page on any rank; when it is owned
  // elsewhere, dst's owner keeps a ghost of it (see the top of this header), sent whole from
  // src's owner the first time. Throws mmsb::error on every rank with the same message and no
  // edge added: unknown_page for a page outside the bus; cycle for an edge that would close a
  // cycle (naming it, in global ids); invalid_argument for what basic_bus::add_matrix_edge
  // refuses on dst's owner (a wrong shape).
  void add_matrix_edge(page_id src, page_id dst, matrix_type a)
  {
    // What every rank can decide alike, from what every rank knows.
    const std::uint32_t from = parts_.checked_owner(src), to = parts_.checked_owner(dst);
    edges_.check_acyclic(src, dst);
    const bool remote = from != to;
    std::string why;
    edited_since_tick_ = true;
    if (remote && !edges_.has_ghost(src, to)) {
      // dst's owner gets a ghost of src, kept current from now on (even if its bus refuses the edge).
      edges_.add_ghost(src, to);
      nbr_dirty_ = true;
      why = make_ghost(src, from, to);
    }
    if (to == me() && why.empty()) {
      try {
        local_->add_matrix_edge(remote ? ghost_local_.at(src.value()) : parts_.local(src), parts_.local(dst), std::move(a));
      } catch (const error& e) {
        why = e.what();
      }
    }
    const auto all = detail::allgather_text(comm_, why, ranks_, timeout_);
    for (const std::uint32_t k : {to, from})
      if (!all[k].empty()) throw error(errc::invalid_argument, "mpi_bus: rank " + std::to_string(k) + " refused the edge: " + all[k]);
    edges_.add_edge(src, dst);
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

  // One distributed tick (collective; see the top of this header).
  dist_tick_report tick()
  {
    dist_tick_report r;
    const auto began = std::chrono::steady_clock::now();
    r.changes_kept = own_.size();
    r.route_bytes = router_.bytes();
    r.changes_sent = router_.changes();
    r.count_bytes += sizeof(int) * static_cast<std::size_t>(ranks_ - 1);
    in_mpi(r, [&] { detail::alltoallv(comm_, router_.streams(), me(), wire_in_, from_, scratch_, wire_packed_, timeout_); });
    router_.clear();
    // Decode and check before anything changes, and agree: every rank fails the tick, or none.
    std::string why;
    std::size_t at = 0;
    for (int k = 0; k < ranks_; ++k) {
      const std::size_t n = static_cast<std::size_t>(from_[static_cast<std::size_t>(k)]), before = inbox_.size();
      if (why.empty()) why = change_router<Layout>::decode(k, me(), parts_, span<const std::byte>(wire_in_.data() + at, n), inbox_);
      from_[static_cast<std::size_t>(k)] = static_cast<int>(inbox_.size() - before);  // now in changes
      at += n;
    }
    r.changes_received = inbox_.size();
    inbox_.insert(inbox_.end(), own_.begin(), own_.end());  // this rank's own, last
    from_[me()] = static_cast<int>(own_.size());
    own_.clear();
    if (why.empty()) why = check_inbox();
    int bad = why.empty() ? 0 : 1, any = 0;
    in_mpi(r, [&] {
      detail::run([&](MPI_Request* q) { return MPI_Iallreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_, q); }, comm_, timeout_, "MPI_Iallreduce");
    });
    if (any != 0) {
      inbox_.clear();
      throw error(errc::invalid_argument, why.empty() ? "mpi_bus tick: another rank refused the tick's changes; nothing changed" : why);
    }
    const auto by_key = [](const change_type& a, const change_type& b) {
      return std::tie(a.epoch, a.producer, a.sequence) < std::tie(b.epoch, b.producer, b.sequence);
    };
    if (!std::is_sorted(inbox_.begin(), inbox_.end(), by_key)) std::sort(inbox_.begin(), inbox_.end(), by_key);  // one producer's: in order
    for (const change_type& c : inbox_) {
      in_producer_->set_epoch(mmsb::epoch{c.epoch});
      in_producer_->put(parts_.local(page_id{c.page}), c.slot, static_cast<delta_op>(c.op), c.value);
    }
    inbox_.clear();
    push_ghost_updates(seeds_, r);  // new ghosts' first values (within the ring: checked above)
    seeds_.clear();
    if (nbr_dirty_) build_neighbours();
    propagate_across_ranks(r);
    edited_since_tick_ = false;
    ++ticks_;  // only a tick that went through counts
    r.total = std::chrono::steady_clock::now() - began;
    return r;
  }

  // The state hash of every page in global id order (collective): equal to basic_bus::hash() of
  // one bus holding the same pages under the same ids. Rank 0 gathers the pages in chunks and
  // hashes them; every rank gets the digest.
  [[nodiscard]] state_hash hash() const
  {
    constexpr std::size_t chunk = 1024;
    constexpr std::size_t page_bytes = sizeof(typename page_type::storage_type);
    std::vector<std::byte> mine, all;
    std::vector<int> counts(static_cast<std::size_t>(ranks_)), at(static_cast<std::size_t>(ranks_));
    state_hasher h;
    for (std::uint32_t c0 = 0; c0 < parts_.pages(); c0 += static_cast<std::uint32_t>(chunk)) {
      const std::uint32_t c1 = static_cast<std::uint32_t>(std::min<std::size_t>(parts_.pages(), c0 + chunk));
      std::size_t total = 0;
      for (int k = 0; k < ranks_; ++k) {
        const auto [b, e] = owned_in(static_cast<std::uint32_t>(k), c0, c1);
        counts[static_cast<std::size_t>(k)] = detail::mpi_count((e - b) * page_bytes, "hash");
        at[static_cast<std::size_t>(k)] = detail::mpi_count(total, "hash");
        total += (e - b) * page_bytes;
      }
      const auto [b, e] = owned_in(me(), c0, c1);
      mine.clear();
      for (std::size_t i = b; i < e; ++i) {
        const auto bytes = local_->value(page_id{static_cast<std::uint32_t>(i)}).payload_bytes();
        mine.insert(mine.end(), bytes.begin(), bytes.end());
      }
      all.resize(rank_ == 0 ? total : 0);
      const int n = detail::mpi_count(mine.size(), "hash");
      detail::run([&](MPI_Request* q) { return MPI_Igatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), at.data(), MPI_BYTE, 0, comm_, q); },
                  comm_, timeout_, "MPI_Igatherv");
      if (rank_ != 0) continue;
      std::vector<std::size_t> next(static_cast<std::size_t>(ranks_), 0);
      for (std::uint32_t g = c0; g < c1; ++g) {
        const std::uint32_t k = parts_.owner(page_id{g});
        const std::size_t off = static_cast<std::size_t>(at[k]) + page_bytes * next[k]++;
        h.add(page_id{g}, span<const std::byte>(all.data() + off, page_bytes));
      }
    }
    std::uint64_t digest = rank_ == 0 ? h.digest().value : 0;
    detail::run([&](MPI_Request* q) { return MPI_Ibcast(&digest, 1, MPI_UINT64_T, 0, comm_, q); }, comm_, timeout_, "MPI_Ibcast");
    return state_hash{digest};
  }

private:
  using storage_type = typename page_type::storage_type;

  using boundary_type = boundary_set<Semiring, Layout>;
  using update_type = ghost_update<value_type>;

  [[nodiscard]] std::uint32_t me() const noexcept { return static_cast<std::uint32_t>(rank_); }

  // The local ids [b, e) of rank k's pages with global ids in [c0, c1).
  [[nodiscard]] std::pair<std::size_t, std::size_t> owned_in(std::uint32_t k, std::uint32_t c0, std::uint32_t c1) const
  {
    const auto& ids = parts_.owned(k);
    const auto lo = std::lower_bound(ids.begin(), ids.end(), page_id{c0});
    const auto hi = std::lower_bound(lo, ids.end(), page_id{c1});
    return {static_cast<std::size_t>(lo - ids.begin()), static_cast<std::size_t>(hi - ids.begin())};
  }

  // Start-up: every rank gathers every rank's description and refuses, with the same message,
  // when any differs from rank 0's.
  void agree()
  {
    const std::string mine = "partition " + parts_.rule() + " of " + std::to_string(parts_.pages()) + " pages over " +
                             std::to_string(parts_.ranks()) + " ranks (fingerprint " + std::to_string(parts_.fingerprint()) +
                             "), shape " + shape_text<Semiring, Layout>();
    const auto all = detail::allgather_text(comm_, mine, ranks_, timeout_);
    for (int k = 1; k < ranks_; ++k)
      if (all[static_cast<std::size_t>(k)] != all[0])
        throw error(errc::invalid_argument, "mpi_bus: the ranks disagree at start-up: rank 0 has " + all[0] + "; rank " +
                                              std::to_string(k) + " has " + all[static_cast<std::size_t>(k)]);
    if (parts_.ranks() != static_cast<std::uint32_t>(ranks_))
      throw error(errc::invalid_argument, "mpi_bus: the partition is for " + std::to_string(parts_.ranks()) +
                                            " ranks, but the communicator has " + std::to_string(ranks_));
  }

  // Every rank throws mmsb::error(code) with the first rank's non-empty `why`, or none does.
  void agree_or_throw(const std::string& why, errc code) const
  {
    for (const auto& w : detail::allgather_text(comm_, why, ranks_, timeout_))
      if (!w.empty()) throw error(code, w);
  }

  // ---- reopening (see checkpoint()) ---------------------------------------------------------
  // Before the local bus opens: every rank reads its global checkpoint record; the newest tick
  // any rank recorded wins (a record is written only once every rank's checkpoint of its tick
  // is durable, so every rank can go back to it), and its record is shared from the lowest rank
  // holding it. Each rank then sets aside (renames into DIR/set-aside-N/) its log and its
  // checkpoints newer than its epoch in that record, so its store opens at exactly that epoch.
  // Nothing (no record anywhere and no data in any store): a new bus. Throws on every rank with
  // the same message: a store holding data with no record anywhere, a record for another
  // partition or rank count, a rank's missing checkpoint, a damaged record, an I/O failure.
  std::optional<global_checkpoint> agree_on_restore()
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
    agree_or_throw(why, errc::corrupt);
    // Every rank's (has a record, its tick, has data).
    const std::uint64_t mine3[3] = {mine ? 1u : 0u, mine ? mine->tick : 0, has_data ? 1u : 0u};
    std::vector<std::uint64_t> all(3 * static_cast<std::size_t>(ranks_));
    detail::run([&](MPI_Request* q) { return MPI_Iallgather(mine3, 3, MPI_UINT64_T, all.data(), 3, MPI_UINT64_T, comm_, q); }, comm_, timeout_,
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
    std::vector<std::byte> bytes = me() == static_cast<std::uint32_t>(from) ? encode_global_checkpoint(*mine) : std::vector<std::byte>{};
    std::uint64_t n = bytes.size();
    detail::run([&](MPI_Request* q) { return MPI_Ibcast(&n, 1, MPI_UINT64_T, from, comm_, q); }, comm_, timeout_, "MPI_Ibcast");
    bytes.resize(n);
    detail::run([&](MPI_Request* q) { return MPI_Ibcast(bytes.data(), detail::mpi_count(n, "restore"), MPI_BYTE, from, comm_, q); }, comm_,
                timeout_, "MPI_Ibcast");
    global_checkpoint c = decode_global_checkpoint(span<const std::byte>(bytes.data(), bytes.size()), "from rank " + std::to_string(from));
    if (c.fingerprint != parts_.fingerprint() || c.epochs.size() != static_cast<std::size_t>(ranks_))
      throw error(errc::invalid_argument, "mpi_bus: the global checkpoint (tick " + std::to_string(c.tick) + ", in rank " + std::to_string(from) +
                                            "'s " + dir_ + ") was taken on " + std::to_string(c.epochs.size()) +
                                            " ranks with partition fingerprint " + std::to_string(c.fingerprint) + "; this bus has " +
                                            std::to_string(ranks_) + " ranks and fingerprint " + std::to_string(parts_.fingerprint()));
    try {
      set_aside_after(*fs_, dir_, mmsb::epoch{c.epochs[me()]});
    } catch (const error& e) {
      why = "mpi_bus: restoring rank " + std::to_string(rank_) + " (" + dir_ + ") to tick " + std::to_string(c.tick) + ": " + e.what();
    }
    agree_or_throw(why, errc::corrupt);
    return c;
  }

  // After the local bus opened at the record's epoch: the edges, the ghosts (a ghost's local id
  // is this rank's page count plus its place among this rank's ghosts), the boundary pages (as
  // sent: every ghost equals its source at a tick's end) and the tick count. Checked on every
  // rank: the epoch and the page count the record implies.
  void restore_from(const global_checkpoint& c)
  {
    std::string why;
    std::size_t pages = parts_.owned(me()).size();
    for (const auto& [g, holder] : c.ghosts) pages += holder == me() ? 1 : 0;
    const auto at = local_->store().current_epoch().value();
    if (at != c.epochs[me()] || local_->store().pages().size() != pages)
      why = "mpi_bus: rank " + std::to_string(rank_) + "'s store (" + dir_ + ") opened at epoch " + std::to_string(at) + " with " +
            std::to_string(local_->store().pages().size()) + " pages; the global checkpoint of tick " + std::to_string(c.tick) +
            " needs epoch " + std::to_string(c.epochs[me()]) + " and " + std::to_string(pages) + " pages";
    agree_or_throw(why, errc::corrupt);
    std::uint32_t next = static_cast<std::uint32_t>(parts_.owned(me()).size());
    for (const auto& [g, holder] : c.ghosts) {
      edges_.add_ghost(page_id{g}, holder);
      if (holder == me()) ghost_local_.emplace(g, page_id{next++});
      if (parts_.owner(page_id{g}) == me()) {
        const page_id local = parts_.local(page_id{g});
        (void)boundary_.add_holder(g, local, holder, local_->value(local).storage());
      }
    }
    for (const auto& [src, dst] : c.edges) edges_.add_edge(page_id{src}, page_id{dst});
    ticks_ = c.tick;
    nbr_dirty_ = true;
  }

  // A producer's change, checked and queued for its page's owner.
  void queue(producer& p, page_id g, std::size_t slot, delta_op op, value_type v)
  {
    const std::uint32_t owner = parts_.checked_owner(g);
    if (slot >= Layout::extent)
      throw error(errc::out_of_range, "page " + std::to_string(g.value()) + " slot " + std::to_string(slot) + ": past the page's " +
                                        std::to_string(Layout::extent) + " slots");
    const change_type c{p.epoch_, p.sequence_++, p.id_, g.value(), static_cast<std::uint32_t>(slot), static_cast<std::uint32_t>(op), v};
    if (owner == me()) {
      own_.push_back(c);
      return;
    }
    router_.add(owner, c);
  }

  // ---- ghosts ----------------------------------------------------------------------------
  // A ghost of g (owned by `from`) on rank `to`: from sends g's value; to makes a local base page
  // and queues the slots that differ from a new page for the next tick's step 0; from adds g to
  // its boundary pages with that value as sent. Returns this rank's failure message, or "".
  std::string make_ghost(page_id g, std::uint32_t from, std::uint32_t to)
  {
    const int tag = 0x6d6d;  // the bus's own communicator: no other traffic to confuse
    if (me() == from) {
      const page_id local = parts_.local(g);
      const storage_type& sent = boundary_.add_holder(g.value(), local, to, local_->value(local).storage());
      detail::run([&](MPI_Request* q) { return MPI_Isend(&sent, sizeof(storage_type), MPI_BYTE, static_cast<int>(to), tag, comm_, q); },
                  comm_, timeout_, "MPI_Isend");
      return {};
    }
    if (me() != to) return {};
    storage_type now{};
    detail::run([&](MPI_Request* q) { return MPI_Irecv(&now, sizeof(storage_type), MPI_BYTE, static_cast<int>(from), tag, comm_, q); }, comm_,
                timeout_, "MPI_Irecv");
    try {
      const page_id ghost = local_->create_page();
      ghost_local_.emplace(g.value(), ghost);
      const storage_type& fresh = local_->value(ghost).storage();
      for (std::size_t i = 0; i < Layout::extent; ++i)
        if (!boundary_type::same_bits(Layout::load(now, i), Layout::load(fresh, i)))
          seeds_.push_back({ghost, static_cast<std::uint32_t>(i), Layout::load(now, i)});
    } catch (const error& e) {
      return e.what();
    }
    return {};
  }


  // ---- propagation across ranks -------------------------------------------------------------
  // The distributed graph topology of the ghost exchange (collective): this rank sends to the
  // ranks holding ghosts of its pages and receives from the owners of its ghosts.
  void build_neighbours()
  {
    std::vector<int> out, in;
    boundary_.for_each_holder([&](std::uint32_t h) { out.push_back(static_cast<int>(h)); });
    for (const auto& [g, ghost] : ghost_local_) in.push_back(static_cast<int>(parts_.owner(page_id{g})));
    for (auto* v : {&out, &in}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    if (nbr_ != MPI_COMM_NULL) MPI_Comm_free(&nbr_);
    detail::check_mpi(MPI_Dist_graph_create_adjacent(comm_, static_cast<int>(in.size()), in.data(), MPI_UNWEIGHTED,
                                                     static_cast<int>(out.size()), out.data(), MPI_UNWEIGHTED, MPI_INFO_NULL, 0, &nbr_),
                      "MPI_Dist_graph_create_adjacent");
    detail::check_mpi(MPI_Comm_set_errhandler(nbr_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    nbr_out_ = std::move(out);
    nbr_in_ = std::move(in);
    out_slot_.assign(static_cast<std::size_t>(ranks_), -1);
    for (std::size_t k = 0; k < nbr_out_.size(); ++k) out_slot_[static_cast<std::size_t>(nbr_out_[k])] = static_cast<int>(k);
    to_nbr_.resize(nbr_out_.size());
    nbr_dirty_ = false;
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
      in_mpi(r, [&] {
        detail::run([&](MPI_Request* q) { return MPI_Iallreduce(flags, all, 2, MPI_INT, MPI_MAX, comm_, q); }, comm_, timeout_, "MPI_Iallreduce");
      });
      if (all[1] != 0) {
        for (const auto& why : detail::allgather_text(comm_, failed, ranks_, timeout_))
          if (!why.empty()) throw error(errc::io_error, why + " (the tick failed on every rank; ranks may differ: rebuild the bus)");
      }
      if (all[0] == 0) return;
      r.count_bytes += sizeof(int) * nbr_out_.size();
      in_mpi(r, [&] {
        detail::neighbor_alltoallv(nbr_, to_nbr_, nbr_in_.size(), nbr_in_bytes_, from_nbr_, from_nbr_at_, nbr_scratch_, nbr_packed_, timeout_);
      });
      for (auto& o : to_nbr_) o.clear();
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

  // Runs f (MPI calls) and counts it as one collective and its time as exchange time.
  template <class F>
  void in_mpi(dist_tick_report& r, F&& f)
  {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    r.exchange += std::chrono::steady_clock::now() - t0;
    ++r.collectives;
  }

  // One local tick (more when the ghost updates queued exceed the ring: see push_ghost_updates).
  void tick_local(dist_tick_report& r)
  {
    const tick_report t = local_->tick();
    if (r.local_ticks++ == 0) r.local = t;
  }

  // The changed slots of every boundary page, as encoded deltas for the ranks holding ghosts.
  // Returns the bytes queued.
  std::uint64_t collect_boundary(dist_tick_report& r)
  {
    const auto [slots, bytes] = boundary_.collect([&](page_id local) -> const storage_type& { return local_->value(local).storage(); },
                                                  [&](std::uint32_t holder, span<const std::byte> delta) {
                                                    auto& to = to_nbr_[static_cast<std::size_t>(out_slot_[holder])];
                                                    to.insert(to.end(), delta.begin(), delta.end());
                                                  });
    r.boundary_slots += slots;
    r.boundary_bytes += bytes;
    return bytes;
  }

  // Decodes what the owners sent (a stream of encoded deltas from each neighbour) into updates_.
  void read_ghost_updates()
  {
    for (std::size_t k = 0; k < nbr_in_.size(); ++k)
      decode_ghost_updates<Semiring, Layout>(
        nbr_in_[k], span<const std::byte>(nbr_in_bytes_.data() + from_nbr_at_[k], static_cast<std::size_t>(from_nbr_[k])), ghost_local_,
        updates_);
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
      in_producer_->put(g.ghost, g.slot, delta_op::assign, g.value);
      ++in_ring;
    }
  }

  // What is wrong with the changes received, or "": a producer id pushing from two ranks, or
  // more changes than the local ring holds (the push would never return: the ring drains only
  // in the tick).
  [[nodiscard]] std::string check_inbox()
  {
    const std::size_t capacity = ring_capacity_;
    if (inbox_.size() + seeds_.size() > capacity)
      return "mpi_bus tick: " + std::to_string(inbox_.size()) + " changes routed to rank " + std::to_string(rank_) +
             ", more than its local ring holds (bus_options::ring_capacity " + std::to_string(capacity) + "); nothing changed";
    // The inbox holds the other ranks' changes in rank order, then this rank's own. One entry per
    // run of one producer's changes (a rank's producers push in runs): linear, then a sort of
    // the runs.
    seen_.clear();
    std::size_t at = 0;
    const auto segment = [&](int k) {
      const std::size_t n = static_cast<std::size_t>(from_[static_cast<std::size_t>(k)]);
      for (std::size_t i = 0; i < n; ++i)
        if (i == 0 || inbox_[at + i].producer != inbox_[at + i - 1].producer) seen_.emplace_back(inbox_[at + i].producer, k);
      at += n;
    };
    for (int k = 0; k < ranks_; ++k)
      if (k != rank_) segment(k);
    segment(rank_);
    std::sort(seen_.begin(), seen_.end());
    seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
    for (std::size_t i = 1; i < seen_.size(); ++i)
      if (seen_[i].first == seen_[i - 1].first)
        return "mpi_bus tick: producer " + std::to_string(seen_[i].first) + " pushed on rank " + std::to_string(seen_[i - 1].second) +
               " and on rank " + std::to_string(seen_[i].second) + "; producer ids must be unique across ranks; nothing changed";
    return {};
  }

  partition parts_;
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
  // Routing (step 1): by owner rank, the changes pushed here since the last tick; what arrived.
  std::vector<change_type> own_;                  // changes to this rank's own pages
  change_router<Layout> router_;                  // the changes for other ranks' pages, by owner rank
  std::vector<std::byte> wire_in_, wire_packed_;  // what arrived; the outgoing streams in one buffer
  std::vector<change_type> inbox_;                // this tick's changes for pages owned here, decoded
  std::vector<int> from_, scratch_;  // from_: bytes, then changes, from each rank
  std::vector<std::pair<std::uint32_t, int>> seen_;  // check_inbox's (producer, rank)
  // Edges, known alike on every rank; this rank's boundary pages, its ghosts (global id -> local
  // id), and new ghosts' first values for the next tick.
  global_edges edges_;
  boundary_type boundary_;
  std::unordered_map<std::uint32_t, page_id> ghost_local_;
  std::vector<update_type> seeds_;
  // The exchange between steps: the neighbour communicator, its ranks (ascending), this rank's
  // outgoing buffer per out-neighbour, and the buffers of one exchange (kept: no allocation
  // once warm).
  MPI_Comm nbr_ = MPI_COMM_NULL;
  bool nbr_dirty_ = true;
  std::vector<int> nbr_out_, nbr_in_, out_slot_;
  std::vector<std::vector<std::byte>> to_nbr_;
  std::vector<std::byte> nbr_packed_, nbr_in_bytes_;
  std::vector<int> nbr_scratch_, from_nbr_, from_nbr_at_;
  std::vector<update_type> updates_;
};

} // namespace mmsb::dist
