#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/page/soa.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

using namespace mmsb;

struct price { using value_type = std::int64_t; };
struct quantity { using value_type = std::int64_t; };
using book = soa<128, price, quantity>;

// Pages are trivially copyable bytes with a cache-line-aligned payload.
static_assert(std::is_trivially_copyable_v<page<dense<float, 1024>>>);
static_assert(std::is_trivially_copyable_v<page<bits<4096>>>);
static_assert(std::is_trivially_copyable_v<page<book>>);
static_assert(alignof(page<dense<float, 1024>>) == page_alignment);
static_assert(book::extent == 256 && book::index_of<quantity> == 1);
static_assert(!layout<int>);

// Every byte the state hash and checkpoints read is 0 in a new page, padding up to the 64-byte
// alignment included, whatever the memory held before (a page built where another one lived):
// C++ leaves padding indeterminate, so the layouts have none (page/slot_block.hpp).
TEMPLATE_TEST_CASE("a new page is all zero with its id and epoch 0", "", (dense<float, 1024>), (dense<std::int64_t, 7>),
                   (dense<std::int16_t, 100>), (dense<double, 100>), (bits<100>), (soa<16, float, float, float>),
                   (soa<5, std::int16_t, std::int16_t, std::int16_t>))
{
  static_assert(sizeof(typename TestType::storage_type) % page_alignment == 0);
  alignas(page<TestType>) unsigned char memory[sizeof(page<TestType>)];
  std::memset(memory, 0xa5, sizeof memory);
  const page<TestType>& p = *::new (memory) page<TestType>(page_id{9});
  CHECK(p.id() == page_id{9});
  CHECK(p.epoch() == epoch{0});
  for (std::size_t i = 0; i < TestType::extent; ++i) REQUIRE(p.get(i) == typename TestType::value_type{});
  for (std::byte b : p.payload_bytes()) REQUIRE(b == std::byte{0});
}

TEST_CASE("dense slots store and load")
{
  page<dense<double, 64>> p(page_id{1});
  p.set(63, 2.5);
  p.set(0, -1.0);
  CHECK(p.get(63) == 2.5);
  CHECK(p.get(0) == -1.0);
  CHECK(p.get(1) == 0.0);
}

TEST_CASE("bits slots pack into words and leave the tail bits zero")
{
  page<bits<70>> p(page_id{2});
  p.set(0, true);
  p.set(69, true);
  p.set(64, true);
  p.set(64, false);
  CHECK(p.get(0));
  CHECK(p.get(69));
  CHECK(!p.get(64));
  CHECK(p.storage().words[0] == 1u);
  CHECK(p.storage().words[1] == (word_t{1} << 5));
  CHECK(p.payload_bytes().size() == 64);  // padded to one cache line
}

TEST_CASE("soa columns are contiguous and addressable by tag or index")
{
  page<book> p(page_id{3});
  book::column<price>(p.storage())[5] = 1234;
  book::column<1>(p.storage())[5] = -7;
  CHECK(p.get(book::slot(0, 5)) == 1234);
  CHECK(p.get(book::slot(1, 5)) == -7);
  CHECK(book::column<quantity>(std::as_const(p).storage())[5] == -7);
  CHECK(&book::column<1>(p.storage())[0] == &book::column<0>(p.storage())[0] + 128);
}

TEST_CASE("the state hash covers ids and payload but not the epoch")
{
  page<dense<float, 8>> a(page_id{1}), b(page_id{1});
  a.set(3, 1.5f);
  b.set(3, 1.5f);
  b.set_epoch(epoch{99});
  state_hasher ha, hb;
  hash_into(ha, a);
  hash_into(hb, b);
  CHECK(ha.digest() == hb.digest());
  b.set(4, 1.0f);
  state_hasher hc;
  hash_into(hc, b);
  CHECK(hc.digest() != ha.digest());
}
