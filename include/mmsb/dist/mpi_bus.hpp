// mpi_bus: a bus whose pages are partitioned across the ranks of an MPI communicator
// (docs/dist.md). Opt-in: needs MPI (meson: dependency('mpi', language: 'cpp'); the build
// defines OMPI_SKIP_MPICXX). Each rank holds a basic_bus of the pages it owns (dist/partition.hpp)
// and its own log in its own directory; producers live on any rank.
//
// A tick is collective (every rank calls it):
//   1. route    every change pushed on this rank since the last tick goes to its page's owner
//               and to the ranks holding a ghost of the page (below), in one MPI_Alltoallv
//               (only the changes: page, slot, value and order key);
//   2. order    the owner sorts what it received by (epoch, producer, sequence), the key the
//               single-process bus folds changes in, with producer ids global (the caller's
//               make_producer(id)), so the result does not depend on which rank pushed;
//   3. tick     the owner pushes them, in that order, through one producer of its local bus and
//               ticks it (ingest, merge, apply+log, propagate, maintain).
// So the state after every tick is, page for page and bit for bit, the state of one basic_bus
// fed the same changes, at any number of ranks and under any partition; hash() (collective)
// gives that bus's state hash.
//
// Edges (add_matrix_edge, collective) live on the rank that owns their destination. A source
// owned by another rank is held there as a ghost: a local base page that receives a copy of
// every change routed to the source, in the same tick and the same order, so it equals the
// source bit for bit and the local bus propagates as one bus would. Only changes travel, never
// pages.
//
// Not yet (issue 23 goes on): an edge from a derived page owned by another rank (its value is
// computed, not changed: it needs an exchange per propagation step), and a global commit record
// with recovery of all ranks to the last complete epoch.
//
// Errors: a page id outside the bus names the range and the ranks; a page owned elsewhere names
// its owner; ranks that disagree at start-up (partition, page count, shape, communicator size)
// are refused on every rank with the same message; a producer id whose changes reach one rank
// from two ranks in one tick, or more changes routed to one rank than its local ring holds, fail
// the tick on every rank before any page changes (that tick's changes are dropped). A rank that dies ends the job (Open MPI's runtime stops every rank)
// rather than leaving the others waiting in a collective.
#pragma once

#include <mmsb/bus/bus.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/dist/exchange.hpp>
#include <mmsb/dist/partition.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb::dist {

// One change on its way to its page's owner: sent as bytes.
template <class T>
struct routed_change {
  std::uint64_t epoch;     // the producer's epoch when it pushed
  std::uint64_t sequence;  // the producer's sequence number
  std::uint32_t producer;  // the global producer id
  std::uint32_t page;      // the global page id
  std::uint32_t slot;      // the slot in the page
  std::uint32_t op;        // delta_op
  T value;                 // the change's value
};

