// 02_custom_semiring: a semiring of your own in a few lines, checked, then driving a whole bus.
//
// The semiring is GF(2)^64: 64 independent bit lanes, ⊕ = XOR, ⊗ = AND, zero = 0, one = all ones.
// It is a ring (XOR is its own inverse), so the page graph propagates changes by difference:
// flipping one data bit flips exactly the parity bits that cover it, with no recomputation.
//
// The program keeps parity pages for 64 interleaved codewords at once (one per bit lane), as an
// LDPC-style erasure code or a RAID-like stripe check would:
//
//   producers ─rings─> [data page 0] ─┐
//                      [data page 1] ─┼─ H (sparse 0/1) ─> [parity page]   parity = H ⊗ data
//                      [data page k] ─┘
//
// 1. check_semiring_laws<xor_and>() samples the semiring laws; a deliberately broken semiring
//    (⊕ = average) is checked too, to show what a broken law looks like.
// 2. Producers flip and overwrite data words from several threads; each tick updates parity.
// 3. After every tick the parity pages are compared with a plain recomputation; exit 1 on any
//    difference.
//
// Beside its state hash it prints a workload digest, a hash of the flips and overwrites the
// producers sent (see workload_digest.hpp): two builds with equal digests ran the same workload.
//
// usage: 02_custom_semiring [--data-pages N] [--ticks N] [--producers N] [--seed N]
#include <mmsb/mmsb.hpp>

#include "options.hpp"
#include "workload_digest.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// ---- the whole user-defined semiring ----------------------------------------------------------
struct xor_and {
  using value_type = std::uint64_t;
  static constexpr std::uint64_t add(std::uint64_t a, std::uint64_t b) noexcept { return a ^ b; }
  static constexpr std::uint64_t mul(std::uint64_t a, std::uint64_t b) noexcept { return a & b; }
  static constexpr std::uint64_t zero() noexcept { return 0; }
  static constexpr std::uint64_t one() noexcept { return ~std::uint64_t{0}; }
  static constexpr std::uint64_t sub(std::uint64_t a, std::uint64_t b) noexcept { return a ^ b; }
  static constexpr bool commutative_add = true;
  static constexpr bool has_inverse = true;  // so propagation works by difference
  static constexpr bool bitwise = true;
  static constexpr std::string_view name = "xor_and";  // how durable files name it
};
// ------------------------------------------------------------------------------------------------

// Not a semiring: averaging is not associative. The law checker says which law breaks and where.
struct average_times {
  using value_type = std::int64_t;
  static constexpr std::int64_t add(std::int64_t a, std::int64_t b) noexcept { return (a + b) / 2; }
  static constexpr std::int64_t mul(std::int64_t a, std::int64_t b) noexcept { return a * b; }
  static constexpr std::int64_t zero() noexcept { return 0; }
  static constexpr std::int64_t one() noexcept { return 1; }
};

