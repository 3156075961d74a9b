// The spill capacity run (issue 22; docs/memory.md): a million pages of 4 KiB (4 GiB of state)
// under a 1 GiB memory budget. Not a pair (bench/report does not run it) and not timed in CI: CI
// runs it once at a tiny size (suite bench-smoke). Run it by hand:
//
//   build-bench/bench/mmsb_capacity_spill                  # the defaults below
//   build-bench/bench/mmsb_capacity_spill --pages 65536 --budget-mib 64 --ticks 100
//
// What it does, on a bus of plus_times<double> over dense pages of 512 doubles (4 KiB; blocks of
// 4,160 B), its log (durability none) and its spill file in a temporary directory under --dir
// (default /tmp):
//   1. load: creates the pages in chunks of 1,024 (at most 1/16 of them), page p with every slot at p; each chunk is
//      committed by one tick, then ticks run until the maintain phase is back under the budget;
//   2. work: --ticks ticks of 4,096 changes each (at most one per 16 pages), page drawn Zipf(0.99) over a shuffled order of
//      the pages, +1 to slot p % 512 of page p;
//   3. verify: every page's every slot, read without bringing spilled pages back (the store's
//      pages().for_each), against p + (the number of changes page p got) at slot p % 512, p
//      elsewhere.
// It prints the peak RSS (getrusage's ru_maxrss and /proc/self/status VmHWM) against 1.1 x the
// budget, the maintain phase's p50 / p99 / max per tick against 3 ms (load and work apart), the
// pages spilled and brought back, and the verification. Exit 0 when every page is right; the
// goals are printed as met or missed.
#include <mmsb/bus.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace {

using S = mmsb::plus_times<double>;
using L = mmsb::dense<double, 512>;
using bus_type = mmsb::basic_bus<S, L>;
using ns = std::chrono::nanoseconds;

struct config {
  std::size_t pages = std::size_t{1} << 20;
  std::size_t budget_mib = 1024;
  std::size_t ticks = 200;
  std::size_t changes_per_tick = 4096;
  std::size_t chunk = 1024;  // a chunk's commit logs each new page's initial value in full (4 MiB here), and the log keeps its buffers at their largest
  std::string dir = "/tmp";
};

[[noreturn]] void usage(const char* why)
{
  std::fprintf(stderr, "mmsb_capacity_spill: %s\nusage: mmsb_capacity_spill [--pages N] [--budget-mib M] [--ticks T] [--dir DIR]\n", why);
  std::exit(2);
}

config parse(int argc, char** argv)
{
  config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    if (a == "--pages") c.pages = std::strtoull(v, nullptr, 10);
    else if (a == "--budget-mib") c.budget_mib = std::strtoull(v, nullptr, 10);
    else if (a == "--ticks") c.ticks = std::strtoull(v, nullptr, 10);
    else if (a == "--dir") c.dir = v;
    else usage(("unknown argument " + a).c_str());
  }
  if (c.pages == 0 || c.budget_mib == 0) usage("--pages and --budget-mib must be positive");
  c.chunk = std::min(c.chunk, std::max<std::size_t>(1, c.pages / 16));
  c.changes_per_tick = std::min(c.changes_per_tick, std::max<std::size_t>(1, c.pages / 16));
  return c;
}

// kB from a /proc/self/status line ("VmHWM:   123 kB"), or 0.
std::size_t status_kib(const char* key)
{
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
  return 0;
}

double ms(ns d) { return static_cast<double>(d.count()) / 1e6; }

struct pauses {
  std::vector<ns> v;
  void add(ns d) { v.push_back(d); }
  ns at(double q)
  {
    if (v.empty()) return ns{};
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
  }
  void print(const char* what)
  {
    std::printf("maintain phase, %s: %zu ticks, p50 %.3f ms, p99 %.3f ms, max %.3f ms (goal p99 < 3 ms: %s)\n", what, v.size(),
                ms(at(0.5)), ms(at(0.99)), ms(at(1.0)), ms(at(0.99)) < 3.0 ? "met" : "MISSED");
  }
};

} // namespace

