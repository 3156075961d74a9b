// page_table<Layout, Allocator>: maps page_id to the page's storage and its lifecycle flags.
// Pages are created, looked up and destroyed here; each page's epoch lives in the page itself.
// Metadata: one 16-byte entry per id ever issued (plus the free-id list when ids are reused).
//
// Spill (docs/memory.md): with a spill_file attached, a resident page can be moved to the file
// (spill, spill_coldest) and its block freed; any later access (find, at, for_each) brings it back
// transparently, or, for const for_each, reads it without keeping it (contains and epoch_of need
// only the entry). A record that fails its check is never returned as the page: it is rebuilt
// (set_rebuild) or reported (errc::corrupt, naming the page, the file and the offset).
// Aging (detail/page_aging.hpp): a page found in a new clock tick (set_clock, the store's epoch)
// records the tick and counts the use, the count halving for every half-life of ticks unused;
// spill_coldest picks the fewest recent uses, then the oldest. Bringing a page back may happen
// on any thread (propagation reads pages on the scheduler), so the entry's page pointer is read
// with an acquire load and a reload holds the table's spill mutex; spilling itself is for the
// owner alone, with no other thread reading the table.
//
// This class is the facade: it issues, checks and frees ids. Where each page is (the entries,
// finding, aging, spill and reload) is its engine, detail/resident_set.hpp.
//
// Id policy: by default ids are never reused, so a destroyed id stays an error forever and log
// records or provenance can never name the wrong page. id_reuse::lowest_free hands the lowest
// destroyed id out again, for long-running buses that churn pages.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/detail/resident_set.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/spill_file.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

// Whether a page_table issues destroyed ids again: never (the default: a destroyed id stays an
// error forever) or lowest_free (the lowest destroyed id is issued next).
enum class id_reuse : std::uint8_t { never, lowest_free };

// Owns the pages of one Layout, each in its own block from Allocator (which must be host
// accessible). Not copyable or movable; not thread-safe (one writer, as the bus arranges).
template <layout Layout, page_allocator Allocator = host_heap>
class page_table {
  static_assert(host_accessible(Allocator::space),
                "mmsb: page_table<Layout, Allocator>: the host constructs and reads pages in place, so Allocator must "
                "hand out host-accessible memory (host_heap, host_pool, mapped_file, cuda_pinned, cuda_managed), "
                "not device memory");

public:
  using page_type = page<Layout>;  // the page object stored in each block
  using allocator_type = Allocator;  // where the pages' blocks come from
  // Bytes of each page's block: sizeof(page_type) rounded up to page_alignment.
  static constexpr std::size_t block_bytes = round_up(sizeof(page_type), page_alignment);
  // The largest id a table issues; the one above it is never valid, so it can mean "none".
  static constexpr std::uint32_t max_id = std::numeric_limits<std::uint32_t>::max() - 1;

  // An empty table with a default-constructed allocator.
  explicit page_table(id_reuse reuse = id_reuse::never) : reuse_(reuse) {}
  // Constructs the table's allocator in place from args (allocators hold atomics: not movable).
  template <class... Args>
  page_table(id_reuse reuse, std::in_place_t, Args&&... args) : set_(std::in_place, std::forward<Args>(args)...), reuse_(reuse) {}
  page_table(const page_table&) = delete;
  page_table& operator=(const page_table&) = delete;

  // Creates a page whose storage is zero bytes (every byte, padding included) at epoch 0 under
  // the next id. Throws mmsb::error (out_of_memory, or
  // out_of_range when ids are exhausted) with the table unchanged.
  page_id create()
  {
    if (reuse_ == id_reuse::lowest_free && !free_ids_.empty()) {
      const page_id id{free_ids_.front()};
      set_.place(id);  // may throw: the id stays free
      std::pop_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
      free_ids_.pop_back();
      return id;
    }
    if (set_.bound() > max_id)
      throw error(errc::out_of_range, "page table: all " + std::to_string(std::uint64_t{max_id} + 1) + " page ids are in use");
    const page_id id{static_cast<std::uint32_t>(set_.bound())};
    create(id);
    return id;
  }

