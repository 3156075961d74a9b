// P9 end to end (BENCHMARKS.md): the whole bus, ingest -> merge -> apply -> log -> propagate,
// with producers on every core pushing 64 B deltas, against the bus's own serial path and
// against memcpy of the same bytes (the physical limit).
//
//   P9/end_to_end_64B/mmsb          basic_bus with kokkos_scheduler<Kokkos::OpenMP> (the OpenMP
//                                   pool: one thread per core unless OMP_NUM_THREADS says
//                                   otherwise; 2 here)
//   P9/end_to_end_64B/mmsb_1thread  the same bus with kokkos_scheduler<Kokkos::Serial> (1 thread)
//   P9/end_to_end_64B/serial        the same bus with mmsb::serial (its own serial path)
//   P9/end_to_end_64B/memcpy        the producer threads copy the same number of bytes (deltas ×
//                                   encoded delta size) from their own buffers into disjoint
//                                   parts of one buffer: the physical limit
//   P10/end_to_end_64B/mmsb         P10 (observability): the OpenMP bus (serial without Kokkos)
//                                   with every metric recorded (obs::registry) and every 100th
//                                   tick and push traced (obs::tracer)
//   P10/end_to_end_64B/metrics_off  the same bus with neither, in the same run
// mmsb and mmsb_1thread need Kokkos (built where meson finds it); without it the binary holds
// serial and memcpy only. With Kokkos the program runs itself again with OMP_WAIT_POLICY=passive
// and OMP_PROC_BIND=false unless the environment already sets them (see main()).
//
// A "64 B delta": one mmsb::delta<plus_times<double>, dense<double, 256>> to one page, sparse,
// with 4 distinct slots (ascending), each an accumulate of an 8-byte double. Its log encoding
// (mmsb::encoded_size) is exactly 64 B: the 16 B delta header plus 4 u32 slots and 4 f64 values
// (codec version 2; all accumulates, so no op section). The program checks that size at start-up
// and memcpy moves 64 B per delta.
//
// The bus: plus_times<double> over dense pages of 256 doubles (2 KiB), 4096 pages. The last
// 1/8 (512 pages) are derived pages: each has one matrix edge from a distinct source page, a
// 256 × 256 sparse matrix with 2 entries per row (weights 1, 2, -1, 0.5; 8 matrices shared
// round-robin), so propagate recomputes the rows a change reaches (plus over doubles takes the
// page graph's "recompute" strategy). The log: durability::none (no fsync) on a
// posix_file_system in a temporary directory under $MMSB_BENCH_P9_DIR (default /tmp), i.e. real
// write() calls into the page cache, as a user who keeps a log without syncing it would see.
// Every other bus option is the default (16 Ki-change rings, parallel_min_changes 16384).
// Every 8 batches, outside the timed region, a checkpoint drops the old log segments so the
// disk does not fill.
//
// One benchmark iteration = one batch: P producer threads (P = the number of cores,
// hardware_concurrency(), or MMSB_BENCH_P9_PRODUCERS) are woken together and each pushes its
// share of 64 Ki deltas with producer::push(delta) (4 ring items per delta), while the owner
// thread calls tick() until every change has been drained, merged, logged, applied and
// propagated; a tick that drained nothing yields the CPU before the next (producers and the
// owner share the cores, so a spinning owner would starve them). The time is the wall time from waking the producers to the end of that last tick
// (manual time), so the time bench/report shows is per batch of 64 Ki deltas; items_processed
// is the delta count, so Google Benchmark's items_per_second (and the deltas_per_s counter) is
// deltas per second. The producer threads persist across batches (they sleep on a futex), and
// the deltas are generated once (pages uniform at random, slots distinct at random, values
// whole numbers in [-8, 8]) and pushed again in every batch. memcpy uses the same threads and the
// same wake-up.
//
// Counters: deltas_per_s, ns_per_delta; ticks_per_batch (every tick), busy_ticks_per_batch and
// changes_per_busy_tick (ticks that drained at least one change); tick_busy, the fraction of the
// batch the owner spent inside tick(); push_busy, the fraction a producer spent inside push();
// and per phase of the tick (ingest, merge, apply_log, propagate, maintain) the p50 over the busy
// ticks of the timed batches (p50_us_<phase>, from each tick_report's phase times, the same
// numbers bus.stats() keeps; bus.stats() itself also counts the empty ticks, which would make
// every p50 the cost of an empty tick) and the phase's share of all tick time (share_<phase>).
//
// Checks before anything is timed (the program aborts with a message if one fails):
//   determinism  3 rounds of the same changes (random doubles, 1/16 of them assigns, so fold
//                order matters) pushed by the producer threads, then one tick per round (rings
//                large enough, parallel_min_changes 0 so the OpenMP bus takes its parallel
//                path): the state hash (bus.hash()) must be bit-identical on serial, Kokkos
//                Serial and Kokkos OpenMP.
//   the timed path  2 batches through the exact harness that is timed (concurrent producers,
//                ticks as they come) on every scheduler: every base and derived value must equal
//                a plain reference (whole numbers and weights of ±1, 2, 0.5 keep every sum
//                exact, so any tick boundaries give the same bits), and the hashes must agree.
//   memcpy       the destination holds the source bytes; every delta encodes to 64 B.
//
// MMSB_BENCH_P9_SMALL=1 shrinks everything (256 pages, 2048 deltas per batch) for the smoke test.
#include <mmsb/delta/codec.hpp>
#include <mmsb/bus.hpp>
#include <mmsb/exec.hpp>
#include <mmsb/graph.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/obs/registry.hpp>
#include <mmsb/obs/trace.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#ifndef MMSB_BENCH_HAVE_KOKKOS
#define MMSB_BENCH_HAVE_KOKKOS 0
#endif
#if MMSB_BENCH_HAVE_KOKKOS
#include <mmsb/kokkos.hpp>
#endif

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

