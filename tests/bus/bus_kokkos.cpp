// basic_bus on Kokkos: the shared scenario gives the same state hash with the serial scheduler,
// kokkos_scheduler<Kokkos::Serial> and kokkos_scheduler<Kokkos::OpenMP>, at whatever thread count
// the run was given (meson runs it with OMP_NUM_THREADS=1 and 2). Run with --user-owns-kokkos the
// program initializes Kokkos itself and MMSB must leave it alone; without it MMSB initializes
// Kokkos on first use and finalizes it at exit.
#define CATCH_CONFIG_RUNNER
#include <mmsb/bus.hpp>
#include <mmsb/exec.hpp>
#include <mmsb/kokkos.hpp>

#include "../support/bus_scenario.hpp"
#include "../support/store_files.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <mmsb/log/memory_file_system.hpp>
#include <string>

using namespace mmsb;

namespace {
bool user_owns = false;
using scenario = test::bus_scenario;
template <class Sched>
using scenario_bus = basic_bus<scenario::semiring, scenario::layout, host_heap, Sched>;

struct outcome {
  std::uint64_t hash = 0;
  std::vector<std::byte> log;  // every file of the store, name and bytes, in listing order
};

template <class Sched>
outcome scenario_run()
{
  scenario sc;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.parallel_min_changes = 0;  // every tick on the scheduler, however small
  outcome out;
  {
  scenario_bus<Sched> b(o);
  sc.run(b);
  const auto want = sc.reference();
  for (std::uint32_t v = 0; v < scenario::pages; ++v)
    for (std::size_t i = 0; i < scenario::layout::extent; ++i) {
      INFO(Sched::name << " page " << v << " slot " << i);
      REQUIRE(b.value(page_id{v}).get(i) == want[v][i]);
    }
  out.hash = b.hash().value;
  }
  out.log = test::store_files(fs, o.dir);
  REQUIRE(!out.log.empty());
  return out;
}
} // namespace

static_assert(scheduler<kokkos_scheduler<Kokkos::Serial>>);
static_assert(scheduler<kokkos_scheduler<Kokkos::OpenMP>>);
#if defined(KOKKOS_ENABLE_CUDA)
// Where the user's Kokkos has CUDA, the CUDA space is a valid policy (page work on the host space).
static_assert(scheduler<kokkos_scheduler<Kokkos::Cuda>>);
template class mmsb::basic_bus<scenario::semiring, scenario::layout, host_heap, kokkos_scheduler<Kokkos::Cuda>>;
#endif

// Run at OMP_NUM_THREADS=1 and 2 (tests/meson.build), so the log and the state are the same
// bytes at every thread count.
TEST_CASE("bus on Kokkos: the same state hash and the same log bytes as the serial scheduler", "[exec][bus][kokkos]")
{
  const auto serial_run = scenario_run<serial>();
  const auto kokkos_serial = scenario_run<kokkos_scheduler<Kokkos::Serial>>();
  const auto kokkos_openmp = scenario_run<kokkos_scheduler<Kokkos::OpenMP>>();
  INFO("OpenMP concurrency " << kokkos_scheduler<Kokkos::OpenMP>{}.concurrency());
  CHECK(kokkos_serial.hash == serial_run.hash);
  CHECK(kokkos_openmp.hash == serial_run.hash);
  INFO("log bytes: serial " << serial_run.log.size() << ", Kokkos Serial " << kokkos_serial.log.size() << ", Kokkos OpenMP "
                            << kokkos_openmp.log.size());
  CHECK(kokkos_serial.log == serial_run.log);
  CHECK(kokkos_openmp.log == serial_run.log);
  CHECK(Kokkos::is_initialized());
}

TEST_CASE("kokkos_scheduler: every index once; an exception reaches the caller", "[exec][kokkos]")
{
  kokkos_scheduler<Kokkos::OpenMP> s;
  std::vector<std::atomic<int>> hits(1000);
  s.run(hits.size(), [&](std::size_t i) { hits[i].fetch_add(1); });
  for (const auto& h : hits) CHECK(h.load() == 1);
  CHECK_THROWS_WITH(s.run(100, [](std::size_t i) {
                      if (i == 37) throw error(errc::invalid_argument, "item 37 failed");
                    }),
                    Catch::Contains("item 37 failed"));
  s.run(0, [](std::size_t) { FAIL("no items"); });
}

int main(int argc, char** argv)
{
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--user-owns-kokkos") == 0) {
      user_owns = true;
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      break;
    }
  if (user_owns) {
    Kokkos::ScopeGuard guard(argc, argv);
    const int rc = Catch::Session().run(argc, argv);
    return Kokkos::is_initialized() ? rc : 1;  // MMSB must not have finalized the user's Kokkos
  }
  if (Kokkos::is_initialized()) return 1;
  return Catch::Session().run(argc, argv);  // MMSB initializes on first use, finalizes at exit
}