  // Creates the page with this exact id (for replay and recovery). Throws mmsb::error if the id
  // is live (invalid_argument) or past max_id (out_of_range); nothing changes then.
  void create(page_id id)
  {
    if (id.value() > max_id)
      throw error(errc::out_of_range, "page table: page " + std::to_string(id.value()) + " is past the largest id " +
                                        std::to_string(max_id));
    if (set_.contains(id))
      throw error(errc::invalid_argument, "page table: page " + std::to_string(id.value()) + " already exists");
    const std::size_t old_bound = set_.bound();
    if (id.value() >= old_bound) {
      try {
        set_.grow(std::size_t{id.value()} + 1);  // nothing placed yet
      } catch (const std::bad_alloc&) {
        throw error(errc::out_of_memory, "page table: no memory for the entries of ids up to " +
                                           std::to_string(id.value()) + " (" +
                                           std::to_string((std::size_t{id.value()} + 1) * 16) + " bytes)");
      }
    }
    try {
      set_.place(id);
    } catch (...) {
      set_.shrink(old_bound);  // shrinking never throws
      throw;
    }
    if (reuse_ == id_reuse::lowest_free) {
      const auto it = std::find(free_ids_.begin(), free_ids_.end(), id.value());
      if (it != free_ids_.end()) {
        free_ids_.erase(it);
        std::make_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
      }
    }
  }

  // Destroys a live page, in memory or spilled. Throws mmsb::error (unknown_page) naming the id
  // otherwise.
  void destroy(page_id id)
  {
    if (!set_.is_spilled(id)) (void)checked(id);  // validates
    if (reuse_ == id_reuse::lowest_free) {
      reserve_for(free_ids_, free_ids_.size() + 1);  // may throw: nothing destroyed yet
      free_ids_.push_back(id.value());
      std::push_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
    }
    set_.erase(id);
  }

  // The page, or mmsb::error (unknown_page) naming the id and why: never issued, or destroyed.
  [[nodiscard]] page_type& at(page_id id) { return *checked(id); }
  // The page (read-only), or mmsb::error (unknown_page) as above.
  [[nodiscard]] const page_type& at(page_id id) const { return *const_cast<page_table*>(this)->checked(id); }

  // The page, or nullptr when the id is not live. A spilled page is brought back first (see the
  // top of this header; mmsb::error corrupt or io_error if it cannot be); the page records a use
  // at the table's clock.
  [[nodiscard]] page_type* find(page_id id) { return set_.find(id); }
  // Records a use of a resident page now (any thread; a spilled or dead id is ignored).
  void note_use(page_id id) noexcept { set_.note_use(id); }
  // As find, without recording a use: for loops that look the same page up row after row and
  // record its use once themselves (propagation: note_use per node). A page it brings back is
  // recorded as used.
  [[nodiscard]] page_type* find_unaged(page_id id) const { return set_.find_unaged(id); }
  // The page (read-only), or nullptr when the id is not live; as find above.
  [[nodiscard]] const page_type* find(page_id id) const { return const_cast<page_table*>(this)->find(id); }
  // Whether the id names a live page, in memory or spilled (nothing is brought back).
  [[nodiscard]] bool contains(page_id id) const noexcept { return set_.contains(id); }
  // The epoch of a live page, in memory or spilled (nothing is brought back); epoch 0 for an id
  // that is not live.
  [[nodiscard]] mmsb::epoch epoch_of(page_id id) const noexcept { return set_.epoch_of(id); }
  // A hint for loops that read many pages' epochs: starts loading id's table entry (nothing is
  // brought back, nothing changes).
  void prefetch_entry(page_id id) const noexcept { set_.prefetch_entry(id); }
  // A hint, as prefetch_entry: starts loading a resident page's id and epoch (its entry should be
  // in the cache by then: call prefetch_entry a few pages ahead).
  void prefetch_header(page_id id) const noexcept { set_.prefetch_header(id); }

  // Number of live pages.
  [[nodiscard]] std::size_t size() const noexcept { return set_.live(); }
  // Ids issued so far (live or destroyed): every live id is below this.
  [[nodiscard]] std::size_t id_bound() const noexcept { return set_.bound(); }

  // Calls f(page) for every live page in ascending id order. A spilled page is read into a
  // scratch page for f and stays spilled; one whose record fails its check comes back as find
  // brings it (rebuilt, or mmsb::error corrupt).
  template <class F>
  void for_each(F&& f) const
  {
    set_.for_each(f);
  }
  // Calls f(page) for every live page in ascending id order, with write access when f takes a
  // page_type& (spilled pages are brought back for it); an f that can take a const page reads as
  // above, leaving spilled pages spilled.
  template <class F>
  void for_each(F&& f)
  {
    if constexpr (std::is_invocable_v<F&, const page_type&>) {
      std::as_const(*this).for_each(f);
    } else {
      for (std::size_t i = 0; i < set_.bound(); ++i)
        if (page_type* p = find(page_id{static_cast<std::uint32_t>(i)})) f(*p);
    }
  }

