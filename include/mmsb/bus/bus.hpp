// basic_bus<Semiring, Layout, Allocator, Scheduler>: the assembled bus, and the one write path.
// Pages and their log (durable_store), the page graph on top of them (page_graph), producers
// feeding it from any thread (producer.hpp), transactions (transaction.hpp) and the tick that
// turns changes into new state (tick.hpp):
//
//   producers ─ring─┐
//   producers ─ring─┼─> ingest ─> merge ─> apply+log ─> propagate ─> maintain
//   producers ─ring─┘   (drain)   (order,   (one commit,   (graph,      (checkpoint,
//                                  one delta  parallel      budgeted)    spill over
//                                  per page)  apply)                     the memory budget)
//
// Determinism: a tick's result depends only on the changes it drained, never on thread count
// or scheduler. Changes are ordered by (page, epoch, producer, sequence, slot); the pages are
// split into contiguous ranges and each range is merged and applied by one work item, and pages
// never share state, so any split and any interleaving of the items give the same bits.
//
// One way in: every change enters here (producer deltas drained by tick(), transactions through
// commit(), topology edits through add_matrix_edge and its siblings), is logged, applied, and
// propagated, so derived pages always equal a full recompute. Topology is state: each edit is
// logged with the next commit (as a new page is) and checkpoints hold the whole topology
// (topology_log.hpp), so reopening a store, hash_at(e) and audits see the graph of their epoch. The store and the graph are
// reachable only as const references: nothing a user can reach writes pages behind the graph.
//
// Threads: producers may push from any thread, concurrently with a tick. Everything else
// (create_page, topology edits, commit, tick, reads) belongs to the thread that owns the bus.
#pragma once

#include <mmsb/bus/options.hpp>
#include <mmsb/bus/producer.hpp>
#include <mmsb/bus/requirements.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/bus/tick.hpp>
#include <mmsb/bus/tick_deltas.hpp>
#include <mmsb/bus/tick_observer.hpp>
#include <mmsb/bus/topology_edits.hpp>
#include <mmsb/bus/topology_replay.hpp>
#include <mmsb/bus/transaction.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/config/out_of_memory.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/delta/batch.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/exec/ingest.hpp>
#include <mmsb/exec/scheduler.hpp>
#include <mmsb/graph/page_graph.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/semiring/concept.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

// The assembled bus over pages of Layout under Semiring (see the top of this header): the one write
// path (producers, transactions, topology edits), logged, applied and propagated. Owned by one
// thread; only its producers may be used from others.
template <class Semiring, class Layout = dense<semiring_value_t<Semiring>, 256>, class Allocator = host_heap,
          class Scheduler = serial>
class basic_bus {
  static_assert(detail::bus_requirements<Semiring, Layout, Allocator, Scheduler>::met);  // bus/requirements.hpp

public:
  using semiring_type = Semiring;  // the semiring whose ⊕ merges and applies changes
  using layout_type = Layout;  // the page layout
  using scheduler_type = Scheduler;  // the scheduler policy the tick's parallel phases run on
  using value_type = typename Layout::value_type;  // the element type of one slot
  using page_type = page<Layout>;  // one page
  using delta_type = delta<Semiring, Layout>;  // one change to one page
  using store_type = durable_store<Semiring, Layout, Allocator>;  // the durable store holding the base pages and their log
  using graph_type = page_graph<Semiring, Layout, Allocator>;  // the page graph over the store's pages
  using producer_type = producer<Semiring, Layout>;  // what make_producer() returns
  using transaction_type = transaction<Semiring, Layout>;  // what begin() returns
  using matrix_type = typename graph_type::matrix_type;  // the edge matrix type of add_matrix_edge (a CSR matrix of value_type)
  using kernel_fn = typename graph_type::kernel_fn;  // the function type of a kernel edge
  // Kernel edges are logged by name; the functions come from here when a store is reopened.
  using kernel_table = std::map<std::string, kernel_fn, std::less<>>;

