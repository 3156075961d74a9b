// delta_batch<Semiring, Layout>: changes to many pages as columns (page, slot, value, op, order
// key). seal() sorts them by (page, key, slot) and partitions them by page; each partition then
// merges into one delta per page, independently, so workers can take disjoint page ranges.
// The result depends only on the set of changes, never on how they were split across threads or
// the order in which sub-batches were appended.
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
    reserve(size() + 1);  // may throw; after it the five push_backs cannot
    page_.push_back(page);
    slot_.push_back(static_cast<std::uint32_t>(slot));
    value_.push_back(static_cast<value_storage>(v));
    op_.push_back(op);
    key_.push_back(key);
    sealed_ = false;
  }

  // The same for a caller that has checked the change already (slot < extent, a known op) and
  // reserved room for it (reserve()): no checks, no allocation. The bus's ingest uses it.
  void push_unchecked(page_id page, std::uint32_t slot, delta_op op, value_type v, order_key key) noexcept
  {
    MMSB_EXPECTS(slot < Layout::extent && (op == delta_op::accumulate || op == delta_op::assign) && size() < page_.capacity() &&
                 size() < key_.capacity());
    page_.push_back(page);
    slot_.push_back(slot);
    value_.push_back(static_cast<value_storage>(v));
    op_.push_back(op);
    key_.push_back(key);
    sealed_ = false;
  }

  // Appends every change of d under one key (all or nothing: capacity is reserved first).
  void push(const delta<Semiring, Layout>& d, order_key key)
  {
    const auto push_all = [&](const sparse_delta<Semiring, Layout>& s) {
      reserve(size() + s.count());
      for (const auto& e : s.entries()) push(d.target(), e.index, e.op, e.value, key);
    };
    if (const auto* s = d.as_sparse()) push_all(*s);
    else push_all(to_sparse(*d.as_dense()));
  }

  // Capacity for n changes in every column (geometric growth). Throws with the batch unchanged.
  void reserve(std::size_t n)
  {
    reserve_for(page_, n); reserve_for(slot_, n); reserve_for(value_, n); reserve_for(op_, n); reserve_for(key_, n);
  }

  // Appends another batch (for example one producer thread's).
  void append(const delta_batch& other)
  {
    reserve(size() + other.size());
    page_.insert(page_.end(), other.page_.begin(), other.page_.end());
    slot_.insert(slot_.end(), other.slot_.begin(), other.slot_.end());
    value_.insert(value_.end(), other.value_.begin(), other.value_.end());
    op_.insert(op_.end(), other.op_.begin(), other.op_.end());
    key_.insert(key_.end(), other.key_.begin(), other.key_.end());
    sealed_ = false;
  }

  // The number of changes pushed (not pages).
  [[nodiscard]] std::size_t size() const noexcept { return page_.size(); }
  // True when no change has been pushed.
  [[nodiscard]] bool empty() const noexcept { return page_.empty(); }
  // Drops every change (keeping capacity); an empty batch counts as sealed.
  void clear() noexcept
  {
    page_.clear(); slot_.clear(); value_.clear(); op_.clear(); key_.clear(); bounds_.clear(); pages_.clear();
    sealed_ = true;
  }

  // Sorts by (page, key, slot) and partitions by page. Two changes with the same page, slot and
  // key have no defined order, so they are refused: mmsb::error (invalid_argument) naming them,
  // with the batch left as it was. Its working space is kept, so a batch reused at a steady size
  // seals without allocating.
  void seal()
  {
    if (sealed_) return;
    const std::size_t n = size();
    // Grow every scratch buffer first, so an allocation failure leaves the batch as it was.
    perm_.resize(n);
    reserve_for(pages_, n);
    reserve_for(bounds_, n + 1);
    reserve_for(alt_page_, n); reserve_for(alt_slot_, n); reserve_for(alt_value_, n); reserve_for(alt_op_, n); reserve_for(alt_key_, n);
    if (!scatter_by_page()) {
      order();
      gather(page_, alt_page_); gather(slot_, alt_slot_); gather(value_, alt_value_); gather(op_, alt_op_); gather(key_, alt_key_);
    }
    for (std::size_t k = 1; k < n; ++k) {  // sorted: equal (page, slot, key) would be adjacent
      if (alt_page_[k - 1] == alt_page_[k] && alt_slot_[k - 1] == alt_slot_[k] && alt_key_[k - 1] == alt_key_[k])
        throw error(errc::invalid_argument,
                    "batch: two changes to page " + std::to_string(alt_page_[k].value()) + " slot " +
                      std::to_string(alt_slot_[k]) + " share the order key (epoch " + std::to_string(alt_key_[k].epoch.value()) +
                      ", producer " + std::to_string(alt_key_[k].producer.value()) + ", sequence " +
                      std::to_string(alt_key_[k].sequence.value()) + "), so their order is undefined");
    }
    page_.swap(alt_page_); slot_.swap(alt_slot_); value_.swap(alt_value_); op_.swap(alt_op_); key_.swap(alt_key_);
    pages_.clear();
    bounds_.clear();
    for (std::size_t k = 0; k < n; ++k) {
      if (k == 0 || page_[k] != page_[k - 1]) {
        pages_.push_back(page_[k]);
        bounds_.push_back(k);
      }
    }
    bounds_.push_back(n);
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

  // The common case in one pass: changes arrive grouped by producer, each producer's in key
  // order, so a stable counting sort by page, writing the five columns straight to their places
  // in the alt_ columns, usually leaves every page's run in (key, slot) order already. Writes
  // land in the cache without stalling the loop, where a permutation then five gathers would
  // read each column at random. False (alt_ holding nothing to keep) when page ids are too
  // sparse for a histogram or some run is out of order: order() and the gathers then do it.
  bool scatter_by_page()
  {
    const std::size_t n = size();
    std::uint32_t max_page = 0;
    for (const auto p : page_) max_page = std::max(max_page, p.value());
    if (n == 0 || std::size_t{max_page} > 4 * n + 1024) return false;
    start_.assign(std::size_t{max_page} + 2, 0);  // order()'s size too: neither regrows it after the other
    for (const auto p : page_) ++start_[p.value()];
    std::uint32_t at = 0;
    for (auto& c : start_) at += std::exchange(c, at);  // exclusive prefix: each page's first place
    alt_page_.resize(n); alt_slot_.resize(n); alt_value_.resize(n); alt_op_.resize(n); alt_key_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t k = start_[page_[i].value()]++;
      alt_page_[k] = page_[i]; alt_slot_[k] = slot_[i]; alt_value_[k] = value_[i]; alt_op_[k] = op_[i]; alt_key_[k] = key_[i];
    }
    for (std::size_t k = 1; k < n; ++k)  // each page's run in (key, slot) order (equal: refused later)
      if (alt_page_[k] == alt_page_[k - 1] &&
          (alt_key_[k] < alt_key_[k - 1] || (alt_key_[k] == alt_key_[k - 1] && alt_slot_[k] < alt_slot_[k - 1])))
        return false;
    return true;
  }
  // The permutation that sorts by (page, key, slot), into perm_ (sized by the caller). Changes
  // usually arrive grouped by producer, each producer's in key order, so a stable counting sort
  // by page (when page ids are dense enough) leaves most pages' runs already in key order; only
  // a run that is not gets sorted. O(n + pages) in that common case instead of O(n log n)
  // indirect comparisons. May allocate the page histogram (before anything changes).
  void order()
  {
    const std::size_t n = size();
    std::uint32_t max_page = 0;
    for (const auto p : page_) max_page = std::max(max_page, p.value());
    const auto by_key = [this](std::uint32_t a, std::uint32_t b) { return less(a, b); };
    if (n == 0 || std::size_t{max_page} > 4 * n + 1024) {
      std::iota(perm_.begin(), perm_.end(), 0u);
      std::sort(perm_.begin(), perm_.end(), by_key);
      return;
    }
    start_.assign(std::size_t{max_page} + 2, 0);
    for (const auto p : page_) ++start_[std::size_t{p.value()} + 1];
    for (std::size_t k = 1; k < start_.size(); ++k) start_[k] += start_[k - 1];
    for (std::uint32_t i = 0; i < n; ++i) perm_[start_[page_[i].value()]++] = i;
    // start_[p] is now the end of page p's run, and the end of page p - 1's is its start.
    const auto in_page = [this](std::uint32_t a, std::uint32_t b) {  // same page: (key, slot)
      if (key_[a] != key_[b]) return key_[a] < key_[b];
      return slot_[a] < slot_[b];
    };
    std::uint32_t begin = 0;
    for (std::size_t p = 0; p + 1 < start_.size(); ++p) {
      const auto first = perm_.begin() + begin, last = perm_.begin() + start_[p];
      for (auto it = first + (first != last); it < last; ++it)
        if (in_page(*it, *(it - 1))) {
          std::sort(first, last, in_page);
          break;
        }
      begin = start_[p];
    }
  }
  bool less(std::uint32_t a, std::uint32_t b) const noexcept
  {
    if (page_[a] != page_[b]) return page_[a] < page_[b];
    if (key_[a] != key_[b]) return key_[a] < key_[b];
    return slot_[a] < slot_[b];
  }
  // alt = col permuted by perm_ (alt's capacity reserved by seal(): no allocation).
  template <class T>
  void gather(const std::vector<T>& col, std::vector<T>& alt) const noexcept
  {
    alt.resize(col.size());
    for (std::size_t k = 0; k < perm_.size(); ++k) alt[k] = col[perm_[k]];
  }
  std::vector<page_id> page_;
  std::vector<std::uint32_t> slot_;
  std::vector<value_storage> value_;
  std::vector<delta_op> op_;
  std::vector<order_key> key_;
  std::vector<page_id> pages_;       // after seal: distinct pages
  std::vector<std::size_t> bounds_;  // after seal: partition k is [bounds_[k], bounds_[k + 1])
  // seal()'s working space, kept between seals.
  std::vector<std::uint32_t> perm_, start_;
  std::vector<page_id> alt_page_;
  std::vector<std::uint32_t> alt_slot_;
  std::vector<value_storage> alt_value_;
  std::vector<delta_op> alt_op_;
  std::vector<order_key> alt_key_;
  bool sealed_ = true;
};

} // namespace mmsb
