// The steady-state tick allocates nothing. This program replaces the global operator new
// (tests/support/replaced_new.hpp) and counts every allocation made by any thread while a bus
// runs ticks of a realistic shape:
// producers pushing sparse deltas to a varying set of pages, merged, logged to a real log on a
// posix_file_system, applied, and propagated along matrix edges to derived pages. After a
// warm-up (buffers reach their working size), 0 allocations per tick, on the serial scheduler
// and (built with MMSB_TEST_KOKKOS) on kokkos_scheduler<Kokkos::OpenMP> with the parallel path
// forced. Checkpoints are maintenance, not the steady state: they are off here.
#include <mmsb/bus.hpp>
#include <mmsb/exec.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/obs/registry.hpp>
#include <mmsb/obs/trace.hpp>
#if MMSB_TEST_KOKKOS
#include <mmsb/kokkos.hpp>
#endif

#include <catch2/catch.hpp>

#include "../support/replaced_new.hpp"
#include "../support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <new>
#include <random>
#include <string>
#include <vector>

using namespace mmsb;

namespace {

using S = plus_times<double>;
using L = dense<double, 256>;
constexpr std::uint32_t base_pages = 512;
constexpr std::uint32_t derived_pages = 16;
constexpr std::size_t producers = 2;
constexpr std::size_t deltas_per_producer = 256;  // per tick
constexpr std::size_t warm_ticks = 160;
constexpr std::size_t counted_ticks = 48;

using test::temp_dir;
// Every tick's deltas, made before anything is counted: tick t, producer p, delta k.
std::vector<delta<S, L>> make_deltas(std::size_t ticks)
{
  std::mt19937_64 rng(20261205);
  std::vector<delta<S, L>> out;
  out.reserve(ticks * producers * deltas_per_producer);
  for (std::size_t n = 0; n < ticks * producers * deltas_per_producer; ++n) {
    // Pages drawn from a window that moves with the tick, so the set and count of pages a tick
    // touches varies (merged deltas of every size, sparse and dense).
    const std::size_t t = n / (producers * deltas_per_producer);
    const auto page = static_cast<std::uint32_t>((rng() % (base_pages / 2 + (t % 7) * 32)) % base_pages);
    sparse_delta<S, L> s{page_id{page}};
    std::uint32_t slot = static_cast<std::uint32_t>(rng() % 16);
    for (int k = 0; k < 4; ++k, slot += 1 + static_cast<std::uint32_t>(rng() % 60))
      s.push_back(slot, rng() % 16 == 0 ? delta_op::assign : delta_op::accumulate, static_cast<double>(rng() % 17) - 8.0);
    out.emplace_back(std::move(s));
  }
  return out;
}

// observed: every metric recorded and every tick traced (obs/), which must not allocate either.
template <class Sched>
void check_steady_state_allocates_nothing(bool observed = false)
{
  temp_dir dir;
  posix_file_system fs;
  obs::registry reg;
  obs::tracer tracer;
  bus_options o;
  if (observed) {
    o.metrics = reg.sink();
    o.trace = tracer.sink();
  }
  o.fs = &fs;
  o.dir = dir.path + "/bus";
  o.store.log.durability = durability::none;
  o.parallel_min_changes = 0;  // the scheduler's path on every tick
  basic_bus<S, L, host_heap, Sched> bus(o);
  for (std::uint32_t v = 0; v < base_pages + derived_pages; ++v) (void)bus.create_page();
  std::vector<matrix_entry<double>> e;
  for (std::uint32_t i = 0; i < 256; ++i) {
    e.push_back({i, i, 1.0});
    e.push_back({i, (i * 7 + 3) % 256, 0.5});
  }
  const auto a = std::make_shared<const csr_matrix<double>>(csr_matrix<double>::from_entries(256, 256, {e.data(), e.size()}));
  for (std::uint32_t d = 0; d < derived_pages; ++d) bus.add_matrix_edge(page_id{d * 7 % base_pages}, page_id{base_pages + d}, a);
  std::vector<producer<S, L>> ps;
  for (std::size_t p = 0; p < producers; ++p) ps.push_back(bus.make_producer(1 << 13));
  const auto deltas = make_deltas(warm_ticks + counted_ticks);

  std::size_t at = 0;
  const auto run_tick = [&] {
    for (auto& p : ps)
      for (std::size_t k = 0; k < deltas_per_producer; ++k) p.push(deltas[at++]);
    const auto r = bus.tick();
    REQUIRE(r.propagation_complete);
    REQUIRE(r.changes == producers * deltas_per_producer * 4);
  };
  for (std::size_t t = 0; t < warm_ticks; ++t) run_tick();
  std::vector<std::size_t> per_tick(counted_ticks);
  for (std::size_t t = 0; t < counted_ticks; ++t) {
    per_tick[t] = mmsb::test::allocations_of(run_tick);
  }
  for (std::size_t t = 0; t < counted_ticks; ++t) {
    INFO(Sched::name << ": tick " << warm_ticks + t << " after warm-up");
    CHECK(per_tick[t] == 0);
  }
  REQUIRE(bus.verify().ok());
  if (observed) {
    CHECK(reg.snapshot()[metric_counter::ticks] == (MMSB_METRICS ? warm_ticks + counted_ticks : 0));
    CHECK(tracer.recorded() > 0);
  }
}

} // namespace

TEST_CASE("tick: after warm-up, a steady-state tick allocates nothing (serial)", "[bus][alloc]")
{
  check_steady_state_allocates_nothing<serial>();
}

TEST_CASE("tick: with metrics and tracing on, a steady-state tick still allocates nothing (serial)", "[bus][alloc]")
{
  check_steady_state_allocates_nothing<serial>(true);
}

#if MMSB_TEST_KOKKOS
TEST_CASE("tick: after warm-up, a steady-state tick allocates nothing (kokkos OpenMP, parallel path)", "[bus][alloc]")
{
  check_steady_state_allocates_nothing<kokkos_scheduler<Kokkos::OpenMP>>();
}
#endif
