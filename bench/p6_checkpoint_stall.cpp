// P6 checkpoint stall (docs/benchmarks.md): how long a tick waits while checkpoints are written.
//
//   P6/checkpoint_stall/<N>_pages/<mmsb|blocking|no_checkpoint>
//
// A durable_store<plus_times<float>, dense<float, 1024>> (4 KiB pages) on posix_file_system,
// durability none (so the log's own fsyncs do not hide the checkpoint's), runs a commit loop at a
// fixed tick rate: one tick every 100 µs (10 kHz), each a commit of 32 sparse deltas (16 slots
// each) to random pages, as a bus tick's apply-and-log phase does. Every 1000 ticks (100 ms) a
// checkpoint of the whole state is due:
//   mmsb      begin_checkpoint(): the epoch is frozen and a store-owned thread writes it while
//             the ticks go on (copy-on-write of the pages a tick changes first); if one is still
//             in flight the request waits for a later tick, as the bus does.
//   blocking  checkpoint(): the old behaviour, the tick holds the store until the file is durable.
//   no_checkpoint  the same ticks without checkpoints: the floor this machine's scheduling sets.
// A tick's latency runs from its scheduled start (not from when the loop got to it) to the end
// of its commit and checkpoint call, so ticks delayed behind a stalled one count their wait
// (no coordinated omission). The case's time is the p99 of those latencies over one run of
// 10 000 ticks (1 s, about 10 checkpoints), reported as manual time, so bench/report's table
// shows p99 and the ratios blocking / mmsb and no_checkpoint / mmsb. Counters: p50_tick_ns, p99_tick_ns, max_tick_ns,
// checkpoints (written in the run), preserved_pages (copies the ticks made).
//
// Checks (every contender, untimed): after the run one more checkpoint is started, the state
// hash is taken at its epoch, ticks go on, and the checkpoint loaded back with load_checkpoint
// must hold that hash; the page count must be the store's.
//
// Sizes: MMSB_BENCH_P6_STALL_PAGES (default 4096 pages = 16 MiB), MMSB_BENCH_P6_STALL_TICKS
// (default 10000); MMSB_BENCH_P6_SMALL=1 shrinks both for the smoke test. Files go under a
// temporary directory in $MMSB_BENCH_P6_DIR (default /tmp; use a real disk), removed at exit.
#include <mmsb/core/ids.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {
namespace fsys = std::filesystem;
using layout = mmsb::dense<float, 1024>;
using store = mmsb::durable_store<mmsb::plus_times<float>, layout>;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t deltas_per_tick = 32;
constexpr std::size_t slots_per_delta = 16;
constexpr std::size_t checkpoint_every = 1000;  // ticks

std::string temp_root;

void remove_temp_root()
{
  if (temp_root.empty()) return;
  std::error_code ec;
  fsys::remove_all(temp_root, ec);
  temp_root.clear();
}

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p6_checkpoint_stall: %s\n", what.c_str());
  remove_temp_root();
  std::abort();
}

bool small() { static const bool s = std::getenv("MMSB_BENCH_P6_SMALL") != nullptr; return s; }

std::size_t env_or(const char* name, std::size_t fallback)
{
  if (const char* env = std::getenv(name)) {
    const std::size_t v = std::strtoull(env, nullptr, 10);
    if (v > 0) return v;
  }
  return fallback;
}
std::size_t pages() { static const std::size_t n = env_or("MMSB_BENCH_P6_STALL_PAGES", small() ? 64 : 4096); return n; }
std::size_t ticks() { static const std::size_t n = env_or("MMSB_BENCH_P6_STALL_TICKS", small() ? 2500 : 10000); return n; }

std::chrono::microseconds tick_period()
{
  static const auto p = std::chrono::microseconds(env_or("MMSB_BENCH_P6_STALL_PERIOD_US", 100));
  return p;
}

std::vector<std::byte> shape() { return std::vector<std::byte>(16, std::byte{0x6c}); }

// One tick's deltas, built outside the timed part.
void next_deltas(std::mt19937_64& rng, std::vector<store::delta_type>& out, std::size_t n_pages)
{
  out.clear();
  std::vector<std::uint32_t> targets;
  while (targets.size() < std::min(deltas_per_tick, n_pages)) {
    const auto p = static_cast<std::uint32_t>(rng() % n_pages);
    if (std::find(targets.begin(), targets.end(), p) == targets.end()) targets.push_back(p);
  }
  for (const auto p : targets) {
    mmsb::delta_builder<store::semiring_type, layout> b(mmsb::page_id{p});
    for (std::size_t k = 0; k < slots_per_delta; ++k) b.accumulate(rng() % layout::extent, 0.25f);
    out.push_back(b.build());
  }
}

void fill(store& s, std::size_t n)
{
  for (std::size_t p = 0; p < n; ++p) (void)s.create_page();
  std::vector<store::delta_type> ds;
  for (std::size_t p = 0; p < n; ++p) {
    mmsb::delta_builder<store::semiring_type, layout> b(mmsb::page_id{static_cast<std::uint32_t>(p)});
    for (std::size_t slot = p % 5; slot < layout::extent; slot += 3) b.accumulate(slot, static_cast<float>(p + slot));
    ds.push_back(b.build());
    if (ds.size() == 2048 || p + 1 == n) {  // a commit record stays under the 64 MiB limit
      (void)s.commit(ds);
      ds.clear();
    }
  }
}

