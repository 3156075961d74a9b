// delta_batch<Semiring, Layout>: changes to many pages, as runs (consecutive changes to one page
// under one order key, slots ascending: a delta's slots, as producers send them) over columns of
// slot, value and op. seal() orders them by (page, key, slot) and partitions them by page; each
// partition then merges into one delta per page, independently, so workers can take disjoint
// page ranges. The result depends only on the set of changes, never on how they were split
// across threads or the order in which sub-batches were appended.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/delta/order_key.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

// Changes to many pages of one Layout, as columns; seal() orders and partitions them, then
// merge_partition(k) gives page k's merged delta. Not thread-safe, except that after seal() several
// threads may merge distinct partitions at once.
template <class Semiring, class Layout>
class delta_batch {
public:
  using value_type = typename Layout::value_type;  // the element type of one slot
  // std::vector<bool> is not a column: booleans are stored one byte each.
  using value_storage = std::conditional_t<std::is_same_v<value_type, bool>, std::uint8_t, value_type>;

  // Appends one change. Throws mmsb::error (out_of_range) naming the page and slot if the slot is
  // past the layout's extent, with the batch unchanged.
  void push(page_id page, std::size_t slot, delta_op op, value_type v, order_key key)
  {
    if (slot >= Layout::extent)
      throw error(errc::out_of_range, "batch change for page " + std::to_string(page.value()) + ": slot " +
                                        std::to_string(slot) + " is out of range (the page has " +
                                        std::to_string(Layout::extent) + " slots)");
    if (op != delta_op::accumulate && op != delta_op::assign)
      throw error(errc::invalid_argument, "batch change for page " + std::to_string(page.value()) + ": unknown op");
    reserve(size() + 1);  // may throw; after it nothing can
    push_unchecked(page, static_cast<std::uint32_t>(slot), op, v, key);
  }

  // The same for a caller that has checked the change already (slot < extent, a known op) and
  // reserved room for it (reserve()): no checks, no allocation. The bus's ingest uses it. A
  // change to the last run's page under its key, at a higher slot, extends that run.
  MMSB_FORCEINLINE void push_unchecked(page_id page, std::uint32_t slot, delta_op op, value_type v, order_key key) noexcept
  {
    MMSB_EXPECTS(slot < Layout::extent && (op == delta_op::accumulate || op == delta_op::assign) && size() < slot_.capacity() &&
                 runs_.size() < runs_.capacity());  // reserve() grows every column together
    if (!runs_.empty() && runs_.back().page == page && slot > slot_.back() && key_equal(runs_.back().key, key)) ++runs_.back().count;
    else runs_.push_back({key, page, 1});
    slot_.push_back(slot);
    value_.push_back(static_cast<value_storage>(v));
    op_.push_back(op);
    sealed_ = false;
  }

  // Appends every change of d under one key (all or nothing: capacity is reserved first).
  void push(const delta<Semiring, Layout>& d, order_key key)
  {
    const auto push_all = [&](const sparse_delta<Semiring, Layout>& s) {
      reserve(size() + s.count());
      for (const auto& e : s.entries()) push_unchecked(d.target(), e.index, e.op, e.value, key);
    };
    if (const auto* s = d.as_sparse()) push_all(*s);
    else push_all(to_sparse(*d.as_dense()));
  }

  // Capacity for n changes (geometric growth). Throws with the batch unchanged.
  void reserve(std::size_t n)
  {
    reserve_for(slot_, n); reserve_for(value_, n); reserve_for(op_, n); reserve_for(runs_, n);
  }

  // Appends another batch (for example one producer thread's).
  void append(const delta_batch& other)
  {
    reserve(size() + other.size());
    slot_.insert(slot_.end(), other.slot_.begin(), other.slot_.end());
    value_.insert(value_.end(), other.value_.begin(), other.value_.end());
    op_.insert(op_.end(), other.op_.begin(), other.op_.end());
    runs_.insert(runs_.end(), other.runs_.begin(), other.runs_.end());
    sealed_ = false;
  }

  // The number of changes pushed (not pages).
  [[nodiscard]] std::size_t size() const noexcept { return slot_.size(); }
  // True when no change has been pushed.
  [[nodiscard]] bool empty() const noexcept { return slot_.empty(); }
  // Drops every change (keeping capacity); an empty batch counts as sealed.
  void clear() noexcept
  {
    slot_.clear(); value_.clear(); op_.clear(); runs_.clear(); bounds_.clear(); pages_.clear();
    sealed_ = true;
  }

