// P11 distributed (BENCHMARKS.md): a P9-like workload on a bus split over 2 MPI ranks on this
// machine, against one single-process bus doing the same total work, in the same run.
//
//   P11/partitioned_2ranks/mmsb            mmsb::dist::mpi_bus over 2 ranks: this program runs
//                                          itself under `mpirun -np 2 ... --worker` (shared
//                                          memory and loopback only) for every repetition
//   P11/partitioned_2ranks/single_process  one basic_bus holding every page, in this process
//
// The workload (P9's bus, split): plus_times<double> over dense pages of 256 doubles (2 KiB),
// MMSB_BENCH_P11_PAGES pages (default 4096), block-partitioned over the ranks. Every 8th page
// (g % 8 == 7) is derived: one matrix edge from a base page, a 256 × 256 sparse matrix with 2
// entries per row (8 matrices shared round-robin, weights 1, 2, -1, 0.5). A quarter of those
// edges cross ranks: their source is the page half the bus away (on the other rank), so its
// owner sends the changed slots of that source after each step and the edge's owner assigns
// them to its ghost and propagates (docs/distributed.md). Each rank's producer pushes
// MMSB_BENCH_P11_DELTAS deltas a tick (default 8192) to the base pages its rank owns, uniform at
// random, each delta 4 distinct slots of accumulates of whole numbers in [-8, 8] (P9's 64 B
// delta), as a domain-decomposed code does: the ranks' own data, with the edges across ranks the
// only traffic. The single-process bus gets the same changes from two producers (one per rank's
// share) and the same edges. Both logs: durability::none on a posix_file_system in a temporary
// directory (one store per rank). Bus options: rings of 64 Ki changes, the rest default.
//
// One benchmark iteration = MMSB_BENCH_P11_TICKS ticks (default 16) after 2 untimed warm-up
// ticks; the reported time is per tick (manual time), so the ratio single_process / mmsb is the
// throughput of 2 ranks relative to one process (goal ≥ 0.8).
//
// Counters (the mmsb row): report_wire_per_encoded, every byte the ranks handed MPI for one
// another (routed changes, boundary deltas, the counts framing each exchange) over the encoded
// size of the changed boundary slots (the delta codec's size of a delta holding exactly the
// changed slots of a boundary page, once per rank holding a ghost: goal ≤ 1.1);
// report_boundary_bytes_per_tick, report_boundary_slots_per_tick, report_steps_per_tick;
// deltas_per_s on both rows.
//
// Checks: the worker's rank 0 rebuilds the workload on one basic_bus after the timed ticks and
// compares the state hashes (every page, derived ones included); a difference fails the run.
#include <mmsb/dist/mpi_bus.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <benchmark/benchmark.h>
#include <mpi.h>

#include "env.hpp"

#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using S = mmsb::plus_times<double>;
using L = mmsb::dense<double, 256>;
using dist_bus = mmsb::dist::mpi_bus<S, L>;
using one_bus = mmsb::basic_bus<S, L>;
using matrix = mmsb::csr_matrix<double>;
using mmsb::page_id;

constexpr std::uint32_t ranks_measured = 2;
constexpr std::size_t slots_per_delta = 4;
constexpr std::uint32_t warmup_ticks = 2;

using mmsb::bench::env_size;
std::uint32_t page_count() { return static_cast<std::uint32_t>(env_size("MMSB_BENCH_P11_PAGES", 4096)); }
std::size_t tick_deltas() { return env_size("MMSB_BENCH_P11_DELTAS", 8192); }
std::uint32_t timed_ticks() { return static_cast<std::uint32_t>(env_size("MMSB_BENCH_P11_TICKS", 16)); }

