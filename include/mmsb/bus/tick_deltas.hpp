// tick_deltas: the deltas one commit of the bus applies, one per page (a tick's merged batch or
// a transaction's), and the contiguous page ranges they are cut into for the scheduler. Pages in
// different ranges share nothing, so the ranges run in any order and on any thread with the same
// bits. Owned by basic_bus (bus.hpp), on its owner thread.
#pragma once

#include <mmsb/core/span.hpp>
#include <mmsb/delta/batch.hpp>
#include <mmsb/delta/delta.hpp>

#include <cstddef>
#include <vector>

namespace mmsb::detail {

template <class Semiring, class Layout>
class tick_deltas {
public:
  using delta_type = delta<Semiring, Layout>;

  // Seals `batch` and merges one delta per page into this, cut into `ranges` ranges (1: one)
  // that run on `sched`. The deltas never shrink: each keeps its storage, both encodings, for the
  // next tick, so only a tick that touches more pages than any before allocates here (and a
  // failure to, before anything changed).
  template <class Sched>
  void merge(delta_batch<Semiring, Layout>& batch, std::size_t ranges, Sched& sched)
  {
    batch.seal();
    const std::size_t pages = batch.pages().size();
    if (deltas_.size() < pages) {
      deltas_.reserve(pages);  // may throw: nothing changed yet
      while (deltas_.size() < pages) deltas_.emplace_back().reserve_dense();
    }
    size_ = pages;
    if (pages == 0) {
      cuts_.assign({std::size_t{0}, std::size_t{0}});  // a commit of topology edits alone applies nothing
      return;
    }
    batch.split_into(ranges, cuts_);
    for_each_index(sched, [&](std::size_t k) { batch.merge_partition_into(k, deltas_[k]); });
  }

  // A transaction's deltas (built anew), in one range.
  template <class Transaction>
  void take(Transaction& tx)
  {
    deltas_.clear();
    tx.deltas_into(deltas_);
    size_ = deltas_.size();
    cuts_.assign({std::size_t{0}, size_});
  }

  // The deltas, one per page.
  [[nodiscard]] span<const delta_type> merged() const noexcept { return {deltas_.data(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // f(k) for every delta index k, range by range: the ranges on `sched`, or inline when there is
  // one.
  template <class Sched, class F>
  void for_each_index(Sched& sched, F&& f) const
  {
    const auto range = [&](std::size_t w) {
      for (std::size_t k = cuts_[w]; k < cuts_[w + 1]; ++k) f(k);
    };
    if (cuts_.size() == 2) range(std::size_t{0});
    else sched.run(cuts_.size() - 1, range);
  }

private:
  std::vector<delta_type> deltas_;  // the deltas in [0, size_); the rest kept for reuse
  std::size_t size_ = 0;
  std::vector<std::size_t> cuts_;   // range w is [cuts_[w], cuts_[w + 1])
};

} // namespace mmsb::detail