  // Sorts by (page, key, slot) and partitions by page. Two changes with the same page, slot and
  // key have no defined order, so they are refused: mmsb::error (invalid_argument) naming them,
  // with the batch left as it was. Its working space is kept, so a batch reused at a steady size
  // seals without allocating.
  //
  // The work is per run, not per change: a stable order of the runs by page (a counting sort
  // when page ids are dense enough), then each run's changes copied to their place in one
  // pass. A page whose runs are not in strictly ascending key order (changes pushed out of
  // slot order, or sub-batches appended out of key order) is then sorted by (key, slot) on its
  // own and its runs rebuilt. The bus's drain gives each producer's runs in key order, so that
  // happens there only to a page that producers with out-of-order epochs both wrote.
  void seal()
  {
    if (sealed_) return;
    const std::size_t n = size(), r = runs_.size();
    // Grow the scratch buffers first; nothing the batch shows changes until the swap at the end
    // (sort_page's own buffers may still allocate), so an exception leaves it as it was.
    reserve_for(alt_pages_, r);
    reserve_for(alt_bounds_, r + 1);
    reserve_for(alt_slot_, n); reserve_for(alt_value_, n); reserve_for(alt_op_, n); reserve_for(alt_runs_, r);
    if (run_order_.size() < r) run_order_.resize(r);  // only grows: no refill each seal
    if (run_begin_.size() < r) run_begin_.resize(r);
    order_runs();
    alt_slot_.resize(n); alt_value_.resize(n); alt_op_.resize(n);
    alt_runs_.clear();
    std::uint32_t at = 0;
    for (std::size_t j = 0; j < r; ++j) {  // each run's changes to their place, in page order
      const run& x = runs_[run_order_[j]];
      const std::uint32_t from = run_begin_[run_order_[j]];
      for (std::uint32_t c = 0; c < x.count; ++c) {  // a loop: runs are a few changes, too short for memmove
        alt_slot_[at + c] = slot_[from + c];
        alt_value_[at + c] = value_[from + c];
        alt_op_[at + c] = op_[from + c];
      }
      alt_runs_.push_back(x);  // reserved: no allocation
      at += x.count;
    }
    alt_pages_.clear();
    alt_bounds_.clear();
    std::size_t kept = 0;  // runs kept (a page sorted on its own may merge runs under one key)
    for (std::size_t j = 0, first = 0; j < r;) {  // one page at a time: runs [j, e), changes from `first`
      std::size_t e = j + 1, end = first + alt_runs_[j].count;
      bool in_order = true;
      for (; e < r && alt_runs_[e].page == alt_runs_[j].page; end += alt_runs_[e++].count)
        in_order = in_order && key_less(alt_runs_[e - 1].key, alt_runs_[e].key);
      alt_pages_.push_back(alt_runs_[j].page);
      alt_bounds_.push_back(first);
      if (in_order) {
        if (kept != j)
          std::copy(alt_runs_.begin() + static_cast<std::ptrdiff_t>(j), alt_runs_.begin() + static_cast<std::ptrdiff_t>(e),
                    alt_runs_.begin() + static_cast<std::ptrdiff_t>(kept));
        kept += e - j;
      } else {
        kept = sort_page(j, e, first, end, kept);  // may throw (duplicate key): nothing swapped yet
      }
      j = e;
      first = end;
    }
    alt_runs_.resize(kept);
    alt_bounds_.push_back(n);
    slot_.swap(alt_slot_); value_.swap(alt_value_); op_.swap(alt_op_); runs_.swap(alt_runs_);
    pages_.swap(alt_pages_); bounds_.swap(alt_bounds_);
    sealed_ = true;
  }

  // True after seal() until the next push or append (and for an empty or cleared batch).
  [[nodiscard]] bool sealed() const noexcept { return sealed_; }

