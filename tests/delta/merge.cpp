// The merge law, apply(apply(s, a), b) == apply(s, merge(a, b)) bit for bit, for every
// semiring x layout x encoding (values on which + over floats is exact; see support/random.hpp).
#include <mmsb/delta.hpp>

#include "../support/cases.hpp"

#include <catch2/catch.hpp>

using namespace mmsb;

TEMPLATE_LIST_TEST_CASE("merge law over random states and deltas", "[merge][property]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  const page_id id{5};
  for (int round = 0; round < 60; ++round) {
    const auto s = test::random_page<L>(id, rng);
    auto a = test::random_delta<S, L>(id, rng);
    auto b = test::random_delta<S, L>(id, rng);
    INFO("round " << round << ": a " << a.count() << " slots (" << (a.as_sparse() ? "sparse" : "dense") << "), b "
                  << b.count() << " slots (" << (b.as_sparse() ? "sparse" : "dense") << ")");

    auto two_steps = s;
    apply(two_steps, a);
    apply(two_steps, b);

    auto merged = s;
    apply(merged, merge(a, b));
    REQUIRE(test::same_bits(two_steps, merged));

    // Every pairing of encodings gives the same merge.
    auto dense_merged = s;
    apply(dense_merged, merge(a.to_dense(), b.to_dense()));
    REQUIRE(test::same_bits(two_steps, dense_merged));
    if (a.as_sparse() && b.as_sparse()) {
      auto sparse_merged = s;
      apply(sparse_merged, merge(*a.as_sparse(), *b.as_sparse()));
      REQUIRE(test::same_bits(two_steps, sparse_merged));
    }
  }
}

TEMPLATE_LIST_TEST_CASE("merge is associative on deltas: merge(merge(a,b),c) == merge(a,merge(b,c))", "[merge][property]",
                        test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 1);
  const page_id id{6};
  for (int round = 0; round < 30; ++round) {
    const auto s = test::random_page<L>(id, rng);
    const auto a = test::random_delta<S, L>(id, rng), b = test::random_delta<S, L>(id, rng),
               c = test::random_delta<S, L>(id, rng);
    auto left = s, right = s;
    apply(left, merge(merge(a, b), c));
    apply(right, merge(a, merge(b, c)));
    REQUIRE(test::same_bits(left, right));
  }
}

TEST_CASE("for + over arbitrary floats the merge law holds up to rounding")
{
  using S = plus_times<double>;
  using L = dense<double, 256>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 2);
  page<L> s(page_id{1});
  delta_builder<S, L> ba(page_id{1}), bb(page_id{1});
  for (std::size_t i = 0; i < L::extent; ++i) {
    s.set(i, test::any_value<double>(rng));
    ba.accumulate(i, test::any_value<double>(rng));
    bb.accumulate(i, test::any_value<double>(rng));
  }
  const auto a = ba.build(), b = bb.build();
  auto two = s, one = s;
  apply(two, a);
  apply(two, b);
  apply(one, merge(a, b));
  for (std::size_t i = 0; i < L::extent; ++i) REQUIRE(two.get(i) == Approx(one.get(i)).epsilon(1e-12).margin(1e-9));
}

TEST_CASE("merging deltas for different pages is refused and changes nothing")
{
  using S = min_plus<float>;
  using L = dense<float, 64>;
  delta_builder<S, L> b1(page_id{1}), b2(page_id{2});
  b1.accumulate(3, 1.0f);
  b2.accumulate(3, 2.0f);
  const auto a = b1.build(), b = b2.build();
  try {
    (void)merge(a, b);
    FAIL("merge across pages accepted");
  } catch (const error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(std::string(e.what()) == "cannot merge a delta for page 1 with one for page 2");
  }
  CHECK(a.count() == 1);
  CHECK(b.count() == 1);
}