  // The state hash of every live page (ids and payloads, ascending).
  [[nodiscard]] state_hash hash() const
  {
    state_hasher h;
    for_each([&](const page_type& p) { hash_into(h, p); });
    return h.digest();
  }

  // Bytes the table itself holds (entries and free ids), not the pages.
  [[nodiscard]] std::size_t metadata_bytes() const noexcept
  {
    return set_.entry_bytes() + free_ids_.capacity() * sizeof(std::uint32_t);
  }

  // The allocator the pages' blocks come from (for its stats, or a test seam's arming).
  [[nodiscard]] Allocator& allocator() noexcept { return set_.allocator(); }
  // The allocator the pages' blocks come from (read-only).
  [[nodiscard]] const Allocator& allocator() const noexcept { return set_.allocator(); }

  // ---- spill (see the top of this header; docs/memory.md) ------------------------------------
  // Pages may be spilled to f from now on. nullptr turns spilling off, bringing every spilled
  // page back first (mmsb::error as find). f must outlive its use here and hold records of
  // sizeof(page_type) bytes.
  void set_spill_file(spill_file* f) { set_.set_spill_file(f); }
  // The spill file in use, or nullptr.
  [[nodiscard]] spill_file* spill_target() const noexcept { return set_.records().file; }
  // What a reload does with a record that fails its check: rebuild(id, epoch, out) writes the
  // page as it was at that epoch into out and returns true, or returns false (or throws) when it
  // cannot; the durable store rebuilds from its checkpoint and log. Without one, or when it
  // cannot, the access throws errc::corrupt. Either way the damage is counted and described.
  void set_rebuild(std::function<bool(page_id, mmsb::epoch, page_type&)> rebuild) { set_.records().rebuild = std::move(rebuild); }
  // The clock pages record when found (the bus sets its tick); set only with no other thread in
  // the table.
  void set_clock(std::uint32_t now) noexcept { set_.set_clock(now); }
  // The clock.
  [[nodiscard]] std::uint32_t clock() const noexcept { return set_.clock(); }
  // The clock when a resident page was last found (0 for a spilled or dead page).
  [[nodiscard]] std::uint32_t last_use(page_id id) const noexcept { return set_.last_use(id); }
  // Uses a resident page has counted (decayed to its last use; 0 for a spilled or dead page).
  [[nodiscard]] std::uint32_t use_count(page_id id) const noexcept { return set_.use_count(id); }
  // Ticks without a use that halve a page's use count (>= 1; 64 by default); set with no other
  // thread in the table. Throws mmsb::error (invalid_argument) for 0.
  void set_half_life(std::uint32_t ticks) { set_.set_half_life(ticks); }
  // Live pages in memory.
  [[nodiscard]] std::size_t resident() const noexcept { return set_.resident(); }
  // Live pages in the spill file.
  [[nodiscard]] std::size_t spilled() const noexcept { return set_.spilled(); }
  // Whether the id names a spilled page.
  [[nodiscard]] bool is_spilled(page_id id) const noexcept { return set_.is_spilled(id); }
  // Pages brought back from the spill file so far.
  [[nodiscard]] std::uint64_t reloads() const noexcept { return set_.records().reloads.load(std::memory_order_relaxed); }
  // Records that failed their check so far (rebuilt or not).
  [[nodiscard]] std::uint64_t damaged() const noexcept { return set_.records().damaged(); }
  // Of those, pages rebuilt.
  [[nodiscard]] std::uint64_t rebuilt() const noexcept { return set_.records().rebuilt(); }
  // The last damaged record's message (naming the page, the file and the offset).
  [[nodiscard]] std::string last_damage() const { return set_.records().last_damage(); }