namespace fsys = std::filesystem;
using clock_type = std::chrono::steady_clock;
using S = mmsb::plus_times<double>;
using L = mmsb::dense<double, 256>;
using delta_t = mmsb::delta<S, L>;

constexpr std::size_t slots_per_delta = 4;
constexpr std::size_t delta_bytes = 64;         // encoded_size of one such delta, checked before timing
constexpr std::size_t checkpoint_every = 8;     // batches between (untimed) checkpoints
constexpr std::size_t matrices = 8;
constexpr std::size_t entries_per_row = 2;

// ---- sizes and environment ------------------------------------------------------------------

bool small() { static const bool s = std::getenv("MMSB_BENCH_P9_SMALL") != nullptr; return s; }
std::size_t page_count() { return small() ? 256 : 4096; }
std::size_t batch_deltas() { return small() ? 2048 : 65536; }
std::size_t derived_count() { return page_count() / 8; }
std::size_t source_count() { return page_count() - derived_count(); }

std::size_t producer_count()
{
  static const std::size_t n = [] {
    if (const char* env = std::getenv("MMSB_BENCH_P9_PRODUCERS")) {
      const std::size_t v = std::strtoull(env, nullptr, 10);
      if (v > 0) return v;
    }
    return std::max<std::size_t>(1, std::thread::hardware_concurrency());
  }();
  return n;
}

std::string temp_root;  // the process's own temporary directory, removed at exit
std::atomic<std::uint64_t> dir_counter{0};

void remove_temp_root()
{
  if (temp_root.empty()) return;
  std::error_code ec;
  fsys::remove_all(temp_root, ec);
  temp_root.clear();
}

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p9_end_to_end: %s\n", what.c_str());
  remove_temp_root();
  std::abort();
}

// ---- the workload ---------------------------------------------------------------------------

// Each producer's deltas (pushed in this order every batch) and the same deltas encoded, which
// is what memcpy copies.
struct workload {
  std::vector<std::vector<delta_t>> per_producer;
  std::vector<std::vector<std::byte>> encoded;
  std::size_t deltas = 0;
};

