// host_pool: aligned, distinct blocks in every size class and above; reuse; exact stats; clean
// out_of_memory from a refused slab; slabs returned on destruction; thread caches across thread
// exit and pool destruction; and a concurrent alloc/free stress with cross-thread frees,
// oversubscribed, that ThreadSanitizer must pass.
#include <mmsb/memory/failing.hpp>
#include <mmsb/memory/host_pool.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include "../support/sanitizers.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace mmsb;

namespace {

// An upstream that counts what it hands out and refuses on demand.
struct upstream_control {
  std::atomic<std::int64_t> outstanding_bytes{0};
  std::atomic<std::uint64_t> calls{0};
  std::atomic<bool> refuse{false};
};
struct counting_upstream {
  upstream_control* ctl;
  void* allocate(std::size_t bytes, std::size_t alignment) noexcept
  {
    ctl->calls.fetch_add(1);
    if (ctl->refuse.load()) return nullptr;
    void* p = ::operator new(bytes, std::align_val_t{alignment}, std::nothrow);
    if (p) ctl->outstanding_bytes.fetch_add(static_cast<std::int64_t>(bytes));
    return p;
  }
  void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept
  {
    ctl->outstanding_bytes.fetch_sub(static_cast<std::int64_t>(bytes));
    ::operator delete(p, std::align_val_t{alignment});
  }
};
using counted_pool = basic_host_pool<counting_upstream>;
static_assert(page_allocator<counted_pool>);
static_assert(page_allocator<failing<host_pool>>);

constexpr std::uint64_t pattern(std::uint64_t owner, std::uint64_t seq, std::size_t word)
{
  return (owner << 48) ^ (seq << 16) ^ word;
}
// One word per 64-byte line: enough to catch two owners of one block, cheap under TSan.
void fill(void* p, std::size_t bytes, std::uint64_t owner, std::uint64_t seq)
{
  auto* w = static_cast<std::uint64_t*>(p);
  for (std::size_t i = 0; i < bytes / 8; i += 8) w[i] = pattern(owner, seq, i);
  w[bytes / 8 - 1] = pattern(owner, seq, bytes);
}
bool intact(const void* p, std::size_t bytes, std::uint64_t owner, std::uint64_t seq)
{
  const auto* w = static_cast<const std::uint64_t*>(p);
  for (std::size_t i = 0; i < bytes / 8; i += 8)
    if (w[i] != pattern(owner, seq, i)) return false;
  return w[bytes / 8 - 1] == pattern(owner, seq, bytes);
}

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % page_alignment == 0; }

std::vector<std::size_t> class_sizes()
{
  std::vector<std::size_t> out;
  for (std::size_t b = 64; b <= host_pool::max_class_bytes; b += 64)
    if (host_pool::class_bytes(b) == b) out.push_back(b);
  return out;
}

} // namespace

TEST_CASE("host_pool size classes: exact fit in 64 B steps to 4 KiB, powers of two to 64 KiB", "[host_pool]")
{
  const auto sizes = class_sizes();
  CHECK(sizes.front() == 64);
  CHECK(sizes.back() == 65536);
  CHECK(sizes.size() == 68);
  for (std::size_t b = 64; b <= host_pool::max_class_bytes; b += 64) {
    INFO("bytes " << b);
    const auto c = host_pool::class_bytes(b);
    CHECK(c % 64 == 0);
    if (b <= 4096) CHECK(c == b);
    CHECK(c >= b);
    CHECK(c < 2 * b);
    CHECK(host_pool::metadata_bytes_per_block(b) <= 64.0);
  }
}