// The newest checkpoint must hold `expect` (its state hash) and every page.
void verify(const std::string& dir, mmsb::epoch at, mmsb::state_hash expect, std::size_t n)
{
  mmsb::posix_file_system fs;
  std::size_t seen = 0;
  const auto load = mmsb::load_checkpoint(fs, dir + "/checkpoints", shape(), sizeof(layout::storage_type),
                                          [&](mmsb::page_id, mmsb::epoch, mmsb::span<const std::byte>) { ++seen; });
  if (!load.loaded) fail("no checkpoint in " + dir);
  if (load.loaded->epoch != at) fail("newest checkpoint at epoch " + std::to_string(load.loaded->epoch.value()) + ", expected " + std::to_string(at.value()));
  if (load.loaded->hash != expect) fail("checkpoint hash differs from the state at its epoch");
  if (seen != n) fail("checkpoint holds " + std::to_string(seen) + " pages, expected " + std::to_string(n));
}

enum class how { background, blocking, none };

void bm_stall(benchmark::State& state, how mode)
{
  static std::uint64_t counter = 0;
  const std::size_t n_pages = pages(), n_ticks = ticks();
  std::vector<double> latency_ns;
  std::vector<double> service_ns;  // from the tick's actual start: the stall itself
  latency_ns.reserve(n_ticks);
  service_ns.reserve(n_ticks);
  std::uint64_t written = 0, preserved = 0;
  double p50 = 0, p99 = 0, worst = 0, service_p99 = 0, service_max = 0;
  for (auto _ : state) {
    const std::string dir = temp_root + "/stall-" + std::to_string(counter++);
    fsys::create_directories(dir);
    {
      mmsb::posix_file_system fs;
      mmsb::store_options opts;
      opts.log.durability = mmsb::durability::none;
      store s(fs, dir, shape(), opts);
      fill(s, n_pages);
      s.checkpoint();  // the first one outside the run: the run sees the steady state
      std::mt19937_64 rng(42);
      std::vector<store::delta_type> ds;
      latency_ns.clear();
      service_ns.clear();
      std::size_t since = 0;
      const auto start = clock_type::now();
      for (std::size_t t = 0; t < n_ticks; ++t) {
        next_deltas(rng, ds, n_pages);
        const auto due = start + t * tick_period();
        while (clock_type::now() < due) std::this_thread::yield();  // paced, and the core is shared
        const auto began = clock_type::now();
        (void)s.commit(ds);
        if (mode != how::none && ++since >= checkpoint_every) {
          if (mode == how::blocking) {
            s.checkpoint();
            since = 0;
            ++written;
          } else if (s.begin_checkpoint()) {
            since = 0;
            ++written;
          }
        }
        const auto end = clock_type::now();
        latency_ns.push_back(std::chrono::duration<double, std::nano>(end - due).count());
        service_ns.push_back(std::chrono::duration<double, std::nano>(end - began).count());
      }
      s.wait_checkpoint();
      preserved = s.checkpoint_preserved_pages();
      // The check: a checkpoint started now equals the state at its epoch after later ticks.
      const mmsb::epoch at = s.current_epoch();
      const mmsb::state_hash expect = s.hash();
      if (mode == how::background) (void)s.begin_checkpoint();
      else s.checkpoint();
      for (std::size_t t = 0; t < 20; ++t) {
        next_deltas(rng, ds, n_pages);
        (void)s.commit(ds);
      }
      s.wait_checkpoint();
      verify(dir, at, expect, n_pages);
    }
    std::sort(latency_ns.begin(), latency_ns.end());
    const auto at = [&](double q) { return latency_ns[std::min(latency_ns.size() - 1, static_cast<std::size_t>(q * static_cast<double>(latency_ns.size())))]; };
    p50 = at(0.50);
    p99 = at(0.99);
    worst = latency_ns.back();
    std::sort(service_ns.begin(), service_ns.end());
    service_p99 = service_ns[std::min(service_ns.size() - 1, static_cast<std::size_t>(0.99 * static_cast<double>(service_ns.size())))];
    service_max = service_ns.back();
    state.SetIterationTime(p99 * 1e-9);
    std::error_code ec;
    fsys::remove_all(dir, ec);
  }
  state.counters["p50_tick_ns"] = p50;
  state.counters["p99_tick_ns"] = p99;
  state.counters["max_tick_ns"] = worst;
  state.counters["p99_service_ns"] = service_p99;
  state.counters["max_service_ns"] = service_max;
  state.counters["checkpoints"] = static_cast<double>(written);
  state.counters["preserved_pages"] = static_cast<double>(preserved);
}

void register_all()
{
  const std::string base = "P6/checkpoint_stall/" + std::to_string(pages()) + "_pages/";
  const std::pair<how, const char*> modes[] = {{how::background, "mmsb"}, {how::blocking, "blocking"}, {how::none, "no_checkpoint"}};
  for (const auto& [mode, name] : modes)
    benchmark::RegisterBenchmark((base + name).c_str(), [mode = mode](benchmark::State& st) { bm_stall(st, mode); })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}
} // namespace

int main(int argc, char** argv)
{
  const char* parent = std::getenv("MMSB_BENCH_P6_DIR");
  std::string templ = std::string(parent && *parent ? parent : "/tmp") + "/mmsb-p6-stall-XXXXXX";
  if (!::mkdtemp(templ.data())) fail("mkdtemp " + templ);
  temp_root = templ;
  benchmark::Initialize(&argc, argv);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  remove_temp_root();
  return 0;
}
