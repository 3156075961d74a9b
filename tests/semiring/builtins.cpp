#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

using namespace mmsb;

template <class S>
using tr = semiring_traits<S>;

TEMPLATE_TEST_CASE("built-in identities and annihilator hold on sample values", "", plus_times<float>,
                   plus_times<std::int32_t>, plus_times<std::int64_t>, min_plus<float>, min_plus<std::int32_t>,
                   max_plus<double>, max_plus<std::int64_t>, max_min<float>, max_min<std::int32_t>)
{
  using T = semiring_value_t<TestType>;
  for (T x : {T(0), T(1), T(-3), T(42), T(7)}) {
    CHECK(tr<TestType>::add(x, tr<TestType>::zero()) == x);
    CHECK(tr<TestType>::add(tr<TestType>::zero(), x) == x);
    CHECK(tr<TestType>::mul(x, tr<TestType>::one()) == x);
    CHECK(tr<TestType>::mul(tr<TestType>::one(), x) == x);
    CHECK(tr<TestType>::mul(x, tr<TestType>::zero()) == tr<TestType>::zero());
    CHECK(tr<TestType>::mul(tr<TestType>::zero(), x) == tr<TestType>::zero());
  }
}

TEST_CASE("min_plus over integers: the infinity absorbs instead of wrapping")
{
  using S = min_plus<std::int32_t>;
  constexpr auto inf = std::numeric_limits<std::int32_t>::max();
  CHECK(tr<S>::zero() == inf);
  CHECK(tr<S>::mul(inf, 5) == inf);
  CHECK(tr<S>::mul(-5, inf) == inf);
  CHECK(tr<S>::mul(2, 3) == 5);
  CHECK(tr<S>::add(2, 3) == 2);
}

TEST_CASE("min/max selection is the same expression as x86 minps/maxps, including signed zeros")
{
  // a < b ? a : b returns the second operand on ties: min(-0, +0) = +0, min(+0, -0) = -0.
  CHECK(!std::signbit(tr<min_plus<float>>::add(-0.0f, 0.0f)));
  CHECK(std::signbit(tr<min_plus<float>>::add(0.0f, -0.0f)));
  CHECK(!std::signbit(tr<max_plus<float>>::add(-0.0f, 0.0f)));
  CHECK(tr<min_plus<float>>::zero() == std::numeric_limits<float>::infinity());
  CHECK(tr<max_min<double>>::one() == std::numeric_limits<double>::infinity());
  CHECK(tr<max_min<double>>::zero() == -std::numeric_limits<double>::infinity());
}

TEST_CASE("plus_times integers wrap like two's complement, and sub inverts add")
{
  using S = plus_times<std::int32_t>;
  CHECK(tr<S>::add(std::numeric_limits<std::int32_t>::max(), 1) == std::numeric_limits<std::int32_t>::min());
  CHECK(tr<S>::sub(tr<S>::add(123456, -99), -99) == 123456);
}

TEST_CASE("or_and is boolean or/and")
{
  CHECK(tr<or_and>::add(false, true));
  CHECK(!tr<or_and>::mul(false, true));
  CHECK(tr<or_and>::one());
  CHECK(!tr<or_and>::zero());
}
