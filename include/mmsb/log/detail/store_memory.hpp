// The durable store's memory-budget engine (log/durable_store.hpp is the facade and takes its
// lock around every call; docs/memory.md has the model): the budget and its spill file, the
// hysteresis between the watermarks, what the maintain phase spills, and bringing a commit's
// targets back before it is logged.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/memory/budget.hpp>
#include <mmsb/memory/spill_file.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mmsb::detail {

template <class Table>
class store_memory {
public:
  // The budget in effect (off by default) and its spill file (nullptr without one).
  [[nodiscard]] const memory_budget& budget() const noexcept { return budget_; }
  [[nodiscard]] const spill_file* file() const noexcept { return spill_.get(); }

  // Bytes the table's pages hold in memory: the allocator's live blocks and the table's metadata.
  [[nodiscard]] static std::uint64_t in_use(const Table& t) noexcept { return t.allocator().stats().live_bytes + t.metadata_bytes(); }

  // The facade's set_memory_budget. quiesce() waits until no background checkpoint holds page
  // pointers; it runs once the budget is checked and its file made, before any page moves.
  template <class Quiesce>
  void set(Table& table, const memory_budget& b, std::size_t min_pages, Quiesce&& quiesce)
  {
    b.check(Table::block_bytes, min_pages);
    auto f = b.on() ? std::make_unique<spill_file>(b.directory(), sizeof(typename Table::page_type), b.spill_quota, b.spill_slack) : nullptr;
    quiesce();
    table.set_spill_file(nullptr);  // every spilled page back (may throw: nothing else changed)
    table.set_spill_file(f.get());
    if (b.on()) table.set_half_life(b.half_life);  // checked above: no throw
    spill_ = std::move(f);
    budget_ = b;
  }

  // Whether the maintain phase has work: over the high watermark, or still on its way down to
  // the low one. Marks it on its way.
  [[nodiscard]] bool due(const Table& table, std::uint64_t kept_bytes) noexcept
  {
    if (!budget_.on() || (!spilling_ && in_use(table) + kept_bytes <= budget_.high_bytes())) return false;
    spilling_ = true;
    return true;
  }

  // The facade's maintain_memory, once due(): `pending` are the ids of pages not yet logged
  // (never spilled), `background` the checkpoint writer (busy(), wait()).
  template <class Ids, class Background>
  spill_report maintain(Table& table, const Ids& pending, Background& background, std::chrono::steady_clock::time_point deadline,
                        std::uint64_t kept_bytes)
  {
    spill_report r;
    if (background.busy()) {
      if (in_use(table) + kept_bytes <= budget_.limit_bytes) {
        r.carried_over = true;  // it holds page pointers: spill next tick
        return r;
      }
      r.over_limit = true;  // the hard cap: wait for it rather than go on past the limit
      background.wait();
    }
    const std::uint64_t meta = table.metadata_bytes() + kept_bytes;
    const auto pages_within = [&](std::uint64_t bytes) {
      return static_cast<std::size_t>((bytes > meta ? bytes - meta : 0) / Table::block_bytes);
    };
    fresh_.assign(pending.begin(), pending.end());
    std::sort(fresh_.begin(), fresh_.end());
    const auto may_spill = [&](page_id id) { return fresh_.empty() || !std::binary_search(fresh_.begin(), fresh_.end(), id.value()); };
    auto out = table.spill_coldest(pages_within(budget_.low_bytes()), deadline, may_spill);
    r.spilled = out.spilled;
    // The limit itself is a hard cap: past it, spilling goes on after the pause, down to it.
    if (!out.done && out.failure == errc{} && in_use(table) + kept_bytes > budget_.limit_bytes) {
      r.over_limit = true;
      out = table.spill_coldest(pages_within(budget_.limit_bytes), std::chrono::steady_clock::time_point::max(), may_spill);
      r.spilled += out.spilled;
      out.done = false;  // still over the low watermark: the next tick goes on
    }
    r.carried_over = !out.done;
    spilling_ = !out.done;
    r.failure = out.failure;
    r.message = out.message;
    return r;
  }

  // Brings the pages `deltas` target into memory, spilled ones at once in file order, recording
  // their use at `clock` (the next commit's epoch). Throws mmsb::error (unknown_page naming the
  // id; corrupt, io_error).
  template <class Deltas>
  void bring_in(Table& table, const Deltas& deltas, std::uint32_t clock)
  {
    table.set_clock(clock);
    if (table.spilled() != 0) {
      targets_.clear();
      for (const auto& d : deltas) targets_.push_back(d.target());
      table.bring_back(targets_);
    }
    for (const auto& d : deltas)
      if (!table.find(d.target()))  // a spilled target comes back here (throws corrupt or io_error)
        throw error(errc::unknown_page, "commit: unknown page " + std::to_string(d.target().value()));
  }

private:
  memory_budget budget_;
  std::unique_ptr<spill_file> spill_;  // the table's spill file while a budget is on
  bool spilling_ = false;              // over the high watermark, not yet down to the low one
  std::vector<std::uint32_t> fresh_;   // maintain's sorted copy of the pending ids
  std::vector<page_id> targets_;       // bring_in's, reused
};

} // namespace mmsb::detail
