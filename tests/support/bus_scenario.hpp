// Test support: one deterministic bus workload, run on any basic_bus instantiation, and the plain
// reference it must equal. Producers push from their own threads (joined before each tick, so tick
// boundaries are fixed); a page graph derives half of the pages from the other half; one tick runs
// on a zero budget so propagation carries over. Values are small multiples of 0.5, on which float
// + and * are exact, so the reference can fold changes one at a time and still match bit for bit.
#pragma once

#include <mmsb/bus.hpp>
#include <mmsb/exec.hpp>
#include <mmsb/graph.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

namespace mmsb::test {

struct bus_scenario {
  using semiring = plus_times<float>;
  using layout = dense<float, 64>;
  static constexpr std::uint32_t sources = 16;  // pages 0..15; page 16 + i is derived from page i
  static constexpr std::uint32_t pages = 2 * sources;
  static constexpr std::uint32_t producers = 3;
  static constexpr int rounds = 4;
  static constexpr int changes_per_round = 600;  // per producer; below the ring capacity

  struct change {
    std::uint32_t page, slot;
    delta_op op;
    float value;
    order_key key;
  };
  struct edge {
    std::uint32_t src, dst;
    std::vector<matrix_entry<float>> entries;
  };

  std::uint64_t seed = 7;

  std::vector<edge> edges() const
  {
    std::mt19937_64 rng(seed);
    std::vector<edge> out;
    for (std::uint32_t i = 0; i < sources; ++i) {
      edge e{i, sources + i, {}};
      for (std::uint32_t r = 0; r < layout::extent; r += 1 + rng() % 3) {
        const float w[] = {0.5f, 1.0f, 2.0f, -1.0f};
        e.entries.push_back({r, static_cast<std::uint32_t>(rng() % layout::extent), w[rng() % 4]});
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  // Producer p's changes in round r (its epoch is the round), in push order.
  std::vector<change> stream(std::uint32_t p, int r) const
  {
    std::mt19937_64 rng(seed * 1000003 + p * 101 + static_cast<std::uint64_t>(r));
    std::vector<change> out;
    for (int k = 0; k < changes_per_round; ++k) {
      const auto op = rng() % 16 == 0 ? delta_op::assign : delta_op::accumulate;
      out.push_back({static_cast<std::uint32_t>(rng() % pages), static_cast<std::uint32_t>(rng() % layout::extent), op,
                     static_cast<float>(static_cast<int>(rng() % 9) - 4) * 0.5f,
                     {epoch{static_cast<std::uint64_t>(r + 1)}, producer_id{p}, sequence_no{0}}});
    }
    return out;
  }

  // Runs the workload on bus b (fresh, no pages yet); returns the per-tick reports.
  template <class Bus>
  std::vector<tick_report> run(Bus& b) const
  {
    for (std::uint32_t i = 0; i < pages; ++i) (void)b.create_page();
    for (const auto& e : edges())
      b.add_matrix_edge(page_id{e.src}, page_id{e.dst},
                                csr_matrix<float>::from_entries(layout::extent, layout::extent, {e.entries.data(), e.entries.size()}));
    std::vector<typename Bus::producer_type> prods;
    for (std::uint32_t p = 0; p < producers; ++p) prods.push_back(b.make_producer());
    std::vector<tick_report> reports;
    for (int r = 0; r < rounds; ++r) {
      std::vector<std::thread> threads;
      for (std::uint32_t p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
          auto& pr = prods[p];
          pr.set_epoch(epoch{static_cast<std::uint64_t>(r + 1)});
          for (const auto& c : stream(p, r)) pr.put(page_id{c.page}, c.slot, c.op, c.value);
        });
      for (auto& t : threads) t.join();
      // Round 2 propagates on a zero budget: one unit per tick, the rest carried over.
      if (r == 2) {
        reports.push_back(b.tick(tick_budget{std::chrono::nanoseconds{0}}));
        while (!reports.back().propagation_complete) reports.push_back(b.tick(tick_budget{std::chrono::nanoseconds{0}}));
      } else {
        reports.push_back(b.tick());
      }
    }
    return reports;
  }

  // The expected values of every page, folding each change on its own in key order.
  std::vector<std::vector<float>> reference() const
  {
    std::vector<std::vector<float>> base(pages, std::vector<float>(layout::extent, 0.0f));
    for (int r = 0; r < rounds; ++r) {
      std::vector<change> all;
      for (std::uint32_t p = 0; p < producers; ++p) {
        auto s = stream(p, r);
        for (std::size_t k = 0; k < s.size(); ++k) {
          s[k].key.sequence = sequence_no{k};
          all.push_back(s[k]);
        }
      }
      std::stable_sort(all.begin(), all.end(), [](const change& a, const change& b) {
        return std::tie(a.page, a.key, a.slot) < std::tie(b.page, b.key, b.slot);
      });
      for (const auto& c : all) {
        float& x = base[c.page][c.slot];
        x = c.op == delta_op::assign ? c.value : x + c.value;
      }
    }
    auto value = base;
    for (const auto& e : edges()) {
      auto sorted = e.entries;  // CSR order: row, then column
      std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); });
      for (const auto& en : sorted) value[e.dst][en.row] += en.value * value[e.src][en.col];
    }
    return value;
  }
};

} // namespace mmsb::test
