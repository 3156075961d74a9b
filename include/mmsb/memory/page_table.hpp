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
// spill_coldest picks the fewest recent uses, then the oldest. Bringing a page back may happen on any thread (propagation
// reads pages on the scheduler), so the entry's page pointer is read with an acquire load and a
// reload holds the table's spill mutex; spilling itself is for the owner alone, with no other
// thread reading the table.
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
#include <mmsb/memory/detail/spill_records.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/spill_file.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
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
  page_table(id_reuse reuse, std::in_place_t, Args&&... args) : alloc_(std::forward<Args>(args)...), reuse_(reuse) {}
  page_table(const page_table&) = delete;
  page_table& operator=(const page_table&) = delete;
  ~page_table()
  {
    for (auto& e : entries_)
      if (e.page) release(e.page);
  }  // spilled pages hold no block; their records go with the spill file

  // Creates a page whose storage is zero bytes (every byte, padding included) at epoch 0 under
  // the next id. Throws mmsb::error (out_of_memory, or
  // out_of_range when ids are exhausted) with the table unchanged.
  page_id create()
  {
    if (reuse_ == id_reuse::lowest_free && !free_ids_.empty()) {
      const page_id id{free_ids_.front()};
      place(id);  // may throw: the id stays free
      std::pop_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
      free_ids_.pop_back();
      return id;
    }
    if (entries_.size() > max_id)
      throw error(errc::out_of_range, "page table: all " + std::to_string(std::uint64_t{max_id} + 1) + " page ids are in use");
    const page_id id{static_cast<std::uint32_t>(entries_.size())};
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
    if (id.value() < entries_.size() && entries_[id.value()].page)
      throw error(errc::invalid_argument, "page table: page " + std::to_string(id.value()) + " already exists");
    const std::size_t old_bound = entries_.size();
    if (id.value() >= old_bound) {
      try {
        entries_.resize(std::size_t{id.value()} + 1);  // nothing placed yet
      } catch (const std::bad_alloc&) {
        throw error(errc::out_of_memory, "page table: no memory for the entries of ids up to " +
                                           std::to_string(id.value()) + " (" +
                                           std::to_string((std::size_t{id.value()} + 1) * sizeof(entry)) + " bytes)");
      }
    }
    try {
      place(id);
    } catch (...) {
      entries_.resize(old_bound);  // shrinking never throws
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

  // Destroys a live page. Throws mmsb::error (unknown_page) naming the id otherwise.
  void destroy(page_id id)
  {
    const bool spilled = id.value() < entries_.size() && (entries_[id.value()].flags & flag_spilled);
    page_type* p = spilled ? nullptr : checked(id);  // validates
    if (reuse_ == id_reuse::lowest_free) {
      reserve_for(free_ids_, free_ids_.size() + 1);  // may throw: nothing destroyed yet
      free_ids_.push_back(id.value());
      std::push_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
    }
    entry& e = entries_[id.value()];
    if (spilled) {
      spill_.release(e.used);
      spill_.spilled.fetch_sub(1, std::memory_order_relaxed);
    } else {
      release(p);
    }
    e = entry{nullptr, flag_destroyed, 0};
    --live_;
  }

  // The page, or mmsb::error (unknown_page) naming the id and why: never issued, or destroyed.
  [[nodiscard]] page_type& at(page_id id) { return *checked(id); }
  // The page (read-only), or mmsb::error (unknown_page) as above.
  [[nodiscard]] const page_type& at(page_id id) const { return *const_cast<page_table*>(this)->checked(id); }

  // The page, or nullptr when the id is not live. A spilled page is brought back first (see the
  // top of this header; mmsb::error corrupt or io_error if it cannot be); the page records the
  // table's clock as its last use.
  [[nodiscard]] page_type* find(page_id id)
  {
    if (id.value() >= entries_.size()) return nullptr;
    entry& e = entries_[id.value()];
    if (page_type* p = __atomic_load_n(&e.page, __ATOMIC_ACQUIRE)) [[likely]] {
      if (__atomic_load_n(&e.used, __ATOMIC_RELAXED) != clock_) touch(e);
      return p;
    }
    return spilled() == 0 ? nullptr : reload(id);
  }
  // Records a use of a resident page now (any thread; a spilled or dead id is ignored).
  void note_use(page_id id) noexcept
  {
    if (id.value() >= entries_.size()) return;
    entry& e = entries_[id.value()];
    if (__atomic_load_n(&e.used, __ATOMIC_RELAXED) != clock_ && __atomic_load_n(&e.page, __ATOMIC_ACQUIRE)) touch(e);
  }
  // As find, without recording a use: for loops that look the same page up row after row and
  // record its use once themselves (propagation: note_use per node). A page it brings back is recorded as used.
  [[nodiscard]] page_type* find_unaged(page_id id) const
  {
    if (id.value() >= entries_.size()) return nullptr;
    if (page_type* p = __atomic_load_n(&entries_[id.value()].page, __ATOMIC_ACQUIRE)) [[likely]] return p;
    return spilled() == 0 ? nullptr : const_cast<page_table*>(this)->reload(id);
  }
  // The page (read-only), or nullptr when the id is not live; as find above.
  [[nodiscard]] const page_type* find(page_id id) const { return const_cast<page_table*>(this)->find(id); }
  // Whether the id names a live page, in memory or spilled (nothing is brought back).
  [[nodiscard]] bool contains(page_id id) const noexcept
  {
    if (id.value() >= entries_.size()) return false;
    const entry& e = entries_[id.value()];
    return __atomic_load_n(&e.page, __ATOMIC_ACQUIRE) != nullptr || (__atomic_load_n(&e.flags, __ATOMIC_RELAXED) & flag_spilled);
  }
  // The epoch of a live page, in memory or spilled (nothing is brought back); epoch 0 for an id
  // that is not live.
  [[nodiscard]] mmsb::epoch epoch_of(page_id id) const noexcept
  {
    if (id.value() >= entries_.size()) return mmsb::epoch{};
    const entry& e = entries_[id.value()];
    if (const page_type* p = __atomic_load_n(&e.page, __ATOMIC_ACQUIRE)) return p->epoch();
    if (spilled() == 0) return mmsb::epoch{};
    std::lock_guard lock(spill_.mutex);
    if (e.page) return e.page->epoch();
    return e.flags & flag_spilled ? spill_.epoch_at(e.used) : mmsb::epoch{};
  }

  // Number of live pages.
  [[nodiscard]] std::size_t size() const noexcept { return live_; }
  // Ids issued so far (live or destroyed): every live id is below this.
  [[nodiscard]] std::size_t id_bound() const noexcept { return entries_.size(); }

  // Calls f(page) for every live page in ascending id order. A spilled page is read into a
  // scratch page for f and stays spilled; one whose record fails its check comes back as find
  // brings it (rebuilt, or mmsb::error corrupt).
  template <class F>
  void for_each(F&& f) const
  {
    std::unique_ptr<page_type> scratch;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const entry& e = entries_[i];
      if (const page_type* p = __atomic_load_n(&e.page, __ATOMIC_ACQUIRE)) {
        f(*p);
      } else if (spilled() != 0) {
        std::unique_lock lock(spill_.mutex);
        if (const page_type* q = e.page) {  // brought back meanwhile
          lock.unlock();
          f(*q);
        } else if (e.flags & flag_spilled) {
          if (!scratch) scratch = std::make_unique<page_type>();
          const page_id id{static_cast<std::uint32_t>(i)};
          std::string what;
          const bool whole = spill_.read(e.used, id, *scratch, what);
          lock.unlock();
          // A damaged record: the page comes back through reload, rebuilt where it can be.
          f(whole ? static_cast<const page_type&>(*scratch) : static_cast<const page_type&>(*const_cast<page_table*>(this)->reload(id)));
        }
      }
    }
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
      for (std::size_t i = 0; i < entries_.size(); ++i)
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
    return entries_.capacity() * sizeof(entry) + free_ids_.capacity() * sizeof(std::uint32_t);
  }

  // The allocator the pages' blocks come from (for its stats, or a test seam's arming).
  [[nodiscard]] Allocator& allocator() noexcept { return alloc_; }
  // The allocator the pages' blocks come from (read-only).
  [[nodiscard]] const Allocator& allocator() const noexcept { return alloc_; }

  // ---- spill (see the top of this header; docs/memory.md) ------------------------------------
  // Pages may be spilled to f from now on. nullptr turns spilling off, bringing every spilled
  // page back first (mmsb::error as find). f must outlive its use here and hold records of
  // sizeof(page_type) bytes.
  void set_spill_file(spill_file* f)
  {
    if (!f)
      for (std::size_t i = 0; i < entries_.size() && spilled() != 0; ++i) (void)find(page_id{static_cast<std::uint32_t>(i)});
    spill_.file = f;
  }
  // The spill file in use, or nullptr.
  [[nodiscard]] spill_file* spill_target() const noexcept { return spill_.file; }
  // What a reload does with a record that fails its check: rebuild(id, epoch, out) writes the
  // page as it was at that epoch into out and returns true, or returns false (or throws) when it
  // cannot; the durable store rebuilds from its checkpoint and log. Without one, or when it
  // cannot, the access throws errc::corrupt. Either way the damage is counted and described.
  void set_rebuild(std::function<bool(page_id, mmsb::epoch, page_type&)> rebuild) { spill_.rebuild = std::move(rebuild); }
  // The clock pages record when found (the bus sets its tick); set only with no other thread in
  // the table.
  void set_clock(std::uint32_t now) noexcept { clock_ = now; }
  // The clock.
  [[nodiscard]] std::uint32_t clock() const noexcept { return clock_; }
  // The clock when a resident page was last found (0 for a spilled or dead page).
  [[nodiscard]] std::uint32_t last_use(page_id id) const noexcept
  {
    return id.value() < entries_.size() && entries_[id.value()].page ? entries_[id.value()].used : 0;
  }
  // Uses a resident page has counted (decayed to its last use; 0 for a spilled or dead page).
  [[nodiscard]] std::uint32_t use_count(page_id id) const noexcept
  {
    return id.value() < entries_.size() && entries_[id.value()].page ? entries_[id.value()].flags >> uses_shift : 0;
  }
  // Ticks without a use that halve a page's use count (>= 1; 64 by default); set with no other
  // thread in the table. Throws mmsb::error (invalid_argument) for 0.
  void set_half_life(std::uint32_t ticks)
  {
    if (ticks == 0) throw error(errc::invalid_argument, "page table: the aging half-life must be at least 1 tick");
    spill_.aging.half_life = ticks;
  }
  // Live pages in memory.
  [[nodiscard]] std::size_t resident() const noexcept { return live_ - spilled(); }
  // Live pages in the spill file.
  [[nodiscard]] std::size_t spilled() const noexcept { return spill_.spilled.load(std::memory_order_relaxed); }
  // Whether the id names a spilled page.
  [[nodiscard]] bool is_spilled(page_id id) const noexcept
  {
    return id.value() < entries_.size() && (__atomic_load_n(&entries_[id.value()].flags, __ATOMIC_RELAXED) & flag_spilled);
  }
  // Pages brought back from the spill file so far.
  [[nodiscard]] std::uint64_t reloads() const noexcept { return spill_.reloads.load(std::memory_order_relaxed); }
  // Records that failed their check so far (rebuilt or not).
  [[nodiscard]] std::uint64_t damaged() const noexcept { return spill_.damaged(); }
  // Of those, pages rebuilt.
  [[nodiscard]] std::uint64_t rebuilt() const noexcept { return spill_.rebuilt(); }
  // The last damaged record's message (naming the page, the file and the offset).
  [[nodiscard]] std::string last_damage() const { return spill_.last_damage(); }

  // The page if it is in memory, else nullptr (a spilled page is not brought back; owner only).
  [[nodiscard]] const page_type* resident_page(page_id id) const noexcept
  {
    return id.value() < entries_.size() ? entries_[id.value()].page : nullptr;
  }
  // The slot of a spilled page in its spill file (owner only): false when it is not spilled.
  [[nodiscard]] bool spill_slot(page_id id, std::uint32_t& slot) const noexcept
  {
    if (!is_spilled(id)) return false;
    slot = entries_[id.value()].used;
    return true;
  }
  // Reads the record in `slot`, page id's as spill_slot gave it, into out, checked (any thread;
  // the record must not be rewritten meanwhile). Throws mmsb::error (corrupt, io_error).
  void read_spill_slot(std::uint32_t slot, page_id id, page_type& out) const
  {
    spill_.file->read(slot, id, spill_.epoch_at(slot), &out);
  }

  // Brings the spilled pages among `ids` (a range of page_id; others are skipped) back at once,
  // reading their records in file order, each as find would (rebuilt if damaged; mmsb::error
  // corrupt or io_error for the first that cannot come back, the ones before it staying back).
  // Propagation brings a level's sources back this way before it reads them, and the store a
  // commit's targets. Each page counts one use now.
  template <class Ids>
  void bring_back(const Ids& ids)
  {
    if (spilled() == 0) return;
    wanted_.clear();
    std::uint32_t slot = 0;
    for (const page_id id : ids)
      if (spill_slot(id, slot)) wanted_.push_back((std::uint64_t{slot} << 32) | id.value());
    std::sort(wanted_.begin(), wanted_.end());  // file order; a repeated id follows its first
    for (const std::uint64_t w : wanted_) {
      const page_id id{static_cast<std::uint32_t>(w)};
      if (is_spilled(id) && reload(id)) spill_.prefetched.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Pages bring_back brought back so far (also counted in reloads()).
  [[nodiscard]] std::uint64_t prefetched() const noexcept { return spill_.prefetched.load(std::memory_order_relaxed); }

  // Moves a resident page to the spill file and frees its block (owner only, no other thread in
  // the table). Throws mmsb::error: unknown_page naming the id, state_error with no spill file,
  // no_space or io_error from the file, with the page still resident.
  void spill(page_id id)
  {
    if (!spill_.file) throw error(errc::state_error, "page table: page " + std::to_string(id.value()) + " cannot be spilled: no spill file");
    page_type* p = id.value() < entries_.size() ? entries_[id.value()].page : nullptr;  // spilling is no use
    if (!p) p = checked(id);  // unknown (throws), or spilled (brought back)
    entry& e = entries_[id.value()];
    const std::uint32_t slot = spill_.write(*p, e.used);  // may throw: nothing changed
    release(p);
    e = entry{nullptr, flag_spilled | (e.flags & uses_mask), slot};
    spill_.spilled.fetch_add(1, std::memory_order_relaxed);
  }

  // What spill_coldest did.
  struct spill_outcome {
    std::size_t spilled = 0;  // pages moved to the file
    bool done = false;        // resident() reached `keep` (false: the deadline came, or an error)
    errc failure{};           // errc{} or the error that stopped it (no_space, io_error)
    std::string message;      // the error's message, naming the page and the file
  };
  // Spills resident pages, coldest first (fewest recent uses, then oldest, then lowest id; see
  // detail/page_aging.hpp), until at most `keep`
  // are resident or `deadline` comes, skipping pages for which may_spill(id) is false (owner
  // only, as spill). The deadline is kept: a page is started only when twice the mean time a page
  // has taken so far, and at least a tenth of the call's time to the deadline, still fit before
  // it (the first page always goes, so every call progresses). A
  // write that fails stops it, reported in the outcome, with that page still resident: a full
  // disk loses nothing. Pages are chosen in batches of spill_batch, each the coldest of one
  // window of entries (detail/spill_records.hpp: exact within it; the whole table when it has at
  // most spill_window ids), so choosing costs in proportion to what is spilled.
  template <class MaySpill>
  spill_outcome spill_coldest(std::size_t keep, std::chrono::steady_clock::time_point deadline, MaySpill&& may_spill)
  {
    using clock = std::chrono::steady_clock;
    spill_outcome out;
    const auto start = clock::now();
    // Kept back for a page slower than the mean (a write the kernel throttles): a tenth of the time.
    const auto slack = deadline > start ? (deadline - start) / 10 : clock::duration::zero();
    std::size_t looked = 0;  // entries looked at without finding a page to spill
    while (resident() > keep && looked < entries_.size()) {
      const auto& pick = spill_.coldest(std::min(resident() - keep, spill_batch), entries_.size(), [&](std::uint32_t i, std::uint32_t& heat) {
        const entry& e = entries_[i];
        if (!e.page || !may_spill(page_id{i})) return false;
        heat = spill_.aging.heat(e.flags >> uses_shift, e.used, clock_);
        return true;
      });
      looked = pick.empty() ? looked + std::min(entries_.size(), std::max(spill_batch * 4, spill_window)) : 0;
      for (std::size_t k = 0; k < pick.size(); ++k) {
        const std::uint64_t c = pick[k];
        if (k + 1 < pick.size()) prefetch_block(entries_[static_cast<std::uint32_t>(pick[k + 1])].page);  // cold: fetched during this write
        const auto now = clock::now();
        if (out.spilled != 0 && now + std::max<clock::duration>(2 * (now - start) / static_cast<clock::rep>(out.spilled), slack) > deadline) return out;
        try {
          spill(page_id{static_cast<std::uint32_t>(c)});
        } catch (const error& x) {
          out.failure = x.code();
          out.message = x.what();
          return out;
        }
        ++out.spilled;
      }
    }
    out.done = resident() <= keep;
    return out;
  }
  // The most pages chosen at once (each choice looks at one window of entries).
  static constexpr std::size_t spill_batch = 4096;
  // The fewest entries one spill_coldest call looks at (when the table has that many).
  static constexpr std::size_t spill_window = detail::spill_records<page_type>::window;

private:
  static constexpr std::uint32_t flag_destroyed = 1;
  static constexpr std::uint32_t flag_spilled = 2;  // page is null; used is the spill slot
  static constexpr std::uint32_t uses_shift = 8;    // flags >> uses_shift: the page's use count
  static constexpr std::uint32_t uses_mask = 0xFFu << uses_shift;
  struct entry {
    page_type* page = nullptr;  // resident: the page (read with an acquire load); else nullptr
    std::uint32_t flags = 0;    // flag_* | use count << uses_shift (a resident page: the count alone)
    std::uint32_t used = 0;     // resident: the clock when last found; spilled: the spill slot
  };
  static_assert(sizeof(entry) == 16, "page table entries are 16 bytes");

  // Brings a spilled page back (any thread), rebuilt if its record is damaged and it can be;
  // nullptr when the id is not live.
  [[gnu::noinline, gnu::cold]] page_type* reload(page_id id)
  {
    std::lock_guard lock(spill_.mutex);
    entry& e = entries_[id.value()];
    if (e.page) return e.page;  // another thread brought it back
    if (!(e.flags & flag_spilled)) return nullptr;
    void* mem = alloc_.allocate(block_bytes);  // may throw; the page stays spilled
    page_type* p = ::new (mem) page_type(id);
    try {
      if (std::string what; !spill_.read(e.used, id, *p, what) && !spill_.recover(id, spill_.epoch_at(e.used), *p, what))
        throw error(errc::corrupt, what);
    } catch (...) {
      release(p);
      throw;
    }
    const std::uint32_t uses = spill_.aging.used(e.flags >> uses_shift, spill_.last_use_at(e.used), clock_);  // this access counts
    spill_.release(e.used);
    __atomic_store_n(&e.flags, uses << uses_shift, __ATOMIC_RELAXED);
    e.used = clock_;
    spill_.spilled.fetch_sub(1, std::memory_order_relaxed);
    spill_.reloads.fetch_add(1, std::memory_order_relaxed);
    __atomic_store_n(&e.page, p, __ATOMIC_RELEASE);
    return p;
  }

  // Records a use of a resident page in a new clock tick (any thread: plain stores, a race may
  // count one use less).
  void touch(entry& e) const noexcept
  {
    const std::uint32_t uses = spill_.aging.used(__atomic_load_n(&e.flags, __ATOMIC_RELAXED) >> uses_shift, __atomic_load_n(&e.used, __ATOMIC_RELAXED), clock_);
    __atomic_store_n(&e.flags, uses << uses_shift, __ATOMIC_RELAXED);
    __atomic_store_n(&e.used, clock_, __ATOMIC_RELAXED);
  }
  void place(page_id id)
  {
    void* mem = alloc_.allocate(block_bytes);  // may throw; nothing recorded yet
    // Every byte defined, padding included: the storage's alignment can leave bytes that no
    // slot covers (bits<256> is 32 B of words in a 64 B block), and the state hash and
    // checkpoints read the whole storage. A fresh block from the allocator is indeterminate.
    // (After construction: stores before a constructor are dead to GCC's lifetime DSE.)
    page_type* p = ::new (mem) page_type(id);
    std::memset(static_cast<void*>(&p->storage()), 0, sizeof(typename page_type::storage_type));
    entries_[id.value()] = entry{p, 0, clock_};
    ++live_;
  }
  // A cold page's block ahead of its spill: its header (past the storage) and its first line.
  static void prefetch_block(const page_type* p) noexcept
  {
    __builtin_prefetch(p);
    __builtin_prefetch(reinterpret_cast<const char*>(p) + sizeof(page_type) - 1);
  }
  void release(page_type* p) noexcept
  {
    p->~page_type();
    alloc_.deallocate(p, block_bytes);
  }
  page_type* checked(page_id id)
  {
    if (id.value() >= entries_.size())
      throw error(errc::unknown_page, "unknown page " + std::to_string(id.value()) + ": no such page was created (ids issued: " +
                                        std::to_string(entries_.size()) + ")");
    page_type* p = find(id);
    if (!p) {
      const bool destroyed = entries_[id.value()].flags & flag_destroyed;
      throw error(errc::unknown_page, "unknown page " + std::to_string(id.value()) +
                                        (destroyed ? ": it was destroyed" : ": no such page was created"));
    }
    return p;
  }

  Allocator alloc_;
  id_reuse reuse_;
  std::vector<entry> entries_;
  std::vector<std::uint32_t> free_ids_;  // min-heap, lowest_free only
  std::size_t live_ = 0;
  std::uint32_t clock_ = 0;                        // see set_clock
  detail::spill_records<page_type> spill_;         // see the top of this header
  std::vector<std::uint64_t> wanted_;              // bring_back's (slot << 32 | id), reused
};

} // namespace mmsb
