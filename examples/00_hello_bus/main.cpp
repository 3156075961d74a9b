// 00_hello_bus: the smallest end-to-end use of MMSB's state algebra.
//
// Shows: pages of a fixed layout, deltas built by several producer threads, a columnar batch that
// fixes their order by (epoch, producer, sequence), one merged delta per page, apply through the
// semiring law state ⊕ delta → state', and the state hash that proves two runs equal. The result
// is checked against a plain loop that applies every change one at a time in the same order.
//
//   producer 0 ─┐                      ┌─> page 0  (dense<float, 1024>, min_plus)
//   producer 1 ─┼─> delta_batch ─seal─>┼─> page 1
//   producer 2 ─┘   (epoch, producer,  └─> ...      one merged delta per page, applied once
//                    sequence) order
//
// Beside its state hash it prints a workload digest, a hash of the changes the producers generated
// (see workload_digest.hpp): two builds with equal digests ran the same workload.
//
// usage: 00_hello_bus [--pages N] [--changes N] [--producers N] [--seed N]   (--help: the ranges)
#include <mmsb/mmsb.hpp>

#include "options.hpp"
#include "workload_digest.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using semiring = mmsb::min_plus<float>;  // distances: keep the smallest
using layout = mmsb::dense<float, 1024>;  // 4 KiB pages
using page_t = mmsb::page<layout>;

struct options {
  std::uint32_t pages = 64;
  std::size_t changes = 200000;
  std::uint32_t producers = 3;
  std::uint64_t seed = 2026;
};

options parse(int argc, char** argv)
{
  options o;
  example::option_parser p("00_hello_bus");
  p.number("--pages", o.pages, 1, 65536)              // 4 KiB each, twice (the reference)
    .number("--changes", o.changes, 1, 10'000'000)    // ~120 bytes each, all held at once
    .number("--producers", o.producers, 1, 64)        // threads
    .number("--seed", o.seed, 0);
  p.parse(argc, argv);
  return o;
}

struct change {
  mmsb::page_id page;
  std::uint32_t slot;
  mmsb::delta_op op;
  float value;
  mmsb::order_key key;
};

// Each producer's stream: distances proposed for random slots, now and then a reset (assign).
std::vector<change> producer_stream(const options& o, std::uint32_t producer)
{
  std::mt19937_64 rng(o.seed * 1000003 + producer);
  std::vector<change> out;
  const std::size_t n = o.changes / o.producers;
  for (std::size_t s = 0; s < n; ++s) {
    const mmsb::order_key key{mmsb::epoch{1 + s * 4 / n}, mmsb::producer_id{producer}, mmsb::sequence_no{s}};
    // One draw per statement: the order of draws never rests on the compiler's evaluation order.
    const auto page = static_cast<std::uint32_t>(rng() % o.pages);
    const auto slot = static_cast<std::uint32_t>(rng() % layout::extent);
    const auto op = rng() % 50 == 0 ? mmsb::delta_op::assign : mmsb::delta_op::accumulate;
    const auto value = static_cast<float>(rng() % 100000) / 8.0f;
    out.push_back({mmsb::page_id{page}, slot, op, value, key});
  }
  return out;
}

// Every change the producers generated, stream by stream.
example::workload_digest digest_of(const std::vector<std::vector<change>>& streams)
{
  example::workload_digest d;
  for (const auto& s : streams) {
    d.add(s.size());
    for (const auto& c : s) {
      d.add(c.page.value()).add(c.slot).add(c.op).add(c.value);
      d.add(c.key.epoch.value()).add(c.key.producer.value()).add(c.key.sequence.value());
    }
  }
  return d;
}

mmsb::state_hash hash_of(const std::vector<page_t>& pages)
{
  mmsb::state_hasher h;
  for (const auto& p : pages) mmsb::hash_into(h, p);
  return h.digest();
}

int run(const options& o)
{
  std::printf("hello_bus: %u pages of %zu floats, %zu changes from %u producer threads, seed %llu\n", o.pages,
              layout::extent, o.changes, o.producers, static_cast<unsigned long long>(o.seed));

  std::vector<page_t> pages;
  for (std::uint32_t i = 0; i < o.pages; ++i) {
    pages.emplace_back(mmsb::page_id{i});
    for (std::size_t s = 0; s < layout::extent; ++s) pages.back().set(s, mmsb::semiring_traits<semiring>::zero());
  }
  std::vector<page_t> reference = pages;

  // Producers fill their own batches concurrently; arrival order does not matter.
  std::vector<std::vector<change>> streams(o.producers);
  std::vector<mmsb::delta_batch<semiring, layout>> parts(o.producers);
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < o.producers; ++p)
      threads.emplace_back([&, p] {
        streams[p] = producer_stream(o, p);
        for (const auto& c : streams[p]) parts[p].push(c.page, c.slot, c.op, c.value, c.key);
      });
    for (auto& t : threads) t.join();
  }
  mmsb::delta_batch<semiring, layout> batch;
  for (std::uint32_t p = o.producers; p-- > 0;) batch.append(parts[p]);  // deliberately reversed
  const auto t1 = std::chrono::steady_clock::now();
  batch.seal();
  std::size_t sparse = 0, dense = 0;
  for (std::size_t k = 0; k < batch.pages().size(); ++k) {
    const auto d = batch.merge_partition(k);
    (d.encoding() == mmsb::delta_encoding::sparse ? sparse : dense) += 1;
    mmsb::apply(pages[batch.pages()[k].value()], d);
  }
  const auto t2 = std::chrono::steady_clock::now();

  // Reference: every change, one at a time, in (epoch, producer, sequence) order.
  std::vector<change> all;
  for (const auto& s : streams) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end(), [](const change& a, const change& b) { return a.key < b.key; });
  for (const auto& c : all) {
    auto& p = reference[c.page.value()];
    p.set(c.slot, mmsb::apply_element<semiring>(p.get(c.slot), c.op == mmsb::delta_op::assign, c.value));
  }

  const auto got = hash_of(pages), want = hash_of(reference);
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("\n  %-28s %12s\n", "phase", "time (ms)");
  std::printf("  %-28s %12.2f\n", "produce into batches", ms(t0, t1));
  std::printf("  %-28s %12.2f\n", "seal + merge + apply", ms(t1, t2));
  std::printf("\n  %-28s %12zu\n", "changes", all.size());
  std::printf("  %-28s %12zu\n", "pages touched", batch.pages().size());
  std::printf("  %-28s %12zu / %zu\n", "deltas sparse / dense", sparse, dense);
  std::printf("  %-28s %s\n", "workload digest", digest_of(streams).hex().c_str());
  std::printf("  %-28s %016llx\n", "state hash (bus)", static_cast<unsigned long long>(got.value));
  std::printf("  %-28s %016llx\n", "state hash (reference)", static_cast<unsigned long long>(want.value));
  if (got != want) {
    std::printf("\nMISMATCH: the merged-batch state differs from the one-at-a-time reference\n");
    return 1;
  }
  std::printf("\nOK: merged batch equals the one-at-a-time reference bit for bit\n");
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  return example::guarded_main("00_hello_bus", [&] { return run(parse(argc, argv)); });
}
