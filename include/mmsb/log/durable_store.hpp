// durable_store<Semiring, Layout>: pages whose every change is a logged transaction. It ties
// together the page table, the log and checkpoints:
//
//   commit(ds)    encodes the deltas (one per page) into one commit record, appends it to the log
//                 (durable per the log's policy), then applies the deltas to the pages at the
//                 next epoch. Write-ahead: if the append fails, nothing in memory changes.
//   checkpoint()  writes every page at the current epoch (checkpoint.hpp), and only once that is
//                 durable removes the log segments no retained checkpoint needs. Blocking:
//                 returns once it is durable.
//   Retention is by checkpoints: the newest two stay, and so does the log from the older one on,
//   so a damaged newest checkpoint falls back to the older one plus the log and reopens at the
//   same epoch with the same state (at the cost of one checkpoint interval more of log).
//   begin_checkpoint(), wait_checkpoint()
//                 the same in the background, copy-on-write by page (background_checkpoint.hpp);
//                 the member comments below have the contract.
//   open()        recovery (recovery.hpp): the newest valid checkpoint, then the log after it.
//                 Commits at or before the checkpoint's epoch are skipped, so no delta is ever
//                 applied twice.
//   snapshot_at(e), replay_to(e)
//                 the state (or its hash) at any epoch the retained log covers, from the newest
//                 retained checkpoint at or before it (or from empty), for audits.
//   for_each_commit(f)
//                 the logged history, commit by commit, to replay on another bus.
//   snapshot()    a copy of every page at one committed epoch; readers never see part of a commit.
//
// Structure: a commit (and a checkpoint) may carry bytes the store does not interpret, what the
// pages mean beyond their bytes (the bus logs its topology edits there). The store logs them
// with the commit's epoch, hands them back in order on recovery (recovered_structure), in
// history (history_at, for_each_commit) and keeps a checkpoint's with the checkpoint.
//
// Commits on one store happen one at a time, in call order; that order is the epoch order.
// Conflicts: accumulates under ⊕ merge; two assigns to one slot resolve deterministically by
// commit order (the later commit wins).
// After a failed fsync the store refuses commits with the original error; reads keep working.
//
// Pages start at the semiring's zero() (delta/fill.hpp), or at the value given to create_page,
// live and on recovery alike; every byte the hash and checkpoints read is defined.
//
// The store is the log layer's view: it knows nothing of the page graph. Applications write
// through the bus (bus/bus.hpp), the one write path, which keeps derived pages in step.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/config/out_of_memory.hpp>
#include <mmsb/core/scheduler.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/fill.hpp>
#include <mmsb/log/background_checkpoint.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/detail/store_memory.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/kill_point.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/new_pages.hpp>
#include <mmsb/log/recovery.hpp>
#include <mmsb/log/retention.hpp>
#include <mmsb/log/snapshot.hpp>
#include <mmsb/log/store_options.hpp>
#include <mmsb/memory/budget.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/memory/spill_file.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

template <class Semiring, class Layout, class Allocator = host_heap>
// Pages whose every change is a logged transaction (see the top of this header). Thread-safe:
// commits and checkpoint calls serialize on one lock; reads (hash, snapshot) take it shared.
class durable_store {
public:
  using page_type = page<Layout>;  // one page
  using delta_type = delta<Semiring, Layout>;  // one change to one page
  using page_table_type = page_table<Layout, Allocator>;  // the in-memory pages
  using semiring_type = Semiring;  // the semiring whose ⊕ accumulates
  using layout_type = Layout;  // the page layout
  using value_type = typename Layout::value_type;  // the element type of one slot

  // Opens (or creates) the store in dir: recovery, then a log writer continuing after it.
  // `shape` names the bus (semiring, layout) so another bus's files are refused.
  durable_store(file_system& fs, std::string dir, std::vector<std::byte> shape, store_options options = {})
  try : fs_(&fs), dir_(std::move(dir)), shape_(std::move(shape)), options_(options)
  {
    options_.log.metrics = options_.metrics;
    if (!fs_->exists(dir_)) {
      fs_->make_dir(dir_);
      fs_->sync_dir(parent_of(dir_));  // the store's own entry survives a power loss
    }
    recovery_ = recover_into(table_, epoch_, mmsb::epoch{}, &recovered_structure_);
    lost_commits_ = recovery_.lost_commits(epoch_);
    options_.metrics.add(metric_counter::recovery_lost_commits, lost_commits_);
    // The writer continues after the last commit recovered, or after the checkpoint when that is
    // newer than the log's end (a power loss undid part of the log a checkpoint covers).
    log_resume resume = recovery_.end;
    if (resume.last_commit < epoch_) resume.last_commit = epoch_;
    writer_ = std::make_unique<log_writer>(*fs_, log_dir(), shape_, resume, options_.log);
    // Retention: the first segment each existing checkpoint needs (the writer's new segment when
    // every one read is covered).
    retention_.learn(*fs_, ckpt_dir(), recovery_.extents, segment_index(writer_->segment_path()));
    // A spilled page whose record is damaged comes back from the checkpoint and the log.
    table_.set_rebuild([this](page_id id, mmsb::epoch e, page_type& out) { return rebuild_page(id, e, out); });
  } catch (const std::bad_alloc&) {
    throw error(errc::out_of_memory, "out of memory opening a durable store");
  }