// exact: accumulates of whole numbers in [-8, 8] (sums are exact whatever the tick boundaries);
// otherwise random doubles in [-1, 1) and 1/16 assigns, for the fixed-boundary determinism check.
workload make_workload(std::size_t producers, std::size_t deltas, bool exact, std::uint64_t seed)
{
  workload w;
  w.deltas = deltas;
  w.per_producer.resize(producers);
  w.encoded.resize(producers);
  for (std::size_t p = 0; p < producers; ++p) {
    std::mt19937_64 rng(seed * 1000003 + p);
    std::uniform_real_distribution<double> real(-1.0, 1.0);
    const std::size_t share = deltas / producers + (p < deltas % producers ? 1 : 0);
    auto& out = w.per_producer[p];
    out.reserve(share);
    for (std::size_t k = 0; k < share; ++k) {
      const auto page = mmsb::page_id{static_cast<std::uint32_t>(rng() % page_count())};
      std::array<std::uint32_t, slots_per_delta> slots{};
      for (std::size_t i = 0; i < slots_per_delta; ++i) {
        bool fresh = false;
        while (!fresh) {
          slots[i] = static_cast<std::uint32_t>(rng() % L::extent);
          fresh = std::find(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(i), slots[i]) ==
                  slots.begin() + static_cast<std::ptrdiff_t>(i);
        }
      }
      std::sort(slots.begin(), slots.end());
      mmsb::sparse_delta<S, L> s(page);
      s.reserve(slots_per_delta);
      for (const auto slot : slots) {
        if (exact) {
          s.push_back(slot, mmsb::delta_op::accumulate, static_cast<double>(static_cast<int>(rng() % 17) - 8));
        } else {
          const auto op = rng() % 16 == 0 ? mmsb::delta_op::assign : mmsb::delta_op::accumulate;
          s.push_back(slot, op, real(rng));
        }
      }
      out.emplace_back(std::move(s));
      mmsb::encode(out.back(), w.encoded[p]);
    }
  }
  return w;
}

const workload& timed_workload()
{
  static const workload w = make_workload(producer_count(), batch_deltas(), true, 9);
  return w;
}

struct edge_spec {
  std::uint32_t src, dst;
  std::size_t matrix;
};

std::vector<std::shared_ptr<const mmsb::csr_matrix<double>>> make_matrices()
{
  std::vector<std::shared_ptr<const mmsb::csr_matrix<double>>> out;
  std::mt19937_64 rng(77);
  const double weights[] = {1.0, 2.0, -1.0, 0.5};
  for (std::size_t m = 0; m < matrices; ++m) {
    std::vector<mmsb::matrix_entry<double>> e;
    for (std::uint32_t r = 0; r < L::extent; ++r) {
      std::uint32_t cols[entries_per_row];
      for (std::size_t k = 0; k < entries_per_row; ++k) {
        bool fresh = false;
        while (!fresh) {
          cols[k] = static_cast<std::uint32_t>(rng() % L::extent);
          fresh = std::find(cols, cols + k, cols[k]) == cols + k;
        }
        e.push_back({r, cols[k], weights[rng() % 4]});
      }
    }
    out.push_back(std::make_shared<const mmsb::csr_matrix<double>>(
      mmsb::csr_matrix<double>::from_entries(L::extent, L::extent, {e.data(), e.size()})));
  }
  return out;
}

const std::vector<std::shared_ptr<const mmsb::csr_matrix<double>>>& shared_matrices()
{
  static const auto m = make_matrices();
  return m;
}

// Derived page source_count() + k is fed by source page (k * 7919) mod source_count() (distinct
// for the sizes used: 7919 is prime and does not divide them).
std::vector<edge_spec> edges()
{
  std::vector<edge_spec> out;
  for (std::size_t k = 0; k < derived_count(); ++k)
    out.push_back({static_cast<std::uint32_t>((k * 7919) % source_count()), static_cast<std::uint32_t>(source_count() + k),
                   k % matrices});
  return out;
}

template <class Bus>
void build_pages_and_graph(Bus& b)
{
  for (std::size_t i = 0; i < page_count(); ++i) (void)b.create_page();
  const auto& mats = shared_matrices();
  for (const auto& e : edges()) b.add_matrix_edge(mmsb::page_id{e.src}, mmsb::page_id{e.dst}, mats[e.matrix]);
}

// ---- the bus under test ---------------------------------------------------------------------

std::string fresh_dir(const char* tag)
{
  const std::string d = temp_root + "/" + tag + "-" + std::to_string(dir_counter.fetch_add(1));
  std::error_code ec;
  fsys::create_directories(d, ec);
  if (ec) fail("cannot create " + d + ": " + ec.message());
  return d;
}

using phase_times = std::array<std::chrono::nanoseconds, mmsb::tick_phase_count>;