  // After seal(): the distinct pages, ascending, and the merged delta of partition k.
  [[nodiscard]] span<const page_id> pages() const noexcept { return {pages_.data(), pages_.size()}; }
  // A new delta holding the merge of partition k's changes, in key order per slot; requires
  // sealed() and k < pages().size().
  [[nodiscard]] delta<Semiring, Layout> merge_partition(std::size_t k) const
  {
    delta<Semiring, Layout> out;
    merge_partition_into(k, out);
    return out;
  }
  // The same into `out`, reusing its storage (no allocation once out has held deltas this big).
  // Safe to call for distinct k from several threads at once.
  void merge_partition_into(std::size_t k, delta<Semiring, Layout>& out) const
  {
    MMSB_EXPECTS(sealed_ && k + 1 < bounds_.size());
    const std::size_t first = bounds_[k], n = bounds_[k + 1] - bounds_[k];
    // Few changes (the usual case in a tick): fold them straight into the sparse delta, without
    // a page-sized scratch. Slot order, key order within a slot.
    if (n <= small_partition && prefer_sparse(n, Layout::extent)) {
      std::uint32_t idx[small_partition];
      for (std::size_t i = 0; i < n; ++i) {  // insertion sort by slot: stable, so key order stays
        std::size_t j = i;
        while (j > 0 && slot_[first + idx[j - 1]] > slot_[first + i]) {
          idx[j] = idx[j - 1];
          --j;
        }
        idx[j] = static_cast<std::uint32_t>(i);
      }
      auto& s = out.reuse_sparse(pages_[k]);
      s.reserve(small_partition);  // once per kept delta: any small partition fits after it
      for (std::size_t i = 0; i < n;) {
        const std::size_t at = first + idx[i];
        delta_element<value_type> e{op_[at] == delta_op::assign, static_cast<value_type>(value_[at])};
        std::size_t j = i + 1;
        for (; j < n && slot_[first + idx[j]] == slot_[at]; ++j) {
          const std::size_t b = first + idx[j];
          e = merge_element<Semiring>(e, {op_[b] == delta_op::assign, static_cast<value_type>(value_[b])});
        }
        s.push_back_unchecked(slot_[at], e.assign ? delta_op::assign : delta_op::accumulate, e.value);
        i = j;
      }
      return;
    }
    // Many changes: fold them, in key order, into a dense delta; re-encode sparse if few slots
    // turned out to change (a page's kept sparse storage takes it).
    auto& d = out.reuse_dense(pages_[k]);
    for (std::size_t i = first; i < first + n; ++i)
      d.put_unchecked(slot_[i], {op_[i] == delta_op::assign, static_cast<value_type>(value_[i])});
    if (prefer_sparse(d.count(), Layout::extent)) {
      auto& s = out.reuse_sparse(pages_[k]);
      to_sparse_into(d, s);
    }
  }

  // Splits the partitions into at most `workers` contiguous ranges [first, last) of roughly equal
  // change counts. The split affects only who does the work, never the result.
  [[nodiscard]] std::vector<std::size_t> split(std::size_t workers) const
  {
    std::vector<std::size_t> cuts;
    split_into(workers, cuts);
    return cuts;
  }
  // The same into `cuts` (its storage reused).
  void split_into(std::size_t workers, std::vector<std::size_t>& cuts) const
  {
    MMSB_EXPECTS(sealed_ && workers > 0);
    cuts.assign(1, 0);
    const std::size_t per = (size() + workers - 1) / workers;
    for (std::size_t k = 0; k < pages_.size(); ++k)
      if (bounds_[k + 1] >= per * cuts.size() && cuts.size() < workers) cuts.push_back(k + 1);
    if (cuts.back() != pages_.size()) cuts.push_back(pages_.size());
  }

private:
  static constexpr std::size_t small_partition = 64;

  // Consecutive changes to one page under one key, slots strictly ascending.
  struct run {
    order_key key;
    page_id page;
    std::uint32_t count;
  };

  // order_key's < and ==, field by field on the raw values: the same results as its defaulted
  // operators, written out for the per-change run test in push_unchecked (the instruction-count
  // gain measured small: merge 676,726 -> 672,832; the operators would do).
  static bool key_less(const order_key& a, const order_key& b) noexcept
  {
    if (a.epoch.value() != b.epoch.value()) return a.epoch.value() < b.epoch.value();
    if (a.producer.value() != b.producer.value()) return a.producer.value() < b.producer.value();
    return a.sequence.value() < b.sequence.value();
  }
  static bool key_equal(const order_key& a, const order_key& b) noexcept
  {
    return a.sequence.value() == b.sequence.value() && a.producer.value() == b.producer.value() && a.epoch.value() == b.epoch.value();
  }

  // run_begin_: each run's first change; run_order_: the runs' indices, stably by page (the first
  // runs_.size() entries of each; sized by the caller). A counting sort when page ids are dense
  // enough, else a sort by (page, index).
  void order_runs()
  {
    const std::size_t r = runs_.size();
    std::uint32_t at = 0, max_page = 0;
    for (std::size_t i = 0; i < r; ++i) {
      run_begin_[i] = at;
      at += runs_[i].count;
      max_page = std::max(max_page, runs_[i].page.value());
    }
    if (std::size_t{max_page} > 4 * r + 1024) {
      const auto last = run_order_.begin() + static_cast<std::ptrdiff_t>(r);
      std::iota(run_order_.begin(), last, 0u);
      std::sort(run_order_.begin(), last, [this](std::uint32_t a, std::uint32_t b) {
        const std::uint32_t pa = runs_[a].page.value(), pb = runs_[b].page.value();
        return pa != pb ? pa < pb : a < b;
      });
      return;
    }
    start_.assign(std::size_t{max_page} + 1, 0);
    for (const auto& x : runs_) ++start_[x.page.value()];
    at = 0;
    for (auto& c : start_) at += std::exchange(c, at);  // exclusive prefix: each page's first place
    for (std::uint32_t i = 0; i < r; ++i) run_order_[start_[runs_[i].page.value()]++] = i;
  }

