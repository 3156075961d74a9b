// P4 rings (BENCHMARKS.md): mmsb::spsc_ring and mmsb::mpmc_queue against
// boost::lockfree::spsc_queue, moodycamel ReaderWriterQueue and ConcurrentQueue, and the raw
// cache-line round trip.
//
//   P4/spsc_8B/<mmsb|boost_spsc|moodycamel_rwq|moodycamel_cq>    one producer, one consumer,
//   P4/spsc_64B/<...>                                            8 B or 64 B items, one at a time
//   P4/pingpong/<mmsb|boost_spsc|moodycamel_rwq|cacheline_rtt>   a ring pair: push one, wait for
//                                                                it to come back; the limit is
//                                                                one atomic bounced between cores
//   P4/mpmc_2p2c/<mmsb|moodycamel_cq>                            2 producers, 2 consumers, 8 B
//   P4/mpmc_2p2c_bulk64/<mmsb|moodycamel_cq>                     ... in bulk runs of 64
//
// Time is per item (per round trip for pingpong): each repetition moves MMSB_BENCH_P4_ITEMS items
// (default 50 M; pingpong does 1/50 as many round trips, mpmc 1/5 as many items), timed with
// steady_clock and reported through SetIterationTime(elapsed / items) on a single iteration, so
// the real_time bench/report reads is the time per item. Every contender runs the same harness:
// the same ring capacity (8192 slots; ConcurrentQueue preallocates twice that, as its blocks are
// per producer), non-blocking try-push / try-pop calls retried until they succeed, the two SPSC and
// pingpong threads pinned to two different CPUs (MPMC threads are left to the scheduler: 4 threads,
// 2 CPUs here), consumers that check every item's sequence number, and one way to wait when a
// try fails (backoff below: pause, then yield, then nap), so that a run finishes on shared cores.
// GCC 12 reports a false -Wstringop-overflow inside libstdc++'s atomic load once
// ConcurrentQueue::enqueue_bulk is inlined here; the warning is issued at <atomic>'s location,
// so it is silenced before the first include for this benchmark file only.
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#include <mmsb/exec/mpmc_queue.hpp>
#include <mmsb/exec/spsc_ring.hpp>

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>
#include <concurrentqueue/concurrentqueue.h>
#include <readerwriterqueue/readerwriterqueue.h>

#include <pthread.h>
#include <sched.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t ring_slots = 8192;

std::uint64_t item_count()
{
  static const std::uint64_t n = [] {
    const char* env = std::getenv("MMSB_BENCH_P4_ITEMS");
    const std::uint64_t v = env ? std::strtoull(env, nullptr, 10) : 0;
    return v ? v : std::uint64_t{50'000'000};
  }();
  return n;
}

inline void relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How every contender's threads wait (the same harness for all): pause a few dozen times, then
// yield the time slice a few times, then nap 1, 2, 4, ... up to 100 us. With pauses alone a side
// whose partner was descheduled burnt its whole time slice, so on the 2-core VM with another job
// running the default run (50 M items, 9 repetitions) went past 25 minutes; an unloaded run never
// gets past the pauses, so its figures are the same.
//
// A waiter that has napped for stall_limit without its try succeeding stops the case, which is
// then reported as skipped instead of hanging the report: moodycamel's ConcurrentQueue in
// mpmc_2p2c (try_enqueue with tokens, its preallocated blocks only, 2 CPUs) was seen to report
// full to one producer while both consumers found it empty, for more than 10 minutes.
std::atomic<bool> stalled{false};
constexpr auto stall_limit = std::chrono::seconds(10);

class backoff {
public:
  void pause() noexcept
  {
    if (n_ < 64) {
      ++n_;
      relax();
    } else if (n_ < 80) {
      ++n_;
      std::this_thread::yield();
    } else {
      const auto now = clock_type::now();
      if (nap_us_ == 1) napping_since_ = now;
      else if (now - napping_since_ > stall_limit) stalled.store(true, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::microseconds(nap_us_));
      nap_us_ = std::min<unsigned>(nap_us_ * 2, 100);
    }
  }
  void reset() noexcept { n_ = 0, nap_us_ = 1; }

private:
  unsigned n_ = 0;
  unsigned nap_us_ = 1;
  clock_type::time_point napping_since_{};
};
// Waits until ready() holds; false when the case stalled (the caller then runs out its loop
// without waiting and the case is reported as skipped).
template <class Ready>
inline bool wait_until(Ready&& ready) noexcept
{
  backoff b;
  while (!ready()) {
    if (stalled.load(std::memory_order_relaxed)) return false;
    b.pause();
  }
  return true;
}
inline bool check_stall(benchmark::State& state)
{
  if (!stalled.exchange(false)) return false;
  state.SkipWithError("stalled: a waiter made no progress for 10 s");
  return true;
}