  // Creates a page at epoch 0 with every slot at the semiring's zero(), or at `initial`. It becomes
  // durable with the next commit, whose record names it (a page created and never followed by a
  // commit is gone after a crash); an initial value other than zero() is logged with it. Throws
  // mmsb::error (out_of_memory, out_of_range) with nothing created.
  page_id create_page() { return create_page(semiring_traits<Semiring>::zero()); }
  // The same, every slot at `initial` (logged with the page's first commit when not zero()).
  page_id create_page(value_type initial)
  {
    return out_of_memory_as_error("create_page", [&] { return create_page_locked(initial); });
  }

private:
  page_id create_page_locked(value_type initial)
  {
    std::unique_lock lock(mutex_);
    const bool at_zero = bit_equal_value(initial, semiring_traits<Semiring>::zero());
    pending_.reserve_one(!at_zero);  // may throw: nothing created yet
    const page_id id = table_.create();
    page_type& p = table_.at(id);
    if (at_zero) {
      fill_zero<Semiring>(p);
      pending_.add(id.value());
    } else {
      fill(p, initial);
      pending_.add(id.value(), initial);
    }
    return id;
  }

public:

  // Logs `deltas` (one per page, any order) as one commit at the next epoch and applies them;
  // returns the epoch. Throws mmsb::error with memory and files as before (so the same
  // commit can be retried): unknown page (unknown_page, naming it), I/O failure (io_error or
  // no_space; after a failed fsync every later commit rethrows that error).
  mmsb::epoch commit(span<const delta_type> deltas)
  {
    return commit(deltas, [](page_table_type& t, span<const delta_type> ds, mmsb::epoch at) {
      for (const auto& d : ds) {
        page_type& p = t.at(d.target());
        apply(p, d);
        p.set_epoch(at);
      }
    });
  }
  // The same, applying through apply_all(pages, deltas, epoch), which must apply every delta to
  // its page and stamp the page with the epoch (the bus does it in parallel).
  // `structure`, if not empty, is logged with the commit, uninterpreted (see the top comment).
  // Encoding runs on `sched` (a scheduler policy) in parts, with the same bytes at any thread
  // count (log/commit_record.hpp, commit_encoder).
  template <class ApplyAll, class Sched = serial>
  mmsb::epoch commit(span<const delta_type> deltas, ApplyAll&& apply_all, span<const std::byte> structure = {},
                     const Sched& sched = Sched{})
  {
    std::unique_lock lock(mutex_);
    bring_in_locked(deltas);  // before anything is logged
    return out_of_memory_as_error("commit", [&] { return log_and_apply(deltas, apply_all, structure, sched); });
  }
  // Brings the pages `deltas` target into memory (a memory budget's spilled pages come back) and
  // records their use at the epoch the next commit will have. commit() does it first; the bus
  // does it before the graph notes the deltas, so that a page that cannot come back refuses the
  // tick with nothing noted. Throws mmsb::error (unknown_page naming the id; corrupt, io_error)
  // with nothing changed but pages brought back.
  void bring_in(span<const delta_type> deltas)
  {
    std::unique_lock lock(mutex_);
    bring_in_locked(deltas);
  }

  // The structure recovery found, in order: the loaded checkpoint's, then every retained
  // commit's after it. The bus replays it once after opening, then releases it.
  [[nodiscard]] const std::vector<std::vector<std::byte>>& recovered_structure() const noexcept { return recovered_structure_; }
  // Frees recovered_structure() once it has been replayed (never throws).
  void release_recovered_structure() noexcept { std::vector<std::vector<std::byte>>().swap(recovered_structure_); }

