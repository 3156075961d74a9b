// The page table's engine for where each page is (memory/page_table.hpp is the facade and has
// the contract; docs/memory.md the model): one 16-byte entry per id issued, holding the page's
// block when it is in memory or its slot in the spill file when it is not. Finding pages (and
// bringing spilled ones back, one by one or in bulk), their aging, spilling them, and reading
// every page without keeping spilled ones. The facade issues, checks and frees ids.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/detail/spill_records.hpp>
#include <mmsb/memory/spill_file.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::detail {

template <class Page, page_allocator Allocator>
class resident_set {
public:
  using page_type = Page;
  static constexpr std::size_t block_bytes = round_up(sizeof(page_type), page_alignment);
  static constexpr std::size_t spill_batch = 4096;  // the most pages one choice picks
  static constexpr std::size_t spill_run = 64;      // the most pages one write to the spill file takes
  static constexpr std::size_t spill_window = spill_records<page_type>::window;
  struct spill_outcome {
    std::size_t spilled = 0;  // pages moved to the file
    bool done = false;        // resident() reached `keep` (false: the deadline came, or an error)
    errc failure{};           // errc{} or the error that stopped it (no_space, io_error)
    std::string message;      // the error's message, naming the page and the file
  };

  resident_set() = default;
  template <class... Args>
  explicit resident_set(std::in_place_t, Args&&... args) : alloc_(std::forward<Args>(args)...) {}
  resident_set(const resident_set&) = delete;
  resident_set& operator=(const resident_set&) = delete;
  ~resident_set()
  {
    for (auto& e : entries_)
      if (e.page) release(e.page);
  }  // spilled pages hold no block; their records go with the spill file

  // ---- entries: ids issued, live pages -----------------------------------------------------
  [[nodiscard]] std::size_t bound() const noexcept { return entries_.size(); }
  [[nodiscard]] std::size_t live() const noexcept { return live_; }
  [[nodiscard]] std::size_t entry_bytes() const noexcept { return entries_.capacity() * sizeof(entry); }
  // Entries for ids below n (new ones empty). Throws std::bad_alloc with nothing changed.
  void grow(std::size_t n) { entries_.resize(n); }
  // Drops the entries from n on (empty ones only: undoing a grow).
  void shrink(std::size_t n) noexcept { entries_.resize(n); }
  // Whether the id was issued and destroyed.
  [[nodiscard]] bool destroyed(page_id id) const noexcept { return id.value() < entries_.size() && (entries_[id.value()].flags & flag_destroyed); }
  // A zeroed page in a new block for an empty entry. Throws (out_of_memory) with nothing changed.
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
  // Frees a live page's block or spill slot and marks the id destroyed.
  void erase(page_id id) noexcept
  {
    entry& e = entries_[id.value()];
    if (e.page) {
      release(e.page);
    } else if (e.flags & flag_spilled) {
      spill_.release(e.used);
      spill_.spilled.fetch_sub(1, std::memory_order_relaxed);
    }
    e = entry{nullptr, flag_destroyed, 0};
    --live_;
  }

