// P12 spill (issue 22): a P9-like workload over a working set four times the memory budget, the
// bus with the budget (mmsb) against the same bus with none (in_memory), in the same run.
//
//   P12/zipf099/mmsb        pages drawn Zipf(0.99) (a scattered hot set), budget = state / 4
//   P12/zipf099/in_memory   the same changes, no budget: every page stays in memory
//   P12/uniform/mmsb        pages drawn uniformly (the worst case for a cache), budget = state / 4
//   P12/uniform/in_memory   the same changes, no budget
//   P12/zipf099_slack1/mmsb        zipf099 with memory_budget::spill_slack = 1 (freed slots always
//                                  refilled, no room for long runs; the default is 1.5: docs/memory.md)
//   P12/zipf099_slack1/in_memory   the same changes, no budget
// The ratio bench/report prints (in_memory time / mmsb time) is mmsb's throughput relative to
// the in-memory bus: the goal is >= 0.3x on the skewed workload; the uniform one is reported.
//
// The bus: plus_times<double> over dense pages of 256 doubles (2 KiB; blocks of 2,112 B),
// MMSB_BENCH_P12_PAGES pages (default 32,768: 66 MiB of blocks), no edges. The log: durability
// none on a posix_file_system in a temporary directory under $MMSB_BENCH_P12_DIR (default /tmp);
// the spill file goes there too (real pwrite/pread into the page cache). The budget: a quarter
// of the pages' blocks, default watermarks (0.9 / 0.75) and pause (3 ms), tick_pages = the
// deltas of one tick.
//
// Measured warm (the steady state of a long-running bus): each case first runs two cycles of the
// workload's ticks (below). One benchmark iteration = one tick: the owner thread pushes MMSB_BENCH_P12_DELTAS deltas
// (default 2,048) of 4 distinct slots each (accumulates of whole numbers, as P9's "64 B delta")
// through one producer, then calls tick(): ingest, merge, apply+log, and the maintain phase that
// spills. The ticks' changes are generated once (64 different ticks, cycled), so both buses see
// the same sequence. Counters: deltas_per_s, reloads_per_tick, spilled_per_tick (pages),
// resident (the fraction of pages in memory at the end).
//
// Check before anything is timed (the program aborts with a message if it fails): 64 ticks on a
// budgeted and an unbudgeted bus give the same state hash after every tick, for each workload.
#include <mmsb/bus.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include <benchmark/benchmark.h>

#include "env.hpp"

#include <algorithm>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using S = mmsb::plus_times<double>;
using L = mmsb::dense<double, 256>;
using bus_type = mmsb::basic_bus<S, L>;
constexpr std::size_t slots_per_delta = 4;
constexpr std::size_t distinct_ticks = 64;

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "P12: %s\n", what.c_str());
  std::exit(1);
}

using mmsb::bench::env_size;
std::size_t page_count() { return env_size("MMSB_BENCH_P12_PAGES", 32768); }
std::size_t tick_deltas() { return env_size("MMSB_BENCH_P12_DELTAS", 2048); }

std::string temp_root;
void remove_temp_root()
{
  if (!temp_root.empty()) (void)std::system(("rm -rf '" + temp_root + "'").c_str());
}

struct change {
  std::uint32_t page, slot;
  double value;
};
using tick_changes = std::vector<change>;

// Zipf(s) over n items: the CDF, sampled by binary search; item k has weight 1 / (k + 1)^s.
class zipf {
public:
  zipf(std::size_t n, double s) : cdf_(n)
  {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) cdf_[k] = (sum += 1.0 / std::pow(static_cast<double>(k + 1), s));
    for (auto& c : cdf_) c /= sum;
  }
  template <class Rng>
  std::size_t operator()(Rng& rng) const
  {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()) % cdf_.size();
  }
private:
  std::vector<double> cdf_;
};

