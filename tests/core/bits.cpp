#include <mmsb/core/bits.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <random>

TEST_CASE("words_for rounds up to whole 64-bit words")
{
  CHECK(mmsb::words_for(0) == 0);
  CHECK(mmsb::words_for(1) == 1);
  CHECK(mmsb::words_for(64) == 1);
  CHECK(mmsb::words_for(65) == 2);
  CHECK(mmsb::words_for(1024) == 16);
}

TEST_CASE("set, test and clear agree with a std::vector<bool> model")
{
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::array<mmsb::word_t, 4> words{};
  std::vector<bool> model(256, false);
  for (int step = 0; step < 2000; ++step) {
    const std::size_t i = rng() % 256;
    if (rng() % 2) { mmsb::set_bit(words.data(), i); model[i] = true; }
    else { mmsb::clear_bit(words.data(), i); model[i] = false; }
    const std::size_t probe = rng() % 256;
    REQUIRE(mmsb::test_bit(words.data(), probe) == model[probe]);
  }
  for (std::size_t n : {0u, 1u, 63u, 64u, 65u, 200u, 256u}) {
    std::size_t expected = 0;
    for (std::size_t i = 0; i < n; ++i) expected += model[i];
    CHECK(mmsb::count_bits(words.data(), n) == expected);
  }
}

static_assert(mmsb::popcount(0xF0F0u) == 8);
static_assert(mmsb::countr_zero(0x100u) == 8);
