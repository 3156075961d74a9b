#include <mmsb/core/ids.hpp>

#include <catch2/catch.hpp>

#include <type_traits>
#include <unordered_set>

using mmsb::epoch;
using mmsb::page_id;

// Ids do not mix with plain integers or with each other (the mixing cases are compile-fail tests).
static_assert(!std::is_convertible_v<int, page_id>);
static_assert(!std::is_convertible_v<page_id, std::uint32_t>);
static_assert(!std::is_convertible_v<page_id, epoch>);
static_assert(!std::is_constructible_v<epoch, page_id>);
static_assert(std::is_trivially_copyable_v<page_id> && std::is_standard_layout_v<page_id>);
static_assert(page_id{} == page_id{0});
static_assert(page_id{3}.next() == page_id{4});
static_assert(page_id{std::uint32_t(-1)}.next() == page_id{0});

TEST_CASE("ids compare and order by value within their kind")
{
  CHECK(page_id{1} < page_id{2});
  CHECK(page_id{7} == page_id{7});
  CHECK(page_id{7} != page_id{8});
  CHECK(epoch{10} > epoch{9});
  CHECK(epoch{5}.value() == 5u);
}

TEST_CASE("ids hash like their value")
{
  std::unordered_set<page_id> ids{page_id{1}, page_id{2}, page_id{1}};
  CHECK(ids.size() == 2);
  CHECK(ids.count(page_id{2}) == 1);
}