// The workload's ticks: skewed (Zipf 0.99 over a random permutation of the pages, so the hot
// pages are scattered across ids) or uniform.
std::vector<tick_changes> make_ticks(bool skewed)
{
  std::mt19937_64 rng(skewed ? 1299 : 1301);
  const std::size_t n = page_count();
  std::vector<std::uint32_t> perm(n);
  for (std::size_t i = 0; i < n; ++i) perm[i] = static_cast<std::uint32_t>(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  const zipf z(n, 0.99);
  std::vector<tick_changes> ticks(distinct_ticks);
  for (auto& t : ticks) {
    t.reserve(tick_deltas() * slots_per_delta);
    for (std::size_t d = 0; d < tick_deltas(); ++d) {
      const std::uint32_t page = skewed ? perm[z(rng)] : static_cast<std::uint32_t>(rng() % n);
      std::array<std::uint32_t, slots_per_delta> slots{};
      for (std::size_t i = 0; i < slots_per_delta; ++i) {
        do slots[i] = static_cast<std::uint32_t>(rng() % L::extent);
        while (std::find(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(i), slots[i]) !=
               slots.begin() + static_cast<std::ptrdiff_t>(i));
      }
      for (const auto s : slots) t.push_back({page, s, static_cast<double>(static_cast<int>(rng() % 17) - 8)});
    }
  }
  return ticks;
}

// One bus with its pages, its directory and its producer.
class rig {
public:
  rig(const std::string& name, bool budgeted, double slack = 1.5)
  {
    dir_ = temp_root + "/" + name;
    mmsb::bus_options o;
    o.fs = &fs_;
    o.dir = dir_;
    o.store.log.durability = mmsb::durability::none;
    if (budgeted) {
      o.memory.limit_bytes = page_count() * mmsb::page_table<L>::block_bytes / 4;
      o.memory.tick_pages = tick_deltas();
      o.memory.spill_dir = temp_root;
      o.memory.spill_slack = slack;
    }
    bus_ = std::make_unique<bus_type>(o);
    for (std::size_t i = 0; i < page_count(); ++i) (void)bus_->create_page();
    w_ = std::make_unique<bus_type::producer_type>(bus_->make_producer());
    w_->accumulate(mmsb::page_id{0}, 0, 1.0);  // a commit, which logs the new pages: then they may spill
    for (auto r = bus_->tick(); r.spill.carried_over; r = bus_->tick()) {
      if (r.spill.failure != mmsb::errc{}) fail(r.spill.message);
    }  // down to the budget before anything is measured
  }
  mmsb::tick_report run(const tick_changes& t)
  {
    w_->set_epoch(mmsb::epoch{++epoch_});
    for (const auto& c : t) w_->accumulate(mmsb::page_id{c.page}, c.slot, c.value);
    return bus_->tick();
  }
  bus_type& bus() { return *bus_; }

private:
  mmsb::posix_file_system fs_;
  std::string dir_;
  std::unique_ptr<bus_type> bus_;
  std::unique_ptr<bus_type::producer_type> w_;
  std::uint64_t epoch_ = 0;
};

// Same state hash after every tick with and without the budget.
void check(bool skewed)
{
  const auto ticks = make_ticks(skewed);
  const std::string w = skewed ? "check-zipf" : "check-uniform";
  rig a(w + "-budget", true), b(w + "-plain", false);
  std::size_t spilled = 0;
  for (std::size_t k = 0; k < ticks.size(); ++k) {
    spilled += a.run(ticks[k]).spill.spilled;
    (void)b.run(ticks[k]);
    if (a.bus().hash() != b.bus().hash()) fail("the state hash differs with a budget after tick " + std::to_string(k) + " (" + w + ")");
  }
  if (spilled == 0) fail("nothing was spilled in the check (" + w + ")");
}

void run_case(benchmark::State& st, bool skewed, bool budgeted, double slack)
{
  const auto ticks = make_ticks(skewed);
  static int serial = 0;
  rig r(std::string(skewed ? "zipf" : "uniform") + (budgeted ? "-mmsb-" : "-mem-") + std::to_string(serial++), budgeted, slack);
  // Warm: the steady state of a long-running bus. A new bus spills equally cold pages first, and
  // the pages' use counts (page aging) settle over the half-life (64 ticks): two cycles of the
  // workload's ticks.
  const std::size_t warm = 2 * ticks.size();
  for (std::size_t k = 0; k < warm; ++k) (void)r.run(ticks[k % ticks.size()]);
  const std::uint64_t reloads0 = r.bus().store().pages().reloads();
  std::size_t spilled = 0, k = warm, n = 0;
  for (auto _ : st) {
    spilled += r.run(ticks[k++ % ticks.size()]).spill.spilled;
    ++n;
  }
  const double deltas = static_cast<double>(n * tick_deltas());
  st.SetItemsProcessed(static_cast<std::int64_t>(deltas));
  st.counters["deltas_per_s"] = benchmark::Counter(deltas, benchmark::Counter::kIsRate);
  st.counters["reloads_per_tick"] = static_cast<double>(r.bus().store().pages().reloads() - reloads0) / static_cast<double>(n);
  st.counters["spilled_per_tick"] = static_cast<double>(spilled) / static_cast<double>(n);
  st.counters["resident"] = static_cast<double>(r.bus().store().pages().resident()) / static_cast<double>(page_count());
}

} // namespace

int main(int argc, char** argv)
{
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* parent = std::getenv("MMSB_BENCH_P12_DIR");
  std::string tmpl = std::string(parent && *parent ? parent : "/tmp") + "/mmsb-bench-p12.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp " + tmpl + ": " + std::strerror(errno));
  temp_root = tmpl;
  std::atexit(remove_temp_root);
  check(true);
  check(false);
  struct workload {
    const char* name;
    bool skewed;
    double slack;
  };
  for (const workload w : {workload{"zipf099", true, 1.5}, workload{"uniform", false, 1.5}, workload{"zipf099_slack1", true, 1.0}})
    for (const bool budgeted : {true, false}) {
      const std::string name = std::string("P12/") + w.name + "/" + (budgeted ? "mmsb" : "in_memory");
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run_case(st, w.skewed, budgeted, w.slack); })
          ->Unit(benchmark::kMicrosecond);
    }
  benchmark::AddCustomContext("p12_workload", std::to_string(tick_deltas()) + " deltas of 4 slots a tick over " +
                                                std::to_string(page_count()) + " pages of 256 f64; budget = a quarter of the pages' blocks (" +
                                                std::to_string(page_count() * mmsb::page_table<L>::block_bytes / 4) +
                                                " B); log and spill file in " + temp_root);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  remove_temp_root();
  return 0;
}