int main(int argc, char** argv)
{
  const config c = parse(argc, argv);
  std::string root = c.dir + "/mmsb-capacity.XXXXXX";
  if (::mkdtemp(root.data()) == nullptr) {
    std::perror(("mkdtemp " + root).c_str());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t budget = std::uint64_t{c.budget_mib} << 20;
  std::vector<std::uint32_t> hits(c.pages, 0);
  std::size_t wrong = 0, checked = 0, spilled = 0, failures = 0;
  std::uint64_t reloads = 0, spill_bytes = 0;
  pauses load, work;
  {
    mmsb::posix_file_system fs;
    mmsb::bus_options o;
    o.fs = &fs;
    o.dir = root + "/store";
    o.store.log.durability = mmsb::durability::none;
    o.memory.limit_bytes = budget;
    o.memory.tick_pages = std::max(c.chunk, c.changes_per_tick);  // a load tick commits a whole chunk of new pages
    o.memory.spill_dir = root;
    bus_type b(o);
    auto w = b.make_producer();
    std::uint64_t epoch = 0;
    const auto tick = [&](pauses& p) {
      const auto r = b.tick();
      p.add(r.phase[static_cast<std::size_t>(mmsb::tick_phase::maintain)]);
      spilled += r.spill.spilled;
      if (r.spill.failure != mmsb::errc{}) {
        ++failures;
        std::fprintf(stderr, "spill failed: %s\n", r.spill.message.c_str());
      }
      return r;
    };
    // 1. load
    for (std::size_t first = 0; first < c.pages; first += c.chunk) {
      const std::size_t end = std::min(c.pages, first + c.chunk);
      for (std::size_t p = first; p < end; ++p) (void)b.create_page(static_cast<double>(p));
      w.set_epoch(mmsb::epoch{++epoch});
      w.accumulate(mmsb::page_id{static_cast<std::uint32_t>(first)}, first % L::extent, 1.0);  // the chunk's commit
      ++hits[first];
      for (auto r = tick(load); r.spill.carried_over && r.spill.failure == mmsb::errc{}; r = tick(load)) {
      }
    }
    const auto t_loaded = std::chrono::steady_clock::now();
    std::printf("loaded %zu pages of %zu B (%.2f GiB of blocks) in %.1f s; resident %zu, spilled %zu; RSS now %.0f MiB\n", c.pages,
                mmsb::page_table<L>::block_bytes,
                static_cast<double>(c.pages * mmsb::page_table<L>::block_bytes) / (1u << 30),
                std::chrono::duration<double>(t_loaded - t0).count(), b.store().pages().resident(), b.store().pages().spilled(),
                static_cast<double>(status_kib("VmRSS:")) / 1024.0);
    // 2. work
    std::mt19937_64 rng(2026);
    std::vector<std::uint32_t> perm(c.pages);
    for (std::size_t i = 0; i < c.pages; ++i) perm[i] = static_cast<std::uint32_t>(i);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<double> cdf(c.pages);
    double sum = 0;
    for (std::size_t k = 0; k < c.pages; ++k) cdf[k] = (sum += 1.0 / std::pow(static_cast<double>(k + 1), 0.99));
    for (auto& x : cdf) x /= sum;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const std::uint64_t reloads0 = b.store().pages().reloads();
    for (std::size_t t = 0; t < c.ticks; ++t) {
      w.set_epoch(mmsb::epoch{++epoch});
      for (std::size_t k = 0; k < c.changes_per_tick; ++k) {
        const auto rank = static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
        const std::uint32_t p = perm[std::min(rank, c.pages - 1)];
        w.accumulate(mmsb::page_id{p}, p % L::extent, 1.0);
        ++hits[p];
      }
      (void)tick(work);
    }
    reloads = b.store().pages().reloads() - reloads0;
    spill_bytes = b.store().spill()->file_bytes();
    const auto t_worked = std::chrono::steady_clock::now();
    std::printf("worked %zu ticks of %zu changes (Zipf 0.99) in %.1f s; pages brought back %llu\n", c.ticks, c.changes_per_tick,
                std::chrono::duration<double>(t_worked - t_loaded).count(), static_cast<unsigned long long>(reloads));
    // 3. verify, without bringing spilled pages back
    b.store().pages().for_each([&](const bus_type::page_type& pg) {
      const std::uint32_t p = pg.id().value();
      for (std::size_t s = 0; s < L::extent; ++s) {
        const double want = static_cast<double>(p) + (s == p % L::extent ? static_cast<double>(hits[p]) : 0.0);
        if (pg.get(s) != want) {
          if (wrong < 5) std::fprintf(stderr, "page %u slot %zu: %.17g, want %.17g\n", p, s, pg.get(s), want);
          ++wrong;
        }
      }
      ++checked;
    });
    std::printf("verified %zu pages: %zu wrong slots (after: resident %zu, spilled %zu; spill file %.2f GiB)\n", checked, wrong,
                b.store().pages().resident(), b.store().pages().spilled(), static_cast<double>(spill_bytes) / (1u << 30));
  }
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const double peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  const double hwm_mib = static_cast<double>(status_kib("VmHWM:")) / 1024.0;
  const double limit_mib = 1.1 * static_cast<double>(c.budget_mib);
  std::printf("peak RSS %.0f MiB (getrusage), VmHWM %.0f MiB; budget %zu MiB, goal <= %.0f MiB: %s\n", peak_mib, hwm_mib, c.budget_mib,
              limit_mib, std::max(peak_mib, hwm_mib) <= limit_mib ? "met" : "MISSED");
  load.print("load");
  work.print("work");
  std::printf("pages spilled %zu, spill failures %zu, every page right: %s\n", spilled, failures, wrong == 0 && checked == c.pages ? "yes" : "NO");
  (void)std::system(("rm -rf '" + root + "'").c_str());
  return wrong == 0 && checked == c.pages && failures == 0 ? 0 : 1;
}