struct batch_result {
  double seconds = 0;
  std::size_t ticks = 0;
  std::size_t changes = 0;
  phase_times phase{};
};

// P producer threads, asleep between batches; the calling thread owns the bus and ticks.
template <class Sched>
class bus_rig {
public:
  using bus_type = mmsb::basic_bus<S, L, mmsb::host_heap, Sched>;

  // on_disk: the posix log of the timed runs; otherwise the bus's own in-memory file system.
  bus_rig(const workload& w, bool on_disk, mmsb::bus_options o = {})
    : w_(w), dir_{on_disk ? fresh_dir(Sched::name) : std::string()}, bus_(options(std::move(o)))
  {
    build_pages_and_graph(bus_);
    busy_.resize(w_.per_producer.size());
    for (std::size_t p = 0; p < w_.per_producer.size(); ++p) producers_.push_back(bus_.make_producer());
    for (std::size_t p = 0; p < w_.per_producer.size(); ++p) threads_.emplace_back([this, p] { producer_loop(p); });
  }
  bus_rig(const bus_rig&) = delete;
  bus_rig& operator=(const bus_rig&) = delete;
  ~bus_rig()
  {
    stop_.store(true, std::memory_order_release);
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_all();
    for (auto& t : threads_) t.join();
    producers_.clear();
  }

  // Wakes the producers for one batch and ticks until all of it is applied and propagated. A
  // tick that found nothing yields the CPU (producers and owner share the cores). The phase
  // times of every tick that drained something go to `samples` if given.
  batch_result run_batch(std::vector<phase_times>* samples = nullptr)
  {
    const std::size_t want = w_.deltas * slots_per_delta;
    batch_result r;
    const auto t0 = clock_type::now();
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_all();
    for (;;) {
      const mmsb::tick_report t = bus_.tick();
      ++r.ticks;
      r.changes += t.changes;
      for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p) r.phase[p] += t.phase[p];
      if (samples && t.changes != 0) samples->push_back(t.phase);
      if (t.rejected != 0) fail(std::string(Sched::name) + ": the tick rejected " + std::to_string(t.rejected) + " changes");
      if (r.changes > want) fail(std::string(Sched::name) + ": a batch drained more changes than were pushed");
      if (r.changes == want && t.propagation_complete) break;
      if (t.changes == 0) std::this_thread::yield();
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    // Every change is in; wait for the producers to be back asleep (their push() has returned).
    const std::size_t target = (batches_ + 1) * producers_.size();
    for (std::size_t d = done_.load(std::memory_order_acquire); d < target; d = done_.load(std::memory_order_acquire))
      done_.wait(d, std::memory_order_acquire);
    ++batches_;
    return r;
  }

  // The same batch at a fixed tick boundary: every producer finishes (the rings must hold its
  // whole share), then one tick takes it all.
  batch_result run_batch_fixed()
  {
    batch_result r;
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_all();
    const std::size_t target = (batches_ + 1) * producers_.size();
    for (std::size_t d = done_.load(std::memory_order_acquire); d < target; d = done_.load(std::memory_order_acquire))
      done_.wait(d, std::memory_order_acquire);
    ++batches_;
    const mmsb::tick_report t = bus_.tick();
    if (!t.propagation_complete) fail(std::string(Sched::name) + ": an unbounded tick left propagation unfinished");
    r.ticks = 1;
    r.changes = t.changes;
    r.phase = t.phase;
    return r;
  }

  // The time producers spent inside push() since the last call, summed over producers.
  double take_busy_seconds()
  {
    double s = 0;
    for (auto& b : busy_) s += std::exchange(b, 0.0);
    return s;
  }

  bus_type& bus() noexcept { return bus_; }

private:
  mmsb::bus_options options(mmsb::bus_options o)
  {
    o.store.log.durability = mmsb::durability::none;
    if (!dir_.dir.empty()) {
      o.fs = &posix_;
      o.dir = dir_.dir + "/store";
    }
    return o;
  }

