// The delta wire form: round trips for every combination and encoding; every malformed input is
// refused with a clear error and never crashes (truncation at every length, foreign layouts,
// random bytes, non-canonical bits).
#include <mmsb/delta/codec.hpp>

#include "../support/cases.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace mmsb;

TEMPLATE_LIST_TEST_CASE("encode then decode gives the same delta", "[codec]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 21);
  for (int round = 0; round < 30; ++round) {
    const auto d = test::random_delta<S, L>(page_id{static_cast<std::uint32_t>(rng())}, rng);
    for (const auto& form : {d, delta<S, L>(d.to_dense())}) {
      const auto bytes = encode(form);
      REQUIRE(bytes.size() == encoded_size(form));
      const auto back = decode<S, L>(bytes);
      REQUIRE(back.encoding() == form.encoding());
      REQUIRE(back.target() == form.target());
      REQUIRE(back.to_dense() == form.to_dense());
      REQUIRE(encode(back) == bytes);  // canonical: one delta, one byte string
    }
  }
}

TEST_CASE("the wire form is little-endian and stable (golden bytes)")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 64>;
  sparse_delta<S, L> s(page_id{0x01020304});
  s.push_back(5, delta_op::assign, -2);
  const auto bytes = encode(delta<S, L>(s));
  const std::vector<unsigned> expected{1, 1, 2, 4, 64, 0, 0, 0, 4, 3, 2, 1, 1, 0, 0, 0,  // header
                                       5, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff};           // slot, op, value
  REQUIRE(bytes.size() == expected.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) CHECK(static_cast<unsigned>(bytes[i]) == expected[i]);
}

TEST_CASE("a delta built for another layout, size or value type is refused, naming the page and both shapes")
{
  using S = min_plus<float>;
  delta_builder<S, dense<float, 512>> b(page_id{7});
  b.accumulate(3, 1.0f);
  const auto bytes = encode(b.build());
  try {
    (void)decode<S, dense<float, 1024>>(bytes);
    FAIL("foreign extent accepted");
  } catch (const error& e) {
    CHECK(e.code() == errc::size_mismatch);
    CHECK(std::string(e.what()) == "delta for page 7 was built for 512 slots of 4 bytes (layout kind 1); "
                                   "these pages have 1024 slots of 4 bytes (layout kind 1)");
  }
  CHECK_THROWS_WITH((decode<min_plus<double>, dense<double, 512>>(bytes)), Catch::Contains("512 slots of 4 bytes") &&
                                                                             Catch::Contains("512 slots of 8 bytes"));
  CHECK_THROWS_WITH((decode<S, soa<256, float, float>>(bytes)), Catch::Contains("layout kind 3"));
}

TEMPLATE_LIST_TEST_CASE("truncated, extended and random inputs are refused without crashing", "[codec][fuzz]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 22);
  const auto d = test::random_delta<S, L>(page_id{9}, rng);
  for (const auto& form : {d, delta<S, L>(d.to_dense())}) {
    const auto bytes = encode(form);
    for (std::size_t n = 0; n < bytes.size(); ++n)
      REQUIRE_THROWS_AS((decode<S, L>(span<const std::byte>(bytes.data(), n))), error);
    auto longer = bytes;
    longer.push_back(std::byte{0});
    REQUIRE_THROWS_AS((decode<S, L>(longer)), error);
    // Single bit flips: decoded or refused, never a crash or an out-of-range slot.
    for (int flip = 0; flip < 300; ++flip) {
      auto bad = bytes;
      const std::size_t bit = rng() % (bad.size() * 8);
      bad[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      try {
        const auto got = decode<S, L>(bad);
        page<L> p(got.target());
        apply(p, got);  // well-formed by construction: applies without touching out-of-range memory
      } catch (const error&) {
      }
    }
  }
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::byte> junk(rng() % 64);
    for (auto& b : junk) b = static_cast<std::byte>(rng());
    if (junk.size() >= 4 && trial % 2 == 0) { junk[0] = std::byte{1}; junk[1] = static_cast<std::byte>(L::kind); }
    try { (void)decode<S, L>(junk); } catch (const error&) {}
  }
  CHECK_THROWS_WITH((decode<S, L>(span<const std::byte>(static_cast<const std::byte*>(nullptr), 4))),
                    "delta decode: null buffer");
}

TEST_CASE("unknown version, unknown encoding and non-canonical dense bits are named")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 64>;
  dense_delta<S, L> dd(page_id{2});
  dd.accumulate(1, 5);
  const auto good = encode(delta<S, L>(dd));
  auto v = good;
  v[0] = std::byte{9};
  CHECK_THROWS_WITH((decode<S, L>(v)), "delta for page 2: codec version 9 (this build reads version 1)");
  auto e = good;
  e[2] = std::byte{5};
  CHECK_THROWS_WITH((decode<S, L>(e)), "delta for page 2: unknown encoding 5");
  auto a = good;
  a[16 + 8] = std::byte{0x4};  // assign bit 2 set where mask bit 2 is clear
  CHECK_THROWS_WITH((decode<S, L>(a)), Catch::Contains("assign or mask bits outside"));
  auto p = good;
  p[16 + 16 + 4 * 7] = std::byte{1};  // payload in unmasked slot 7
  CHECK_THROWS_WITH((decode<S, L>(p)), "delta for page 2: slot 7 has a payload but is not masked");
}
