// The page table's spill bookkeeping (memory/page_table.hpp has the model): which slot of the
// spill file holds a page of which epoch, reading a record back with its check, what happens to a
// record that fails it (the rebuild hook, the damage counters and message), and choosing the
// coldest pages to spill. The table keeps its entries and decides when to call this.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/memory/detail/page_aging.hpp>
#include <mmsb/memory/spill_file.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::detail {

template <class Page>
class spill_records {
public:
  // rebuild(id, epoch, out): the page as it was at that epoch, into out; false when it cannot.
  using rebuild_fn = std::function<bool(page_id, mmsb::epoch, Page&)>;
  // The fewest entries one choice of coldest pages looks at (when the table has that many).
  static constexpr std::size_t window = std::size_t{1} << 16;

  spill_file* file = nullptr;  // where records go; nullptr: spilling is off
  rebuild_fn rebuild;          // see set_rebuild in page_table
  mutable std::mutex mutex;    // held by whoever reads a record or brings a page back
  page_aging aging;            // how pages' uses rank them for spilling

  // Writes p's record (p was last used at clock `last_use`) and returns its slot. Throws as
  // spill_file::write, with nothing taken.
  std::uint32_t write(const Page& p, std::uint32_t last_use)
  {
    const spill_file::page_record r{p.id(), p.epoch(), &p};
    return write_run(span<const spill_file::page_record>(&r, 1), &last_use).first;
  }
  // Writes the records of a prefix of `pages` (their pages last used at clocks last_uses[k]) into
  // adjacent slots (spill_file::write_run) and returns where. Throws as spill_file::write_run,
  // with nothing taken.
  spill_file::run write_run(span<const spill_file::page_record> pages, const std::uint32_t* last_uses)
  {
    reserve_for(slots_, std::size_t{file->slot_bound()} + pages.size());
    const spill_file::run r = file->write_run(pages);  // may throw: nothing changed
    if (r.first + r.count > slots_.size()) slots_.resize(std::size_t{r.first} + r.count);  // reserved above: no throw
    for (std::uint32_t k = 0; k < r.count; ++k) slots_[r.first + k] = {pages[k].epoch.value(), last_uses[k]};
    return r;
  }
  // The epoch of the page slot s holds.
  [[nodiscard]] mmsb::epoch epoch_at(std::uint32_t s) const noexcept { return mmsb::epoch{slots_[s].epoch}; }
  // The clock at the last use of the page slot s holds.
  [[nodiscard]] std::uint32_t last_use_at(std::uint32_t s) const noexcept { return slots_[s].last_use; }
  // Frees slot s.
  void release(std::uint32_t s) { file->release(s); }

  // Reads slot s, page id's record, into out; false (with the message in `what`) when the record
  // fails its check. Throws mmsb::error (io_error) when the read itself fails. Under mutex.
  bool read(std::uint32_t s, page_id id, Page& out, std::string& what) const
  {
    try {
      file->read(s, id, epoch_at(s), &out);
      return true;
    } catch (const error& x) {
      if (x.code() != errc::corrupt) throw;
      what = x.what();
      return false;
    }
  }
  // A record of page id at epoch e failed its check (`what`): counts and describes it, then
  // rebuilds the page into out when the hook can (true). Under mutex.
  bool recover(page_id id, mmsb::epoch e, Page& out, const std::string& what)
  {
    damaged_.fetch_add(1, std::memory_order_relaxed);
    last_damage_ = what;
    bool ok = false;
    if (rebuild) {
      try {
        out = Page(id);  // a rebuild starts from a clean page
        ok = rebuild(id, e, out) && out.id() == id && out.epoch() == e;
      } catch (...) {
      }
    }
    if (ok) {
      last_damage_ += "; rebuilt from the checkpoint and the log";
      rebuilt_.fetch_add(1, std::memory_order_relaxed);
    }
    return ok;
  }

  // The up to `want` coldest of the entries [hand, hand + the window) (wrapping; the window is
  // max(4 × want, window) entries, at most all n of them), as (heat << 32 | id), coldest first
  // (page_aging::heat). used(i, h) says whether entry i may be spilled, with its heat in h. The next call
  // starts where this one stopped (the clock hand of CLOCK caches), so choosing costs in
  // proportion to what is spilled, not to the table; within the window the choice is exact.
  template <class Used>
  std::vector<std::uint64_t>& coldest(std::size_t want, std::size_t n, Used&& used)
  {
    candidates_.clear();
    if (hand_ >= n) hand_ = 0;
    const std::size_t span = std::min(n, std::max(want * 4, window));
    for (std::size_t seen = 0; seen < span; ++seen) {
      std::uint32_t u = 0;
      if (used(static_cast<std::uint32_t>(hand_), u)) candidates_.push_back((std::uint64_t{u} << 32) | hand_);
      if (++hand_ == n) hand_ = 0;
    }
    const auto mid = candidates_.begin() + static_cast<std::ptrdiff_t>(std::min(want, candidates_.size()));
    std::nth_element(candidates_.begin(), mid, candidates_.end());
    std::sort(candidates_.begin(), mid);
    candidates_.erase(mid, candidates_.end());
    return candidates_;
  }

  // Counters and the last damage (see page_table's accessors of the same names).
  std::atomic<std::size_t> spilled{0};
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> prefetched{0};
  [[nodiscard]] std::uint64_t rebuilt() const noexcept { return rebuilt_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t damaged() const noexcept { return damaged_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::string last_damage() const
  {
    std::lock_guard lock(mutex);
    return last_damage_;
  }

private:
  std::atomic<std::uint64_t> rebuilt_{0}, damaged_{0};
  std::string last_damage_;                // under mutex
  struct slot_info {
    std::uint64_t epoch;    // the epoch of the page the slot holds
    std::uint32_t last_use; // the clock at that page's last use before it was spilled
  };
  std::vector<slot_info> slots_;  // by slot
  std::vector<std::uint64_t> candidates_;  // coldest()'s, reused
  std::size_t hand_ = 0;                   // where the next window starts
};

} // namespace mmsb::detail