  // The pages, to read in place.
  [[nodiscard]] const page_table_type& pages() const noexcept { return table_; }
  // Mutable, for the one component that must hold them by reference: the bus hands them to its
  // page graph as bases. Writing through it bypasses the log (not durable, not replayed), which
  // is why the bus gives its users only a const store.
  [[nodiscard]] page_table_type& pages() noexcept { return table_; }

  // Writes a checkpoint at the current epoch, holding `structure` (everything the structure of
  // the commits up to it amounts to); once it is durable, removes the log segments that the
  // older retained checkpoint covers (the writer starts a new segment first, so segments end at
  // checkpoints; see "Retention" at the top). Blocking: waits for
  // an in-flight background checkpoint first (rethrowing its failure, without starting), then
  // writes this one before returning. Throws mmsb::error; the previous checkpoints and the log
  // stay as they were, so recovery is unaffected.
  void checkpoint(span<const std::byte> structure = {});

  // The same in the background: returns once the epoch is frozen (no page bytes copied, no
  // I/O), and the store's thread writes it while commits go on. Once it is durable it removes
  // the segments the older retained checkpoint covers (the writer's active segment at a
  // checkpoint's epoch stays with it: it holds commits on both sides, those before skipped on
  // recovery). Returns false, starting nothing, while
  // another is in flight (the request coalesces into it). Rethrows, once, the failure of a
  // finished background checkpoint not yet reported, starting nothing.
  bool begin_checkpoint(span<const std::byte> structure = {});

  // Waits for the in-flight background checkpoint, if any, to be durable (and the log it covers
  // removed); rethrows its failure, once, as mmsb::error naming the checkpoint's path. (The
  // destructor waits too, and drops a failure.)
  void wait_checkpoint() { background_.wait(); }

  // True while a background checkpoint is being written.
  [[nodiscard]] bool checkpoint_in_flight() const { return background_.busy(); }

  // ---- the memory budget (memory/budget.hpp, docs/memory.md) ---------------------------------
  // Sets the budget maintain_memory() keeps to, with a new spill file in its directory. A budget
  // that is off brings every spilled page back. Throws mmsb::error with the store as it was:
  // invalid_argument naming the numbers when the budget cannot hold min_pages pages (what one
  // tick must keep in memory), io_error naming the directory when no file can be made there.
  void set_memory_budget(const memory_budget& b, std::size_t min_pages = 1)
  {
    out_of_memory_as_error("set_memory_budget", [&] {
      std::unique_lock lock(mutex_);
      memory_.set(table_, b, min_pages, [&] { background_.wait(); });  // no checkpoint holds page pointers while pages move
    });
  }
  // The budget in effect (off by default).
  [[nodiscard]] const memory_budget& budget() const noexcept { return memory_.budget(); }
  // Bytes the pages hold in memory: the allocator's live blocks and the page table's metadata.
  [[nodiscard]] std::uint64_t memory_in_use() const noexcept { return memory_type::in_use(table_); }
  // Over the budget's high watermark, spills the coldest clean pages (pages created since the
  // last commit are not yet logged: never spilled) until usage is at the low watermark, until
  // `deadline` (the next call goes on, even under the high watermark; so does a call that found
  // only pages not yet logged), or until the spill file fails (no_space: reported, nothing
  // lost). Over the limit itself it goes on past the deadline, down to the limit (a hard cap,
  // reported as over_limit). Does nothing while a background checkpoint is in flight (it holds
  // page pointers): reported as carried over; over the limit, it waits for the checkpoint first.
  // `kept_bytes`: memory of pages outside this store that count against the budget but are
  // never spilled (the bus passes its graph's derived pages), so base pages make room for them.
  spill_report maintain_memory(std::chrono::steady_clock::time_point deadline, std::uint64_t kept_bytes = 0)
  {
    if (!memory_.due(table_, kept_bytes)) return {};
    std::unique_lock lock(mutex_);
    return memory_.maintain(table_, pending_.ids(), background_, deadline, kept_bytes);
  }
  // The spill file in use, or nullptr (no budget).
  [[nodiscard]] const spill_file* spill() const noexcept { return memory_.file(); }

  // Pages commits copied because a background checkpoint had not written them yet, in total.
  [[nodiscard]] std::uint64_t checkpoint_preserved_pages() const noexcept { return background_.preserved_pages(); }

  // The epoch of the last commit (or the recovered one); 0 for a new store.
  [[nodiscard]] mmsb::epoch current_epoch() const
  {
    std::shared_lock lock(mutex_);
    return epoch_;
  }

