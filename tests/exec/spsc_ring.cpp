// spsc_ring: capacity errors that name the size; FIFO, full and empty; bulk push and pop at the
// edges (empty spans, partial runs when nearly full or nearly empty, wraparound); each full
// policy's behaviour; waiting sides that park (a consumer parked on an empty ring wakes when an
// item arrives, a producer parked on a full one when it is drained, both without burning a core);
// items that are not default-constructible or span cache lines; bulk runs in order between two
// threads that both park; and an oversubscribed stress (several rings, one producer and one
// consumer each, more threads than cores) checking exactly-once delivery in order, which
// ThreadSanitizer must pass.
#include <mmsb/exec/spsc_ring.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <pthread.h>
#include <time.h>

#include <array>
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

// Trivially copyable, not default-constructible, larger than a cache line.
struct wide {
  explicit wide(std::uint64_t v) : tag(v) { words.fill(~v); }
  std::uint64_t tag;
  std::array<std::uint64_t, 9> words;
};
static_assert(std::is_trivially_copyable_v<wide> && !std::is_default_constructible_v<wide>);

template <class Ring>
std::vector<std::uint64_t> drain(Ring& r)
{
  std::vector<std::uint64_t> out;
  std::uint64_t v = 0;
  while (r.try_pop(v)) out.push_back(v);
  return out;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::size_t n)
{
  std::vector<std::uint64_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

} // namespace

TEST_CASE("spsc_ring: a bad capacity is refused with its size in the message", "[exec][spsc_ring]")
{
  for (const std::size_t bad : {std::size_t{0}, std::size_t{3}, std::size_t{1000}, (std::size_t{1} << 31) + 2,
                                std::size_t{1} << 32}) {
    INFO("capacity " << bad);
    try {
      spsc_ring<int> r(bad);
      FAIL("no error");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains("capacity " + std::to_string(bad)));
    }
  }
  try {
    spsc_ring<int> r(1000);
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("use 1024"));
  }
  spsc_ring<int> one(1);
  CHECK(one.capacity() == 1);
  CHECK(one.try_push(7));
  CHECK_FALSE(one.try_push(8));
  int x = 0;
  CHECK(one.try_pop(x));
  CHECK(x == 7);
}

TEST_CASE("spsc_ring: FIFO, full and empty", "[exec][spsc_ring]")
{
  spsc_ring<std::uint64_t, full_policy::fail> r(8);
  std::uint64_t v = 99;
  CHECK_FALSE(r.try_pop(v));
  CHECK(v == 99);  // unchanged when empty
  CHECK(r.empty_approx());
  for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(r.try_push(i));
  CHECK(r.size_approx() == 8);
  CHECK_FALSE(r.try_push(100));
  CHECK_FALSE(r.push(100));  // fail: at once, nothing changed
  CHECK(r.size_approx() == 8);
  CHECK(drain(r) == iota(0, 8));
  // Many laps through a small ring: stamps from old laps must never look fresh.
  for (std::uint64_t lap = 0; lap < 1000; ++lap) {
    REQUIRE(r.try_push(lap * 3));
    REQUIRE(r.try_push(lap * 3 + 1));
    REQUIRE(r.try_pop(v));
    REQUIRE(v == lap * 3);
    REQUIRE(r.try_pop(v));
    REQUIRE(v == lap * 3 + 1);
    REQUIRE_FALSE(r.try_pop(v));
  }
}

TEST_CASE("spsc_ring: bulk push and pop at the edges", "[exec][spsc_ring]")
{
  spsc_ring<std::uint64_t, full_policy::fail> r(8);
  std::vector<std::uint64_t> out(16, 0);

  SECTION("empty spans move nothing")
  {
    CHECK(r.try_push_bulk({}) == 0);
    CHECK(r.push_bulk({}) == 0);
    CHECK(r.pop_bulk({}) == 0);
    CHECK(r.pop_bulk(out) == 0);
    r.try_push(1);
    CHECK(r.pop_bulk(span<std::uint64_t>(out.data(), 0)) == 0);
    CHECK(r.size_approx() == 1);
  }
  SECTION("partial: a bulk push takes the prefix that fits, a bulk pop what is there")
  {
    const auto in = iota(0, 12);
    CHECK(r.push_bulk(in) == 8);
    CHECK(r.try_push_bulk(in) == 0);  // full: nothing changes
    CHECK(r.size_approx() == 8);
    CHECK(r.pop_bulk(span<std::uint64_t>(out.data(), 3)) == 3);
    CHECK(r.try_push_bulk(span<const std::uint64_t>(in.data() + 8, 4)) == 3);
    CHECK(r.pop_bulk(out) == 8);
    CHECK(std::vector<std::uint64_t>(out.begin(), out.begin() + 8) == std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 9, 10});
    CHECK(r.pop_bulk(out) == 0);
  }
  SECTION("wraparound: runs that cross the end of the slots stay in order")
  {
    for (std::size_t start = 0; start < 8; ++start) {
      spsc_ring<std::uint64_t, full_policy::fail> w(8);
      for (std::size_t i = 0; i < start; ++i) w.try_push(0);
      REQUIRE(w.pop_bulk(out) == start);
      const auto in = iota(100, 8);
      REQUIRE(w.try_push_bulk(in) == 8);  // slots start..7, then 0..start-1
      REQUIRE(w.pop_bulk(span<std::uint64_t>(out.data(), 5)) == 5);
      REQUIRE(w.try_push_bulk(iota(108, 5)) == 5);
      REQUIRE(w.pop_bulk(out) == 8);
      CHECK(std::vector<std::uint64_t>(out.begin(), out.begin() + 8) == iota(105, 8));
    }
  }
}

