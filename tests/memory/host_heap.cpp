#include <mmsb/memory/failing.hpp>
#include <mmsb/memory/host_heap.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace mmsb;

TEST_CASE("host_heap hands out aligned blocks and counts them")
{
  host_heap h;
  std::vector<void*> blocks;
  for (std::size_t i = 1; i <= 8; ++i) {
    void* p = h.allocate(64 * i);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % page_alignment == 0);
    std::memset(p, 0xab, 64 * i);
    blocks.push_back(p);
  }
  auto s = h.stats();
  CHECK(s.live_blocks == 8);
  CHECK(s.live_bytes == 64 * 36);
  CHECK(s.peak_bytes == 64 * 36);
  CHECK(s.allocations == 8);
  for (std::size_t i = 0; i < blocks.size(); ++i) h.deallocate(blocks[i], 64 * (i + 1));
  s = h.stats();
  CHECK(s.live_blocks == 0);
  CHECK(s.live_bytes == 0);
  CHECK(s.peak_bytes == 64 * 36);
  CHECK(s.frees == 8);
}

TEST_CASE("host_heap refuses sizes that are not positive multiples of the alignment")
{
  host_heap h;
  CHECK_THROWS_WITH(h.allocate(0), "host_heap: block size 0 is not a positive multiple of 64");
  CHECK_THROWS_WITH(h.allocate(100), "host_heap: block size 100 is not a positive multiple of 64");
  CHECK(h.stats().allocations == 0);
}

TEST_CASE("host_heap reports a refused allocation as out_of_memory")
{
  host_heap h;
  try {
    (void)h.allocate(std::size_t{1} << 62);
    FAIL("a 4 EiB allocation succeeded");
  } catch (const error& e) {
    CHECK(e.code() == errc::out_of_memory);
    CHECK(std::string(e.what()) == "host_heap: could not allocate a block of 4611686018427387904 bytes");
  }
  CHECK(h.stats().failures == 1);
  CHECK(h.stats().live_blocks == 0);
}

TEST_CASE("failing<> fails exactly the nth allocation, once or for good")
{
  failing<host_heap> f;
  f.fail_at(3);
  void* a = f.allocate(64);
  void* b = f.allocate(64);
  CHECK_THROWS_AS(f.allocate(64), error);
  void* c = f.allocate(64);  // once only
  CHECK(f.stats().failures == 1);
  CHECK(f.stats().live_blocks == 3);
  f.fail_at(2, true);
  void* d = f.allocate(64);
  CHECK_THROWS_AS(f.allocate(64), error);
  CHECK_THROWS_AS(f.allocate(64), error);  // sticky
  f.disarm();
  void* e = f.allocate(64);
  CHECK(f.stats().failures == 3);
  for (void* p : {a, b, c, d, e}) f.deallocate(p, 64);
  CHECK(f.stats().live_blocks == 0);
}
