// region_solver: brings one fixed-point region (idempotent ⊕) back to its least fixed point after
// a wave changed what it reads, incrementally, by delete and re-derive:
//   1. seeds: the slots where something got worse (a source or base value that ⊕ does not
//      absorb, an edited row, a new member);
//   2. their closure S inside the region (every slot a seed can reach through region edges;
//      with a selective ⊕, only through terms equal to the slot's value) is reset to base ⊕
//      external terms; no slot outside S depended on a seed, so those stay;
//   3. improvements from outside are pushed as they are;
//   4. rounds of pushes from S, from the slots feeding S, and from what improved, until nothing
//      changes: the least fixed point again, touching only what the change can reach.
// Contract: solve() runs inside a wave (graph/wave.hpp), after every source of the region is
// final; it records each changed slot in the members' wave records and leaves publishing them to
// the wave. It throws mmsb::error (not_converged) after the region's max_iterations rounds; the
// wave then rolls the members' values back from those records.
//
// Inside a region, slots are (member index, slot), and the region's internal matrix edges are
// kept per member and slot, both ways, so a round reads one contiguous list per slot. Where a
// member has one internal edge that way, its list is a view of that matrix's own CSC (out) or CSR
// (in) arrays; where it has several, they are fused into one owned list. A member's lists are
// rebuilt lazily after an edge inside the region into or out of it is added, removed or
// reweighted (touch()).
//
// Packed booleans under or (use_word_path_v) in a region whose internal edges are all diagonal
// take the same algorithm on words, 64 slots an operation (graph/detail/diagonal_region.hpp).
#pragma once

#include <mmsb/delta/apply.hpp>
#include <mmsb/graph/detail/diagonal_region.hpp>
#include <mmsb/graph/detail/graph_state.hpp>

#include <mmsb/config/error.hpp>

#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::detail {

template <class Semiring, layout Layout, page_allocator Allocator>
class region_solver {
  using state = graph_state<Semiring, Layout, Allocator>;
  using traits = semiring_traits<Semiring>;
  using value_type = typename state::value_type;
  using page_type = typename state::page_type;
  using matrix_type = typename state::matrix_type;
  using work = typename state::work;
  using weight_type = typename matrix_type::stored_type;
  static constexpr std::size_t extent = state::extent;

public:
  explicit region_solver(state& g) : g_(g), words_(g) {}

  void grow(std::size_t n) { index_.resize(n, 0); }

  // Before topology's add_region(members) creates region `rid` (nothing here can throw after it).
  void prepare(std::size_t rid, std::size_t members)
  {
    if (links_.size() <= rid) links_.resize(rid + 1);
    links_[rid].out.assign(members, {});
    links_[rid].in.assign(members, {});
    words_.prepare(rid, members);
  }
  // After it: each member's index among the region's members.
  void index_members(const std::vector<std::uint32_t>& ids) noexcept
  {
    for (std::size_t k = 0; k < ids.size(); ++k) index_[ids[k]] = static_cast<std::uint32_t>(k);
  }
  // An edge src -> dst was added, removed or reweighted: inside one region, its lists are stale.
  void touch(std::uint32_t src, std::uint32_t dst) noexcept
  {
    if (!g_.topo.same_unit(src, dst)) return;
    region_links& l = links_[g_.topo.region_of(dst)];
    l.out[index_[src]].stale = l.in[index_[dst]].stale = true;
    words_.touch(g_.topo.region_of(dst), index_[src], index_[dst]);
  }