  // One page's changes [first, end) in the alt_ columns, from runs [j, e) of alt_runs_, sorted
  // by (key, slot); its rebuilt runs (one per key) go to alt_runs_ from `kept`, which is at
  // most j. Returns the new count of kept runs. Throws, naming them, for two changes with the
  // same slot and key.
  std::size_t sort_page(std::size_t j, std::size_t e, std::size_t first, std::size_t end, std::size_t kept)
  {
    const std::size_t m = end - first;
    fix_key_.resize(m);
    fix_perm_.resize(m);
    for (std::size_t q = j, at = 0; q < e; ++q)
      for (std::uint32_t c = 0; c < alt_runs_[q].count; ++c) fix_key_[at++] = alt_runs_[q].key;
    std::iota(fix_perm_.begin(), fix_perm_.end(), 0u);
    const auto slot_at = [&](std::uint32_t i) { return alt_slot_[first + i]; };
    std::sort(fix_perm_.begin(), fix_perm_.end(), [&](std::uint32_t a, std::uint32_t b) {
      return fix_key_[a] != fix_key_[b] ? fix_key_[a] < fix_key_[b] : slot_at(a) < slot_at(b);
    });
    const page_id page = alt_runs_[j].page;
    for (std::size_t k = 1; k < m; ++k) {
      const std::uint32_t a = fix_perm_[k - 1], b = fix_perm_[k];
      if (fix_key_[a] == fix_key_[b] && slot_at(a) == slot_at(b))
        throw error(errc::invalid_argument,
                    "batch: two changes to page " + std::to_string(page.value()) + " slot " + std::to_string(slot_at(b)) +
                      " share the order key (epoch " + std::to_string(fix_key_[b].epoch.value()) + ", producer " +
                      std::to_string(fix_key_[b].producer.value()) + ", sequence " + std::to_string(fix_key_[b].sequence.value()) +
                      "), so their order is undefined");
    }
    permute(alt_slot_, first);
    permute(alt_value_, first);
    permute(alt_op_, first);
    for (std::size_t k = 0; k < m; ++k) {  // one run per key, in key order
      const order_key& key = fix_key_[fix_perm_[k]];
      if (k == 0 || !(fix_key_[fix_perm_[k - 1]] == key)) alt_runs_[kept++] = run{key, page, 1};
      else ++alt_runs_[kept - 1].count;
    }
    return kept;
  }
  // col[first, first + m) = itself permuted by fix_perm_ (through fix_tmp_).
  template <class T>
  void permute(std::vector<T>& col, std::size_t first)
  {
    std::vector<T>& tmp = fix_tmp<T>();
    tmp.assign(col.begin() + static_cast<std::ptrdiff_t>(first), col.begin() + static_cast<std::ptrdiff_t>(first + fix_perm_.size()));
    for (std::size_t k = 0; k < fix_perm_.size(); ++k) col[first + k] = tmp[fix_perm_[k]];
  }
  template <class T>
  std::vector<T>& fix_tmp() noexcept
  {
    if constexpr (std::is_same_v<T, std::uint32_t>) return fix_tmp_slot_;
    else if constexpr (std::is_same_v<T, delta_op>) return fix_tmp_op_;
    else return fix_tmp_value_;
  }

  std::vector<std::uint32_t> slot_;  // the changes, as pushed (sorted after seal)
  std::vector<value_storage> value_;
  std::vector<delta_op> op_;
  std::vector<run> runs_;            // covering the changes in order
  std::vector<page_id> pages_;       // after seal: distinct pages
  std::vector<std::size_t> bounds_;  // after seal: partition k is [bounds_[k], bounds_[k + 1])
  // seal()'s working space, kept between seals.
  std::vector<std::uint32_t> run_order_, run_begin_, start_;
  std::vector<std::uint32_t> alt_slot_;
  std::vector<value_storage> alt_value_;
  std::vector<delta_op> alt_op_;
  std::vector<run> alt_runs_;
  std::vector<page_id> alt_pages_;
  std::vector<std::size_t> alt_bounds_;
  std::vector<order_key> fix_key_;  // sort_page's
  std::vector<std::uint32_t> fix_perm_, fix_tmp_slot_;
  std::vector<value_storage> fix_tmp_value_;
  std::vector<delta_op> fix_tmp_op_;
  bool sealed_ = true;
};

} // namespace mmsb
