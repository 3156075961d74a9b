// diagonal_region: region_solver's word path. A fixed-point region whose internal matrix edges
// are all diagonal (slot i feeds slot i only: liveness's identity and diag(¬def) edges, masks),
// over packed booleans under or (use_word_path_v), is solved 64 slots per word operation.
//
// It runs region_solver's algorithm step for step, on word masks instead of slot lists: the same
// seeds; the same closure (a slot depends on a term only if it equals it, ⊕ being selective); the
// same reset to base ⊕ external terms (slot by slot where the closure is partial, one sweep per
// page where it is whole); the same feeders, improvements and rounds of pushes, a round being one
// breadth-first layer as there. The least fixed point is unique and every changed slot is
// recorded with its value before the wave, so values, records and round counts are those of the
// slot path; only the order of the records differs, which nothing reads. Regions with any other
// internal edge take the slot path, and so do sparse solves: region_solver seeds first (its step 1)
// and hands over only when the seeds cover an eighth of the region's slots. Words pay where many
// slots of a page move together (new pages, whole loops); a lost bit running around a loop, one or
// two slots a page, costs less on the slot path, which touches only those slots.
#pragma once

#include <mmsb/graph/detail/graph_state.hpp>

#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::detail {

template <class Semiring, layout Layout, page_allocator Allocator>
class diagonal_region {
  using state = graph_state<Semiring, Layout, Allocator>;
  using traits = semiring_traits<Semiring>;
  using value_type = typename state::value_type;
  using matrix_type = typename state::matrix_type;
  using work = typename state::work;
  static constexpr std::size_t extent = state::extent;
  static constexpr std::size_t words = words_for(extent);

public:
  explicit diagonal_region(state& g) : g_(g) {}

  // Region rid is being created with this many members: every list is built at its first solve.
  void prepare(std::size_t rid, std::size_t members)
  {
    if (regions_.size() <= rid) regions_.resize(rid + 1);
    links& l = regions_[rid];
    l.out.assign(members, {});
    l.in.assign(members, {});
    l.out_stale.assign(members, 1);
    l.in_stale.assign(members, 1);
    l.out_diagonal.assign(members, 1);
    l.nondiagonal = 0;
  }
  // An edge inside region rid from member src to member dst was added, removed or reweighted.
  void touch(std::size_t rid, std::uint32_t src, std::uint32_t dst) noexcept
  {
    regions_[rid].out_stale[src] = regions_[rid].in_stale[dst] = 1;
  }

  // Whether every internal edge of region rid (members indexed by index_of) is diagonal, its
  // lists brought up to date: then solve() may take it.
  bool diagonal(std::size_t rid, const std::vector<std::uint32_t>& index_of) { return links_of(rid, index_of).nondiagonal == 0; }
  // Solves region rid from region_solver's step 1: its seeds (member, slot), not yet reset, and
  // its improvements from outside ({member, slot, term}); returns the rounds.
  template <class Improvements>
  std::size_t solve(std::size_t rid, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& seeds, const Improvements& better);

private:
  struct link {
    std::uint32_t member;             // the other end's index in the region
    const word_t* present = nullptr;  // the matrix's diagonal_masks(): entry present,
    const word_t* weight = nullptr;   // then weight true
  };
  struct links {
    std::vector<std::vector<link>> out, in;  // by member, in edge order
    std::vector<char> out_stale, in_stale, out_diagonal;
    std::size_t nondiagonal = 0;             // members with an internal edge out that is not diagonal
  };

  const links& links_of(std::size_t rid, const std::vector<std::uint32_t>& index_of);
  word_t* row(std::vector<word_t>& v, std::uint32_t k) { return v.data() + std::size_t{k} * words; }

  state& g_;
  std::vector<links> regions_;
  // Scratch, by member (words each): the reset set S, the closure's pending bits, feeders, the
  // frontier and the next one; x and w as in region_solver.
  std::vector<word_t> reset_, pending_, feed_, front_, next_;
  std::vector<std::uint32_t> queue_, next_members_, touched_;
  static constexpr std::uint8_t touched_bit = 1, queued_bit = 2, next_bit = 4;
  std::vector<std::uint8_t> state_;  // by member: touched_bit, queued_bit, next_bit
  std::vector<word_t*> x_;
  std::vector<work*> w_;
};