// The 8 shared matrices: 2 entries per row, weights 1, 2, -1, 0.5.
std::vector<std::shared_ptr<const matrix>> matrices()
{
  std::vector<std::shared_ptr<const matrix>> out;
  std::mt19937_64 rng(11);
  const double w[] = {1.0, 2.0, -1.0, 0.5};
  for (int m = 0; m < 8; ++m) {
    std::vector<mmsb::matrix_entry<double>> e;
    for (std::uint32_t r = 0; r < L::extent; ++r) {
      const auto a = static_cast<std::uint32_t>(rng() % L::extent);
      auto b = static_cast<std::uint32_t>(rng() % L::extent);
      if (b == a) b = (a + 1) % L::extent;
      e.push_back({r, std::min(a, b), w[(r + static_cast<std::uint32_t>(m)) % 4]});
      e.push_back({r, std::max(a, b), w[(r + static_cast<std::uint32_t>(m) + 1) % 4]});
    }
    out.push_back(std::make_shared<const matrix>(matrix::from_entries(L::extent, L::extent, {e.data(), e.size()})));
  }
  return out;
}

// The edges (source, derived page): every 8th page derived; a quarter of them read the page half
// the bus away (another rank under the block partition).
std::vector<std::pair<std::uint32_t, std::uint32_t>> edges(std::uint32_t pages)
{
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (std::uint32_t d = 7; d < pages; d += 8) {
    const std::uint32_t block = d / 8;
    std::uint32_t src = d - 7 + block % 7;  // a base page of its own block
    if (block % 4 == 0) src = (src + pages / 2) % pages;  // across ranks
    out.emplace_back(src, d);
  }
  return out;
}

struct change {
  std::uint32_t page, slot;
  double value;
};

// Rank r's changes for one tick (the same every tick, as P9 pushes one batch again): deltas to
// the base pages r owns under the block partition.
std::vector<change> changes_of(const mmsb::dist::partition& parts, std::uint32_t r)
{
  std::mt19937_64 rng(1000 + r);
  std::vector<page_id> bases;
  for (const page_id g : parts.owned(r))
    if (g.value() % 8 != 7) bases.push_back(g);
  std::vector<change> out;
  out.reserve(tick_deltas() * slots_per_delta);
  for (std::size_t d = 0; d < tick_deltas(); ++d) {
    const std::uint32_t page = bases[rng() % bases.size()].value();
    std::array<std::uint32_t, slots_per_delta> slots{};
    for (std::size_t i = 0; i < slots_per_delta; ++i) {
      do slots[i] = static_cast<std::uint32_t>(rng() % L::extent);
      while (std::find(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(i), slots[i]) != slots.begin() + static_cast<std::ptrdiff_t>(i));
    }
    for (const auto s : slots) out.push_back({page, s, static_cast<double>(static_cast<int>(rng() % 17) - 8)});
  }
  return out;
}

mmsb::bus_options options_in(mmsb::file_system& fs, const std::string& dir)
{
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = dir;
  o.store.log.durability = mmsb::durability::none;
  o.ring_capacity = 1 << 16;
  return o;
}