TEST_CASE("host_pool hands out aligned, distinct, writable blocks of every size", "[host_pool]")
{
  host_pool pool;
  for (std::size_t bytes = 64; bytes <= 3 * host_pool::max_class_bytes / 2; bytes += bytes < 4096 ? 64 : 1984) {
    INFO("bytes " << bytes);
    const std::size_t n = bytes <= 4096 ? 40 : 5;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < n; ++i) {
      void* p = pool.allocate(bytes);
      REQUIRE(p != nullptr);
      CHECK(aligned(p));
      fill(p, bytes, bytes, i);
      blocks.push_back(p);
    }
    auto sorted = blocks;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 1; i < sorted.size(); ++i)
      CHECK(static_cast<std::byte*>(sorted[i - 1]) + bytes <= static_cast<std::byte*>(sorted[i]));
    for (std::size_t i = 0; i < n; ++i) CHECK(intact(blocks[i], bytes, bytes, i));
    for (std::size_t i = 0; i < n; ++i) pool.deallocate(blocks[i], bytes);
  }
  const auto s = pool.stats();
  CHECK(s.live_blocks == 0);
  CHECK(s.live_bytes == 0);
  CHECK(s.allocations == s.frees);
  CHECK(s.failures == 0);
}

TEST_CASE("host_pool reuses memory returned to it", "[host_pool]")
{
  host_pool pool;
  for (const std::size_t bytes : {std::size_t{1024}, std::size_t{4096}}) {
    std::vector<void*> first(3000);
    for (auto& p : first) p = pool.allocate(bytes);
    const auto reserved = pool.stats().reserved_bytes;
    for (auto* p : first) pool.deallocate(p, bytes);
    for (int round = 0; round < 5; ++round) {
      std::vector<void*> again(3000);
      for (auto& p : again) p = pool.allocate(bytes);
      CHECK(pool.stats().reserved_bytes == reserved);
      auto a = first, b = again;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      CHECK(a == b);  // one thread, nothing else allocating: the very same blocks come back
      for (auto* p : again) pool.deallocate(p, bytes);
    }
  }
  for (int i = 0; i < 100000; ++i) pool.deallocate(pool.allocate(4096), 4096);
  CHECK(pool.stats().live_blocks == 0);
}

TEST_CASE("host_pool serves sizes above 64 KiB from the upstream", "[host_pool]")
{
  upstream_control ctl;
  {
    counted_pool pool(counting_upstream{&ctl});
    const std::size_t sizes[] = {65536 + 64, std::size_t{1} << 20, (std::size_t{3} << 20) + 64};
    std::vector<void*> blocks;
    for (auto bytes : sizes) {
      void* p = pool.allocate(bytes);
      CHECK(aligned(p));
      fill(p, bytes, 7, bytes);
      blocks.push_back(p);
    }
    auto s = pool.stats();
    const std::size_t total = sizes[0] + sizes[1] + sizes[2];
    CHECK(s.live_blocks == 3);
    CHECK(s.live_bytes == total);
    CHECK(s.reserved_bytes == total);
    CHECK(ctl.outstanding_bytes.load() == static_cast<std::int64_t>(total));
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(intact(blocks[i], sizes[i], 7, sizes[i]));
      pool.deallocate(blocks[i], sizes[i]);
    }
    s = pool.stats();
    CHECK(s.live_blocks == 0);
    CHECK(s.reserved_bytes == 0);
    CHECK(s.peak_bytes == total);
    CHECK(ctl.outstanding_bytes.load() == 0);
  }
}

TEST_CASE("host_pool's default upstream gives a block of 2 MiB or more a huge-page mapping", "[host_pool]")
{
  mmsb::host_pool pool;
  const std::size_t bytes = std::size_t{4} << 20;
  void* p = pool.allocate(bytes);
  if (mmsb::detail::huge_pages_enabled()) CHECK(reinterpret_cast<std::uintptr_t>(p) % mmsb::huge_page_bytes == 0);
  else WARN("no transparent huge pages here (THP off, or AddressSanitizer): a plain block");
  CHECK(aligned(p));
  fill(p, bytes, 3, bytes);
  void* q = pool.allocate(4096);  // a slab block beside it
  CHECK(intact(p, bytes, 3, bytes));
  pool.deallocate(q, 4096);
  pool.deallocate(p, bytes);
  CHECK(pool.stats().live_blocks == 0);
}

TEST_CASE("host_pool rejects sizes that are not positive multiples of 64", "[host_pool]")
{
  host_pool pool;
  for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{65536 + 1}}) {
    INFO("bytes " << bytes);
    try {
      pool.allocate(bytes);
      FAIL("no error");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains(std::to_string(bytes)));
    }
  }
  const auto s = pool.stats();
  CHECK(s.allocations == 0);
  CHECK(s.reserved_bytes == 0);
}