TEST_CASE("spsc_ring: partial bulk runs when nearly full or nearly empty", "[exec][spsc_ring]")
{
  spsc_ring<std::uint64_t, full_policy::fail> r(16);
  std::vector<std::uint64_t> out(32, 0);
  REQUIRE(r.try_push_bulk(iota(0, 14)) == 14);                 // two slots left
  CHECK(r.try_push_bulk(iota(14, 5)) == 2);                    // nearly full: the prefix that fits
  CHECK(r.try_push(99) == false);
  CHECK(r.pop_bulk(span<std::uint64_t>(out.data(), 13)) == 13);  // three left: nearly empty
  CHECK(r.pop_bulk(out) == 3);                                 // a wide pop takes what is there
  CHECK(std::vector<std::uint64_t>(out.begin(), out.begin() + 3) == iota(13, 3));
  CHECK(r.pop_bulk(out) == 0);
  // The producer's cached view of the consumer is stale here (it last saw the ring full); a bulk
  // push must look again and take the whole ring, across the wrap.
  CHECK(r.try_push_bulk(iota(100, 20)) == 16);
  CHECK(r.pop_bulk(out) == 16);
  CHECK(std::vector<std::uint64_t>(out.begin(), out.begin() + 16) == iota(100, 16));
}

TEMPLATE_TEST_CASE("spsc_ring: a consumer waiting on an empty ring parks and wakes when an item arrives",
                   "[exec][spsc_ring]", poll_t, eblock_t)
{
  spsc_ring<std::uint64_t, full_policy::fail, TestType::value> r(8);
  std::atomic<int> phase{0};
  std::uint64_t got = 0, got_bulk[4] = {};
  std::size_t n_bulk = 0;
  std::thread consumer([&] {
    phase.store(1);
    r.pop_wait(got);  // empty: waits
    phase.store(2);
    n_bulk = r.pop_bulk_wait(got_bulk);  // empty again: waits, then takes what is there
    phase.store(3);
  });
  while (phase.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(phase.load() == 1);  // still waiting: nothing was pushed
  const double cpu = cpu_seconds(consumer);
  CHECK(cpu < 0.05);  // parked or napping, not spinning through the 100 ms
  REQUIRE(r.try_push(42));
  while (phase.load() < 2) std::this_thread::yield();
  CHECK(got == 42);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(phase.load() == 2);
  REQUIRE(r.try_push_bulk(iota(7, 3)) == 3);
  consumer.join();
  CHECK(phase.load() == 3);
  REQUIRE(n_bulk >= 1);
  for (std::size_t i = 0; i < n_bulk; ++i) CHECK(got_bulk[i] == 7 + i);
  CHECK(r.size_approx() == 3 - n_bulk);
  std::uint64_t none[2] = {};
  CHECK(r.pop_bulk_wait(span<std::uint64_t>(none, 0)) == 0);  // an empty span never waits
}

TEST_CASE("spsc_ring: a producer blocked on a full ring parks and wakes when it is drained", "[exec][spsc_ring]")
{
  spsc_ring<std::uint64_t, full_policy::block> r(4);
  REQUIRE(r.push_bulk(iota(0, 4)) == 4);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    r.push(4);  // full: spins, yields, then parks
    done.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(done.load());
  CHECK(cpu_seconds(producer) < 0.05);  // parked, not spinning through the 100 ms
  std::vector<std::uint64_t> out(8);
  REQUIRE(r.pop_bulk(out) == 4);  // the drain wakes it
  producer.join();
  CHECK(done.load());
  REQUIRE(r.pop_bulk(out) == 1);
  CHECK(out[0] == 4);
}

TEMPLATE_TEST_CASE("spsc_ring: bulk runs between two threads that both park arrive once and in order",
                   "[exec][spsc_ring]", poll_t, eblock_t)
{
  MMSB_TEST_INFO_SEED();
  constexpr std::uint64_t items = 150'000;
  spsc_ring<std::uint64_t, full_policy::block, TestType::value> r(256);
  std::uint64_t short_pushes = 0;  // checked after join: Catch2's assertions are not thread-safe
  std::thread producer([&] {
    std::mt19937_64 rng(test::seed());
    std::vector<std::uint64_t> run;
    for (std::uint64_t next = 0; next < items;) {
      const std::size_t len = std::min<std::uint64_t>(1 + rng() % 700, items - next);  // often > capacity
      run.resize(len);
      std::iota(run.begin(), run.end(), next);
      if (len == 1) r.push(run[0]);
      else short_pushes += r.push_bulk(run) != len;
      next += len;
    }
  });
  std::mt19937_64 rng(test::seed() + 1);
  std::vector<std::uint64_t> buf(300);
  std::uint64_t expect = 0, errors = 0;
  while (expect < items) {
    std::size_t n = 0;
    if (rng() % 4 == 0) {
      r.pop_wait(buf[0]);
      n = 1;
    } else {
      n = r.pop_bulk_wait(span<std::uint64_t>(buf.data(), 1 + rng() % buf.size()));
    }
    for (std::size_t i = 0; i < n; ++i, ++expect) errors += buf[i] != expect;
    if (rng() % 1024 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));  // the producer parks
  }
  producer.join();
  CHECK(short_pushes == 0);
  CHECK(errors == 0);
  CHECK(expect == items);
  CHECK(r.empty_approx());
}