  void producer_loop(std::size_t p)
  {
    std::uint64_t seen = 0;
    for (;;) {
      gen_.wait(seen, std::memory_order_acquire);
      seen = gen_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      auto& pr = producers_[p];
      pr.set_epoch(mmsb::epoch{seen});
      const auto t0 = clock_type::now();
      for (const auto& d : w_.per_producer[p]) pr.push(d);
      busy_[p] += std::chrono::duration<double>(clock_type::now() - t0).count();
      done_.fetch_add(1, std::memory_order_release);
      done_.notify_all();
    }
  }

  struct dir_guard {  // removes the store's directory after the bus is gone
    std::string dir;
    ~dir_guard()
    {
      if (dir.empty()) return;
      std::error_code ec;
      fsys::remove_all(dir, ec);
    }
  };

  const workload& w_;
  dir_guard dir_;
  mmsb::posix_file_system posix_;
  bus_type bus_;
  std::vector<typename bus_type::producer_type> producers_;
  std::vector<double> busy_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> gen_{0};
  std::atomic<std::size_t> done_{0};
  std::atomic<bool> stop_{false};
  std::size_t batches_ = 0;
};

// The physical limit: the same threads and wake-up, each copying its share of the encoded bytes
// into its own part of one destination buffer.
class memcpy_rig {
public:
  explicit memcpy_rig(const workload& w) : w_(w)
  {
    std::size_t total = 0;
    for (const auto& e : w_.encoded) {
      offsets_.push_back(total);
      total += e.size();
    }
    dst_.assign(total, std::byte{1});  // touched before timing
    for (std::size_t p = 0; p < w_.encoded.size(); ++p) threads_.emplace_back([this, p] { copier_loop(p); });
  }
  memcpy_rig(const memcpy_rig&) = delete;
  memcpy_rig& operator=(const memcpy_rig&) = delete;
  ~memcpy_rig()
  {
    stop_.store(true, std::memory_order_release);
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_all();
    for (auto& t : threads_) t.join();
  }

  double run_batch()
  {
    const auto t0 = clock_type::now();
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_all();
    const std::size_t target = (batches_ + 1) * threads_.size();
    for (std::size_t d = done_.load(std::memory_order_acquire); d < target; d = done_.load(std::memory_order_acquire))
      done_.wait(d, std::memory_order_acquire);
    ++batches_;
    return std::chrono::duration<double>(clock_type::now() - t0).count();
  }

  [[nodiscard]] bool copied_right() const
  {
    for (std::size_t p = 0; p < w_.encoded.size(); ++p)
      if (std::memcmp(dst_.data() + offsets_[p], w_.encoded[p].data(), w_.encoded[p].size()) != 0) return false;
    return true;
  }
  [[nodiscard]] std::size_t bytes() const noexcept { return dst_.size(); }

private:
  void copier_loop(std::size_t p)
  {
    std::uint64_t seen = 0;
    for (;;) {
      gen_.wait(seen, std::memory_order_acquire);
      seen = gen_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      std::memcpy(dst_.data() + offsets_[p], w_.encoded[p].data(), w_.encoded[p].size());
      benchmark::ClobberMemory();
      done_.fetch_add(1, std::memory_order_release);
      done_.notify_all();
    }
  }

  const workload& w_;
  std::vector<std::size_t> offsets_;
  std::vector<std::byte> dst_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> gen_{0};
  std::atomic<std::size_t> done_{0};
  std::atomic<bool> stop_{false};
  std::size_t batches_ = 0;
};

// ---- checks before timing -------------------------------------------------------------------

// Every page's expected value after `batches` batches of the exact workload: bases are the sums
// of the accumulates, derived values base + A ⊗ value(source) (sources are never derived). Whole
// numbers and halves, so every order of summation gives the same doubles.
std::vector<std::vector<double>> reference_values(const workload& w, std::size_t batches)
{
  std::vector<std::vector<double>> base(page_count(), std::vector<double>(L::extent, 0.0));
  for (const auto& ds : w.per_producer)
    for (const auto& d : ds)
      for (const auto& e : d.as_sparse()->entries()) base[d.target().value()][e.index] += static_cast<double>(batches) * e.value;
  auto value = base;
  const auto& mats = shared_matrices();
  for (const auto& e : edges()) {
    const auto& a = *mats[e.matrix];
    for (std::uint32_t i = 0; i < L::extent; ++i) {
      double acc = 0;
      const auto cols = a.row_cols(i);
      const auto vals = a.row_values(i);
      for (std::size_t k = 0; k < cols.size(); ++k) acc += vals[k] * base[e.src][cols[k]];
      value[e.dst][i] += acc;
    }
  }
  return value;
}