// The first two CPUs this process may run on (-1 when there are fewer), or MMSB_BENCH_P4_CPUS=a,b
// (e.g. to keep the pair off SMT siblings on a larger machine).
std::array<int, 2> two_cpus()
{
  std::array<int, 2> out{-1, -1};
  if (const char* env = std::getenv("MMSB_BENCH_P4_CPUS")) {
    char* end = nullptr;
    out[0] = static_cast<int>(std::strtol(env, &end, 10));
    if (end && *end == ',') out[1] = static_cast<int>(std::strtol(end + 1, nullptr, 10));
    if (out[0] >= 0 && out[1] >= 0) return out;
    out = {-1, -1};
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return out;
  std::size_t k = 0;
  for (int c = 0; c < CPU_SETSIZE && k < 2; ++c)
    if (CPU_ISSET(c, &allowed)) out[k++] = c;
  return k == 2 ? out : std::array<int, 2>{-1, -1};
}
void pin_to(int cpu)
{
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
// Restores the benchmark thread's affinity when a case ends.
struct affinity_guard {
  cpu_set_t saved;
  affinity_guard() { sched_getaffinity(0, sizeof saved, &saved); }
  ~affinity_guard() { pthread_setaffinity_np(pthread_self(), sizeof saved, &saved); }
};

template <std::size_t Bytes>
struct item {
  std::uint64_t seq;
  std::uint64_t pad[Bytes / 8 - 1];
};
template <>
struct item<8> {
  std::uint64_t seq;
};
static_assert(sizeof(item<8>) == 8 && sizeof(item<64>) == 64);

// ---- contenders: SPSC ----------------------------------------------------------------------
template <class T>
struct mmsb_spsc {
  mmsb::spsc_ring<T, mmsb::full_policy::spin> q{ring_slots};
  bool push(const T& v) noexcept { return q.try_push(v); }
  bool pop(T& v) noexcept { return q.try_pop(v); }
};
template <class T>
struct boost_spsc {
  boost::lockfree::spsc_queue<T> q{ring_slots};
  bool push(const T& v) noexcept { return q.push(v); }
  bool pop(T& v) noexcept { return q.pop(v); }
};
template <class T>
struct rwq_spsc {
  moodycamel::ReaderWriterQueue<T> q{ring_slots - 1};  // it keeps one slot free: 8192 slots
  bool push(const T& v) noexcept { return q.try_enqueue(v); }
  bool pop(T& v) noexcept { return q.try_dequeue(v); }
};
template <class T>
struct cq_spsc {
  moodycamel::ConcurrentQueue<T> q{2 * ring_slots};
  moodycamel::ProducerToken ptok{q};
  moodycamel::ConsumerToken ctok{q};
  bool push(const T& v) noexcept { return q.try_enqueue(ptok, v); }
  bool pop(T& v) noexcept { return q.try_dequeue(ctok, v); }
};

template <class Queue, std::size_t Bytes>
void spsc(benchmark::State& state)
{
  using T = item<Bytes>;
  const std::uint64_t n = item_count();
  const auto cpus = two_cpus();
  affinity_guard guard;
  pin_to(cpus[0]);
  for (auto _ : state) {
    auto q = std::make_unique<Queue>();
    std::atomic<bool> go{false};
    std::uint64_t errors = 0;
    std::thread consumer([&] {
      pin_to(cpus[1]);
      go.store(true);
      T v{};
      for (std::uint64_t i = 0; i < n; ++i) {
        wait_until([&] { return q->pop(v); });
        errors += v.seq != i;
      }
    });
    wait_until([&] { return go.load(); });
    const auto t0 = clock_type::now();
    T v{};
    for (std::uint64_t i = 0; i < n; ++i) {
      v.seq = i;
      wait_until([&] { return q->push(v); });
    }
    consumer.join();
    const auto t1 = clock_type::now();
    if (check_stall(state)) break;
    if (errors) state.SkipWithError("items arrived out of order");
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count() / static_cast<double>(n));
  }
  state.counters["items"] = static_cast<double>(n);
}

// ---- pingpong ------------------------------------------------------------------------------
template <class Queue>
void pingpong(benchmark::State& state)
{
  using T = item<8>;
  const std::uint64_t n = std::max<std::uint64_t>(item_count() / 50, 1);
  const auto cpus = two_cpus();
  affinity_guard guard;
  pin_to(cpus[0]);
  for (auto _ : state) {
    auto there = std::make_unique<Queue>();
    auto back = std::make_unique<Queue>();
    std::atomic<bool> go{false};
    std::thread echo([&] {
      pin_to(cpus[1]);
      go.store(true);
      T v{};
      for (std::uint64_t i = 0; i < n; ++i) {
        wait_until([&] { return there->pop(v); });
        wait_until([&] { return back->push(v); });
      }
    });
    wait_until([&] { return go.load(); });
    std::uint64_t errors = 0;
    const auto t0 = clock_type::now();
    T v{};
    for (std::uint64_t i = 0; i < n; ++i) {
      v.seq = i;
      wait_until([&] { return there->push(v); });
      wait_until([&] { return back->pop(v); });
      errors += v.seq != i;
    }
    const auto t1 = clock_type::now();
    echo.join();
    if (check_stall(state)) break;
    if (errors) state.SkipWithError("items came back wrong");
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count() / static_cast<double>(n));
  }
  state.counters["round_trips"] = static_cast<double>(n);
}