// What one distributed tick did on this rank.
struct dist_tick_report {
  tick_report local;               // the local bus's tick
  std::uint64_t changes_sent = 0;  // changes this rank routed to other ranks
  std::uint64_t changes_kept = 0;  // changes pushed here to pages owned here
  std::uint64_t changes_received = 0;  // changes other ranks routed here
};

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
  // configures this rank's local bus; give each rank its own opts.dir (a new store directory
  // per rank). Throws mmsb::error (invalid_argument), on every rank with the same message, when
  // the ranks disagree on the partition, its size or the shape, the partition is for another
  // number of ranks, or a rank's store already holds pages (reopening is not built yet); and
  // whatever basic_bus's constructor throws.
  mpi_bus(MPI_Comm comm, partition parts, bus_options opts = {}) : parts_(std::move(parts))
  {
    detail::check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    try {
      detail::check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
      detail::check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
      detail::check_mpi(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
      agree();
      ring_capacity_ = opts.ring_capacity;
      const std::string dir = opts.dir;
      local_ = std::make_unique<bus_type>(std::move(opts));
      // A store that already holds pages would be reopened: not built yet. Every rank refuses.
      const std::string stale = local_->store().pages().size() == 0 ? std::string()
                                : "mpi_bus: rank " + std::to_string(rank_) + "'s store in " + dir +
                                    " already holds pages; reopening a distributed bus (recovery across ranks) is not "
                                    "built yet: give every rank a new directory";
      for (const auto& why : detail::allgather_text(comm_, stale, ranks_))
        if (!why.empty()) throw error(errc::invalid_argument, why);
      for (std::size_t i = 0; i < parts_.owned(me()).size(); ++i) (void)local_->create_page();
      in_producer_ = std::make_unique<typename bus_type::producer_type>(local_->make_producer());
      outbox_.resize(static_cast<std::size_t>(ranks_));
      ghost_ranks_.resize(parts_.pages());
      derived_.resize(parts_.pages());
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
    MPI_Comm_free(&comm_);
  }

  // This rank.
  [[nodiscard]] int rank() const noexcept { return rank_; }
  // The number of ranks.
  [[nodiscard]] int ranks() const noexcept { return ranks_; }
  // Who owns which page.
  [[nodiscard]] const partition& parts() const noexcept { return parts_; }
  // This rank's local bus (its pages under local ids: parts().local(g); read it, do not write).
  [[nodiscard]] const bus_type& local() const noexcept { return *local_; }

  // A producer with global id `id` (local: no communication). The id must be unique across the
  // ranks; the same id pushing on two ranks fails the tick.
  [[nodiscard]] producer make_producer(std::uint32_t id) { return producer(this, id); }

  // An edge src → dst with matrix a (collective: every rank calls it with the same arguments; a
  // is used on dst's owner). When src is owned elsewhere, dst's owner keeps a ghost of it (see
  // the top of this header). Throws mmsb::error on every rank with the same message and no edge
  // added: unknown_page for a page outside the bus; invalid_argument for an edge from a derived
  // page owned by another rank, one making a page with ghosts derived, or one needing a new ghost
  // after the first tick (not built yet); what basic_bus::add_matrix_edge throws on dst's owner
  // (a cycle, a wrong shape).
  void add_matrix_edge(page_id src, page_id dst, matrix_type a)
  {
    // What every rank can decide alike, from what every rank knows.
    const std::uint32_t from = parts_.checked_owner(src), to = parts_.checked_owner(dst);
    const bool remote = from != to;
    auto& holders = ghost_ranks_[src.value()];
    const bool new_ghost = remote && std::find(holders.begin(), holders.end(), to) == holders.end();
    if (remote && derived_[src.value()])
      throw error(errc::invalid_argument, "mpi_bus: an edge from page " + std::to_string(src.value()) + " (derived, on rank " +
                                            std::to_string(from) + ") to page " + std::to_string(dst.value()) + " (on rank " +
                                            std::to_string(to) + "): edges from a derived page on another rank are not built yet");
    if (!ghost_ranks_[dst.value()].empty())
      throw error(errc::invalid_argument, "mpi_bus: an edge to page " + std::to_string(dst.value()) + " would make it derived, but rank " +
                                            std::to_string(ghost_ranks_[dst.value()].front()) +
                                            " holds a ghost of it for an edge across ranks: not built yet");
    if (new_ghost && ticks_ != 0)
      throw error(errc::invalid_argument, "mpi_bus: an edge from page " + std::to_string(src.value()) + " (rank " + std::to_string(from) +
                                            ") to page " + std::to_string(dst.value()) + " (rank " + std::to_string(to) +
                                            ") needs a new ghost, and ghosts are made before the first tick: not built yet");
    // dst's owner adds it (and the ghost: kept current from now on, even if its bus refuses the edge).
    if (new_ghost) holders.push_back(to);
    std::string why;
    if (to == me()) {
      try {
        local_->add_matrix_edge(remote ? ghost_of(src) : parts_.local(src), parts_.local(dst), std::move(a));
      } catch (const error& e) {
        why = e.what();
      }
    }
    const auto all = detail::allgather_text(comm_, why, ranks_);
    if (!all[to].empty()) throw error(errc::invalid_argument, "mpi_bus: rank " + std::to_string(to) + " refused the edge: " + all[to]);
    derived_[dst.value()] = true;
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
    ++ticks_;
    for (std::size_t k = 0; k < outbox_.size(); ++k)
      (k == me() ? r.changes_kept : r.changes_sent) += outbox_[k].size();
    detail::alltoallv(comm_, outbox_, inbox_, from_, scratch_, packed_);
    r.changes_received = inbox_.size() - r.changes_kept;
    for (auto& o : outbox_) o.clear();
    // Check before anything changes, and agree: every rank fails the tick, or none.
    std::string why = check_inbox();
    int bad = why.empty() ? 0 : 1, any = 0;
    detail::check_mpi(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
    if (any != 0) {
      inbox_.clear();
      throw error(errc::invalid_argument, why.empty() ? "mpi_bus tick: another rank refused the tick's changes; nothing changed" : why);
    }
    std::sort(inbox_.begin(), inbox_.end(), [](const change_type& a, const change_type& b) {
      return std::tie(a.epoch, a.producer, a.sequence) < std::tie(b.epoch, b.producer, b.sequence);
    });
    for (const change_type& c : inbox_) {
      in_producer_->set_epoch(mmsb::epoch{c.epoch});
      const page_id g{c.page};
      in_producer_->put(parts_.owner(g) == me() ? parts_.local(g) : ghost_local_.find(c.page)->second, c.slot,
                        static_cast<delta_op>(c.op), c.value);
    }
    inbox_.clear();
    r.local = local_->tick();
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
      detail::check_mpi(MPI_Gatherv(mine.data(), detail::mpi_count(mine.size(), "hash"), MPI_BYTE, all.data(), counts.data(), at.data(),
                                    MPI_BYTE, 0, comm_),
                        "MPI_Gatherv");
      if (rank_ != 0) continue;
      std::vector<std::size_t> next(static_cast<std::size_t>(ranks_), 0);
      for (std::uint32_t g = c0; g < c1; ++g) {
        const std::uint32_t k = parts_.owner(page_id{g});
        const std::size_t off = static_cast<std::size_t>(at[k]) + page_bytes * next[k]++;
        h.add(page_id{g}, span<const std::byte>(all.data() + off, page_bytes));
      }
    }
    std::uint64_t digest = rank_ == 0 ? h.digest().value : 0;
    detail::check_mpi(MPI_Bcast(&digest, 1, MPI_UINT64_T, 0, comm_), "MPI_Bcast");
    return state_hash{digest};
  }

private:
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
    const auto all = detail::allgather_text(comm_, mine, ranks_);
    for (int k = 1; k < ranks_; ++k)
      if (all[static_cast<std::size_t>(k)] != all[0])
        throw error(errc::invalid_argument, "mpi_bus: the ranks disagree at start-up: rank 0 has " + all[0] + "; rank " +
                                              std::to_string(k) + " has " + all[static_cast<std::size_t>(k)]);
    if (parts_.ranks() != static_cast<std::uint32_t>(ranks_))
      throw error(errc::invalid_argument, "mpi_bus: the partition is for " + std::to_string(parts_.ranks()) +
                                            " ranks, but the communicator has " + std::to_string(ranks_));
  }

  // A producer's change, checked and queued for its page's owner.
  void queue(producer& p, page_id g, std::size_t slot, delta_op op, value_type v)
  {
    const std::uint32_t owner = parts_.checked_owner(g);
    if (slot >= Layout::extent)
      throw error(errc::out_of_range, "page " + std::to_string(g.value()) + " slot " + std::to_string(slot) + ": past the page's " +
                                        std::to_string(Layout::extent) + " slots");
    const change_type c{p.epoch_, p.sequence_++, p.id_, g.value(), static_cast<std::uint32_t>(slot), static_cast<std::uint32_t>(op), v};
    outbox_[owner].push_back(c);
    for (const std::uint32_t r : ghost_ranks_[g.value()]) outbox_[r].push_back(c);  // its ghosts
  }

  // The local id of this rank's ghost of page g, made on first use (before the first tick: a
  // zero page, as g was). Throws as basic_bus::create_page.
  page_id ghost_of(page_id g)
  {
    if (const auto it = ghost_local_.find(g.value()); it != ghost_local_.end()) return it->second;
    const page_id local = local_->create_page();
    ghost_local_.emplace(g.value(), local);
    return local;
  }

  // What is wrong with the changes received, or "": a producer id pushing from two ranks, or
  // more changes than the local ring holds (the push would never return: the ring drains only
  // in the tick).
  [[nodiscard]] std::string check_inbox()
  {
    const std::size_t capacity = ring_capacity_;
    if (inbox_.size() > capacity)
      return "mpi_bus tick: " + std::to_string(inbox_.size()) + " changes routed to rank " + std::to_string(rank_) +
             ", more than its local ring holds (bus_options::ring_capacity " + std::to_string(capacity) + "); nothing changed";
    seen_.clear();
    std::size_t at = 0;
    for (int k = 0; k < ranks_; ++k) {
      for (int i = 0; i < from_[static_cast<std::size_t>(k)]; ++i) seen_.emplace_back(inbox_[at + static_cast<std::size_t>(i)].producer, k);
      at += static_cast<std::size_t>(from_[static_cast<std::size_t>(k)]);
    }
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
  std::size_t ring_capacity_ = 0;  // the local producer's ring
  std::unique_ptr<bus_type> local_;
  std::unique_ptr<typename bus_type::producer_type> in_producer_;  // the local producer the owner pushes through
  std::vector<std::vector<change_type>> outbox_;  // by owner rank: changes pushed here since the last tick
  std::vector<change_type> inbox_;                // this tick's changes for pages owned here
  std::vector<change_type> packed_;               // the outboxes in one buffer, as sent
  std::vector<int> from_, scratch_;
  std::vector<std::pair<std::uint32_t, int>> seen_;  // check_inbox's (producer, rank)
  // Edges, known on every rank: the ranks holding a ghost of each page (by global id) and
  // whether each page is derived.
  std::vector<std::vector<std::uint32_t>> ghost_ranks_;
  std::vector<bool> derived_;
  std::uint64_t ticks_ = 0;  // ticks so far (the same on every rank)
  std::unordered_map<std::uint32_t, page_id> ghost_local_;  // this rank's ghosts: global id -> local id
};

} // namespace mmsb::dist