  // The state hash of every page (ids and payloads) at the current epoch.
  [[nodiscard]] state_hash hash() const
  {
    std::shared_lock lock(mutex_);
    return table_.hash();
  }

  // Every page at one committed epoch, copied under a shared lock: never part of a commit.
  using snapshot_type = store_snapshot<Layout>;
  // A copy of every page at the current epoch, taken under the shared lock.
  [[nodiscard]] snapshot_type snapshot() const
  {
    return out_of_memory_as_error("snapshot", [&] {
      std::shared_lock lock(mutex_);
      return snapshot_type::copy_of(table_, epoch_);
    });
  }

  // What recovery found when the store was opened: records, where the log ended, damage if any.
  [[nodiscard]] const recovery_report& recovery() const noexcept { return recovery_; }
  // Acknowledged commits the opening recovery dropped (point_in_time over mid-log damage): every
  // epoch after the recovered one up to the newest commit found after the damage, the damaged
  // record's own included (recovery().lost_records() counts only the valid records after it).
  [[nodiscard]] std::uint64_t lost_commits() const noexcept { return lost_commits_; }

  // Every page at epoch `target`, rebuilt from the newest retained checkpoint at or before it
  // (or from empty) and the log after it: what an audit reads. Throws mmsb::error (out_of_range)
  // if the retained log does not reach back that far or forward that far; the store is untouched.
  [[nodiscard]] snapshot_type snapshot_at(mmsb::epoch target) const;

  // snapshot_at(target) and the structure up to it, in order (the checkpoint's, then each commit's).
  struct history_type {
    snapshot_type state;  // every page at the target epoch
    std::vector<std::vector<std::byte>> structure;  // the structure records up to it, in order
  };
  // snapshot_at(target) with the structure up to it; the same errors as snapshot_at.
  [[nodiscard]] history_type history_at(mmsb::epoch target) const;

  // The state hash at epoch `target` (as snapshot_at, without copying the pages out).
  [[nodiscard]] state_hash replay_to(mmsb::epoch target) const;

  // The history: f(epoch, span<const delta_type>) for every commit the retained log holds after
  // epoch `after`, in epoch order, with the deltas as logged (one per page; a commit's first
  // deltas to a page just created are empty, or assign its initial value). Feeding them to another bus with the same pages
  // and graph reproduces this one tick by tick. Throws mmsb::error (corrupt) for a damaged
  // record, (out_of_range) if the log starts after `after`+1 (a checkpoint removed the
  // commits between; start from snapshot_at(checkpoint epoch) instead). f must not call back
  // into this store (it runs under the store's read lock). An f that takes a third argument,
  // span<const std::byte>, also gets each commit's structure (empty for most).
  template <class F>
  void for_each_commit(F&& f, mmsb::epoch after = mmsb::epoch{}) const;

private:
  void bring_in_locked(span<const delta_type> deltas)
  {
    memory_.bring_in(table_, deltas, static_cast<std::uint32_t>(epoch_.value() + 1));  // the use is at the next commit's epoch
  }

  // Write-ahead: encodes deltas (plus empty ones for pages created since the last commit, so
  // recovery creates them) into one commit record, appends it, and only then applies. If the
  // append throws, nothing in memory changes. A commit that creates no page allocates nothing
  // once the payload buffer has grown to its size.
  template <class ApplyAll, class Sched = serial>
  mmsb::epoch log_and_apply(span<const delta_type> deltas, ApplyAll&& apply_all, span<const std::byte> structure = {},
                            const Sched& sched = Sched{})
  {
    MMSB_KILL_POINT("commit.before_encode");
    const mmsb::epoch e = epoch_.next();
    // Copy-on-write for an in-flight checkpoint: keep the epoch's bytes of every page this
    // commit writes (before the append, so a failure here leaves nothing half done).
    background_.preserve(deltas, [](const delta_type& d) { return d.target(); });
    detail::encode_commit(payload_, encoder_, deltas, pending_, structure, sched);
    {
      std::lock_guard w(writer_mutex_);
      writer_->append(record_type::commit, e, txn_id{e.value()}, payload_);  // throws: nothing applied
    }
    MMSB_KILL_POINT("commit.after_append");
    apply_all(table_, deltas, e);
    for (const auto id : pending_.ids()) table_.at(page_id{id}).set_epoch(e);
    epoch_ = e;
    pending_.clear();
    MMSB_KILL_POINT("commit.after_apply");
    return e;
  }