// The limit: one atomic on its own line, bounced between the two CPUs (bench/reference.cpp's
// c2c_round_trip, in the same harness as the rings).
void cacheline_rtt(benchmark::State& state)
{
  const std::uint64_t n = std::max<std::uint64_t>(item_count() / 50, 1);
  const auto cpus = two_cpus();
  affinity_guard guard;
  pin_to(cpus[0]);
  for (auto _ : state) {
    struct alignas(64) line {
      std::atomic<std::uint64_t> v{0};
    };
    auto flag = std::make_unique<line>();
    std::atomic<bool> go{false};
    std::thread echo([&] {
      pin_to(cpus[1]);
      go.store(true);
      for (std::uint64_t i = 1; i <= n; ++i) {
        wait_until([&] { return flag->v.load(std::memory_order_acquire) == 2 * i - 1; });
        flag->v.store(2 * i, std::memory_order_release);
      }
    });
    wait_until([&] { return go.load(); });
    const auto t0 = clock_type::now();
    for (std::uint64_t i = 1; i <= n; ++i) {
      flag->v.store(2 * i - 1, std::memory_order_release);
      wait_until([&] { return flag->v.load(std::memory_order_acquire) == 2 * i; });
    }
    const auto t1 = clock_type::now();
    echo.join();
    if (check_stall(state)) break;
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count() / static_cast<double>(n));
  }
  state.counters["round_trips"] = static_cast<double>(n);
}

// ---- contenders: MPMC ----------------------------------------------------------------------
using mpmc_item = std::uint64_t;  // producer << 56 | sequence
struct mmsb_mpmc {
  mmsb::mpmc_queue<mpmc_item, mmsb::full_policy::spin> q{ring_slots};
  struct producer {
    mmsb_mpmc& m;
    bool push(mpmc_item v) noexcept { return m.q.try_push(v); }
    std::size_t push_bulk(const mpmc_item* p, std::size_t k) noexcept { return m.q.try_push_bulk({p, k}); }
  };
  struct consumer {
    mmsb_mpmc& m;
    bool pop(mpmc_item& v) noexcept { return m.q.try_pop(v); }
    std::size_t pop_bulk(mpmc_item* p, std::size_t k) noexcept { return m.q.pop_bulk({p, k}); }
  };
};
struct cq_mpmc {
  moodycamel::ConcurrentQueue<mpmc_item> q{2 * ring_slots};
  struct producer {
    cq_mpmc& m;
    moodycamel::ProducerToken tok{m.q};
    bool push(mpmc_item v) noexcept { return m.q.try_enqueue(tok, v); }
    std::size_t push_bulk(const mpmc_item* p, std::size_t k) noexcept
    {
      return m.q.try_enqueue_bulk(tok, p, k) ? k : 0;  // all or nothing
    }
  };
  struct consumer {
    cq_mpmc& m;
    moodycamel::ConsumerToken tok{m.q};
    bool pop(mpmc_item& v) noexcept { return m.q.try_dequeue(tok, v); }
    std::size_t pop_bulk(mpmc_item* p, std::size_t k) noexcept { return m.q.try_dequeue_bulk(tok, p, k); }
  };
};