TEST_CASE("host_pool stats follow a random sequence of calls exactly", "[host_pool][stats]")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  host_pool pool;
  const auto sizes = class_sizes();
  std::vector<std::pair<void*, std::size_t>> live;
  std::uint64_t allocations = 0, frees = 0, live_bytes = 0, peak = 0;
  for (int op = 0; op < 20000; ++op) {
    if (live.empty() || rng() % 100 < 55) {
      std::size_t bytes = sizes[rng() % 12] - 64 * (rng() % 2);  // classes up to 4 KiB, some rounded up
      if (bytes == 0) bytes = 64;
      if (rng() % 500 == 0) bytes = 65536 + 64 * (1 + rng() % 100);
      live.emplace_back(pool.allocate(bytes), bytes);
      ++allocations;
      live_bytes += bytes;
      peak = std::max(peak, live_bytes);
    } else {
      const auto k = rng() % live.size();
      pool.deallocate(live[k].first, live[k].second);
      live_bytes -= live[k].second;
      ++frees;
      live[k] = live.back();
      live.pop_back();
    }
    if (op % 997 == 0) {
      const auto s = pool.stats();
      REQUIRE(s.allocations == allocations);
      REQUIRE(s.frees == frees);
      REQUIRE(s.live_blocks == live.size());
      REQUIRE(s.live_bytes == live_bytes);
      REQUIRE(s.peak_bytes <= peak);
      REQUIRE(s.peak_bytes >= live_bytes);
      REQUIRE(s.reserved_bytes >= live_bytes);
      REQUIRE(s.failures == 0);
    }
  }
  for (auto [p, bytes] : live) pool.deallocate(p, bytes);
  CHECK(pool.stats().live_bytes == 0);
}

TEST_CASE("a refused slab throws out_of_memory naming the size, changes nothing, and the pool recovers",
          "[host_pool][failure]")
{
  upstream_control ctl;
  {
    counted_pool pool(counting_upstream{&ctl});

    SECTION("on the very first allocation")
    {
      ctl.refuse = true;
      try {
        pool.allocate(4096);
        FAIL("no error");
      } catch (const error& e) {
        CHECK(e.code() == errc::out_of_memory);
        CHECK_THAT(e.what(), Catch::Contains("4096"));
      }
      auto s = pool.stats();
      CHECK(s.live_blocks == 0);
      CHECK(s.allocations == 0);
      CHECK(s.failures == 1);
      CHECK(s.reserved_bytes == 0);
      CHECK(ctl.outstanding_bytes.load() == 0);
      ctl.refuse = false;
      void* p = pool.allocate(4096);
      fill(p, 4096, 1, 1);
      CHECK(intact(p, 4096, 1, 1));
      pool.deallocate(p, 4096);
      CHECK(pool.stats().live_blocks == 0);
    }

    SECTION("when a full slab needs a successor")
    {
      std::vector<void*> held;
      held.push_back(pool.allocate(1024));
      const auto reserved = pool.stats().reserved_bytes;
      while (pool.stats().reserved_bytes == reserved) held.push_back(pool.allocate(1024));
      pool.deallocate(held.back(), 1024);  // the first block of slab 2, so slab 2 sits in the bin
      held.pop_back();
      // Drain the bin and the list: every block of both slabs held.
      const auto blocks_per_slab = held.size();
      while (held.size() < 2 * blocks_per_slab) held.push_back(pool.allocate(1024));
      const auto before = pool.stats();
      ctl.refuse = true;
      const auto calls = ctl.calls.load();
      CHECK_THROWS_MATCHES(pool.allocate(1024), error,
                           Catch::Predicate<error>([](const error& e) {
                             return e.code() == errc::out_of_memory &&
                                    std::string(e.what()).find("1024") != std::string::npos;
                           }));
      CHECK(ctl.calls.load() == calls + 1);
      const auto after = pool.stats();
      CHECK(after.live_blocks == before.live_blocks);
      CHECK(after.live_bytes == before.live_bytes);
      CHECK(after.allocations == before.allocations);
      CHECK(after.reserved_bytes == before.reserved_bytes);
      CHECK(after.failures == before.failures + 1);
      // Other classes that have no slab fail too; freed blocks are still served.
      CHECK_THROWS_AS(pool.allocate(64), error);
      pool.deallocate(held.back(), 1024);
      held.pop_back();
      held.push_back(pool.allocate(1024));  // from the bin: no upstream call
      CHECK(ctl.calls.load() == calls + 2);
      ctl.refuse = false;
      held.push_back(pool.allocate(1024));
      CHECK(pool.stats().reserved_bytes > before.reserved_bytes);
      for (auto* p : held) pool.deallocate(p, 1024);
    }

    SECTION("for a large block")
    {
      ctl.refuse = true;
      CHECK_THROWS_MATCHES(pool.allocate(std::size_t{1} << 20), error,
                           Catch::Predicate<error>([](const error& e) {
                             return e.code() == errc::out_of_memory &&
                                    std::string(e.what()).find("1048576") != std::string::npos;
                           }));
      CHECK(pool.stats().live_blocks == 0);
      CHECK(pool.stats().failures == 1);
      ctl.refuse = false;
      void* p = pool.allocate(std::size_t{1} << 20);
      pool.deallocate(p, std::size_t{1} << 20);
    }
  }
  CHECK(ctl.outstanding_bytes.load() == 0);  // the destructor returned every slab
}

