// mpmc_queue: capacity errors that name the size; FIFO, full and empty; bulk push and pop at the
// edges (empty spans, partial runs, wraparound); each full policy's behaviour; consumers waiting
// on an empty queue that park and wake when items arrive, and a producer parked on a full one that
// wakes when it is drained, without burning a core; and an oversubscribed stress (6 producers,
// 3 consumers on 2 cores) checking exactly-once delivery and per-producer FIFO order at every
// consumer, which ThreadSanitizer must pass.
#include <mmsb/exec/mpmc_queue.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace mmsb;

namespace {

using fail_t = std::integral_constant<full_policy, full_policy::fail>;
using spin_t = std::integral_constant<full_policy, full_policy::spin>;
using block_t = std::integral_constant<full_policy, full_policy::block>;
using poll_t = std::integral_constant<empty_policy, empty_policy::poll>;
using eblock_t = std::integral_constant<empty_policy, empty_policy::block>;

// CPU time a thread has used so far: a parked (or napping) waiter uses almost none.
double cpu_seconds(std::thread& t)
{
  clockid_t id;
  timespec ts{};
  if (pthread_getcpuclockid(t.native_handle(), &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::size_t n)
{
  std::vector<std::uint64_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

template <class Queue>
std::vector<std::uint64_t> drain(Queue& q)
{
  std::vector<std::uint64_t> out;
  std::uint64_t v = 0;
  while (q.try_pop(v)) out.push_back(v);
  return out;
}

} // namespace

TEST_CASE("mpmc_queue: a bad capacity is refused with its size in the message", "[exec][mpmc_queue]")
{
  for (const std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{6}, std::size_t{1000}, (std::size_t{1} << 41)}) {
    INFO("capacity " << bad);
    try {
      mpmc_queue<int> q(bad);
      FAIL("no error");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains("mpmc_queue: capacity " + std::to_string(bad)));
    }
  }
  mpmc_queue<int> two(2);
  CHECK(two.try_push(7));
  CHECK(two.try_push(8));
  CHECK_FALSE(two.try_push(9));
  int x = 0;
  CHECK(two.try_pop(x));
  CHECK(x == 7);
  CHECK(two.try_pop(x));
  CHECK(x == 8);
  CHECK_FALSE(two.try_pop(x));
}

TEST_CASE("mpmc_queue: FIFO, full and empty", "[exec][mpmc_queue]")
{
  mpmc_queue<std::uint64_t, full_policy::fail> q(8);
  std::uint64_t v = 99;
  CHECK_FALSE(q.try_pop(v));
  CHECK(v == 99);
  for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(q.try_push(i));
  CHECK(q.size_approx() == 8);
  CHECK_FALSE(q.try_push(100));
  CHECK_FALSE(q.push(100));  // fail: at once, nothing changed
  CHECK(q.size_approx() == 8);
  CHECK(drain(q) == iota(0, 8));
  for (std::uint64_t lap = 0; lap < 1000; ++lap) {
    REQUIRE(q.try_push(lap));
    REQUIRE(q.try_pop(v));
    REQUIRE(v == lap);
  }
  CHECK(q.empty_approx());
}

TEST_CASE("mpmc_queue: bulk push and pop at the edges", "[exec][mpmc_queue]")
{
  mpmc_queue<std::uint64_t, full_policy::fail> q(8);
  std::vector<std::uint64_t> out(16, 0);

  SECTION("empty spans move nothing")
  {
    CHECK(q.try_push_bulk({}) == 0);
    CHECK(q.push_bulk({}) == 0);
    CHECK(q.pop_bulk({}) == 0);
    CHECK(q.pop_bulk(out) == 0);
  }
  SECTION("partial: a bulk push takes the prefix that fits, a bulk pop what is there")
  {
    const auto in = iota(0, 12);
    CHECK(q.push_bulk(in) == 8);
    CHECK(q.try_push_bulk(in) == 0);  // full: nothing changes
    CHECK(q.size_approx() == 8);
    CHECK(q.pop_bulk(span<std::uint64_t>(out.data(), 3)) == 3);
    CHECK(q.try_push_bulk(span<const std::uint64_t>(in.data() + 8, 4)) == 3);
    CHECK(q.pop_bulk(out) == 8);
    CHECK(std::vector<std::uint64_t>(out.begin(), out.begin() + 8) == std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 9, 10});
    CHECK(q.pop_bulk(out) == 0);
  }
  SECTION("wraparound: runs that cross the end of the cells stay in order")
  {
    for (std::size_t start = 0; start < 8; ++start) {
      mpmc_queue<std::uint64_t, full_policy::fail> w(8);
      for (std::size_t i = 0; i < start; ++i) w.try_push(0);
      REQUIRE(w.pop_bulk(out) == start);
      REQUIRE(w.try_push_bulk(iota(100, 8)) == 8);
      REQUIRE(w.pop_bulk(span<std::uint64_t>(out.data(), 5)) == 5);
      REQUIRE(w.try_push_bulk(iota(108, 5)) == 5);
      REQUIRE(w.pop_bulk(out) == 8);
      CHECK(std::vector<std::uint64_t>(out.begin(), out.begin() + 8) == iota(105, 8));
    }
  }
}

