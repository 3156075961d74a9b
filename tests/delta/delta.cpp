// The density-chosen delta and its builder; bad input to the encodings.
#include <mmsb/delta.hpp>

#include "../support/cases.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <string>

using namespace mmsb;

using S = plus_times<std::int32_t>;
using L = dense<std::int32_t, 1024>;

TEST_CASE("the builder picks sparse at or below 1/16 density and dense above")
{
  delta_builder<S, L> b(page_id{1});
  for (std::size_t i = 0; i < 64; ++i) b.accumulate(i * 16, 1);
  auto d = b.build();
  CHECK(d.encoding() == delta_encoding::sparse);
  CHECK(d.count() == 64);
  CHECK(b.count() == 0);  // build() resets
  for (std::size_t i = 0; i < 65; ++i) b.accumulate(i, 1);
  CHECK(b.build().encoding() == delta_encoding::dense);
  CHECK(b.build().count() == 0);
  CHECK(!prefer_sparse(65, 1024));
  CHECK(prefer_sparse(64, 1024));
}

TEST_CASE("repeated changes to a slot merge in call order")
{
  delta_builder<S, L> b(page_id{1});
  b.accumulate(3, 5).accumulate(3, 2);  // x + 7
  b.assign(4, 10).accumulate(4, 1);     // x = 11
  b.accumulate(5, 9).assign(5, -1);     // x = -1
  const auto d = b.build();
  page<L> p(page_id{1});
  p.set(3, 100);
  p.set(4, 100);
  p.set(5, 100);
  apply(p, d);
  CHECK(p.get(3) == 107);
  CHECK(p.get(4) == 11);
  CHECK(p.get(5) == -1);
}

TEMPLATE_LIST_TEST_CASE("dense and sparse encodings of the same change apply identically", "[encoding]", test::all_combos)
{
  using Sr = typename TestType::semiring;
  using Ly = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 3);
  for (int round = 0; round < 40; ++round) {
    delta_builder<Sr, Ly> b1(page_id{2}), b2(page_id{2});
    const int density = static_cast<int>(rng() % 101);
    for (std::size_t i = 0; i < Ly::extent; ++i) {
      if (static_cast<int>(rng() % 100) >= density) continue;
      const auto op = rng() % 3 == 0 ? delta_op::assign : delta_op::accumulate;
      const auto v = test::exact_value<typename Ly::value_type>(rng);
      b1.put(i, op, v);
      b2.put(i, op, v);
    }
    const auto dense = b1.build(delta_encoding::dense), sparse = b2.build(delta_encoding::sparse);
    REQUIRE(dense.encoding() == delta_encoding::dense);
    REQUIRE(sparse.encoding() == delta_encoding::sparse);
    REQUIRE(dense.count() == sparse.count());
    const auto s = test::random_page<Ly>(page_id{2}, rng);
    auto x = s, y = s;
    apply(x, dense);
    apply(y, sparse);
    REQUIRE(test::same_bits(x, y));
    REQUIRE(sparse.to_dense() == *dense.as_dense());
  }
}

TEST_CASE("bad slot indices are refused with the page and slot named, and nothing changes")
{
  delta_builder<S, L> b(page_id{42});
  b.accumulate(1, 1);
  try {
    b.accumulate(1024, 1);
    FAIL("out-of-range slot accepted");
  } catch (const error& e) {
    CHECK(e.code() == errc::out_of_range);
    CHECK(std::string(e.what()) == "delta for page 42: slot 1024 is out of range (the page has 1024 slots)");
  }
  CHECK(b.count() == 1);
}

