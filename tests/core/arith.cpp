#include <mmsb/core/arith.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using mmsb::detail::wrap_add;
using mmsb::detail::wrap_mul;
using mmsb::detail::wrap_sub;

// Overflow is defined (two's complement wrap) and usable in constant expressions.
static_assert(wrap_add<std::int32_t>(std::numeric_limits<std::int32_t>::max(), 1) == std::numeric_limits<std::int32_t>::min());
static_assert(wrap_sub<std::int64_t>(std::numeric_limits<std::int64_t>::min(), 1) == std::numeric_limits<std::int64_t>::max());
static_assert(wrap_mul<std::uint16_t>(0xFFFF, 0xFFFF) == 1);
static_assert(wrap_mul<std::int8_t>(-128, -1) == -128);

TEST_CASE("wrapping arithmetic equals plain arithmetic where nothing overflows")
{
  CHECK(wrap_add<int>(2, 3) == 5);
  CHECK(wrap_sub<int>(2, 3) == -1);
  CHECK(wrap_mul<int>(-4, 6) == -24);
  CHECK(wrap_add<double>(0.5, 0.25) == 0.75);
}