TEMPLATE_TEST_CASE("mpmc_queue: spin and block pushes wait for a consumer to drain", "[exec][mpmc_queue]", spin_t,
                   block_t)
{
  mpmc_queue<std::uint64_t, TestType::value> q(4);
  REQUIRE(q.push_bulk(iota(0, 4)) == 4);
  std::atomic<int> waiting{0}, done{0};
  std::vector<std::thread> producers;
  for (std::uint64_t p = 0; p < 2; ++p)
    producers.emplace_back([&, p] {
      waiting.fetch_add(1);
      q.push(1000 + p);                      // full: waits
      q.push_bulk(iota(2000 + 100 * p, 5));  // more than the ring holds with the other producer
      done.fetch_add(1);
    });
  while (waiting.load() < 2) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(done.load() == 0);  // nobody popped: both still wait
  std::vector<std::uint64_t> got, buf(3);
  while (got.size() < 16) {
    const std::size_t n = q.pop_bulk(buf);
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (auto& t : producers) t.join();
  CHECK(done.load() == 2);
  CHECK(std::vector<std::uint64_t>(got.begin(), got.begin() + 4) == iota(0, 4));
  for (std::uint64_t p = 0; p < 2; ++p) {  // each producer's items in its order
    std::vector<std::uint64_t> mine;
    for (auto v : got)
      if (v == 1000 + p || (v >= 2000 + 100 * p && v < 2005 + 100 * p)) mine.push_back(v);
    std::vector<std::uint64_t> want{1000 + p};
    for (auto v : iota(2000 + 100 * p, 5)) want.push_back(v);
    CHECK(mine == want);
  }
}

TEMPLATE_TEST_CASE("mpmc_queue: consumers waiting on an empty queue park and wake when items arrive",
                   "[exec][mpmc_queue]", poll_t, eblock_t)
{
  mpmc_queue<std::uint64_t, full_policy::fail, TestType::value> q(8);
  std::atomic<int> started{0}, woken{0};
  std::uint64_t got[2] = {}, got_bulk[2][4] = {};
  std::size_t n_bulk[2] = {};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 2; ++c)
    consumers.emplace_back([&, c] {
      started.fetch_add(1);
      q.pop_wait(got[c]);  // empty: waits
      woken.fetch_add(1);
      n_bulk[c] = q.pop_bulk_wait(got_bulk[c]);
    });
  while (started.load() < 2) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(woken.load() == 0);  // still waiting: nothing was pushed
  for (auto& t : consumers) CHECK(cpu_seconds(t) < 0.05);  // parked or napping, not spinning
  REQUIRE(q.try_push(10));
  while (woken.load() < 1) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(woken.load() == 1);  // one item wakes one consumer's pop
  // Enough for the other pop_wait and both bulk waits (at most 4 each) whoever takes first.
  REQUIRE(q.try_push_bulk(iota(20, 6)) == 6);
  for (auto& t : consumers) t.join();
  std::vector<std::uint64_t> all{got[0], got[1]};
  for (int c = 0; c < 2; ++c) all.insert(all.end(), got_bulk[c], got_bulk[c] + n_bulk[c]);
  std::sort(all.begin(), all.end());
  CHECK(n_bulk[0] + n_bulk[1] >= 1);
  CHECK(all.size() + q.size_approx() == 7);  // exactly once: nothing lost or duplicated
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  CHECK(all.front() == 10);
}