  // ---- finding pages (the facade's find, note_use, find_unaged, contains, epoch_of) ---------
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
  void note_use(page_id id) noexcept
  {
    if (id.value() >= entries_.size()) return;
    entry& e = entries_[id.value()];
    if (__atomic_load_n(&e.used, __ATOMIC_RELAXED) != clock_ && __atomic_load_n(&e.page, __ATOMIC_ACQUIRE)) touch(e);
  }
  [[nodiscard]] page_type* find_unaged(page_id id) const
  {
    if (id.value() >= entries_.size()) return nullptr;
    if (page_type* p = __atomic_load_n(&entries_[id.value()].page, __ATOMIC_ACQUIRE)) [[likely]] return p;
    return spilled() == 0 ? nullptr : const_cast<resident_set*>(this)->reload(id);
  }
  [[nodiscard]] bool contains(page_id id) const noexcept
  {
    if (id.value() >= entries_.size()) return false;
    const entry& e = entries_[id.value()];
    return __atomic_load_n(&e.page, __ATOMIC_ACQUIRE) != nullptr || (__atomic_load_n(&e.flags, __ATOMIC_RELAXED) & flag_spilled);
  }
  void prefetch_entry(page_id id) const noexcept
  {
    if (id.value() < entries_.size()) __builtin_prefetch(&entries_[id.value()]);
  }
  void prefetch_header(page_id id) const noexcept
  {
    if (id.value() >= entries_.size()) return;
    if (const page_type* p = __atomic_load_n(&entries_[id.value()].page, __ATOMIC_RELAXED)) p->prefetch_header();
  }
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
  [[nodiscard]] const page_type* resident_page(page_id id) const noexcept
  {
    return id.value() < entries_.size() ? entries_[id.value()].page : nullptr;
  }
  // f(page) for every live page, ascending; a spilled page read into a scratch page (see the
  // facade's const for_each).
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
          f(whole ? static_cast<const page_type&>(*scratch) : static_cast<const page_type&>(*const_cast<resident_set*>(this)->reload(id)));
        }
      }
    }
  }

  // ---- aging ------------------------------------------------------------------------------
  void set_clock(std::uint32_t now) noexcept { clock_ = now; }
  [[nodiscard]] std::uint32_t clock() const noexcept { return clock_; }
  [[nodiscard]] std::uint32_t last_use(page_id id) const noexcept
  {
    return id.value() < entries_.size() && entries_[id.value()].page ? entries_[id.value()].used : 0;
  }
  [[nodiscard]] std::uint32_t use_count(page_id id) const noexcept
  {
    return id.value() < entries_.size() && entries_[id.value()].page ? entries_[id.value()].flags >> uses_shift : 0;
  }
  void set_half_life(std::uint32_t ticks)
  {
    if (ticks == 0) throw error(errc::invalid_argument, "page table: the aging half-life must be at least 1 tick");
    spill_.aging.half_life = ticks;
  }

  // ---- spill -----------------------------------------------------------------------------
  [[nodiscard]] spill_records<page_type>& records() noexcept { return spill_; }
  [[nodiscard]] const spill_records<page_type>& records() const noexcept { return spill_; }
  [[nodiscard]] std::size_t resident() const noexcept { return live_ - spilled(); }
  [[nodiscard]] std::size_t spilled() const noexcept { return spill_.spilled.load(std::memory_order_relaxed); }
  [[nodiscard]] bool is_spilled(page_id id) const noexcept
  {
    return id.value() < entries_.size() && (__atomic_load_n(&entries_[id.value()].flags, __ATOMIC_RELAXED) & flag_spilled);
  }
  [[nodiscard]] bool spill_slot(page_id id, std::uint32_t& slot) const noexcept
  {
    if (!is_spilled(id)) return false;
    slot = entries_[id.value()].used;
    return true;
  }
  // Spilling off: every spilled page back first (throws as find), then no file.
  void set_spill_file(spill_file* f)
  {
    if (!f)
      for (std::size_t i = 0; i < entries_.size() && spilled() != 0; ++i) (void)find(page_id{static_cast<std::uint32_t>(i)});
    spill_.file = f;
  }
  // The facade's bring_back.
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
  // Moves resident page p (id's) to the spill file and frees its block; throws as
  // spill_file::write with the page still resident. Spilling is no use: the age stays.
  void spill(page_id id, page_type* p)
  {
    const std::uint32_t slot = spill_.write(*p, entries_[id.value()].used);  // may throw: nothing changed
    spilled_to(id, slot);
  }
  // The facade's spill_coldest. The chosen pages go to the file in runs of adjacent slots
  // (spill_file::write_run), as many as the time left allows.
  template <class MaySpill>
  spill_outcome spill_coldest(std::size_t keep, std::chrono::steady_clock::time_point deadline, MaySpill&& may_spill)
  {
    using clock = std::chrono::steady_clock;
    spill_outcome out;
    const auto start = clock::now();
    // Kept back for a page slower than the mean (a write the kernel throttles): a tenth of the time.
    const auto slack = deadline > start ? (deadline - start) / 10 : clock::duration::zero();
    std::array<spill_file::page_record, spill_run> run;
    std::array<std::uint32_t, spill_run> last_uses;
    std::size_t looked = 0;  // entries looked at without finding a page to spill
    while (resident() > keep && looked < entries_.size()) {
      const auto& pick = spill_.coldest(std::min(resident() - keep, spill_batch), entries_.size(), [&](std::uint32_t i, std::uint32_t& heat) {
        const entry& e = entries_[i];
        if (!e.page || !may_spill(page_id{i})) return false;
        heat = spill_.aging.heat(e.flags >> uses_shift, e.used, clock_);
        return true;
      });
      looked = pick.empty() ? looked + std::min(entries_.size(), std::max(spill_batch * 4, spill_window)) : 0;
      for (std::size_t k = 0; k < pick.size();) {
        // A run takes the pages that fit at the mean page time (this call's, else the last
        // call's) after twice that mean and the slack are kept back. The first run always goes
        // (progress): one page when no mean is known yet or nothing fits.
        const auto now = clock::now();
        if (out.spilled != 0) page_time_ = std::max<clock::duration>((now - start) / static_cast<clock::rep>(out.spilled), clock::duration{1});
        std::size_t fit = 1;
        if (page_time_ != clock::duration::zero()) {
          const auto reserve = std::max<clock::duration>(2 * page_time_, slack);
          if (now + reserve <= deadline) fit = std::min<std::size_t>(spill_run, 1 + static_cast<std::size_t>((deadline - now - reserve) / page_time_));
          else if (out.spilled != 0) return out;
        }
        const std::size_t n = std::min(fit, pick.size() - k);
        for (std::size_t j = 0; j < n; ++j) {
          const entry& e = entries_[static_cast<std::uint32_t>(pick[k + j])];
          run[j] = {e.page->id(), e.page->epoch(), e.page};
          last_uses[j] = e.used;
        }
        spill_file::run wrote;
        try {
          wrote = spill_.write_run(span<const spill_file::page_record>(run.data(), n), last_uses.data());
        } catch (const error& x) {
          out.failure = x.code();
          out.message = x.what();
          return out;
        }
        for (std::uint32_t j = 0; j < wrote.count; ++j) spilled_to(run[j].id, wrote.first + j);
        k += wrote.count;
        out.spilled += wrote.count;
      }
    }
    out.done = resident() <= keep;
    return out;
  }

  [[nodiscard]] Allocator& allocator() noexcept { return alloc_; }
  [[nodiscard]] const Allocator& allocator() const noexcept { return alloc_; }

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
  // Resident page id now lives in spill slot `slot`: frees its block. The age stays.
  void spilled_to(page_id id, std::uint32_t slot) noexcept
  {
    entry& e = entries_[id.value()];
    release(e.page);
    e = entry{nullptr, flag_spilled | (e.flags & uses_mask), slot};
    spill_.spilled.fetch_add(1, std::memory_order_relaxed);
  }
  void release(page_type* p) noexcept
  {
    p->~page_type();
    alloc_.deallocate(p, block_bytes);
  }

  Allocator alloc_;
  std::vector<entry> entries_;
  std::size_t live_ = 0;
  std::uint32_t clock_ = 0;             // see the facade's set_clock
  spill_records<page_type> spill_;      // which slot holds which page; the choice of the coldest
  std::vector<std::uint64_t> wanted_;   // bring_back's (slot << 32 | id), reused
  std::chrono::steady_clock::duration page_time_{};  // spill_coldest's mean time a page, at its last run
};

} // namespace mmsb::detail
