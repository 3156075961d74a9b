// apply: every path (SIMD on each Highway target this CPU has, word-parallel bits, generic
// scalar) gives the same bits, on arbitrary values including signed zeros and infinities.
#include <mmsb/delta.hpp>

#include "../support/cases.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <vector>

using namespace mmsb;

namespace {

template <class T, class Rng>
T tricky_value(Rng& rng)
{
  if constexpr (std::is_floating_point_v<T>) {
    switch (rng() % 8) {
    case 0: return T(0.0);
    case 1: return T(-0.0);
    case 2: return std::numeric_limits<T>::infinity();
    case 3: return -std::numeric_limits<T>::infinity();
    case 4: return std::numeric_limits<T>::denorm_min();
    default: return test::any_value<T>(rng);
    }
  } else {
    return test::any_value<T>(rng);
  }
}

// Fills a dense delta with arbitrary values at the given density, bypassing merge.
template <class S, class L, class Rng>
dense_delta<S, L> tricky_delta(page_id id, Rng& rng, int density)
{
  dense_delta<S, L> d(id);
  for (std::size_t i = 0; i < L::extent; ++i)
    if (static_cast<int>(rng() % 100) < density)
      d.put_unchecked(i, {rng() % 3 == 0, tricky_value<typename L::value_type>(rng)});
  return d;
}

// The path apply() would take, against the generic one, for every compiled SIMD target.
template <class S, class L>
void check_simd_against_generic()
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
#if MMSB_ENABLE_SIMD
  std::vector<std::int64_t> targets = simd::available_targets();
#else
  std::vector<std::int64_t> targets{0};
#endif
  for (const std::int64_t target : targets) {
#if MMSB_ENABLE_SIMD
    simd::force_target(target);
    INFO("SIMD target " << simd::target_name(target));
#endif
    for (int density : {0, 5, 50, 100}) {
      for (int round = 0; round < 20; ++round) {
        page<L> x(page_id{1});
        for (std::size_t i = 0; i < L::extent; ++i) x.set(i, tricky_value<typename L::value_type>(rng));
        const auto a = tricky_delta<S, L>(page_id{1}, rng, density);
        const auto b = tricky_delta<S, L>(page_id{1}, rng, density);

        auto fast = x, slow = x;
        apply(fast, a);
        detail::apply_dense_generic<S, L>(slow.storage(), a.mask_words(), a.assign_words(), a.payload());
        REQUIRE(test::same_bits(fast, slow));

        auto fast_m = a;
        merge_into(fast_m, b);
        auto slow_m = a;  // the generic merge: slot by slot through merge_element
        for (std::size_t i = 0; i < L::extent; ++i)
          if (b.contains(i)) slow_m.put_unchecked(i, {b.is_assign(i), b.value(i)});
        REQUIRE(fast_m == slow_m);
      }
    }
  }
#if MMSB_ENABLE_SIMD
  simd::force_target(0);
#endif
}

} // namespace

TEMPLATE_TEST_CASE("the SIMD path equals the generic path bit for bit", "[simd]",
                   (test::combo<plus_times<float>, dense<float, 1024>>),
                   (test::combo<plus_times<double>, dense<double, 333>>),
                   (test::combo<plus_times<std::int32_t>, dense<std::int32_t, 1024>>),
                   (test::combo<plus_times<std::int64_t>, soa<50, std::int64_t, std::int64_t>>),
                   (test::combo<min_plus<float>, dense<float, 1024>>),
                   (test::combo<min_plus<double>, dense<double, 77>>),
                   (test::combo<min_plus<std::int32_t>, dense<std::int32_t, 1000>>),
                   (test::combo<max_plus<float>, dense<float, 129>>),
                   (test::combo<max_min<std::int64_t>, dense<std::int64_t, 1024>>),
                   (test::combo<or_and, bits<4096>>), (test::combo<or_and, bits<77>>))
{
  STATIC_REQUIRE((detail::use_simd_path_v<typename TestType::semiring, typename TestType::layout> ||
                  detail::use_word_path_v<typename TestType::semiring, typename TestType::layout> || !MMSB_ENABLE_SIMD));
  check_simd_against_generic<typename TestType::semiring, typename TestType::layout>();
}