// The timed harness itself, 2 batches: every value against the reference; returns the hash.
template <class Sched>
std::uint64_t check_timed_path(const std::vector<std::vector<double>>& want)
{
  bus_rig<Sched> rig(timed_workload(), true);
  for (int b = 0; b < 2; ++b) (void)rig.run_batch();
  for (std::uint32_t v = 0; v < page_count(); ++v)
    for (std::size_t i = 0; i < L::extent; ++i) {
      const double got = rig.bus().value(mmsb::page_id{v}).get(i);
      if (std::memcmp(&got, &want[v][i], sizeof got) != 0)
        fail(std::string(Sched::name) + " bus, timed path: page " + std::to_string(v) + " slot " + std::to_string(i) + " is " +
             std::to_string(got) + ", the reference says " + std::to_string(want[v][i]));
    }
  if (!rig.bus().verify().ok()) fail(std::string(Sched::name) + " bus: page graph invariants broken after the timed path");
  return rig.bus().hash().value;
}

// Fixed tick boundaries, fold order that matters: rounds of pushes (rings big enough to hold a
// round), then one tick. parallel_min_changes 0 makes a parallel scheduler take its parallel path.
template <class Sched>
std::uint64_t determinism_hash(const workload& w, int rounds)
{
  mmsb::bus_options o;
  std::size_t items = 0;
  for (const auto& ds : w.per_producer) items = std::max(items, ds.size() * slots_per_delta);
  o.ring_capacity = std::bit_ceil(items);
  o.parallel_min_changes = 0;
  bus_rig<Sched> rig(w, false, o);
  for (int r = 0; r < rounds; ++r) {
    // run_batch ticks as the changes come; here the producers finish first, then one tick.
    const auto res = rig.run_batch_fixed();
    if (res.changes != w.deltas * slots_per_delta)
      fail(std::string(Sched::name) + ": determinism round " + std::to_string(r) + " drained " + std::to_string(res.changes) +
           " changes of " + std::to_string(w.deltas * slots_per_delta));
  }
  return rig.bus().hash().value;
}

std::string hex(std::uint64_t v)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string determinism_report;  // for the benchmark context

void check_all()
{
  // The delta is 64 B-class: check the encoding size the header promises.
  const auto& w = timed_workload();
  for (const auto& ds : w.per_producer)
    for (const auto& d : ds)
      if (mmsb::encoded_size(d) != delta_bytes)
        fail("a delta encodes to " + std::to_string(mmsb::encoded_size(d)) + " B, not " + std::to_string(delta_bytes));

  // memcpy copies what it should.
  {
    memcpy_rig m(w);
    (void)m.run_batch();
    if (!m.copied_right() || m.bytes() != w.deltas * delta_bytes) fail("memcpy contender: destination differs from the source bytes");
  }

  // Determinism at fixed tick boundaries, with non-associative folds.
  const workload strict = make_workload(producer_count(), batch_deltas(), false, 31);
  const int rounds = 3;
  const auto h_serial = determinism_hash<mmsb::serial>(strict, rounds);
  std::string report = "fixed ticks: serial " + hex(h_serial);
#if MMSB_BENCH_HAVE_KOKKOS
  const auto h_kserial = determinism_hash<mmsb::kokkos_scheduler<Kokkos::Serial>>(strict, rounds);
  const auto h_omp = determinism_hash<mmsb::kokkos_scheduler<Kokkos::OpenMP>>(strict, rounds);
  const auto omp_threads = mmsb::kokkos_scheduler<Kokkos::OpenMP>{}.concurrency();
  report += ", kokkos_serial " + hex(h_kserial) + ", kokkos_openmp(" + std::to_string(omp_threads) + " threads) " + hex(h_omp);
  if (h_kserial != h_serial || h_omp != h_serial)
    fail("determinism check FAILED: the state hash differs between schedulers after the same fixed workload (" + report + ")");
#endif

  // The timed harness: reference values and equal hashes.
  const auto want = reference_values(w, 2);
  const auto t_serial = check_timed_path<mmsb::serial>(want);
  report += "; timed path (2 batches, values = reference): serial " + hex(t_serial);
#if MMSB_BENCH_HAVE_KOKKOS
  const auto t_kserial = check_timed_path<mmsb::kokkos_scheduler<Kokkos::Serial>>(want);
  const auto t_omp = check_timed_path<mmsb::kokkos_scheduler<Kokkos::OpenMP>>(want);
  report += ", kokkos_serial " + hex(t_kserial) + ", kokkos_openmp " + hex(t_omp);
  if (t_kserial != t_serial || t_omp != t_serial)
    fail("determinism check FAILED: the state hash differs between schedulers on the timed path (" + report + ")");
#endif
  determinism_report = (MMSB_BENCH_HAVE_KOKKOS ? "identical: " : "serial only (built without Kokkos): ") + report;
  std::fprintf(stderr, "p9_end_to_end: determinism %s\n", determinism_report.c_str());
}

