// 01_schedulers: one simulation, three schedulers, one answer.
//
// The bus type is basic_bus<Semiring, Layout, Allocator, Scheduler>. This program runs the same
// simulation with Scheduler = serial, kokkos_scheduler<Kokkos::Serial> and
// kokkos_scheduler<Kokkos::OpenMP>: the only difference between the three runs is that template
// argument. Each run prints its state hash; they must be equal (the program exits 1 if not).
//
// The simulation: `--sensors` sensor pages of 128 readings each, fed by `--producers` threads
// (accumulated deltas and, now and then, a recalibration that assigns a slot). Region pages are
// derived from the sensors by sparse matrix edges (each region row averages a few sensor slots),
// so each tick ingests, merges, applies and logs the readings, then propagates them to the regions.
//
//   producers ─rings─> [sensor pages] ──A (sparse)──> [region pages]
//
// Beside its state hash it prints a workload digest, a hash of the readings the producers sent (see
// workload_digest.hpp): two builds with equal digests ran the same workload.
//
// usage: 01_schedulers [--sensors N] [--ticks N] [--producers N] [--per-tick N]
#include <mmsb/mmsb.hpp>
#if MMSB_ENABLE_KOKKOS
#  include <mmsb/kokkos.hpp>
#endif

#include "options.hpp"
#include "workload_digest.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using semiring = mmsb::plus_times<double>;
using layout = mmsb::dense<double, 128>;

struct options {
  std::uint32_t sensors = 64;
  int ticks = 20;
  std::uint32_t producers = 2;
  int per_tick = 2000;  // readings per producer per tick
};

options parse(int argc, char** argv)
{
  options o;
  // A producer queues its whole tick before the tick drains it, so --per-tick is at most one
  // ring's capacity (more would wait forever for room).
  const auto ring = static_cast<std::uint64_t>(mmsb::bus_options{}.ring_capacity);
  example::option_parser p("01_schedulers");
  p.number("--sensors", o.sensors, 1, 65536)  // 1 KiB pages
    .number("--ticks", o.ticks, 1, 100'000)
    .number("--producers", o.producers, 1, 64)  // threads
    .number("--per-tick", o.per_tick, 1, ring);
  p.parse(argc, argv);
  return o;
}

// The whole simulation, for any scheduler. Nothing in here mentions which one.
struct outcome {
  std::uint64_t hash;                // the bus's state hash at the end
  example::workload_digest digest;   // every reading the producers sent, tick by tick, producer by producer
};

template <class Scheduler>
outcome simulate(const options& o, const char* label)
{
  mmsb::bus_options opts;
  opts.parallel_min_changes = 0;  // small ticks normally stay on the owner thread; not here
  mmsb::basic_bus<semiring, layout, mmsb::host_heap, Scheduler> bus(opts);
  std::vector<mmsb::page_id> sensors, regions;
  for (std::uint32_t s = 0; s < o.sensors; ++s) sensors.push_back(bus.create_page());
  for (std::uint32_t s = 0; s < o.sensors; s += 4) regions.push_back(bus.create_page());
  // Region r, row i: the mean of slots i, i+1, i+2, i+3 (mod 128) of each of its four sensors.
  std::vector<mmsb::matrix_entry<double>> e;
  for (std::uint32_t i = 0; i < layout::extent; ++i)
    for (std::uint32_t k = 0; k < 4; ++k) e.push_back({i, (i + k) % static_cast<std::uint32_t>(layout::extent), 1.0 / 16});
  const auto mean = std::make_shared<const mmsb::csr_matrix<double>>(
    mmsb::csr_matrix<double>::from_entries(layout::extent, layout::extent, {e.data(), e.size()}));
  for (std::size_t s = 0; s < sensors.size(); ++s) bus.add_matrix_edge(sensors[s], regions[s / 4], mean);

  std::vector<typename decltype(bus)::producer_type> producers;
  for (std::uint32_t p = 0; p < o.producers; ++p) producers.push_back(bus.make_producer());
  // One digest per producer and tick, each written by its own thread only, combined in order.
  std::vector<example::workload_digest> parts(static_cast<std::size_t>(o.ticks) * o.producers);
  for (int t = 0; t < o.ticks; ++t) {
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < o.producers; ++p)
      threads.emplace_back([&, p] {
        std::mt19937_64 rng(1000u * p + static_cast<unsigned>(t));
        auto& d = parts[static_cast<std::size_t>(t) * o.producers + p];
        auto& w = producers[p];
        w.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
        for (int k = 0; k < o.per_tick; ++k) {
          const auto page = sensors[rng() % sensors.size()];
          const auto slot = rng() % layout::extent;
          const double reading = static_cast<double>(rng() % 1000) / 10.0;
          const bool recalibrate = rng() % 100 == 0;
          d.add(page.value()).add(slot).add(reading).add(recalibrate);
          if (recalibrate) w.assign(page, slot, reading);
          else w.accumulate(page, slot, reading);
        }
      });
    for (auto& th : threads) th.join();
    bus.tick();
  }
  const auto h = bus.hash().value;
  const auto& st = bus.stats();
  std::printf("%-34s hash %016" PRIx64 "  epoch %" PRIu64 "  merge p50 %6.1f us  apply+log p50 %6.1f us  propagate p50 %6.1f us\n",
              label, h, bus.current_epoch().value(), st.p50(mmsb::tick_phase::merge).count() / 1e3,
              st.p50(mmsb::tick_phase::apply_log).count() / 1e3, st.p50(mmsb::tick_phase::propagate).count() / 1e3);
  outcome out{h, {}};
  for (const auto& d : parts) out.digest.add(d);
  return out;
}

int run(const options& o)
{
  std::vector<outcome> runs;
  runs.push_back(simulate<mmsb::serial>(o, "serial"));
#if MMSB_ENABLE_KOKKOS
  runs.push_back(simulate<mmsb::kokkos_scheduler<Kokkos::Serial>>(o, "kokkos_scheduler<Kokkos::Serial>"));
  runs.push_back(simulate<mmsb::kokkos_scheduler<Kokkos::OpenMP>>(o, "kokkos_scheduler<Kokkos::OpenMP>"));
#else
  std::printf("(this MMSB was built without Kokkos: only the serial scheduler ran)\n");
#endif
  for (const auto& r : runs)
    if (r.hash != runs.front().hash || r.digest.value() != runs.front().digest.value()) {
      std::printf("MISMATCH: the schedulers disagree\n");
      return 1;
    }
  std::printf("all %zu schedulers agree\n", runs.size());
  std::printf("workload digest %s\n", runs.front().digest.hex().c_str());
  std::printf("state hash      %016" PRIx64 "\n", runs.front().hash);
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  return example::guarded_main("01_schedulers", [&] { return run(parse(argc, argv)); });
}