// Rebuilds the stale lists: views of each internal edge's diagonal masks, out of and into each
// member; a member with an internal edge out that is not diagonal keeps the region on the slot path.
template <class Semiring, layout Layout, page_allocator Allocator>
auto diagonal_region<Semiring, Layout, Allocator>::links_of(std::size_t rid, const std::vector<std::uint32_t>& index_of) -> const links&
{
  links& l = regions_[rid];
  const auto& topo = g_.topo;
  const auto& members = topo.region_at(rid).members;
  const auto rebuild = [&](std::size_t k, bool out) {
    auto& list = out ? l.out[k] : l.in[k];
    list.clear();
    bool diagonal = true;
    for (const auto t : out ? topo.out(members[k]) : topo.in(members[k])) {
      const auto& tr = topo.at(t);
      const auto other = out ? tr.dst : tr.srcs.front();
      if (!topo.same_unit(members[k], other)) continue;
      const matrix_type& a = *g_.matrices[tr.payload];
      if (!a.diagonal() || a.rows() != extent) {
        diagonal = false;
        continue;
      }
      list.push_back({index_of[other], a.diagonal_masks().data(), a.diagonal_masks().data() + words});
    }
    if (!out) return;
    l.nondiagonal += std::size_t{l.out_diagonal[k] != 0} - std::size_t{diagonal};
    l.out_diagonal[k] = diagonal ? 1 : 0;
  };
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (l.out_stale[k]) rebuild(k, true), l.out_stale[k] = 0;
    if (l.in_stale[k]) rebuild(k, false), l.in_stale[k] = 0;
  }
  return l;
}