  // Opens (or creates, or recovers) the store in opts.dir: its pages, then its topology, then
  // propagation, so derived pages are as they were. `kernels` names the functions of every
  // kernel edge the store's retained topology names (checkpoint and log, removed edges
  // included). Throws mmsb::error naming the path for a store of another shape or a corrupt
  // one, and naming the kernel for a kernel edge whose function is not given. A propagation that
  // fails while opening (a region that does not converge) does not stop it: the work stays
  // queued and the next tick reports it, as after any tick.
  explicit basic_bus(bus_options opts = {}, Scheduler sched = Scheduler{}) : basic_bus(std::move(opts), kernel_table{}, std::move(sched)) {}
  basic_bus(bus_options opts, kernel_table kernels, Scheduler sched = Scheduler{})
  try
    : opts_(detail::with_checked_memory(std::move(opts), store_type::page_table_type::block_bytes, sizeof(page_type))), owned_fs_(opts_.fs ? nullptr : std::make_unique<memory_file_system>()),
      store_(opts_.fs ? *opts_.fs : *owned_fs_, opts_.dir, shape_descriptor<Semiring, Layout>(), detail::store_options_for(opts_)), graph_(store_.pages()),
      sched_(std::move(sched)), kernels_(std::move(kernels))
  {
    detail::replay_topology<Layout>(graph_, kernels_, store_.recovered_structure(), "store " + opts_.dir);
    store_.release_recovered_structure();
    store_.set_memory_budget(opts_.memory, detail::memory_floor(opts_));
    try {
      (void)graph_.propagate();
    } catch (const error&) {  // queued; tick() reports it
    }
  } catch (const std::bad_alloc&) {
    throw error(errc::out_of_memory, "out of memory opening a bus");
  }
  basic_bus(const basic_bus&) = delete;
  basic_bus& operator=(const basic_bus&) = delete;

  // ---- pages and topology (owner thread) --------------------------------------------------
  // A new page, every slot at the semiring's zero() (or at `initial`), durable with the next
  // commit. Throws mmsb::error (out_of_memory, out_of_range) with nothing created.
  page_id create_page() { return out_of_memory_as_error("bus create_page", [&] { return store_.create_page(); }); }
  // The same, every slot at `initial` (logged with the page's first commit if not zero()).
  page_id create_page(value_type initial)
  {
    return out_of_memory_as_error("bus create_page", [&] { return store_.create_page(initial); });
  }

  // Topology edits, as page_graph's (graph/page_graph.hpp has the contracts): each throws
  // mmsb::error with nothing changed for a missing page, a wrong shape or a cycle (named). The
  // next tick (or commit) propagates what they change and logs them, with its epoch.
  edge_id add_matrix_edge(page_id src, page_id dst, matrix_type a, span<const word_t> row_mask = {})
  {
    auto held = out_of_memory_as_error("bus add_matrix_edge", [&] { return std::make_shared<const matrix_type>(std::move(a)); });
    return add_matrix_edge(src, dst, std::move(held), row_mask);
  }
  // The same, sharing one immutable matrix between many edges; a null matrix is refused (named).
  edge_id add_matrix_edge(page_id src, page_id dst, std::shared_ptr<const matrix_type> a, span<const word_t> row_mask = {})
  {
    return out_of_memory_as_error("bus add_matrix_edge", [&] {
      if (!a) return graph_.add_matrix_edge(src, dst, a, row_mask);  // refused, naming the edge
      return topology_.logged([&] { topology_.matrix_edge(src.value(), dst.value(), *a, row_mask, a); },
                              [&] { return graph_.add_matrix_edge(src, dst, a, row_mask); });
    });
  }
  // A kernel edge is logged by its name, which must name one function for the life of the store:
  // a name already in the bus's kernel table is refused (invalid_argument) unless f is omitted,
  // in which case the table's function is used (the form to re-add a kernel after reopening).
  edge_id add_kernel_edge(span<const page_id> srcs, page_id dst, kernel_fn f, std::string name)
  {
    return out_of_memory_as_error("bus add_kernel_edge", [&] {
      return detail::add_logged_kernel_edge(graph_, kernels_, topology_, srcs, dst, std::move(f), std::move(name));
    });
  }
  // Re-adds a kernel edge whose function the bus's kernel table already holds under `name` (after
  // reopening a store); throws mmsb::error (invalid_argument) when no kernel has that name.
  edge_id add_kernel_edge(span<const page_id> srcs, page_id dst, const std::string& name)
  {
    return out_of_memory_as_error("bus add_kernel_edge", [&] {
      const kernel_fn& f = detail::kernel_named(kernels_, name, dst.value());
      return topology_.logged([&] { topology_.kernel_edge(srcs, dst.value(), name); },
                              [&] { return graph_.add_kernel_edge(srcs, dst, f, name); });
    });
  }