TEST_CASE("mpmc_queue: a producer blocked on a full queue parks and wakes when it is drained", "[exec][mpmc_queue]")
{
  mpmc_queue<std::uint64_t, full_policy::block> q(4);
  REQUIRE(q.push_bulk(iota(0, 4)) == 4);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    q.push(4);  // full: spins, yields, then parks
    done.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(done.load());
  CHECK(cpu_seconds(producer) < 0.05);
  std::vector<std::uint64_t> out(8);
  REQUIRE(q.pop_bulk(out) == 4);  // the drain wakes it
  producer.join();
  CHECK(done.load());
  REQUIRE(q.pop_bulk(out) == 1);
  CHECK(out[0] == 4);
}

TEMPLATE_TEST_CASE("mpmc_queue: oversubscribed stress, exactly once and FIFO per producer",
                   "[exec][mpmc_queue][stress]", fail_t, spin_t, block_t)
{
  MMSB_TEST_INFO_SEED();
  constexpr full_policy policy = TestType::value;
  constexpr std::size_t producers = 6, consumers = 3;  // 9 threads on a 2-core machine
  constexpr std::uint64_t per_producer = 50'000;
  mpmc_queue<std::uint64_t, policy> q(64);
  std::atomic<std::uint64_t> popped{0};
  std::vector<std::vector<std::uint64_t>> got(consumers);
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      std::mt19937_64 rng(test::seed() + p);
      std::vector<std::uint64_t> run;
      std::uint64_t next = 0;
      while (next < per_producer) {
        const std::size_t len = std::min<std::uint64_t>(rng() % 2 == 0 ? 1 : 1 + rng() % 24, per_producer - next);
        run.clear();
        for (std::size_t i = 0; i < len; ++i) run.push_back((std::uint64_t{p} << 32) | (next + i));
        std::size_t done = 0;
        while (done < len) {
          done += len == 1 ? (q.push(run[0]) ? 1 : 0)
                           : q.push_bulk(span<const std::uint64_t>(run.data() + done, len - done));
          if (done < len) std::this_thread::yield();  // only fail comes back short
        }
        next += len;
      }
    });
  for (std::size_t c = 0; c < consumers; ++c)
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(test::seed() + 100 + c);
      std::vector<std::uint64_t> buf(32);
      auto& mine = got[c];
      while (popped.load(std::memory_order_relaxed) < producers * per_producer) {
        std::size_t n = 0;
        if (rng() % 2 == 0) n = q.try_pop(buf[0]) ? 1 : 0;
        else n = q.pop_bulk(span<std::uint64_t>(buf.data(), 1 + rng() % buf.size()));
        if (n == 0) {
          std::this_thread::yield();
          continue;
        }
        mine.insert(mine.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        popped.fetch_add(n, std::memory_order_relaxed);
      }
    });
  for (auto& t : threads) t.join();

  std::vector<std::uint64_t> count(producers * per_producer, 0);
  std::size_t out_of_order = 0, foreign = 0;
  for (std::size_t c = 0; c < consumers; ++c) {
    std::vector<std::int64_t> last(producers, -1);
    for (const std::uint64_t v : got[c]) {
      const std::uint64_t p = v >> 32, s = v & 0xffffffffu;
      if (p >= producers || s >= per_producer) {
        ++foreign;
        continue;
      }
      if (static_cast<std::int64_t>(s) <= last[p]) ++out_of_order;
      last[p] = static_cast<std::int64_t>(s);
      ++count[p * per_producer + s];
    }
  }
  CHECK(foreign == 0);
  CHECK(out_of_order == 0);
  CHECK(std::count(count.begin(), count.end(), 1u) == static_cast<std::ptrdiff_t>(producers * per_producer));
  CHECK(q.empty_approx());
}