template <class Semiring, layout Layout, page_allocator Allocator>
template <class Improvements>
std::size_t diagonal_region<Semiring, Layout, Allocator>::solve(std::size_t rid, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& seeds,
                                                                const Improvements& better)
{
  const links& l = regions_[rid];
  const auto& topo = g_.topo;
  const auto& reg = topo.region_at(rid);
  const auto members = static_cast<std::uint32_t>(reg.members.size());
  const std::size_t n = std::size_t{members} * words;
  for (auto* v : {&reset_, &pending_, &feed_, &front_, &next_})
    if (v->size() < n) v->resize(n, 0);
  if (state_.size() < members) state_.resize(members, 0);
  touched_.clear(), queue_.clear(), x_.clear(), w_.clear();
  struct cleanup {
    diagonal_region& d;
    ~cleanup()
    {
      for (const auto k : d.touched_) {
        d.state_[k] = 0;
        for (auto* v : {&d.reset_, &d.pending_, &d.feed_, &d.front_, &d.next_})
          for (std::size_t q = 0; q < words; ++q) d.row(*v, k)[q] = 0;
      }
      d.touched_.clear();
    }
  } guard{*this};
  for (std::uint32_t k = 0; k < members; ++k) {
    x_.push_back(Layout::data(g_.shadow_page(reg.members[k]).storage()));
    w_.push_back(&g_.wave(reg.members[k]));
  }
  const auto touch = [&](std::uint32_t k) {
    if ((state_[k] & touched_bit) == 0) state_[k] |= touched_bit, touched_.push_back(k);
  };
  const auto enqueue = [&](std::uint32_t k) {
    if ((state_[k] & queued_bit) == 0) state_[k] |= queued_bit, queue_.push_back(k);
  };
  std::size_t total = 0;
  const auto seed = [&](std::uint32_t k, std::uint32_t i) {
    if (test_bit(row(reset_, k), i)) return;
    set_bit(row(reset_, k), i);
    set_bit(row(pending_, k), i);
    touch(k);
    enqueue(k);
    ++total;
  };

  for (const auto& [k, i] : seeds) seed(k, i);

  // 2. The closure on the values before the reset: bit i of a member feeds bit i of the next, and
  //    depends on it where the next's value equals the term (weight and value).
  const std::size_t whole = std::size_t{members} * extent / 2;
  for (std::size_t h = 0; h < queue_.size() && total <= whole; ++h) {
    const auto k = queue_[h];
    state_[k] &= ~queued_bit;
    word_t* d = row(pending_, k);
    for (const auto& e : l.out[k]) {
      bool grew = false;
      for (std::size_t q = 0; q < words; ++q) {
        const word_t add = d[q] & e.present[q] & ~(x_[e.member][q] ^ (e.weight[q] & x_[k][q])) & ~row(reset_, e.member)[q];
        if (add == 0) continue;
        row(reset_, e.member)[q] |= add;
        row(pending_, e.member)[q] |= add;
        total += static_cast<std::size_t>(popcount(add));
        grew = true;
      }
      if (grew) touch(e.member), enqueue(e.member);
    }
    for (std::size_t q = 0; q < words; ++q) d[q] = 0;
  }
  for (const auto k : queue_) state_[k] &= ~queued_bit;
  queue_.clear();
  const auto push_front = [&](std::uint32_t k, const word_t* bits) {  // add_front: only slots that are not zero push
    bool any = false;
    for (std::size_t q = 0; q < words; ++q) any |= (row(front_, k)[q] |= bits[q] & x_[k][q]) != 0;
    if (any) enqueue(k);
  };
  if (total > whole) {
    for (std::uint32_t k = 0; k < members; ++k) {
      g_.recompute_every_row(reg.members[k], *w_[k], false);
      touch(k);
      push_front(k, x_[k]);
    }
  } else {
    const std::size_t reset_members = touched_.size();
    for (std::size_t h = 0; h < reset_members; ++h) {
      const auto k = touched_[h];
      const word_t* s = row(reset_, k);
      if (count_bits(s, extent) == extent) {
        g_.recompute_every_row(reg.members[k], *w_[k], false);  // the whole page: one sweep
        continue;
      }
      for (std::size_t q = 0; q < words; ++q)
        for (word_t b = s[q]; b; b &= b - 1) {
          const auto i = static_cast<std::uint32_t>(q * word_bits + countr_zero(b));
          g_.set_value(reg.members[k], i, g_.external_row(reg.members[k], i, false), *w_[k]);
        }
    }
    // The slots outside S that feed S are final; they push into S again.
    for (std::size_t h = 0; h < reset_members; ++h) {
      const auto k = touched_[h];
      for (const auto& e : l.in[k]) {
        word_t any = 0;
        for (std::size_t q = 0; q < words; ++q)
          any |= row(feed_, e.member)[q] |= row(reset_, k)[q] & e.present[q] & ~row(reset_, e.member)[q];
        if (any != 0) touch(e.member);
      }
    }
    for (std::size_t h = 0; h < touched_.size(); ++h) {
      const auto k = touched_[h];
      push_front(k, row(reset_, k));
      push_front(k, row(feed_, k));
    }
  }

  // 3. Improvements from outside, pushed as they are.
  for (const auto& [k, i, term] : better) {
    const bool old = test_bit(x_[k], i);
    const bool nv = bool(traits::add(old, term));
    if (nv == old) continue;
    g_.set_value(reg.members[k], i, nv, *w_[k]);
    touch(k);
    set_bit(row(front_, k), i);
    enqueue(k);
  }

  // 4. Rounds of pushes, one breadth-first layer each, over the members with frontier bits.
  std::size_t rounds = 0;
  while (!queue_.empty()) {
    if (rounds == reg.max_iterations)
      throw error(errc::not_converged, "fixed-point region " + std::to_string(rid) + " (pages " +
                                         graph_topology::path_string({reg.members.data(), reg.members.size()}, ", ") +
                                         ") did not converge within " + std::to_string(reg.max_iterations) + " rounds");
    ++rounds;
    next_members_.clear();
    for (const auto k : queue_) {
      const word_t* f = row(front_, k);
      for (const auto& e : l.out[k]) {
        word_t* xd = x_[e.member];
        for (std::size_t q = 0; q < words; ++q) {
          const word_t set = f[q] & x_[k][q] & e.present[q] & e.weight[q] & ~xd[q];
          if (set == 0) continue;
          for (word_t b = set; b; b &= b - 1) w_[e.member]->changes.add(static_cast<std::uint32_t>(q * word_bits + countr_zero(b)), false);
          xd[q] |= set;
          row(next_, e.member)[q] |= set;
          if ((state_[e.member] & next_bit) == 0) state_[e.member] |= next_bit, next_members_.push_back(e.member), touch(e.member);
        }
      }
    }
    for (const auto k : queue_) {  // this layer is done: its bits leave the frontier
      state_[k] &= ~queued_bit;
      for (std::size_t q = 0; q < words; ++q) row(front_, k)[q] = 0;
    }
    for (const auto k : next_members_) {
      state_[k] = (state_[k] & ~next_bit) | queued_bit;
      for (std::size_t q = 0; q < words; ++q) row(front_, k)[q] = std::exchange(row(next_, k)[q], 0);
    }
    queue_.swap(next_members_);
  }
  return rounds;
}

} // namespace mmsb::detail
