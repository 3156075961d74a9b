// Test support: the semiring x layout combinations every delta test runs over, and helpers to
// make random pages and deltas from a seeded generator.
#pragma once

#include <mmsb/delta.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include "random.hpp"

#include <cstdint>
#include <cstring>
#include <tuple>

namespace mmsb::test {

// A custom semiring the library knows nothing about: it must take the generic path.
struct user_min_plus16 {
  using value_type = std::int16_t;
  static constexpr std::int16_t add(std::int16_t a, std::int16_t b) noexcept { return a < b ? a : b; }
  static constexpr std::int16_t mul(std::int16_t a, std::int16_t b) noexcept
  {
    return (a == INT16_MAX || b == INT16_MAX) ? INT16_MAX : static_cast<std::int16_t>(a + b);
  }
  static constexpr std::int16_t zero() noexcept { return INT16_MAX; }
  static constexpr std::int16_t one() noexcept { return 0; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
};

// The same algebra as min_plus<float>, but unknown to the library: generic path vs SIMD path.
struct user_min_float {
  using value_type = float;
  static constexpr float add(float a, float b) noexcept { return a < b ? a : b; }
  static constexpr float mul(float a, float b) noexcept { return a + b; }
  static constexpr float zero() noexcept { return __builtin_inff(); }
  static constexpr float one() noexcept { return 0.0f; }
  static constexpr bool idempotent_add = true;
};

template <class S, class L>
struct combo {
  using semiring = S;
  using layout = L;
};

using all_combos = std::tuple<
  combo<plus_times<std::int32_t>, dense<std::int32_t, 1024>>,
  combo<plus_times<std::int64_t>, dense<std::int64_t, 300>>,
  combo<plus_times<float>, dense<float, 1024>>,
  combo<plus_times<double>, soa<100, double, double, double>>,
  combo<min_plus<float>, dense<float, 1024>>,
  combo<min_plus<std::int32_t>, dense<std::int32_t, 77>>,
  combo<max_plus<double>, dense<double, 512>>,
  combo<max_min<float>, soa<64, float, float>>,
  combo<max_min<std::int64_t>, dense<std::int64_t, 1024>>,
  combo<or_and, bits<1000>>,
  combo<or_and, bits<4096>>,
  combo<or_and, dense<bool, 130>>,
  combo<user_min_plus16, dense<std::int16_t, 200>>,
  combo<user_min_float, dense<float, 1024>>>;

template <class Layout>
bool same_bits(const page<Layout>& a, const page<Layout>& b)
{
  return std::memcmp(&a.storage(), &b.storage(), sizeof(typename Layout::storage_type)) == 0;
}

template <class Layout, class Rng>
page<Layout> random_page(page_id id, Rng& rng)
{
  page<Layout> p(id);
  for (std::size_t i = 0; i < Layout::extent; ++i) p.set(i, exact_value<typename Layout::value_type>(rng));
  return p;
}

// A random delta: density drawn from {0, 1%, 5%, 50%, 100%}, ops mixed, encoding by density.
template <class S, class Layout, class Rng>
delta<S, Layout> random_delta(page_id id, Rng& rng, int assign_percent = 30)
{
  static constexpr int densities[] = {0, 1, 5, 50, 100};
  const int density = densities[rng() % 5];
  delta_builder<S, Layout> b(id);
  for (std::size_t i = 0; i < Layout::extent; ++i) {
    if (static_cast<int>(rng() % 100) >= density) continue;
    const bool assign = static_cast<int>(rng() % 100) < assign_percent;
    b.put(i, assign ? delta_op::assign : delta_op::accumulate, exact_value<typename Layout::value_type>(rng));
  }
  return b.build();
}

} // namespace mmsb::test
