// The scripted commits of the crash tests (kill points, RELIABILITY #6; power loss, #7) and
// their oracle. Commit c (1-based, so it is epoch c) adds known amounts under + (not idempotent:
// a commit applied twice or lost shows) to two pages; a page is created every 8 commits, right
// before the commit that first names it. The oracle is plain arrays; check_prefix compares a
// recovered store with it after exactly k commits.
#pragma once

#include <mmsb/log/durable_store.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "store_txn.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::test::crash {

using semiring = plus_times<std::int64_t>;

// Pages that exist once commit c is made: `base`, plus one every 8 commits.
inline std::uint32_t pages_for(std::uint32_t base, std::uint64_t c) { return base + static_cast<std::uint32_t>(c / 8); }

// What commit c changes: (page, slot, amount) twice.
struct change {
  std::uint32_t page;
  std::size_t slot;
  std::int64_t amount;
};
template <class Layout>
std::pair<change, change> changes_of(std::uint32_t base, std::uint64_t c)
{
  const std::uint32_t n = pages_for(base, c);
  const change a{static_cast<std::uint32_t>((c * 7) % n), static_cast<std::size_t>((c * 31) % Layout::extent),
                 static_cast<std::int64_t>(c)};
  // The newest page gets the second change on the commit that creates it.
  const std::uint32_t pb = c % 8 == 0 ? n - 1 : static_cast<std::uint32_t>((c * 13 + 3) % n);
  const change b{pb, static_cast<std::size_t>((c * 17 + 5) % Layout::extent), static_cast<std::int64_t>(2 * c + 1)};
  return {a, b};
}

// Makes commit c on s (creating the pages it needs first); returns its epoch, which is c when
// s holds exactly commits 1..c-1.
template <class Layout>
mmsb::epoch commit_step(durable_store<semiring, Layout>& s, std::uint32_t base, std::uint64_t c)
{
  while (std::as_const(s).pages().id_bound() < pages_for(base, c)) (void)s.create_page();
  auto tx = begin_txn(s);
  const auto [a, b] = changes_of<Layout>(base, c);
  tx.accumulate(page_id{a.page}, a.slot, a.amount).accumulate(page_id{b.page}, b.slot, b.amount);
  return commit_txn(s, tx);
}

// The oracle: every page's slots after commits 1..k (no pages for k = 0).
template <class Layout>
std::vector<std::vector<std::int64_t>> oracle(std::uint32_t base, std::uint64_t k)
{
  std::vector<std::vector<std::int64_t>> pages(k == 0 ? 0 : pages_for(base, k), std::vector<std::int64_t>(Layout::extent, 0));
  for (std::uint64_t c = 1; c <= k; ++c) {
    const auto [a, b] = changes_of<Layout>(base, c);
    pages[a.page][a.slot] += a.amount;
    pages[b.page][b.slot] += b.amount;
  }
  return pages;
}

// Empty when s is at an epoch k with lo <= k <= hi and its pages equal the oracle after k
// commits; else what differs.
template <class Layout>
std::string check_prefix(const durable_store<semiring, Layout>& s, std::uint32_t base, std::uint64_t lo, std::uint64_t hi)
{
  const std::uint64_t k = s.current_epoch().value();
  if (k < lo || k > hi)
    return "recovered epoch " + std::to_string(k) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) +
           "] (acknowledged-durable .. attempted)";
  const auto want = oracle<Layout>(base, k);
  const auto& table = s.pages();
  std::size_t live = 0;
  table.for_each([&](const page<Layout>&) { ++live; });
  if (live != want.size())
    return "epoch " + std::to_string(k) + ": " + std::to_string(live) + " pages, the oracle has " + std::to_string(want.size());
  for (std::uint32_t id = 0; id < want.size(); ++id) {
    if (!table.contains(page_id{id})) return "epoch " + std::to_string(k) + ": page " + std::to_string(id) + " missing";
    const auto& p = table.at(page_id{id});
    for (std::size_t i = 0; i < Layout::extent; ++i)
      if (p.get(i) != want[id][i])
        return "epoch " + std::to_string(k) + ": page " + std::to_string(id) + " slot " + std::to_string(i) + " is " +
               std::to_string(p.get(i)) + ", the oracle has " + std::to_string(want[id][i]) + " (not a prefix)";
  }
  return {};
}

} // namespace mmsb::test::crash
