#include <mmsb/memory/failing.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/huge_pages.hpp>

#include <catch2/catch.hpp>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
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

namespace {

// /proc/self/smaps' THPeligible for the mapping holding p: 1 or 0, or -1 where it says nothing.
int thp_eligible(const void* p)
{
  std::ifstream f("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(f, line);) {
    std::uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
      inside = lo <= at && at < hi;
      continue;
    }
    if (inside && line.rfind("THPeligible:", 0) == 0) return std::atoi(line.c_str() + 12);
  }
  return -1;
}

// A huge-page block: 2 MiB-aligned and, where smaps says, eligible for huge pages. Where the
// kernel offers none (THP "never", no THP, AddressSanitizer), a plain block, and it says so.
void check_huge(const void* p, std::size_t small_alignment)
{
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  if (!detail::huge_pages_enabled()) {
    WARN("no transparent huge pages here (THP off, or AddressSanitizer): a plain heap block");
    CHECK(at % small_alignment == 0);
    return;
  }
  CHECK(at % huge_page_bytes == 0);
  const int eligible = thp_eligible(p);
  if (eligible < 0) WARN("smaps has no THPeligible line for the block: its advice is not checked");
  else CHECK(eligible == 1);
}

} // namespace

TEST_CASE("host_heap gives a block of 2 MiB or more a huge-page mapping of its own")
{
  host_heap h;
  void* small = h.allocate(huge_page_bytes - page_alignment);
  void* big = h.allocate(2 * huge_page_bytes + page_alignment);  // a whole huge page, then some
  CHECK(reinterpret_cast<std::uintptr_t>(small) % page_alignment == 0);
  check_huge(big, page_alignment);
  std::memset(big, 0x5a, 2 * huge_page_bytes + page_alignment);  // the whole block is usable
  std::memset(small, 0xa5, huge_page_bytes - page_alignment);
  CHECK(h.stats().live_bytes == 3 * huge_page_bytes);
  h.deallocate(big, 2 * huge_page_bytes + page_alignment);
  h.deallocate(small, huge_page_bytes - page_alignment);
  CHECK(h.stats().live_blocks == 0);
  // Freed and allocated again, in turn: every block is a fresh one.
  for (int i = 0; i < 8; ++i) {
    void* p = h.allocate(2 * huge_page_bytes);
    check_huge(p, page_alignment);
    std::memset(p, i, 2 * huge_page_bytes);
    h.deallocate(p, 2 * huge_page_bytes);
  }
}

TEST_CASE("huge_page_allocator gives large arrays huge pages and small ones plain heap memory")
{
  std::vector<float, huge_page_allocator<float>> big(huge_page_bytes / sizeof(float) * 3 / 2, 1.0f);
  check_huge(big.data(), alignof(float));
  auto copy = big;  // copies and regrowth go through the same pair of calls
  copy.push_back(2.0f);
  CHECK(copy.size() == big.size() + 1);
  CHECK(copy[big.size() - 1] == 1.0f);
  CHECK(copy.back() == 2.0f);
  std::vector<std::uint32_t, huge_page_allocator<std::uint32_t>> small(1000, 7u);
  CHECK(small[999] == 7u);
  small.clear();
  small.shrink_to_fit();
  struct alignas(64) wide {
    char c[64];
  };
  std::vector<wide, huge_page_allocator<wide>> aligned(3);
  CHECK(reinterpret_cast<std::uintptr_t>(aligned.data()) % 64 == 0);
  CHECK_THROWS_AS(huge_page_allocator<std::uint64_t>{}.allocate(std::size_t{1} << 62), std::bad_array_new_length);
  CHECK_THROWS_AS(huge_page_allocator<std::uint8_t>{}.allocate(std::size_t{1} << 62), std::bad_alloc);
}