TEST_CASE("sparse_delta::from_arrays validates its input")
{
  using D = sparse_delta<S, L>;
  const std::array<std::uint32_t, 3> idx{1, 5, 9};
  const std::array<std::int32_t, 3> val{10, 20, 30};
  const std::array<delta_op, 3> ops{delta_op::accumulate, delta_op::assign, delta_op::accumulate};
  const auto ok = D::from_arrays(page_id{3}, idx, val, ops);
  CHECK(ok.count() == 3);
  CHECK(ok.entries()[1] == sparse_entry<std::int32_t>{5, delta_op::assign, 20});

  auto fails_with = [](auto&& fn, errc code, const std::string& text) {
    try {
      fn();
      FAIL("accepted: " << text);
    } catch (const error& e) {
      CHECK(e.code() == code);
      CHECK(std::string(e.what()) == text);
    }
  };
  const std::array<std::uint32_t, 3> unsorted{1, 9, 5}, dup{1, 5, 5}, range{1, 5, 1024};
  fails_with([&] { (void)D::from_arrays(page_id{3}, unsorted, val, ops); }, errc::invalid_argument,
             "sparse delta for page 3: slot 5 at entry 2 is out of order (previous slot 9); indices must be strictly ascending");
  fails_with([&] { (void)D::from_arrays(page_id{3}, dup, val, ops); }, errc::invalid_argument,
             "sparse delta for page 3: slot 5 at entry 2 is duplicated (previous slot 5); indices must be strictly ascending");
  fails_with([&] { (void)D::from_arrays(page_id{3}, range, val, ops); }, errc::out_of_range,
             "sparse delta for page 3: slot 1024 is out of range (the page has 1024 slots)");
  fails_with([&] { (void)D::from_arrays(page_id{3}, span<const std::uint32_t>(static_cast<const std::uint32_t*>(nullptr), 3), val, ops); },
             errc::invalid_argument, "sparse delta for page 3: null buffer with a non-zero count");
  fails_with([&] { (void)D::from_arrays(page_id{3}, span<const std::uint32_t>(idx.data(), 2), val, ops); },
             errc::size_mismatch, "sparse delta for page 3: 2 indices, 3 values, 3 ops");
  const std::array<delta_op, 3> bad_op{delta_op::accumulate, static_cast<delta_op>(7), delta_op::accumulate};
  fails_with([&] { (void)D::from_arrays(page_id{3}, idx, val, bad_op); }, errc::invalid_argument,
             "sparse delta for page 3: entry 1 has an unknown op");
}

TEST_CASE("a custom semiring written in a few lines works end to end through merge and apply")
{
  // Bitwise-xor "accumulate" over uint32: the user's own algebra, no library changes.
  struct xor_and {
    using value_type = std::uint32_t;
    static constexpr std::uint32_t add(std::uint32_t a, std::uint32_t b) noexcept { return a ^ b; }
    static constexpr std::uint32_t mul(std::uint32_t a, std::uint32_t b) noexcept { return a & b; }
    static constexpr std::uint32_t zero() noexcept { return 0; }
    static constexpr std::uint32_t one() noexcept { return ~0u; }
  };
  using XL = dense<std::uint32_t, 256>;
  delta_builder<xor_and, XL> b(page_id{1});
  b.accumulate(0, 0b1010).accumulate(1, 0xff);
  const auto a = b.build();
  b.accumulate(0, 0b0110).assign(2, 77);
  const auto c = b.build();
  page<XL> p(page_id{1}), q(page_id{1});
  p.set(0, 0b1111);
  q = p;
  apply(p, a);
  apply(p, c);
  apply(q, merge(a, c));
  CHECK(p.get(0) == (0b1111u ^ 0b1010u ^ 0b0110u));
  CHECK(p.get(1) == 0xffu);
  CHECK(p.get(2) == 77u);
  CHECK(test::same_bits(p, q));
}

TEST_CASE("a moved-from delta is an empty sparse delta, safe to use")
{
  delta_builder<S, L> b(page_id{1});
  for (std::size_t i = 0; i < 500; ++i) b.accumulate(i, 1);
  auto d = b.build();
  REQUIRE(d.encoding() == delta_encoding::dense);
  auto moved = std::move(d);
  CHECK(moved.count() == 500);
  CHECK(d.count() == 0);  // NOLINT(bugprone-use-after-move): the documented moved-from state
  CHECK(d.encoding() == delta_encoding::sparse);
  delta<S, L> other;
  other = std::move(moved);
  CHECK(other.count() == 500);
  CHECK(moved.count() == 0);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("an unknown op is refused by dense deltas and batches, changing nothing")
{
  dense_delta<S, L> d(page_id{4});
  d.accumulate(1, 1);
  CHECK_THROWS_WITH(d.put(2, static_cast<delta_op>(9), 5), "delta for page 4: slot 2 has an unknown op");
  CHECK(d.count() == 1);
  delta_batch<S, L> batch;
  CHECK_THROWS_WITH(batch.push(page_id{4}, 2, static_cast<delta_op>(9), 5, order_key{}),
                    "batch change for page 4: unknown op");
  CHECK(batch.size() == 0);
}

TEST_CASE("merging dense with sparse builds the same result as step by step")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 31);
  for (int round = 0; round < 20; ++round) {
    const auto a = test::random_delta<S, L>(page_id{2}, rng), c = test::random_delta<S, L>(page_id{2}, rng);
    const auto s = test::random_page<L>(page_id{2}, rng);
    auto x = s, y = s;
    apply(x, a);
    apply(x, c);
    apply(y, merge(a, c));
    REQUIRE(test::same_bits(x, y));
  }
}