TEST_CASE("failing<host_pool> injects out_of_memory at the nth allocation", "[host_pool][failure]")
{
  failing<host_pool> pool;
  void* a = pool.allocate(4096);
  pool.fail_at(2);
  void* b = pool.allocate(4096);
  CHECK_THROWS_AS(pool.allocate(4096), error);
  const auto s = pool.stats();
  CHECK(s.live_blocks == 2);
  CHECK(s.failures == 1);
  void* c = pool.allocate(4096);
  for (void* p : {a, b, c}) pool.deallocate(p, 4096);
  CHECK(pool.stats().live_blocks == 0);
}

TEST_CASE("the destructor returns every slab, even with blocks live and cached by other threads", "[host_pool]")
{
  upstream_control ctl;
  std::atomic<int> stage{0};
  std::thread worker;
  {
    counted_pool pool(counting_upstream{&ctl});
    worker = std::thread([&] {
      std::vector<void*> v;
      for (int i = 0; i < 300; ++i) v.push_back(pool.allocate(2048));
      for (int i = 0; i < 150; ++i) pool.deallocate(v[i], 2048);  // some in this thread's bin
      stage = 1;
      while (stage.load() != 2) std::this_thread::yield();
      // The pool is gone; this thread now uses another one and then exits.
      host_pool other;
      void* p = other.allocate(2048);
      other.deallocate(p, 2048);
    });
    while (stage.load() != 1) std::this_thread::yield();
    pool.allocate(64);  // live at destruction
    CHECK(ctl.outstanding_bytes.load() > 0);
  }
  CHECK(ctl.outstanding_bytes.load() == 0);
  stage = 2;
  worker.join();
}

TEST_CASE("threads that exit give their cached blocks back", "[host_pool]")
{
  host_pool pool;
  std::uint64_t reserved_after_first = 0;
  for (int generation = 0; generation < 20; ++generation) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        std::vector<void*> v;
        for (int i = 0; i < 200; ++i) v.push_back(pool.allocate(4096));
        for (auto* p : v) pool.deallocate(p, 4096);
      });
    for (auto& t : threads) t.join();
    if (generation == 0) reserved_after_first = pool.stats().reserved_bytes;
  }
  const auto s = pool.stats();
  CHECK(s.live_blocks == 0);
  CHECK(s.allocations == 20 * 4 * 200);
  CHECK(s.reserved_bytes <= 2 * reserved_after_first);  // reused, not grown per generation
}

