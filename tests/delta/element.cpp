#include <mmsb/delta/element.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>

using namespace mmsb;

namespace {
template <class T>
bool bit_equal(T a, T b) { return std::memcmp(&a, &b, sizeof(T)) == 0; }

template <class T, class Rng>
T draw(Rng& rng)
{
  if constexpr (std::is_same_v<T, bool>) return rng() % 2;
  else if constexpr (std::is_floating_point_v<T>) return static_cast<T>(std::uniform_int_distribution<int>(-1000, 1000)(rng)) / T(8);
  else return static_cast<T>(std::uniform_int_distribution<std::int64_t>(-100000, 100000)(rng));
}
} // namespace

TEST_CASE("apply_element: assign replaces, accumulate folds with ⊕")
{
  CHECK(apply_element<plus_times<int>>(5, false, 3) == 8);
  CHECK(apply_element<plus_times<int>>(5, true, 3) == 3);
  CHECK(apply_element<min_plus<float>>(5.0f, false, 3.0f) == 3.0f);
  CHECK(apply_element<min_plus<float>>(2.0f, false, 3.0f) == 2.0f);
  CHECK(apply_element<min_plus<float>>(2.0f, true, 3.0f) == 3.0f);
  CHECK(apply_element<or_and>(false, false, true));
}

// The merge law on single elements, for every op combination and every exact built-in.
TEMPLATE_TEST_CASE("merge_element obeys apply(apply(x,a),b) == apply(x,merge(a,b)) bitwise", "",
                   plus_times<std::int32_t>, plus_times<std::int64_t>, min_plus<float>, min_plus<double>,
                   max_plus<float>, max_min<std::int32_t>, or_and)
{
  using T = semiring_value_t<TestType>;
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    const T x = draw<T>(rng);
    const delta_element<T> a{rng() % 2 == 0, draw<T>(rng)};
    const delta_element<T> b{rng() % 2 == 0, draw<T>(rng)};
    const T two_steps = apply_element<TestType>(apply_element<TestType>(x, a.assign, a.value), b.assign, b.value);
    const auto m = merge_element<TestType>(a, b);
    const T merged = apply_element<TestType>(x, m.assign, m.value);
    REQUIRE(bit_equal(two_steps, merged));
  }
}