TEST_CASE("spsc_ring: items wider than a cache line, not default-constructible", "[exec][spsc_ring]")
{
  spsc_ring<wide> r(4);
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(r.try_push(wide(i)));
  std::vector<wide> out(6, wide(0));
  REQUIRE(r.pop_bulk(out) == 4);
  for (std::uint64_t i = 0; i < 4; ++i) {
    CHECK(out[i].tag == i);
    CHECK(out[i].words[8] == ~i);
  }
  CHECK(out[4].tag == 0);  // the rest of out is untouched
}

TEMPLATE_TEST_CASE("spsc_ring: spin and block pushes wait for a consumer to drain", "[exec][spsc_ring]", spin_t,
                   block_t)
{
  spsc_ring<std::uint64_t, TestType::value> r(4);
  REQUIRE(r.push_bulk(iota(0, 4)) == 4);
  std::atomic<int> phase{0};
  std::thread producer([&] {
    phase.store(1);
    r.push(4);                     // full: waits
    r.push_bulk(iota(5, 7));       // needs more room than the ring has: waits repeatedly
    phase.store(2);
  });
  while (phase.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(phase.load() == 1);  // still waiting: nobody popped
  CHECK(r.size_approx() == 4);
  std::vector<std::uint64_t> got;
  std::vector<std::uint64_t> buf(3);
  while (got.size() < 12) {
    const std::size_t n = r.pop_bulk(buf);
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the producer sleep
  }
  producer.join();
  CHECK(phase.load() == 2);
  CHECK(got == iota(0, 12));
}

TEMPLATE_TEST_CASE("spsc_ring: oversubscribed stress, exactly once and in order", "[exec][spsc_ring][stress]",
                   fail_t, spin_t, block_t)
{
  MMSB_TEST_INFO_SEED();
  constexpr full_policy policy = TestType::value;
  constexpr std::size_t rings = 3;  // 6 threads on a 2-core machine
  constexpr std::uint64_t items = 300'000;
  std::vector<std::unique_ptr<spsc_ring<std::uint64_t, policy>>> rs;
  for (std::size_t i = 0; i < rings; ++i) rs.push_back(std::make_unique<spsc_ring<std::uint64_t, policy>>(64));
  std::vector<std::uint64_t> errors(rings, 0), received(rings, 0);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < rings; ++k) {
    threads.emplace_back([&, k] {  // producer: single pushes and bulk runs of random length
      std::mt19937_64 rng(test::seed() + 2 * k);
      auto& r = *rs[k];
      std::vector<std::uint64_t> run;
      std::uint64_t next = 0;
      while (next < items) {
        const std::size_t len = std::min<std::uint64_t>(rng() % 100 < 50 ? 1 : 1 + rng() % 40, items - next);
        run.clear();
        for (std::size_t i = 0; i < len; ++i) run.push_back((std::uint64_t{k} << 40) | (next + i));
        std::size_t done = 0;
        if (len == 1) {
          while (!r.push(run[0])) std::this_thread::yield();  // only fail returns false
          done = 1;
        } else {
          while (done < len) {
            done += r.push_bulk(span<const std::uint64_t>(run.data() + done, len - done));
            if (done < len) std::this_thread::yield();
          }
        }
        next += len;
      }
    });
    threads.emplace_back([&, k] {  // consumer: single pops and bulk pops of random width
      std::mt19937_64 rng(test::seed() + 2 * k + 1);
      auto& r = *rs[k];
      std::vector<std::uint64_t> buf(48);
      std::uint64_t expect = 0;
      while (expect < items) {
        std::size_t n = 0;
        if (rng() % 2 == 0) {
          n = r.try_pop(buf[0]) ? 1 : 0;
        } else {
          n = r.pop_bulk(span<std::uint64_t>(buf.data(), 1 + rng() % buf.size()));
        }
        if (n == 0) std::this_thread::yield();
        for (std::size_t i = 0; i < n; ++i, ++expect)
          if (buf[i] != ((std::uint64_t{k} << 40) | expect)) ++errors[k];
      }
      received[k] = expect;
      std::uint64_t extra = 0;
      if (r.try_pop(extra)) ++errors[k];  // nothing is delivered twice
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t k = 0; k < rings; ++k) {
    INFO("ring " << k);
    CHECK(errors[k] == 0);
    CHECK(received[k] == items);
    CHECK(rs[k]->empty_approx());
  }
}