// ---- the benchmarks -------------------------------------------------------------------------

// The p50 of one phase over the sampled ticks (nearest rank, as tick_stats does), in µs.
double p50_us(std::vector<phase_times>& samples, std::size_t phase)
{
  if (samples.empty()) return 0.0;
  std::vector<std::chrono::nanoseconds> v;
  v.reserve(samples.size());
  for (const auto& s : samples) v.push_back(s[phase]);
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>((v.size() - 1) / 2);
  std::nth_element(v.begin(), mid, v.end());
  return static_cast<double>(mid->count()) / 1e3;
}

// Metrics: the bus records every metric into an obs::registry in memory, and traces every
// 100th tick whole (and every 100th push of each producer) into an obs::tracer (P10: against the
// same bus with neither, in the same run).
template <class Sched, bool Metrics = false>
void bm_bus(benchmark::State& state)
{
  const auto& w = timed_workload();
  mmsb::obs::registry reg;
  mmsb::obs::tracer tracer({.threads = 16, .events_per_thread = 1 << 14, .sample_every = 100});
  mmsb::bus_options o;
  if (Metrics) {
    o.metrics = reg.sink();
    o.trace = tracer.sink();
  }
  bus_rig<Sched> rig(w, true, o);
  (void)rig.run_batch();  // warm: first-touch page faults, buffers, threads
  (void)rig.take_busy_seconds();
  double seconds = 0;
  std::size_t ticks = 0, changes = 0, batches = 0;
  phase_times phase{};
  std::vector<phase_times> samples;  // ticks that drained something
  for (auto _ : state) {
    const batch_result r = rig.run_batch(&samples);
    state.SetIterationTime(r.seconds);
    seconds += r.seconds;
    ticks += r.ticks;
    changes += r.changes;
    for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p) phase[p] += r.phase[p];
    if (++batches % checkpoint_every == 0) {
      // Outside the timed region (manual time): drop old log segments so the disk does not fill.
      rig.bus().checkpoint();
    }
  }
  const double deltas = static_cast<double>(batches) * static_cast<double>(w.deltas);
  const auto per_batch = [&](double x) { return batches ? x / static_cast<double>(batches) : 0.0; };
  state.SetItemsProcessed(static_cast<std::int64_t>(deltas));
  state.counters["deltas_per_s"] = benchmark::Counter(deltas, benchmark::Counter::kIsRate);
  state.counters["ns_per_delta"] = deltas > 0 ? seconds * 1e9 / deltas : 0.0;
  state.counters["ticks_per_batch"] = per_batch(static_cast<double>(ticks));
  state.counters["busy_ticks_per_batch"] = per_batch(static_cast<double>(samples.size()));
  state.counters["changes_per_busy_tick"] = samples.empty() ? 0.0 : static_cast<double>(changes) / static_cast<double>(samples.size());
  state.counters["push_busy"] = seconds > 0 ? rig.take_busy_seconds() / (seconds * static_cast<double>(w.per_producer.size())) : 0.0;
  std::chrono::nanoseconds all{};
  for (const auto t : phase) all += t;
  state.counters["tick_busy"] = seconds > 0 ? static_cast<double>(all.count()) / 1e9 / seconds : 0.0;
  for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p) {
    const char* name = mmsb::phase_name(static_cast<mmsb::tick_phase>(p));
    state.counters[std::string("p50_us_") + name] = p50_us(samples, p);
    state.counters[std::string("share_") + name] =
      all.count() > 0 ? static_cast<double>(phase[p].count()) / static_cast<double>(all.count()) : 0.0;
  }
}