  // Removes a live edge (mmsb::error naming it otherwise, nothing changed); its destination is
  // recomputed without it at the next tick or commit.
  void remove_edge(edge_id e)
  {
    out_of_memory_as_error("bus remove_edge",
                           [&] { topology_.logged([&] { topology_.remove_edge(e.value()); }, [&] { graph_.remove_edge(e); }); });
  }
  // Logs only the rows that differ from the edge's current matrix (a compiler's kill set
  // changing one bit logs one row, not the whole matrix).
  void set_weights(edge_id e, matrix_type a)
  {
    out_of_memory_as_error("bus set_weights", [&] { detail::set_logged_weights(graph_, topology_, changed_rows_, e, std::move(a)); });
  }
  // Declares a fixed-point region: members may depend on each other in cycles and get the least
  // solution, found in at most max_iterations rounds (idempotent ⊕ required; graph/page_graph.hpp).
  region_id add_fixed_point_region(span<const page_id> members, std::uint32_t max_iterations = 1000)
  {
    return out_of_memory_as_error("bus add_fixed_point_region", [&] {
      return topology_.logged([&] { topology_.region(members, max_iterations); },
                              [&] { return graph_.add_fixed_point_region(members, max_iterations); });
    });
  }

  // The graph and the store, to read (values, topology, history: snapshot_at, for_each_commit).
  // Only const: a write through either would bypass the log or the graph.
  [[nodiscard]] const graph_type& graph() const noexcept { return graph_; }
  // See graph(): the store, read-only (pages, epochs, history, checkpoints).
  [[nodiscard]] const store_type& store() const noexcept { return store_; }
  // Bytes of pages in memory, as the memory budget counts them: the store's base pages and their
  // metadata, plus the graph's derived pages (counted, never spilled).
  [[nodiscard]] std::uint64_t memory_in_use() const noexcept { return store_.memory_in_use() + graph_.derived_bytes(); }
  // The scheduler the tick's parallel phases run on.
  [[nodiscard]] Scheduler& scheduler() noexcept { return sched_; }

  // ---- transactions (owner thread) ----------------------------------------------------------
  // begin() a transaction, fill it from any code, then commit() it: its changes are logged and
  // applied as one epoch and propagated to completion before commit returns, so a reader sees
  // all of it or none of it. Producer changes still queued are not part of it (the next tick
  // takes them). Returns the epoch and empties tx. Throws mmsb::error with pages, files and tx as
  // they were (the same tx can be retried): unknown_page naming the page, or the log's I/O
  // error; a propagation failure (a region that does not converge, a kernel that throws)
  // leaves the commit standing and the work queued, as in tick().
  [[nodiscard]] transaction_type begin() const { return {}; }
  // Commits tx as described above and returns its epoch (out of memory: mmsb::error out_of_memory).
  mmsb::epoch commit(transaction_type& tx)
  {
    return out_of_memory_as_error("bus commit", [&] { return commit_transaction(tx); });
  }
  // Drops tx's changes without logging anything; tx is empty and reusable after.
  void abort(transaction_type& tx) noexcept { tx.clear(); }