  // Solves the region holding root; returns the rounds it took.
  std::size_t solve(std::uint32_t root);

private:
  struct link_list {
    bool stale = true;
    std::uint32_t only = 0;              // every link's member (index in the region) if member is null
    const std::uint64_t* ptr = nullptr;  // by slot, extent + 1 offsets
    const std::uint32_t* slot = nullptr;
    const weight_type* weight = nullptr;
    const std::uint32_t* member = nullptr;
    std::vector<std::uint64_t> own_ptr;  // a fused list's storage
    std::vector<std::uint32_t> own_slot, own_member;
    std::vector<weight_type> own_weight;
    template <class F>
    void each(std::uint32_t j, F&& f) const  // f(member, slot, weight) for slot j's links
    {
      for (std::uint64_t q = ptr[j]; q < ptr[j + 1]; ++q) f(member ? member[q] : only, slot[q], static_cast<value_type>(weight[q]));
    }
  };
  struct region_links {
    std::vector<link_list> out, in;  // by member: the slots a slot feeds, the slots feeding it
  };
  // One region's propagation scratch, kept so steady-state rounds do not allocate.
  struct scratch {
    struct improvement {
      std::uint32_t member, slot;
      value_type term;
    };
    std::vector<std::pair<std::uint32_t, std::uint32_t>> frontier, next, reset, feeders;
    std::vector<improvement> better;
    std::vector<page_type*> x;  // by member: its value page
    std::vector<work*> w;       // by member: its wave record
  };

  const region_links& links_of(std::uint32_t rid)
  {
    region_links& l = links_[rid];
    const auto& members = g_.topo.region_at(rid).members;
    for (std::size_t k = 0; k < members.size(); ++k) {
      if (l.out[k].stale) build_links(l.out[k], members[k], true);
      if (l.in[k].stale) build_links(l.in[k], members[k], false);
    }
    return l;
  }
  void build_links(link_list& l, std::uint32_t page, bool out);

  state& g_;
  diagonal_region<Semiring, Layout, Allocator> words_;  // the word path
  std::vector<region_links> links_;      // by region id
  scratch r_;
  std::vector<slot_set> marks_;          // per region member: scratch slot sets (the reset closure, the next round)
  std::vector<std::uint32_t> index_;     // page -> its index among its region's members
};

// out: for each slot of page, the region slots it feeds (the columns of its edges out); in: the
// region slots feeding it (the rows of its edges in). In edge order, as the rounds push.
template <class Semiring, layout Layout, page_allocator Allocator>
void region_solver<Semiring, Layout, Allocator>::build_links(link_list& l, std::uint32_t page, bool out)
{
  const auto& topo = g_.topo;
  const auto each_edge = [&](auto&& f) {  // f(the other end's member index, matrix)
    for (const auto t : out ? topo.out(page) : topo.in(page)) {
      const auto& tr = topo.at(t);
      const auto other = out ? tr.dst : tr.srcs.front();
      if (topo.same_unit(page, other)) f(index_[other], *g_.matrices[tr.payload]);
    }
  };
  std::size_t edges = 0;
  each_edge([&](std::uint32_t, const matrix_type&) { ++edges; });
  l.own_ptr.clear(), l.own_slot.clear(), l.own_member.clear(), l.own_weight.clear();
  if (edges == 1) {  // a view of the matrix
    each_edge([&](std::uint32_t k, const matrix_type& a) {
      l.only = k;
      l.member = nullptr;
      l.ptr = out ? a.col_ptr().data() : a.row_ptr().data();
      l.slot = out ? a.row_index().data() : a.col_index().data();
      l.weight = out ? a.col_major_values().data() : a.values().data();
    });
  } else {  // fused: count per slot, fill (ptr[j] runs up to ptr[j + 1]), shift back
    const auto slots_of = [&](const matrix_type& a, std::uint32_t j) { return out ? a.col_rows(j) : a.row_cols(j); };
    const auto weights_of = [&](const matrix_type& a, std::uint32_t j) { return out ? a.col_values(j) : a.row_values(j); };
    l.own_ptr.assign(extent + 1, 0);
    each_edge([&](std::uint32_t, const matrix_type& a) {
      for (std::uint32_t j = 0; j < extent; ++j) l.own_ptr[j + 1] += slots_of(a, j).size();
    });
    std::partial_sum(l.own_ptr.begin(), l.own_ptr.end(), l.own_ptr.begin());
    l.own_slot.resize(l.own_ptr[extent]);
    l.own_member.resize(l.own_ptr[extent]);
    l.own_weight.resize(l.own_ptr[extent]);
    each_edge([&](std::uint32_t k, const matrix_type& a) {
      for (std::uint32_t j = 0; j < extent; ++j) {
        const auto ss = slots_of(a, j);
        const auto ws = weights_of(a, j);
        for (std::size_t q = 0; q < ss.size(); ++q, ++l.own_ptr[j]) {
          l.own_slot[l.own_ptr[j]] = ss[q];
          l.own_member[l.own_ptr[j]] = k;
          l.own_weight[l.own_ptr[j]] = ws[q];
        }
      }
    });
    for (std::uint32_t j = extent; j > 0; --j) l.own_ptr[j] = l.own_ptr[j - 1];
    l.own_ptr[0] = 0;
    l.only = 0;
    l.ptr = l.own_ptr.data();
    l.slot = l.own_slot.data();
    l.member = l.own_member.data();
    l.weight = l.own_weight.data();
  }
  l.stale = false;
}