  // Under the exclusive lock, with no checkpoint in flight: freezes the committed state at
  // epoch_ (the pointers of its pages; pages created since the last commit are not part of it,
  // the next commit names them) and hands it to the thread. Once the checkpoint is durable, the
  // segments before the writer's active one go: with `roll`, the writer first starts a fresh
  // segment, so every older one is covered (the blocking checkpoint: its sync is I/O on the
  // caller's thread); without, the active segment (commits before and after the epoch, the
  // ones before skipped on recovery) stays until a later checkpoint finds it rolled. The new
  // writer comes before the old one goes: if it cannot start its segment, the store keeps the
  // writer it had (and every segment) and nothing starts.
  void start_checkpoint(span<const std::byte> structure, bool roll);

  static bool bit_equal_value(const value_type& a, const value_type& b) noexcept { return std::memcmp(&a, &b, sizeof(value_type)) == 0; }

  std::string log_dir() const { return dir_ + "/log"; }
  std::string ckpt_dir() const { return dir_ + "/checkpoints"; }

  // The recovery mode this store reads with (store_options.hpp).
  recovery_mode recovery_mode_in_effect() const noexcept { return mmsb::recovery_mode_in_effect(options_); }

  // Recovery (log/recovery.hpp) of this store's files into `table`.
  recovery_report recover_into(page_table<Layout, Allocator>& table, mmsb::epoch& epoch_out, mmsb::epoch stop = mmsb::epoch{},
                               std::vector<std::vector<std::byte>>* structure_out = nullptr) const
  {
    return detail::recover_into<Semiring>(*fs_, log_dir(), ckpt_dir(), shape_, recovery_mode_in_effect(), table, epoch_out, stop, structure_out);
  }

  // Writes the log writer's buffer to the file (not synced), so the files hold every commit made
  // so far: under durability none or group, what reads the files (a replay, the history) must
  // see the commits still buffered. Takes only writer_mutex_ (commits and checkpoints take it
  // after mutex_; nothing takes mutex_ after it), before the caller takes its read locks.
  void write_out_buffer() const
  {
    std::lock_guard w(writer_mutex_);
    if (writer_ && !writer_->poisoned()) writer_->flush();
  }

  // Page id as it was at epoch e (its last change), from the newest checkpoint and the log after
  // it (replayed for that page alone: memory for one page, reads of the retained files), into
  // out; false when the retained files do not give exactly that (the page table then reports
  // the damage as corrupt). Called by the page table's reload, under its spill mutex,
  // on any thread, with or without mutex_ held (a commit brings its targets back under it): it
  // takes only the writer's buffer lock and the files lock, which come after both.
  bool rebuild_page(page_id id, mmsb::epoch e, page_type& out) const;

  // f(the pages at epoch target), rebuilt into a replica under the read lock; see snapshot_at.
  template <class F>
  void with_state_at(mmsb::epoch target, F&& f, std::vector<std::vector<std::byte>>* structure_out = nullptr) const;

  file_system* fs_;
  std::string dir_;
  std::vector<std::byte> shape_;
  store_options options_;
  page_table<Layout, Allocator> table_;
  using memory_type = detail::store_memory<page_table_type>;
  memory_type memory_;  // the memory budget, its spill file and the maintain phase's state
  mmsb::epoch epoch_{};
  recovery_report recovery_;
  std::uint64_t lost_commits_ = 0;  // lost_commits()
  std::unique_ptr<log_writer> writer_;
  detail::new_pages<value_type> pending_;     // created since the last commit
  std::vector<std::byte> payload_;            // the commit record being encoded, reused
  detail::commit_encoder encoder_;            // its parallel encoder's scratch, reused
  std::vector<std::vector<std::byte>> recovered_structure_;  // see recovered_structure()
  checkpoint_retention retention_;  // which segments the retained checkpoints need; under mutex_ only
  mutable std::shared_mutex mutex_;
  // Guards writer_'s buffer: taken by commits and checkpoints (after mutex_) and alone by
  // write_out_buffer, never with mutex_ taken after it.
  mutable std::mutex writer_mutex_;
  // Held shared by whoever reads the log or checkpoint files, exclusively by the checkpoint
  // thread while it publishes and removes files. Taken after mutex_, never before it.
  mutable std::shared_mutex files_mutex_;
  // Last: destroyed first, so its thread has finished before anything it uses goes.
  background_checkpoint<Layout> background_;
};

} // namespace mmsb

#include <mmsb/log/detail/store_checkpoint.hpp>  // checkpoint, begin_checkpoint, start_checkpoint
#include <mmsb/log/detail/store_history.hpp>     // snapshot_at, history_at, replay_to, for_each_commit, rebuild_page