TEST_CASE("the portable word kernels (used without SIMD) equal the generic path")
{
  using L = bits<1000>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 5);
  for (int round = 0; round < 50; ++round) {
    page<L> x(page_id{1});
    for (std::size_t i = 0; i < L::extent; ++i) x.set(i, rng() % 2 != 0);
    const auto a = tricky_delta<or_and, L>(page_id{1}, rng, 50), b = tricky_delta<or_and, L>(page_id{1}, rng, 50);
    auto words = x, generic = x;
    detail::apply_words_or(L::data(words.storage()), a.mask_words(), a.assign_words(), L::data(a.payload()), L::words);
    detail::apply_dense_generic<or_and, L>(generic.storage(), a.mask_words(), a.assign_words(), a.payload());
    REQUIRE(test::same_bits(words, generic));
    auto m = a;
    detail::merge_words_or(L::data(m.payload()), m.mask_words(), L::data(b.payload()), b.mask_words(), b.assign_words(),
                           L::words);
    auto slow = a;
    for (std::size_t i = 0; i < L::extent; ++i)
      if (b.contains(i)) slow.put_unchecked(i, {b.is_assign(i), b.value(i)});
    for (std::size_t i = 0; i < L::extent; ++i)
      if (slow.contains(i)) REQUIRE(m.value(i) == slow.value(i));
  }
}

namespace {
// A custom layout that reports kind dense but stores its slots reversed, with no data().
struct reversed16 {
  using value_type = float;
  static constexpr std::size_t extent = 16;
  static constexpr layout_kind kind = layout_kind::dense;
  struct alignas(64) storage_type { float v[16]; };
  static constexpr float load(const storage_type& s, std::size_t i) noexcept { return s.v[15 - i]; }
  static constexpr void store(storage_type& s, std::size_t i, float x) noexcept { s.v[15 - i] = x; }
};
} // namespace

TEST_CASE("a layout without contiguous data() takes the generic path, correctly")
{
  STATIC_REQUIRE(layout<reversed16>);
  STATIC_REQUIRE(!detail::use_simd_path_v<min_plus<float>, reversed16>);
  page<reversed16> p(page_id{1});
  for (std::size_t i = 0; i < 16; ++i) p.set(i, float(i));
  delta_builder<min_plus<float>, reversed16> b(page_id{1});
  b.accumulate(0, -1.0f).assign(15, 100.0f).accumulate(7, 50.0f);
  apply(p, b.build());
  CHECK(p.get(0) == -1.0f);
  CHECK(p.get(15) == 100.0f);
  CHECK(p.get(7) == 7.0f);
  CHECK(p.get(3) == 3.0f);
}

TEST_CASE("custom semirings take the generic path")
{
  STATIC_REQUIRE(!detail::use_simd_path_v<test::user_min_float, dense<float, 1024>>);
  STATIC_REQUIRE(!detail::use_word_path_v<or_and, dense<bool, 64>>);
}

#if MMSB_ENABLE_SIMD
TEST_CASE("the dispatcher names a SIMD target")
{
  const std::string name = simd::target_name();
  INFO("target: " << name);
  CHECK(!name.empty());
  CHECK(!simd::available_targets().empty());
}
#endif

TEST_CASE("a user semiring identical to min_plus<float> gives the built-in's bits")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 7);
  using L = dense<float, 1024>;
  page<L> p1(page_id{1});
  for (std::size_t i = 0; i < L::extent; ++i) p1.set(i, tricky_value<float>(rng));
  page<L> p2 = p1;
  dense_delta<min_plus<float>, L> d1(page_id{1});
  dense_delta<test::user_min_float, L> d2(page_id{1});
  for (std::size_t i = 0; i < L::extent; i += 3) {
    const float v = tricky_value<float>(rng);
    const bool assign = i % 2 == 0;
    d1.put(i, assign ? delta_op::assign : delta_op::accumulate, v);
    d2.put(i, assign ? delta_op::assign : delta_op::accumulate, v);
  }
  apply(p1, d1);
  apply(p2, d2);
  CHECK(test::same_bits(p1, p2));
}

TEST_CASE("applying a delta to another page is refused and leaves the page unchanged")
{
  using S = plus_times<int>;
  using L = dense<int, 16>;
  page<L> p(page_id{7});
  p.set(0, 5);
  const auto before = p;
  dense_delta<S, L> d(page_id{8});
  d.accumulate(0, 1);
  try {
    apply(p, d);
    FAIL("applied to the wrong page");
  } catch (const error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(std::string(e.what()) == "delta for page 8 applied to page 7");
  }
  CHECK(test::same_bits(p, before));
  sparse_delta<S, L> s(page_id{9});
  CHECK_THROWS_AS(apply(p, s), error);
  CHECK(test::same_bits(p, before));
}