template <class Queue, std::size_t Bulk>
void mpmc(benchmark::State& state)
{
  constexpr std::size_t producers = 2, consumers = 2;
  const std::uint64_t per_producer = std::max<std::uint64_t>(item_count() / 5 / producers / Bulk, 1) * Bulk;
  const std::uint64_t total = per_producer * producers;
  for (auto _ : state) {
    auto q = std::make_unique<Queue>();
    std::atomic<std::uint64_t> consumed{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p)
      threads.emplace_back([&, p] {
        typename Queue::producer prod{*q};
        ready.fetch_add(1);
        wait_until([&] { return ready.load() >= static_cast<int>(producers + consumers) + 1; });
        if constexpr (Bulk == 1) {
          for (std::uint64_t i = 0; i < per_producer; ++i)
            wait_until([&] { return prod.push((std::uint64_t{p} << 56) | i); });
        } else {
          std::array<mpmc_item, Bulk> run;
          backoff b;
          for (std::uint64_t i = 0; i < per_producer; i += Bulk) {
            for (std::size_t k = 0; k < Bulk; ++k) run[k] = (std::uint64_t{p} << 56) | (i + k);
            for (std::size_t done = 0; done < Bulk && !stalled.load(std::memory_order_relaxed);) {
              const std::size_t m = prod.push_bulk(run.data() + done, Bulk - done);
              if (m == 0) b.pause();
              else b.reset();
              done += m;
            }
          }
        }
      });
    for (std::size_t c = 0; c < consumers; ++c)
      threads.emplace_back([&] {
        typename Queue::consumer cons{*q};
        std::array<std::uint64_t, producers> next{};
        std::array<mpmc_item, Bulk> buf;
        std::uint64_t local = 0, bad = 0;
        backoff b;
        ready.fetch_add(1);
        wait_until([&] { return ready.load() >= static_cast<int>(producers + consumers) + 1; });
        while (consumed.load(std::memory_order_relaxed) < total && !stalled.load(std::memory_order_relaxed)) {
          std::size_t m = 0;
          if constexpr (Bulk == 1) m = cons.pop(buf[0]) ? 1 : 0;
          else m = cons.pop_bulk(buf.data(), Bulk);
          for (std::size_t k = 0; k < m; ++k) {  // per producer, sequence numbers only grow
            const std::uint64_t p = buf[k] >> 56, s = buf[k] & ((std::uint64_t{1} << 56) - 1);
            bad += p >= producers || s < next[p];
            if (p < producers) next[p] = s + 1;
          }
          local += m;
          if (m == 0 || local >= 4096) {
            if (local) consumed.fetch_add(local, std::memory_order_relaxed);
            local = 0;
            if (m == 0) b.pause();
          }
          if (m != 0) b.reset();
        }
        errors.fetch_add(bad);
      });
    wait_until([&] { return ready.load() >= static_cast<int>(producers + consumers); });
    const auto t0 = clock_type::now();
    ready.fetch_add(1);
    for (auto& t : threads) t.join();
    const auto t1 = clock_type::now();
    if (check_stall(state)) break;
    if (errors.load() || consumed.load() != total) state.SkipWithError("items lost, duplicated or out of order");
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count() / static_cast<double>(total));
  }
  state.counters["items"] = static_cast<double>(total);
}

template <class F>
void add(const std::string& name, F fn)
{
  benchmark::RegisterBenchmark(name.c_str(), fn)->Iterations(1)->UseManualTime()->Unit(benchmark::kNanosecond);
}

} // namespace

int main(int argc, char** argv)
{
  add("P4/spsc_8B/mmsb", spsc<mmsb_spsc<item<8>>, 8>);
  add("P4/spsc_8B/boost_spsc", spsc<boost_spsc<item<8>>, 8>);
  add("P4/spsc_8B/moodycamel_rwq", spsc<rwq_spsc<item<8>>, 8>);
  add("P4/spsc_8B/moodycamel_cq", spsc<cq_spsc<item<8>>, 8>);
  add("P4/spsc_64B/mmsb", spsc<mmsb_spsc<item<64>>, 64>);
  add("P4/spsc_64B/boost_spsc", spsc<boost_spsc<item<64>>, 64>);
  add("P4/spsc_64B/moodycamel_rwq", spsc<rwq_spsc<item<64>>, 64>);
  add("P4/spsc_64B/moodycamel_cq", spsc<cq_spsc<item<64>>, 64>);
  add("P4/pingpong/mmsb", pingpong<mmsb_spsc<item<8>>>);
  add("P4/pingpong/boost_spsc", pingpong<boost_spsc<item<8>>>);
  add("P4/pingpong/moodycamel_rwq", pingpong<rwq_spsc<item<8>>>);
  add("P4/pingpong/cacheline_rtt", cacheline_rtt);
  add("P4/mpmc_2p2c/mmsb", mpmc<mmsb_mpmc, 1>);
  add("P4/mpmc_2p2c/moodycamel_cq", mpmc<cq_mpmc, 1>);
  add("P4/mpmc_2p2c_bulk64/mmsb", mpmc<mmsb_mpmc, 64>);
  add("P4/mpmc_2p2c_bulk64/moodycamel_cq", mpmc<cq_mpmc, 64>);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("p4_items", std::to_string(item_count()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