std::string make_temp_dir()
{
  const char* root = std::getenv("MMSB_BENCH_P11_DIR");
  std::string tmpl = std::string(root && *root ? root : "/tmp") + "/mmsb-p11-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("p11: mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

// The single-process bus with the workload's pages and edges, fed `ticks` ticks; returns the
// seconds of the last `timed` ticks.
struct single_result {
  double seconds;
  mmsb::state_hash hash;
};
single_result run_single(std::uint32_t ticks, std::uint32_t timed)
{
  const std::uint32_t pages = page_count();
  const auto parts = mmsb::dist::partition::block(pages, ranks_measured);
  const std::string dir = make_temp_dir();
  mmsb::posix_file_system fs;
  single_result res{};
  {
    one_bus bus(options_in(fs, dir + "/single"));
    for (std::uint32_t i = 0; i < pages; ++i) (void)bus.create_page();
    const auto m = matrices();
    std::size_t k = 0;
    for (const auto& [s, d] : edges(pages)) (void)bus.add_matrix_edge(page_id{s}, page_id{d}, m[k++ % m.size()]);
    std::vector<std::vector<change>> work;
    std::vector<one_bus::producer_type> producers;
    for (std::uint32_t r = 0; r < ranks_measured; ++r) {
      work.push_back(changes_of(parts, r));
      producers.push_back(bus.make_producer());
    }
    std::chrono::steady_clock::time_point t0;
    for (std::uint32_t t = 0; t < ticks; ++t) {
      if (t == ticks - timed) t0 = std::chrono::steady_clock::now();
      for (std::uint32_t r = 0; r < ranks_measured; ++r) {
        producers[r].set_epoch(mmsb::epoch{t + 1});
        for (const change& c : work[r]) producers[r].accumulate(page_id{c.page}, c.slot, c.value);
      }
      (void)bus.tick();
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.hash = bus.hash();
  }
  std::filesystem::remove_all(dir);
  return res;
}

// --worker: one rank of the distributed run (under mpirun). Rank 0 prints one line of results.
int worker()
{
  MPI_Init(nullptr, nullptr);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const std::uint32_t pages = page_count(), ticks = warmup_ticks + timed_ticks();
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  std::string dir = rank == 0 ? make_temp_dir() : std::string(4096, '\0');
  MPI_Bcast(dir.data(), 4096, MPI_CHAR, 0, MPI_COMM_WORLD);
  dir = dir.c_str();
  int rc = 0;
  {
    mmsb::posix_file_system fs;
    dist_bus bus(MPI_COMM_WORLD, parts, options_in(fs, dir + "/rank" + std::to_string(rank)));
    const auto m = matrices();
    std::size_t k = 0;
    for (const auto& [s, d] : edges(pages)) bus.add_matrix_edge(page_id{s}, page_id{d}, *m[k++ % m.size()]);
    const auto work = changes_of(parts, static_cast<std::uint32_t>(rank));
    auto p = bus.make_producer(static_cast<std::uint32_t>(rank));
    // Summed over the timed ticks: bytes sent, boundary bytes, boundary slots, routed bytes, count bytes, steps.
    std::array<std::uint64_t, 6> sums{};
    double t0 = 0;
    for (std::uint32_t t = 0; t < ticks; ++t) {
      if (t == warmup_ticks) {
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
      }
      p.set_epoch(mmsb::epoch{t + 1});
      for (const change& c : work) p.accumulate(page_id{c.page}, c.slot, c.value);
      const auto r = bus.tick();
      if (t >= warmup_ticks) {
        const std::array<std::uint64_t, 6> add{r.bytes_sent(), r.boundary_bytes, r.boundary_slots, r.route_bytes, r.count_bytes, r.steps};
        for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += add[i];
      }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const double seconds = MPI_Wtime() - t0;
    std::array<std::uint64_t, 6> all{};
    MPI_Reduce(sums.data(), all.data(), 6, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    const auto h = bus.hash();
    if (rank == 0) {
      const auto single = run_single(ticks, 1);
      if (single.hash != h) {
        std::fprintf(stderr, "p11: the distributed state hash %016" PRIx64 " differs from one bus's %016" PRIx64 "\n", h.value,
                     single.hash.value);
        rc = 1;
      }
      std::printf("P11 seconds=%.9f ticks=%u deltas=%zu bytes_sent=%" PRIu64 " boundary_bytes=%" PRIu64 " boundary_slots=%" PRIu64
                  " route_bytes=%" PRIu64 " count_bytes=%" PRIu64 " steps=%" PRIu64 " hash=%016" PRIx64 "\n",
                  seconds, timed_ticks(), tick_deltas() * static_cast<std::size_t>(ranks), all[0], all[1], all[2], all[3], all[4],
                  all[5] / static_cast<std::uint64_t>(ranks), h.value);
      std::fflush(stdout);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) std::filesystem::remove_all(dir);
  MPI_Finalize();
  return rc;
}

std::string self_path;

// Runs the distributed worker under mpirun (shared memory and loopback only) and parses its line.
struct dist_result {
  double seconds = 0;
  std::uint64_t deltas = 0, bytes_sent = 0, boundary_bytes = 0, boundary_slots = 0, steps = 0;
  bool ok = false;
  std::string error;
};
dist_result run_distributed()
{
  dist_result out;
#ifdef MMSB_MPIRUN
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
  ::setenv("OMPI_MCA_btl", "self,vader", 1);
  ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  ::setenv("OMPI_MCA_oob_tcp_if_include", "lo", 1);
  ::setenv("OMPI_MCA_btl_tcp_if_include", "lo", 1);
  const std::string cmd = std::string(MMSB_MPIRUN) + " -np " + std::to_string(ranks_measured) + " '" + self_path + "' --worker";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) {
    out.error = "popen failed: " + cmd;
    return out;
  }
  char line[1024];
  unsigned ticks = 0;
  std::uint64_t route = 0, counts = 0;
  unsigned long long hash = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    double s = 0;
    if (std::sscanf(line, "P11 seconds=%lf ticks=%u deltas=%" SCNu64 " bytes_sent=%" SCNu64 " boundary_bytes=%" SCNu64
                          " boundary_slots=%" SCNu64 " route_bytes=%" SCNu64 " count_bytes=%" SCNu64 " steps=%" SCNu64 " hash=%llx",
                    &s, &ticks, &out.deltas, &out.bytes_sent, &out.boundary_bytes, &out.boundary_slots, &route, &counts, &out.steps,
                    &hash) == 10) {
      out.seconds = s;
      out.ok = true;
    }
  }
  const int status = ::pclose(f);
  if (status != 0) {
    out.ok = false;
    out.error = cmd + " failed (status " + std::to_string(status) + ")";
  } else if (!out.ok) {
    out.error = cmd + " printed no result line";
  }
#else
  out.error = "built without mpirun";
#endif
  return out;
}

void BM_distributed(benchmark::State& state)
{
  for (auto _ : state) {
    const auto r = run_distributed();
    if (!r.ok) {
      state.SkipWithError(r.error.c_str());
      break;
    }
    const double ticks = timed_ticks();
    state.SetIterationTime(r.seconds / ticks);
    state.counters["deltas_per_s"] = static_cast<double>(r.deltas) * ticks / r.seconds;
    state.counters["report_wire_per_encoded"] =
      r.boundary_bytes == 0 ? 0.0 : static_cast<double>(r.bytes_sent) / static_cast<double>(r.boundary_bytes);
    state.counters["report_boundary_bytes_per_tick"] = static_cast<double>(r.boundary_bytes) / ticks;
    state.counters["report_boundary_slots_per_tick"] = static_cast<double>(r.boundary_slots) / ticks;
    state.counters["report_bytes_sent_per_tick"] = static_cast<double>(r.bytes_sent) / ticks;
    state.counters["report_steps_per_tick"] = static_cast<double>(r.steps) / ticks;
  }
}

void BM_single(benchmark::State& state)
{
  for (auto _ : state) {
    const auto r = run_single(warmup_ticks + timed_ticks(), timed_ticks());
    const double ticks = timed_ticks();
    state.SetIterationTime(r.seconds / ticks);
    state.counters["deltas_per_s"] = static_cast<double>(tick_deltas() * ranks_measured) * ticks / r.seconds;
  }
}

BENCHMARK(BM_distributed)->Name("P11/partitioned_2ranks/mmsb")->Iterations(1)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_single)->Name("P11/partitioned_2ranks/single_process")->Iterations(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

} // namespace

int main(int argc, char** argv)
{
  self_path = std::filesystem::canonical("/proc/self/exe").string();
  if (argc > 1 && std::strcmp(argv[1], "--worker") == 0) return worker();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