namespace {

constexpr std::size_t words = 256;  // words per page: 256 positions × 64 lanes
using layout = mmsb::dense<std::uint64_t, words>;

struct options {
  std::uint32_t data_pages = 16;
  int ticks = 50;
  std::uint32_t producers = 2;
  std::uint64_t seed = 2026;
};

options parse(int argc, char** argv)
{
  options o;
  example::option_parser p("02_custom_semiring");
  p.number("--data-pages", o.data_pages, 1, 65536)  // 2 KiB pages
    .number("--ticks", o.ticks, 1, 100'000)
    .number("--producers", o.producers, 1, 64)      // threads
    .number("--seed", o.seed, 0);
  p.parse(argc, argv);
  return o;
}

int run(const options& o)
{

  // 1. The laws.
  const auto good = mmsb::check_semiring_laws<xor_and>({0ull, 1ull, ~0ull, 0x5555555555555555ull, 0xf0f0ull, 42ull});
  std::cout << "xor_and:       " << good << "\n";
  const auto bad = mmsb::check_semiring_laws<average_times>({0, 1, 2, 3, 7, -5});
  std::cout << "average_times: " << bad << "\n\n";
  if (!good || bad) return 1;

  // 2. A bus over it: data pages, and one parity page per group of four data pages.
  mmsb::basic_bus<xor_and, layout> bus;
  std::vector<mmsb::page_id> data, parity;
  for (std::uint32_t i = 0; i < o.data_pages; ++i) data.push_back(bus.create_page());
  for (std::uint32_t i = 0; i < (o.data_pages + 3) / 4; ++i) parity.push_back(bus.create_page());
  // H for data page i: parity word r covers data words r, r+1 and r+5 (mod words), shifted by i.
  std::vector<std::vector<mmsb::matrix_entry<std::uint64_t>>> h(o.data_pages);
  for (std::uint32_t i = 0; i < o.data_pages; ++i) {
    for (std::uint32_t r = 0; r < words; ++r)
      for (const std::uint32_t k : {0u, 1u, 5u})
        h[i].push_back({r, static_cast<std::uint32_t>((r + k + i) % words), xor_and::one()});
    bus.add_matrix_edge(data[i], parity[i / 4],
                                mmsb::csr_matrix<std::uint64_t>::from_entries(words, words, {h[i].data(), h[i].size()}));
  }

  // A plain recomputation of every parity page from the data pages.
  const auto check = [&](int tick) {
    for (std::size_t g = 0; g < parity.size(); ++g) {
      std::vector<std::uint64_t> want(words, 0);
      for (std::uint32_t i = static_cast<std::uint32_t>(4 * g); i < std::min<std::uint32_t>(o.data_pages, static_cast<std::uint32_t>(4 * g + 4)); ++i)
        for (const auto& e : h[i]) want[e.row] ^= bus.value(data[i]).get(e.col);
      for (std::size_t r = 0; r < words; ++r)
        if (bus.value(parity[g]).get(r) != want[r]) {
          std::printf("MISMATCH after tick %d: parity page %u word %zu is %016" PRIx64 ", recomputed %016" PRIx64 "\n", tick,
                      parity[g].value(), r, bus.value(parity[g]).get(r), want[r]);
          return false;
        }
    }
    return true;
  };

  // 3. Producers flip bits (accumulate = XOR) and now and then overwrite a word (assign).
  std::vector<mmsb::bus<xor_and, layout>::producer_type> producers;
  for (std::uint32_t p = 0; p < o.producers; ++p) producers.push_back(bus.make_producer());
  std::size_t changed_parity = 0, changes = 0;
  // What the producers sent: one digest per tick and producer, each written by its own thread.
  std::vector<example::workload_digest> parts(static_cast<std::size_t>(o.ticks) * o.producers);
  for (int t = 0; t < o.ticks; ++t) {
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < o.producers; ++p)
      threads.emplace_back([&, p] {
        std::mt19937_64 rng(o.seed + 7919 * p + static_cast<std::uint64_t>(t));
        auto& d = parts[static_cast<std::size_t>(t) * o.producers + p];
        auto& w = producers[p];
        w.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
        for (int k = 0; k < 200; ++k) {
          const auto page = data[rng() % data.size()];
          const auto word = rng() % words;
          const bool overwrite = rng() % 20 == 0;
          const std::uint64_t value = overwrite ? rng() : std::uint64_t{1} << (rng() % 64);  // a word, or one bit to flip
          d.add(page.value()).add(word).add(overwrite).add(value);
          if (overwrite) w.assign(page, word, value);
          else w.accumulate(page, word, value);
        }
      });
    for (auto& th : threads) th.join();
    const auto r = bus.tick();
    changes += r.changes;
    if (!check(t + 1)) return 1;
  }
  for (const auto p : parity)
    for (std::size_t r = 0; r < words; ++r) changed_parity += bus.value(p).get(r) != 0;
  std::printf("%-22s %10s\n", "data pages", std::to_string(o.data_pages).c_str());
  std::printf("%-22s %10s\n", "parity pages", std::to_string(parity.size()).c_str());
  std::printf("%-22s %10d\n", "ticks", o.ticks);
  std::printf("%-22s %10zu\n", "changes", changes);
  std::printf("%-22s %10zu\n", "non-zero parity words", changed_parity);
  std::printf("%-22s %10s\n", "parity check", "exact after every tick");
  example::workload_digest digest;
  for (const auto& d : parts) digest.add(d);
  std::printf("%-22s %s\n", "workload digest", digest.hex().c_str());
  std::printf("%-22s %016" PRIx64 "\n", "state hash", bus.hash().value);
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  return example::guarded_main("02_custom_semiring", [&] { return run(parse(argc, argv)); });
}