template <class Semiring, layout Layout, page_allocator Allocator>
std::size_t region_solver<Semiring, Layout, Allocator>::solve(std::uint32_t root)
{
  using slot_ref = std::pair<std::uint32_t, std::uint32_t>;  // (member index, slot)
  const auto& topo = g_.topo;
  const auto rid = topo.region_of(root);
  const auto& reg = topo.region_at(rid);
  const auto& links = links_of(rid);
  const auto members = static_cast<std::uint32_t>(reg.members.size());
  scratch& r = r_;
  r.frontier.clear(), r.next.clear(), r.reset.clear(), r.feeders.clear(), r.better.clear();
  r.x.clear(), r.w.clear();
  if (marks_.size() < members) marks_.resize(members);
  for (std::uint32_t k = 0; k < members; ++k) {
    marks_[k].init(extent);
    marks_[k].clear();  // a round cut short by an error leaves marks behind
    r.x.push_back(&g_.shadow_page(reg.members[k]));
    r.w.push_back(&g_.wave(reg.members[k]));
  }
  const auto worse = [](const auto& c) { return !bit_equal(traits::add(c.after, c.before), c.after); };
  const auto clear_marks = [&](const std::vector<slot_ref>& refs) {
    for (const auto& [k, i] : refs) marks_[k].clear();
  };
  const auto add_front = [&](std::uint32_t k, std::uint32_t i) {
    if (!bit_equal(r.x[k]->get(i), traits::zero()) && marks_[k].add(i)) r.frontier.push_back({k, i});
  };

  // 1. Seeds, straight into S (marks hold S while it grows). With a selective ⊕ (the value is
  //    one of its terms) a slot depends on a term only if it equals that term: a slot whose
  //    value came from elsewhere is not seeded, and the closure follows only such tight terms
  //    (a distance field loses one target's basin, not the whole grid). Improvements (a better
  //    source or base) are kept for step 3, after the reset.
  const auto seed = [&](std::uint32_t k, std::uint32_t i) {
    if (marks_[k].add(i)) r.reset.push_back({k, i});
  };
  const auto depends = [&](std::uint32_t k, std::uint32_t i, value_type term) {
    if constexpr (selective_add_v<Semiring>) return bit_equal(r.x[k]->get(i), term);
    else return true;
  };
  for (std::uint32_t k = 0; k < members; ++k) {
    const auto m = reg.members[k];
    const work& w = *r.w[k];
    if (w.full)
      for (std::uint32_t i = 0; i < extent; ++i) seed(k, i);
    for (const auto i : w.rows.items()) seed(k, i);
    for (const auto& c : w.notes.items()) {
      if (!worse(c)) r.better.push_back({k, c.slot, c.after});
      else if (depends(k, c.slot, c.before)) seed(k, c.slot);
    }
    for (const auto t : topo.in(m)) {
      const auto& tr = topo.at(t);
      const auto u = tr.srcs.front();
      if (topo.same_unit(u, m) || g_.wave_of[u] == graph_topology::none) continue;
      const matrix_type& a = *g_.matrices[tr.payload];
      for (const auto& c : g_.pool[g_.wave_of[u]]->changes.items()) {
        const auto rows = a.col_rows(c.slot);
        const auto ws = a.col_values(c.slot);
        for (std::size_t q = 0; q < rows.size(); ++q) {
          const auto wt = static_cast<value_type>(ws[q]);
          if (!worse(c)) r.better.push_back({k, rows[q], traits::mul(wt, c.after)});
          else if (depends(k, rows[q], traits::mul(wt, c.before))) seed(k, rows[q]);
        }
      }
    }
  }
  // Dense seeds (new pages, a whole loop) over diagonal edges: the word path from here on.
  if constexpr (use_word_path_v<Semiring, Layout>)
    if (r.reset.size() * 8 >= std::size_t{members} * extent && words_.diagonal(rid, index_)) {
      clear_marks(r.reset);
      return words_.solve(rid, r.reset, r.better);
    }
  // 2. The closure (on the values before any reset), then the reset to base ⊕ external terms.
  //    A closure past half the region costs more to trace than to sweep: then the whole region
  //    is solved again from its bases.
  const std::size_t whole = std::size_t{members} * extent / 2;
  for (std::size_t q = 0; q < r.reset.size() && r.reset.size() <= whole; ++q) {
    const auto [k, j] = r.reset[q];
    const value_type n = r.x[k]->get(j);
    links.out[k].each(j, [&](std::uint32_t kd, std::uint32_t i, value_type wt) {
      if (depends(kd, i, traits::mul(wt, n))) seed(kd, i);
    });
  }
  if (r.reset.size() > whole) {
    clear_marks(r.reset);
    for (std::uint32_t k = 0; k < members; ++k) {
      g_.recompute_every_row(reg.members[k], *r.w[k], false);
      for (std::uint32_t i = 0; i < extent; ++i) add_front(k, i);
    }
  } else {
    for (std::uint32_t k = 0; k < members; ++k) {
      const auto& s_k = marks_[k].items();
      if (s_k.size() == extent) g_.recompute_every_row(reg.members[k], *r.w[k], false);  // the whole page: one sweep
      else for (const auto i : s_k) g_.set_value(reg.members[k], i, g_.external_row(reg.members[k], i, false), *r.w[k]);
    }
    // The slots outside S that feed S are final; they must push into S again.
    for (const auto& [k, i] : r.reset)
      links.in[k].each(i, [&](std::uint32_t ku, std::uint32_t j, value_type) {
        if (!marks_[ku].contains(j)) r.feeders.push_back({ku, j});
      });
    clear_marks(r.reset);
    for (const auto& [k, i] : r.reset) add_front(k, i);
    for (const auto& [k, j] : r.feeders) add_front(k, j);
  }

  // 3. Improvements from outside (changed external sources, improved bases), pushed as they are.
  for (const auto& [k, i, term] : r.better) {
    page_type& x = *r.x[k];
    const value_type nv = traits::add(x.get(i), term);
    if (bit_equal(nv, x.get(i))) continue;
    g_.set_value(reg.members[k], i, nv, *r.w[k]);
    add_front(k, i);
  }
  clear_marks(r.frontier);

  // 4. Rounds of pushes.
  std::size_t rounds = 0;
  while (!r.frontier.empty()) {
    if (rounds == reg.max_iterations)
      throw error(errc::not_converged, "fixed-point region " + std::to_string(rid) + " (pages " +
                                         graph_topology::path_string({reg.members.data(), reg.members.size()}, ", ") +
                                         ") did not converge within " + std::to_string(reg.max_iterations) + " rounds");
    ++rounds;
    r.next.clear();
    for (const auto& [k, j] : r.frontier) {
      const value_type n = r.x[k]->get(j);
      links.out[k].each(j, [&](std::uint32_t kd, std::uint32_t i, value_type wt) {
        page_type& xd = *r.x[kd];
        const value_type old = xd.get(i);
        const value_type nv = traits::add(old, traits::mul(wt, n));
        if (bit_equal(nv, old)) return;
        r.w[kd]->changes.add(i, old);
        xd.set(i, nv);
        if (marks_[kd].add(i)) r.next.push_back({kd, i});
      });
    }
    clear_marks(r.next);  // O(marked), not O(members)
    std::swap(r.frontier, r.next);
  }
  return rounds;
}

} // namespace mmsb::detail