void bm_memcpy(benchmark::State& state)
{
  const auto& w = timed_workload();
  memcpy_rig rig(w);
  (void)rig.run_batch();
  double seconds = 0;
  std::size_t batches = 0;
  for (auto _ : state) {
    const double s = rig.run_batch();
    state.SetIterationTime(s);
    seconds += s;
    ++batches;
  }
  const double deltas = static_cast<double>(batches) * static_cast<double>(w.deltas);
  state.SetItemsProcessed(static_cast<std::int64_t>(deltas));
  state.SetBytesProcessed(static_cast<std::int64_t>(deltas) * static_cast<std::int64_t>(delta_bytes));
  state.counters["deltas_per_s"] = benchmark::Counter(deltas, benchmark::Counter::kIsRate);
  state.counters["ns_per_delta"] = deltas > 0 ? seconds * 1e9 / deltas : 0.0;
}

void register_all()
{
  const std::string base = "P9/end_to_end_64B/";
  const auto reg = [&](const char* who, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark((base + who).c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
#if MMSB_BENCH_HAVE_KOKKOS
  reg("mmsb", &bm_bus<mmsb::kokkos_scheduler<Kokkos::OpenMP>>);
  reg("mmsb_1thread", &bm_bus<mmsb::kokkos_scheduler<Kokkos::Serial>>);
#endif
  reg("serial", &bm_bus<mmsb::serial>);
  reg("memcpy", &bm_memcpy);
  // P10: the same workload with every metric recorded and sampled tracing (mmsb), and with
  // neither (metrics_off).
  const auto reg10 = [&](const char* who, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark((std::string("P10/end_to_end_64B/") + who).c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
#if MMSB_BENCH_HAVE_KOKKOS
  reg10("mmsb", &bm_bus<mmsb::kokkos_scheduler<Kokkos::OpenMP>, true>);
  reg10("metrics_off", &bm_bus<mmsb::kokkos_scheduler<Kokkos::OpenMP>, false>);
#else
  reg10("mmsb", &bm_bus<mmsb::serial, true>);
  reg10("metrics_off", &bm_bus<mmsb::serial, false>);
#endif
}

}  // namespace

int main(int argc, char** argv)
{
#if MMSB_BENCH_HAVE_KOKKOS
  // libgomp reads OMP_WAIT_POLICY once, when it is loaded, so the program sets it by running
  // itself again. Passive: with producers on every core, the default (active) policy keeps the
  // pool's idle thread spinning between parallel regions on a core the producers need (it
  // doubled mmsb's time per batch here). OMP_PROC_BIND=false (no pinning: producers and the
  // pool share the cores) also silences Kokkos's warning. A value already set is kept.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    if (std::getenv("OMP_PROC_BIND") == nullptr) ::setenv("OMP_PROC_BIND", "false", 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: go on with the defaults
    ::unsetenv("OMP_WAIT_POLICY");
  }
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* parent = std::getenv("MMSB_BENCH_P9_DIR");
  std::string tmpl = std::string(parent && *parent ? parent : "/tmp") + "/mmsb-bench-p9.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp " + tmpl + ": " + std::strerror(errno));
  temp_root = tmpl;
  std::atexit(remove_temp_root);
  check_all();
  register_all();
  benchmark::AddCustomContext("p9_workload",
                              std::to_string(batch_deltas()) + " deltas per batch (4 slots x f64, " + std::to_string(delta_bytes) +
                                " B encoded) from " + std::to_string(producer_count()) + " producer threads; " +
                                std::to_string(page_count()) + " pages of 256 f64, " + std::to_string(derived_count()) +
                                " derived by matrix edges; log durability none on posix_file_system in " + temp_root);
#if MMSB_BENCH_HAVE_KOKKOS
  benchmark::AddCustomContext("p9_openmp", std::to_string(mmsb::kokkos_scheduler<Kokkos::OpenMP>{}.concurrency()) +
                                             " threads, OMP_WAIT_POLICY=" +
                                             (std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset"));
#endif
  benchmark::AddCustomContext("p9_determinism", determinism_report);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  remove_temp_root();
  return 0;
}
