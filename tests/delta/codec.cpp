// The delta wire form: round trips for every combination and encoding, decode_into a reused
// delta included; every malformed input is refused with a clear error and never crashes (truncation at every length, foreign layouts,
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
      REQUIRE(back.encoding() == wire_encoding_of(form));  // sparse on the wire exactly when smaller
      REQUIRE(back.target() == form.target());
      REQUIRE(back.to_dense() == form.to_dense());
      REQUIRE(encode(back) == bytes);  // canonical: one delta, one byte string
    }
  }
}

TEMPLATE_LIST_TEST_CASE("decode_into one reused delta gives what decode gives, whatever it held before", "[codec]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 22);
  delta<S, L> reused;
  for (int round = 0; round < 40; ++round) {
    const auto d = test::random_delta<S, L>(page_id{static_cast<std::uint32_t>(rng())}, rng);
    const auto form = round % 3 == 0 ? delta<S, L>(d.to_dense()) : d;
    const auto bytes = encode(form);
    decode_into<S, L>(bytes, reused);
    const auto fresh = decode<S, L>(bytes);
    REQUIRE(reused.encoding() == fresh.encoding());
    REQUIRE(reused.target() == fresh.target());
    REQUIRE(reused.to_dense() == fresh.to_dense());
    REQUIRE(encode(reused) == bytes);  // nothing left over from what it held before
  }
}

TEST_CASE("the wire form is little-endian and stable (golden bytes)")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 64>;
  sparse_delta<S, L> s(page_id{0x01020304});
  s.push_back(5, delta_op::assign, -2);
  s.push_back(9, delta_op::accumulate, 3);
  const auto bytes = encode(delta<S, L>(s));
  const std::vector<unsigned> expected{2, 1, 4, 4, 64, 0, 0, 0, 4, 3, 2, 1, 2, 0, 0, 0,  // header (version 2, mixed ops)
                                       5, 0, 0, 0, 9, 0, 0, 0,                          // slot column
                                       0xfe, 0xff, 0xff, 0xff, 3, 0, 0, 0,              // value column
                                       0x01};                                           // assign bits
  REQUIRE(bytes.size() == expected.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) CHECK(static_cast<unsigned>(bytes[i]) == expected[i]);
  // All accumulate (encoding 2) or all assign (3): no op section at all.
  sparse_delta<S, L> a(page_id{1});
  a.push_back(5, delta_op::accumulate, -2);
  const auto acc = encode(delta<S, L>(a));
  REQUIRE(acc.size() == 16 + 8);
  CHECK(static_cast<unsigned>(acc[2]) == 2);
}

TEST_CASE("version 1 bytes (interleaved sparse entries) still decode")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 64>;
  const std::vector<unsigned> v1{1, 1, 2, 4, 64, 0, 0, 0, 4, 3, 2, 1, 2, 0, 0, 0,  // header
                                 5, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff,             // slot, op, value
                                 9, 0, 0, 0, 0, 3, 0, 0, 0};
  std::vector<std::byte> bytes;
  for (const unsigned b : v1) bytes.push_back(static_cast<std::byte>(b));
  const auto d = decode<S, L>(bytes);
  REQUIRE(d.as_sparse());
  CHECK(d.target() == page_id{0x01020304});
  REQUIRE(d.count() == 2);
  CHECK(d.as_sparse()->entries()[0] == sparse_entry<std::int32_t>{5, delta_op::assign, -2});
  CHECK(d.as_sparse()->entries()[1] == sparse_entry<std::int32_t>{9, delta_op::accumulate, 3});
  CHECK(encode(d).front() == std::byte{2});  // re-encoded in the current version
}