  // Writes a checkpoint now, pages and topology (the tick does it every opts.checkpoint_every
  // ticks). Topology edits not yet logged are committed (and propagated) first, at their own
  // epoch, as commit() would.
  void checkpoint()
  {
    out_of_memory_as_error("bus checkpoint", [&] {
      transaction_type none;
      (void)commit_transaction(none);  // logs and propagates pending topology edits (a no-op without them)
      store_.checkpoint(detail::write_topology(graph_).bytes());
    });
  }
  // The tick's way: the same, written by the store's thread while ticks go on; false, starting
  // nothing, while one is in flight. wait_checkpoint() waits, rethrowing its failure.
  bool begin_checkpoint()
  {
    return out_of_memory_as_error("bus begin_checkpoint", [&] { return begin_checkpoint_now(); });
  }

  // Waits for the in-flight background checkpoint (if any); rethrows its failure, once, as
  // mmsb::error naming the checkpoint's path.
  void wait_checkpoint()
  {
    out_of_memory_as_error("bus wait_checkpoint", [&] { store_.wait_checkpoint(); });
  }

  // The state hash (every page's value, derived pages included, as hash()) at a past epoch the
  // retained files cover: pages and topology rebuilt from the newest checkpoint at or before it
  // and the log after it, then every value recomputed. The audit across topology changes. At the
  // current epoch it equals hash() once the last tick or commit has propagated, and leaves out
  // what is not committed yet (pages created and edits made since). Throws mmsb::error
  // (out_of_range) outside the retained range; this bus is untouched.
  [[nodiscard]] state_hash hash_at(mmsb::epoch e) const
  {
    return out_of_memory_as_error(
      "bus hash_at", [&] { return detail::hash_with_topology<graph_type>(store_, kernels_, e, "store " + opts_.dir); });
  }

  // A producer with the next id and a ring of `ring_capacity` changes (0: the bus's
  // ring_capacity). Thread-safe. A full ring blocks its producer until the next tick drains it,
  // so a producer on the owner thread must never push more than its capacity between ticks: give
  // a bulk loader (set-up, replay) a ring that holds its whole batch. Throws mmsb::error for a
  // capacity that is not a power of two, or out of memory.
  [[nodiscard]] producer_type make_producer(std::size_t ring_capacity = 0)
  {
    return out_of_memory_as_error("bus make_producer",
                                  [&] { return producer_type(ingest_.open(ring_capacity ? ring_capacity : opts_.ring_capacity)); });
  }

  // ---- the tick (owner thread) --------------------------------------------------------------
  // Runs the five phases once. Throws mmsb::error if the commit's I/O fails or memory runs out
  // (the drained changes stay queued in the bus for the next tick; nothing was applied) or if
  // propagation fails (the commit stands; the propagation work stays queued).
  tick_report tick(tick_budget budget = {})
  {
    return out_of_memory_as_error("bus tick", [&] { return run_tick(budget); });
  }

  // Latency statistics of recent ticks, per phase.
  [[nodiscard]] const tick_stats& stats() const noexcept { return stats_; }

  // ---- queries (owner thread) ---------------------------------------------------------------
  // The pages (or slots) p's value depends on, each with the epoch of its last committed write.
  provenance_result provenance(page_id p, std::uint32_t depth = provenance_finder::default_depth)
  {
    return graph_.provenance(p, depth);
  }
  // The slots slot `slot` of page p depends on (whole pages through kernel edges), each with its
  // last committed epoch.
  provenance_result slot_provenance(page_id p, std::size_t slot, std::uint32_t depth = provenance_finder::default_depth)
  {
    return graph_.slot_provenance(p, slot, depth);
  }
  // The graph's invariants, derived values checked against a full recompute included.
  [[nodiscard]] graph_report verify() { return graph_.verify(); }
  // Recomputes every derived value from the bases (a reference for benchmarks; changes no base).
  void recompute_all() { graph_.recompute_all(); }

