// Test support: the seed every randomized test uses, and value generators per slot type.
// The seed is fixed in CI (MMSB_TEST_SEED unset) and printed with every failure; set
// MMSB_TEST_SEED=random for soak runs, or to a number to replay a failure.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>

namespace mmsb::test {

inline std::uint64_t seed()
{
  static const std::uint64_t s = [] {
    const char* env = std::getenv("MMSB_TEST_SEED");
    if (!env || !*env) return std::uint64_t{0x5eed2026};
    if (std::string(env) == "random") return (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
    return std::uint64_t{std::strtoull(env, nullptr, 0)};
  }();
  return s;
}

// Values on which + over float/double is exact (small integers and halves), so that property
// tests can demand bitwise equality for every built-in semiring. Includes signed zeros.
template <class T, class Rng>
T exact_value(Rng& rng)
{
  if constexpr (std::is_same_v<T, bool>) {
    return (rng() & 1u) != 0;
  } else if constexpr (std::is_floating_point_v<T>) {
    const auto k = static_cast<std::int64_t>(rng() % 4001) - 2000;
    if (k == 0) return (rng() & 1u) ? T(-0.0) : T(0.0);
    return static_cast<T>(k) / T(2);
  } else {
    return static_cast<T>(static_cast<std::int64_t>(rng() % 200001) - 100000);
  }
}

// Arbitrary finite values (for floats: full mantissas), for tests that demand equality of two
// implementations of the same expression rather than an algebraic law.
template <class T, class Rng>
T any_value(Rng& rng)
{
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<T> dist(T(-1e6), T(1e6));
    return dist(rng);
  } else if constexpr (std::is_same_v<T, bool>) {
    return (rng() & 1u) != 0;
  } else {
    return static_cast<T>(rng());
  }
}

} // namespace mmsb::test

#define MMSB_TEST_INFO_SEED() INFO("seed " << ::mmsb::test::seed() << " (replay with MMSB_TEST_SEED=" << ::mmsb::test::seed() << ")")
