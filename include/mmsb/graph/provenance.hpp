// Provenance: which pages (or slots) a page's value came from, and who last wrote each, found
// by walking edges backwards with a depth limit. A page-level query costs O(what it reaches):
// visited marks are generation stamps, never cleared page by page. Answers are cached per
// (page, depth) until the graph's structure changes; the writers are read fresh every time.
//
// A page's last writer: its epoch is the page's own epoch (page::epoch(), the epoch of its last
// committed change), however the page was written (a store's commit, page_graph::apply). Its txn
// is the one given with that epoch to page_graph::apply(d, stamp), else the epoch's number.
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/graph/topology.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mmsb {

// An explicit writer stamp (page_graph::apply(d, stamp)). Zero means "never stamped".
struct writer_stamp {
  mmsb::epoch epoch{};  // the epoch of the write
  txn_id txn{};         // the transaction that wrote it
};

// The last writer of a page whose own epoch is page_epoch, given the last explicit stamp.
[[nodiscard]] inline writer_stamp last_writer(mmsb::epoch page_epoch, const writer_stamp& stamped) noexcept
{
  if (stamped.epoch.value() != 0 && stamped.epoch.value() == page_epoch.value()) return stamped;
  return {page_epoch, txn_id{page_epoch.value()}};
}

// The last writer of page p of a page table (see last_writer), given the explicit stamps by
// page id; none for a page that is not live.
template <class Table>
[[nodiscard]] writer_stamp writer_of(const Table& bases, const std::vector<writer_stamp>& stamps, page_id p) noexcept
{
  if (!bases.contains(p)) return {};
  return last_writer(bases.epoch_of(p), p.value() < stamps.size() ? stamps[p.value()] : writer_stamp{});
}

// One page (or slot) a queried value came from, with its distance and its base's last writer.
struct ancestor {
  // The `slot` of a page-level answer, or of a kernel-edge source (kernels read whole pages).
  static constexpr std::uint32_t whole_page = std::numeric_limits<std::uint32_t>::max();
  page_id page;                     // the source page
  std::uint32_t slot = whole_page;  // for element queries: the source slot, or whole_page
  std::uint32_t depth = 0;          // edges between it and the queried page (1 = direct source)
  mmsb::epoch last_epoch{};         // the last write to its base (0: never written)
  txn_id last_txn{};                // the transaction of that write (see last_writer)
};

// A provenance query's answer.
struct provenance_result {
  std::vector<ancestor> ancestors;  // by depth, then in discovery order
  bool truncated = false;           // the depth limit cut off sources further up
};

// The provenance engine page_graph owns (see the top comment): answers page- and slot-level
// queries over a graph_topology, caching per (page, depth). Not thread-safe (queries update the
// cache and the visit marks).
class provenance_finder {
public:
  static constexpr std::uint32_t default_depth = 32;  // edges walked when the caller gives no limit

  // Page-level: every page whose value can reach p within `depth` edges. stamp(span<ancestor>)
  // fills in the writers of a whole answer at once (page_graph prefetches them).
  template <class Stamp>
  provenance_result pages(const graph_topology& g, std::uint32_t p, std::uint32_t depth, Stamp stamp, bool use_cache = true)
  {
    if (cache_version_ != g.version()) {
      cache_.clear();
      cache_version_ = g.version();
    }
    const std::uint64_t key = (std::uint64_t{p} << 32) | depth;
    provenance_result r;
    if (auto it = use_cache ? cache_.find(key) : cache_.end(); it != cache_.end()) {
      r = it->second;
    } else {
      r = walk(g, p, depth);
      if (use_cache) {
        if (cache_.size() >= max_cached) cache_.clear();
        cache_.emplace(key, r);
      }
    }
    stamp(span<ancestor>(r.ancestors.data(), r.ancestors.size()));
    return r;
  }

  // Element-level: the slots that can reach slot i of page p. Matrix edges name the exact source
  // slots (the row's columns); a kernel edge reads whole pages, so its sources are whole_page.
  // stamp as for pages().
  template <class Stamp, class RowCols>
  provenance_result slots(const graph_topology& g, std::uint32_t p, std::uint32_t i, std::uint32_t depth, Stamp stamp,
                          RowCols row_cols)
  {
    provenance_result r;
    std::unordered_set<std::uint64_t> seen;
    std::vector<ancestor> level{{page_id{p}, i, 0}}, next;
    seen.insert((std::uint64_t{p} << 32) | i);
    for (std::uint32_t d = 1; !level.empty(); ++d) {
      if (d > depth) {
        for (const auto& a : level) r.truncated = r.truncated || !g.in(a.page.value()).empty();
        break;
      }
      next.clear();
      for (const auto& a : level) {
        for (const auto t : g.in(a.page.value())) {
          const auto& tr = g.at(t);
          const auto add = [&](std::uint32_t u, std::uint32_t s) {
            if (seen.insert((std::uint64_t{u} << 32) | s).second) next.push_back({page_id{u}, s, d});
          };
          if (tr.kind == edge_kind::kernel || a.slot == ancestor::whole_page) {
            for (const auto u : tr.srcs) add(u, ancestor::whole_page);
          } else {
            for (const auto c : row_cols(t, a.slot)) add(tr.srcs.front(), c);
          }
        }
      }
      r.ancestors.insert(r.ancestors.end(), next.begin(), next.end());
      std::swap(level, next);
    }
    stamp(span<ancestor>(r.ancestors.data(), r.ancestors.size()));
    return r;
  }

private:
  static constexpr std::size_t max_cached = 4096;

  // The sources of every page as one flat array (CSR), rebuilt when the structure changes: a
  // walk then costs one indirection per page, as a hand-written BFS does.
  void index(const graph_topology& g)
  {
    if (index_version_ == g.version() && src_ptr_.size() == g.node_bound() + 1) return;
    src_ptr_.assign(g.node_bound() + 1, 0);
    srcs_.clear();
    for (std::uint32_t v = 0; v < g.node_bound(); ++v) {
      for (const auto t : g.in(v))
        for (const auto u : g.at(t).srcs) srcs_.push_back(u);
      src_ptr_[v + 1] = srcs_.size();
    }
    index_version_ = g.version();
  }

  // A level-synchronous BFS over the flat sources: the pages found go to found_ (reused), each
  // depth's run ending at ends_[depth - 1]; the answer is then allocated once, at its size.
  provenance_result walk(const graph_topology& g, std::uint32_t p, std::uint32_t depth)
  {
    index(g);
    if (mark_.size() < g.node_bound()) mark_.resize(g.node_bound(), 0);
    if (++generation_ == 0) {  // wrapped: clear once every 2^32 queries
      std::fill(mark_.begin(), mark_.end(), 0);
      generation_ = 1;
    }
    provenance_result r;
    // Locals, so that the stores to the marks cannot make the compiler reload the arrays.
    std::uint32_t* const mark = mark_.data();
    const std::uint64_t* const ptr = src_ptr_.data();
    const std::uint32_t* const srcs = srcs_.data();
    const std::uint32_t gen = generation_;
    std::vector<std::uint32_t> found = std::move(found_);
    struct give_back {  // found_ keeps its storage for the next walk, on a throw too
      std::vector<std::uint32_t>& to;
      std::vector<std::uint32_t>& from;
      ~give_back() { to = std::move(from); }
    } keep{found_, found};
    mark[p] = gen;
    found.assign(1, p);
    ends_.clear();
    for (std::size_t begin = 0, end = 1; begin != end; begin = end, end = found.size()) {
      if (ends_.size() == depth) {
        for (std::size_t k = begin; k < end; ++k) r.truncated = r.truncated || ptr[found[k]] != ptr[found[k] + 1];
        break;
      }
      for (std::size_t k = begin; k < end; ++k) {
        const std::uint32_t v = found[k];
        for (std::uint64_t e = ptr[v], e_end = ptr[v + 1]; e < e_end; ++e) {
          const std::uint32_t u = srcs[e];
          if (mark[u] == gen) continue;
          mark[u] = gen;
          found.push_back(u);
        }
      }
      ends_.push_back(found.size());
    }
    r.ancestors.reserve(found.size() - 1);
    std::size_t k = 1;
    for (std::uint32_t d = 1; d <= ends_.size(); ++d)
      for (; k < ends_[d - 1]; ++k) r.ancestors.push_back({page_id{found[k]}, ancestor::whole_page, d});
    return r;
  }

  std::vector<std::uint32_t> mark_, found_;  // visit stamps by page; the pages a walk found (the queried one first)
  std::vector<std::size_t> ends_;  // where each depth's run in found_ ends
  std::vector<std::uint64_t> src_ptr_;
  std::vector<std::uint32_t> srcs_;
  std::uint64_t index_version_ = std::numeric_limits<std::uint64_t>::max();
  std::uint32_t generation_ = 0;
  std::unordered_map<std::uint64_t, provenance_result> cache_;
  std::uint64_t cache_version_ = std::numeric_limits<std::uint64_t>::max();
};

// The writers of a provenance answer (writer_of for each). Each needs the page's table entry,
// then the page's epoch, then its stamp: loads scattered over the id range (a cache miss each at
// a million pages), so they are started ahead, entries 16 pages ahead and epochs 8, as a
// pipeline (Table: page_table's prefetch_entry and prefetch_header).
template <class Table>
void fill_writers(span<ancestor> as, const Table& bases, const std::vector<writer_stamp>& stamps) noexcept
{
  constexpr std::size_t entry_ahead = 16, header_ahead = 8;
  const std::size_t n = as.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + entry_ahead < n) {
      const page_id q = as[i + entry_ahead].page;
      bases.prefetch_entry(q);
      if (q.value() < stamps.size()) __builtin_prefetch(&stamps[q.value()]);
    }
    if (i + header_ahead < n) bases.prefetch_header(as[i + header_ahead].page);
    const writer_stamp w = writer_of(bases, stamps, as[i].page);
    as[i].last_epoch = w.epoch;
    as[i].last_txn = w.txn;
  }
}

} // namespace mmsb
