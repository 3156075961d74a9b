// fill / make_page: pages at the semiring's zero(). The README's taste, as written there, prints
// what a reader expects (x3 = 2.5, not 0).
#include <mmsb/mmsb.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

TEST_CASE("make_page: the README's taste gives the answer a reader expects", "[delta][fill]")
{
  using sr = mmsb::min_plus<float>;
  using layout = mmsb::dense<float, 1024>;
  auto p = mmsb::make_page<sr, layout>(mmsb::page_id{7});
  mmsb::delta_builder<sr, layout> b(mmsb::page_id{7});
  b.accumulate(3, 2.5f).assign(4, 1.0f);
  mmsb::apply(p, b.build());
  char line[64];
  std::snprintf(line, sizeof line, "x3 = %g, x4 = %g, x5 = %g", p.get(3), p.get(4), p.get(5));
  CHECK(std::string(line) == "x3 = 2.5, x4 = 1, x5 = inf");
}

TEST_CASE("fill_zero: each built-in's zero(), free when zero() is zero bytes", "[delta][fill]")
{
  auto mp = mmsb::make_page<mmsb::max_plus<double>, mmsb::dense<double, 8>>(mmsb::page_id{1});
  for (std::size_t i = 0; i < 8; ++i) CHECK(mp.get(i) == -std::numeric_limits<double>::infinity());
  auto pt = mmsb::make_page<mmsb::plus_times<int>, mmsb::dense<int, 8>>(mmsb::page_id{2});
  for (std::size_t i = 0; i < 8; ++i) CHECK(pt.get(i) == 0);
  auto oa = mmsb::make_page<mmsb::or_and, mmsb::bits<100>>(mmsb::page_id{3});
  for (std::size_t i = 0; i < 100; ++i) CHECK_FALSE(oa.get(i));
  CHECK(mmsb::is_zero_bytes(0.0f));
  CHECK_FALSE(mmsb::is_zero_bytes(-0.0f));
  mmsb::page<mmsb::dense<int, 4>> p(mmsb::page_id{4});
  mmsb::fill(p, 9);
  for (std::size_t i = 0; i < 4; ++i) CHECK(p.get(i) == 9);
}