  // ---- reads (owner thread) -----------------------------------------------------------------
  // A page's value: its base, or for a derived page the value propagation computed for it.
  // Counted as a read in the page heat (bus_options::heat) when that is on.
  [[nodiscard]] const page_type& value(page_id p) const
  {
    opts_.heat.read(p.value());
    return graph_.value(p);
  }
  // The epoch of the last commit (tick or transaction); 0 for a new store.
  [[nodiscard]] mmsb::epoch current_epoch() const { return store_.current_epoch(); }
  // The hash of every page's value (derived pages included), in ascending page order.
  [[nodiscard]] state_hash hash() const
  {
    state_hasher h;
    store_.pages().for_each([&](const page_type& p) { h.add(p.id(), graph_.value(p.id()).payload_bytes()); });
    return h.digest();
  }

private:
  using clock = std::chrono::steady_clock;

  mmsb::epoch commit_transaction(transaction_type& tx)
  {
    const trace_scope traced(opts_.trace, trace_zone::commit, store_.current_epoch().value() + 1);
    merged_.take(tx);
    for (const auto& d : merged_.merged())  // refused before the graph notes anything (a refused commit leaves no trace)
      if (!store_.pages().contains(d.target()))
        throw error(errc::unknown_page, "commit: unknown page " + std::to_string(d.target().value()));
    parallel_ = false;
    if (merged_.size() == 0 && topology_.empty()) return store_.current_epoch();
    const mmsb::epoch e = log_and_apply();
    tx.clear();
    (void)graph_.propagate();
    return e;
  }
  bool begin_checkpoint_now()
  {
    if (store_.checkpoint_in_flight()) return false;
    const auto start = clock::now();
    transaction_type none;
    (void)commit_transaction(none);
    const bool started = store_.begin_checkpoint(detail::write_topology(graph_).bytes());
    if (started) opts_.metrics.observe(metric_histogram::checkpoint_stall, clock::now() - start);
    return started;
  }
  tick_report run_tick(tick_budget budget);

  // Drains every ring, in producer order, into the batch. A change to a page that does not
  // exist goes back to its producer; a closed producer's channel goes once it is empty.
  void ingest(tick_report& r);

  // Orders the batch and merges one delta per page (tick_deltas.hpp), ranges of pages in parallel.
  void merge(tick_report& r);

  // Tells the graph what is about to change, logs the deltas (and topology edits) as one commit
  // and applies them.
  void apply_and_log(tick_report& r);

  // The write path's core, shared by tick() and commit(): notes merged_'s deltas in the
  // graph, logs them as one commit and applies them on the scheduler. Throws with nothing applied.
  mmsb::epoch log_and_apply();

  static constexpr std::size_t work_items_per_thread = 4;  // a little slack for uneven ranges

  bus_options opts_;
  std::unique_ptr<memory_file_system> owned_fs_;
  store_type store_;
  graph_type graph_;
  Scheduler sched_;
  detail::ingest_hub<value_type> ingest_{opts_.metrics, opts_.trace};  // every producer's channel
  std::size_t producers_seen_ = 0;                   // channels the last drain visited (the producers gauge)
  delta_batch<Semiring, Layout> batch_;
  detail::tick_deltas<Semiring, Layout> merged_;     // the deltas the next commit applies, cut into page ranges
  bool parallel_ = false;                            // this tick's choice: every phase on the scheduler, or none
  std::uint64_t ticks_since_checkpoint_ = 0;
  std::uint64_t damaged_seen_ = 0, rebuilt_seen_ = 0;  // the store's spill damage counts at the last tick
  detail::tick_observer observer_{opts_};            // the tick's trace zones, page heat and metrics
  std::uint64_t lost_on_open_ = store_.lost_commits();  // reported by the first tick
  tick_stats stats_;
  kernel_table kernels_;                             // every kernel edge's function, by name
  std::vector<std::uint32_t> changed_rows_;          // set_weights' scratch
  detail::topology_writer<value_type> topology_;     // edits since the last commit, not yet logged
};

// The short name: a bus over Semiring with 256-slot dense pages, the heap and the serial scheduler.
template <class Semiring, class Layout = dense<semiring_value_t<Semiring>, 256>>
using bus = basic_bus<Semiring, Layout>;

} // namespace mmsb

#include <mmsb/bus/detail/tick_phases.hpp>  // run_tick, ingest, merge, apply_and_log, log_and_apply