TEMPLATE_LIST_TEST_CASE("a delta goes on the wire sparse exactly when that is smaller, within 1.1x of its changed slots",
                        "[codec]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  using V = std::conditional_t<std::is_same_v<typename L::value_type, bool>, std::uint8_t, typename L::value_type>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 23);
  const std::size_t dense_bytes = 16 + 2 * words_for(L::extent) * 8 +
                                  (L::kind == layout_kind::bits ? words_for(L::extent) * 8 : L::extent * sizeof(V));
  for (int round = 0; round < 40; ++round) {
    const auto d = test::random_delta<S, L>(page_id{3}, rng, round % 3 == 0 ? 0 : 30);
    for (const auto& form : {d, delta<S, L>(d.to_dense())}) {
      const auto bytes = encode(form);
      const std::size_t slots = 16 + form.count() * (4 + sizeof(V));  // header + the changed slots' own bytes
      const bool sparse = bytes[2] != std::byte{1};
      if (sparse) {
        CHECK(bytes.size() < dense_bytes);
        CHECK(static_cast<double>(bytes.size()) <= 1.1 * static_cast<double>(slots));
      } else {
        CHECK(bytes.size() == dense_bytes);
        CHECK(dense_bytes <= slots + (form.count() + 7) / 8);  // sparse would not have been smaller
      }
    }
  }
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
  for (std::size_t i = 0; i < 40; ++i)
    if (i != 2 && i != 7) dd.accumulate(i, 5);  // 38 of 64 slots: smaller dense than sparse
  const auto good = encode(delta<S, L>(dd));
  REQUIRE(good[2] == std::byte{1});
  auto v = good;
  v[0] = std::byte{9};
  CHECK_THROWS_WITH((decode<S, L>(v)), "delta for page 2: codec version 9 (this build reads versions 1 to 2)");
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

TEST_CASE("a mixed-op section that is not canonical is refused")
{
  using S = plus_times<std::int32_t>;
  using L = dense<std::int32_t, 64>;
  sparse_delta<S, L> s(page_id{4});
  s.push_back(1, delta_op::assign, 1);
  s.push_back(2, delta_op::accumulate, 2);
  const auto good = encode(delta<S, L>(s));
  REQUIRE(good[2] == std::byte{4});
  auto all = good;
  all.back() = std::byte{3};  // both assign: should have been encoding 3
  CHECK_THROWS_WITH((decode<S, L>(all)), Catch::Contains("mixed-op section holds 2 assigns of 2 entries"));
  auto spare = good;
  spare.back() = std::byte{0x05};  // a bit past the last entry
  CHECK_THROWS_WITH((decode<S, L>(spare)), Catch::Contains("bits past the last entry"));
}

TEST_CASE("version 2 bytes in the larger of dense and sparse are refused (found by tests/fuzz/fuzz_codec)")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  // No slot changed, encoded dense (96 bytes): sparse is 16 bytes, so encode(decode(b)) != b.
  std::vector<std::byte> b(16 + 16 + 64);
  b[0] = std::byte{2};
  b[1] = static_cast<std::byte>(L::kind);
  b[2] = std::byte{1};
  b[3] = std::byte{8};
  b[4] = std::byte{8};
  CHECK_THROWS_WITH((decode<S, L>(b)), Catch::Contains("0 changed slots encoded dense, which is not canonical"));
  // Seven of 8 slots, mixed ops, encoded sparse (101 bytes) where dense is 96.
  sparse_delta<S, L> s(page_id{1});
  for (std::uint32_t i = 0; i < 7; ++i) s.push_back(i, i == 0 ? delta_op::assign : delta_op::accumulate, i + 1);
  const auto dense_form = encode(delta<S, L>(s));
  REQUIRE(dense_form.size() == 96);
  std::vector<std::byte> sp = {std::byte{2}, static_cast<std::byte>(L::kind), std::byte{4}, std::byte{8},
                               std::byte{8}, {}, {}, {}, std::byte{1}, {}, {}, {}, std::byte{7}, {}, {}, {}};
  for (std::uint32_t i = 0; i < 7; ++i) sp.insert(sp.end(), {static_cast<std::byte>(i), {}, {}, {}});
  for (std::uint32_t i = 0; i < 7; ++i) sp.insert(sp.end(), {static_cast<std::byte>(i + 1), {}, {}, {}, {}, {}, {}, {}});
  sp.push_back(std::byte{1});
  CHECK_THROWS_WITH((decode<S, L>(sp)), Catch::Contains("7 changed slots encoded sparse, which is not canonical"));
}

TEMPLATE_LIST_TEST_CASE("a stream of deltas splits at the sizes their headers give; a cut or unknown one is refused", "[codec]",
                        test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 77);
  std::vector<std::byte> stream;
  std::vector<delta<S, L>> sent;
  for (int k = 0; k < 12; ++k) {
    sent.push_back(test::random_delta<S, L>(page_id{static_cast<std::uint32_t>(k)}, rng));
    if (k % 3 == 0) sent.back() = delta<S, L>(sent.back().to_dense());
    (void)encode(sent.back(), stream);
  }
  span<const std::byte> rest(stream.data(), stream.size());
  std::size_t k = 0;
  while (!rest.empty()) {
    const std::size_t n = encoded_size_at<L>(rest);
    REQUIRE(n == encoded_size(sent[k]));
    REQUIRE(decode<S, L>(rest.first(n)).to_dense() == sent[k].to_dense());
    rest = rest.subspan(n);
    ++k;
  }
  REQUIRE(k == sent.size());
  // Cut anywhere inside the last delta: refused, naming the page and the sizes; never read past.
  const std::size_t last = encoded_size(sent.back());
  for (std::size_t cut = 1; cut < last; ++cut) {
    span<const std::byte> tail(stream.data() + stream.size() - last, last - cut);
    try {
      (void)encoded_size_at<L>(tail);
      FAIL("a delta cut to " << last - cut << " of " << last << " bytes was accepted");
    } catch (const error& e) {
      REQUIRE(e.code() == errc::size_mismatch);
      REQUIRE(std::string(e.what()).find("delta stream") != std::string::npos);
    }
  }
  // An unknown version or encoding.
  std::vector<std::byte> odd(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(encoded_size(sent[0])));
  odd[2] = std::byte{9};
  try {
    (void)encoded_size_at<L>(span<const std::byte>(odd.data(), odd.size()));
    FAIL("encoding 9 was accepted");
  } catch (const error& e) {
    REQUIRE(e.code() == errc::bad_format);
    REQUIRE(std::string(e.what()).find("page 0") != std::string::npos);
  }
}