  // The page if it is in memory, else nullptr (a spilled page is not brought back; owner only).
  [[nodiscard]] const page_type* resident_page(page_id id) const noexcept { return set_.resident_page(id); }
  // The slot of a spilled page in its spill file (owner only): false when it is not spilled.
  [[nodiscard]] bool spill_slot(page_id id, std::uint32_t& slot) const noexcept { return set_.spill_slot(id, slot); }
  // Reads the record in `slot`, page id's as spill_slot gave it, into out, checked (any thread;
  // the record must not be rewritten meanwhile). Throws mmsb::error (corrupt, io_error).
  void read_spill_slot(std::uint32_t slot, page_id id, page_type& out) const
  {
    set_.records().file->read(slot, id, set_.records().epoch_at(slot), &out);
  }

  // Brings the spilled pages among `ids` (a range of page_id; others are skipped) back at once,
  // reading their records in file order, each as find would (rebuilt if damaged; mmsb::error
  // corrupt or io_error for the first that cannot come back, the ones before it staying back).
  // Propagation brings a level's sources back this way before it reads them, and the store a
  // commit's targets. Each page counts one use now.
  template <class Ids>
  void bring_back(const Ids& ids)
  {
    set_.bring_back(ids);
  }
  // Pages bring_back brought back so far (also counted in reloads()).
  [[nodiscard]] std::uint64_t prefetched() const noexcept { return set_.records().prefetched.load(std::memory_order_relaxed); }

  // Moves a resident page to the spill file and frees its block (owner only, no other thread in
  // the table). Throws mmsb::error: unknown_page naming the id, state_error with no spill file,
  // no_space or io_error from the file, with the page still resident.
  void spill(page_id id)
  {
    if (!spill_target()) throw error(errc::state_error, "page table: page " + std::to_string(id.value()) + " cannot be spilled: no spill file");
    const page_type* p = set_.resident_page(id);  // spilling is no use
    set_.spill(id, p ? const_cast<page_type*>(p) : checked(id));  // unknown (throws), or spilled (brought back)
  }

  // What spill_coldest did: pages moved to the file; whether resident() reached `keep` (false:
  // the deadline came, or an error); the error that stopped it (no_space, io_error) and its
  // message, naming the page and the file.
  using spill_outcome = typename detail::resident_set<page_type, Allocator>::spill_outcome;
  // Spills resident pages, coldest first (fewest recent uses, then oldest, then lowest id; see
  // detail/page_aging.hpp), until at most `keep` are resident or `deadline` comes, skipping
  // pages for which may_spill(id) is false (owner only, as spill). Pages go to the file in
  // runs of up to spill_run, one write each (spill_file::write_run). The deadline is kept: a run
  // takes the pages that fit at the mean time a page has taken (this call's so far, else the
  // last call's), after twice that mean and a tenth of the call's time to the deadline are kept
  // back. The first run always goes, so every call progresses: one page when no mean is known
  // yet or nothing fits. A write that fails stops it, reported in the outcome, with that run's
  // pages still resident: a full disk loses nothing. Pages are chosen in batches of spill_batch, each the
  // coldest of one window of entries (detail/spill_records.hpp: exact within it; the whole table
  // when it has at most spill_window ids), so choosing costs in proportion to what is spilled.
  template <class MaySpill>
  spill_outcome spill_coldest(std::size_t keep, std::chrono::steady_clock::time_point deadline, MaySpill&& may_spill)
  {
    return set_.spill_coldest(keep, deadline, may_spill);
  }
  // The most pages chosen at once (each choice looks at one window of entries).
  static constexpr std::size_t spill_batch = detail::resident_set<page_type, Allocator>::spill_batch;
  // The most pages one write to the spill file takes (spill_coldest).
  static constexpr std::size_t spill_run = detail::resident_set<page_type, Allocator>::spill_run;
  // The fewest entries one spill_coldest call looks at (when the table has that many).
  static constexpr std::size_t spill_window = detail::resident_set<page_type, Allocator>::spill_window;

private:
  page_type* checked(page_id id)
  {
    if (id.value() >= set_.bound())
      throw error(errc::unknown_page, "unknown page " + std::to_string(id.value()) + ": no such page was created (ids issued: " +
                                        std::to_string(set_.bound()) + ")");
    page_type* p = find(id);
    if (!p)
      throw error(errc::unknown_page, "unknown page " + std::to_string(id.value()) +
                                        (set_.destroyed(id) ? ": it was destroyed" : ": no such page was created"));
    return p;
  }

  detail::resident_set<page_type, Allocator> set_;  // the entries, aging and spill (see the top of this header)
  id_reuse reuse_;
  std::vector<std::uint32_t> free_ids_;  // min-heap, lowest_free only
};

} // namespace mmsb