TEST_CASE("blocks freed by a thread that never allocated go back into circulation", "[host_pool]")
{
  host_pool pool;
  std::vector<void*> v;
  for (int i = 0; i < 5000; ++i) {
    v.push_back(pool.allocate(1024));
    fill(v.back(), 1024, 3, static_cast<std::uint64_t>(i));
  }
  std::thread([&] {
    for (std::size_t i = 0; i < v.size(); ++i) {
      CHECK(intact(v[i], 1024, 3, i));
      pool.deallocate(v[i], 1024);
    }
  }).join();
  const auto reserved = pool.stats().reserved_bytes;
  for (auto& p : v) p = pool.allocate(1024);
  CHECK(pool.stats().reserved_bytes == reserved);
  for (auto* p : v) pool.deallocate(p, 1024);
  CHECK(pool.stats().live_blocks == 0);
}

TEST_CASE("concurrent alloc/free with cross-thread frees never hands one block out twice",
          "[host_pool][concurrency]")
{
  MMSB_TEST_INFO_SEED();
#if MMSB_TEST_TSAN
  constexpr int ops_per_thread = 300000;
#else
  constexpr int ops_per_thread = 1000000;
#endif
  constexpr unsigned threads = 8;  // oversubscribed on 2 cores on purpose
  constexpr std::size_t sizes[] = {64, 192, 1024, 1024, 4096, 4096, 4096, 16384, 65536};

  struct held {
    void* p;
    std::size_t bytes;
    std::uint64_t owner, seq;
  };
  struct mailbox {
    std::mutex m;
    std::vector<held> blocks;
  };
  host_pool pool;
  std::vector<mailbox> boxes(threads);
  std::atomic<unsigned> ready{0};
  std::atomic<std::uint64_t> corrupt{0}, allocated{0};

  auto worker = [&](unsigned me) {
    std::mt19937_64 rng(test::seed() * 31 + me);
    std::vector<held> mine;
    std::uint64_t seq = 0, bad = 0;
    auto release = [&](const held& h) {
      if (!intact(h.p, h.bytes, h.owner, h.seq)) ++bad;
      pool.deallocate(h.p, h.bytes);
    };
    auto drain = [&] {
      std::vector<held> in;
      {
        std::lock_guard<std::mutex> lk(boxes[me].m);
        in.swap(boxes[me].blocks);
      }
      for (const auto& h : in) release(h);
    };
    ready.fetch_add(1);
    while (ready.load() != threads) std::this_thread::yield();
    for (int op = 0; op < ops_per_thread; ++op) {
      if (mine.empty() || (mine.size() < 500 && rng() % 100 < 52)) {
        std::size_t bytes = sizes[rng() % std::size(sizes)];
        if (rng() % 1000 == 0) bytes = 65536 + 4096;  // a large block now and then
        held h{pool.allocate(bytes), bytes, me, ++seq};
        if (!aligned(h.p)) ++bad;
        fill(h.p, h.bytes, h.owner, h.seq);
        mine.push_back(h);
      } else {
        const auto k = rng() % mine.size();
        const held h = mine[k];
        mine[k] = mine.back();
        mine.pop_back();
        if (rng() % 4 == 0) {  // hand it to another thread to free
          const auto to = static_cast<unsigned>(rng() % threads);
          std::lock_guard<std::mutex> lk(boxes[to].m);
          boxes[to].blocks.push_back(h);
        } else {
          release(h);
        }
      }
      if (op % 64 == 0) drain();
    }
    for (const auto& h : mine) release(h);
    drain();
    allocated.fetch_add(seq);
    corrupt.fetch_add(bad);
  };
  std::vector<std::thread> pool_threads;
  for (unsigned t = 0; t < threads; ++t) pool_threads.emplace_back(worker, t);
  for (auto& t : pool_threads) t.join();
  for (auto& box : boxes)  // sent after their addressee's last drain
    for (const auto& h : box.blocks) {
      if (!intact(h.p, h.bytes, h.owner, h.seq)) corrupt.fetch_add(1);
      pool.deallocate(h.p, h.bytes);
    }
  CHECK(corrupt.load() == 0);
  const auto s = pool.stats();
  CHECK(s.allocations == allocated.load());
  CHECK(s.frees == allocated.load());
  CHECK(s.live_blocks == 0);
  CHECK(s.live_bytes == 0);
  CHECK(s.failures == 0);
}
