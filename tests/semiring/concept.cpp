#include <mmsb/semiring/builtins.hpp>
#include <mmsb/semiring/concept.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

namespace user {
// Opt-in through members.
struct xor_and {
  using value_type = std::uint32_t;
  static constexpr std::uint32_t add(std::uint32_t a, std::uint32_t b) noexcept { return a ^ b; }
  static constexpr std::uint32_t mul(std::uint32_t a, std::uint32_t b) noexcept { return a & b; }
  static constexpr std::uint32_t zero() noexcept { return 0; }
  static constexpr std::uint32_t one() noexcept { return ~0u; }
  static constexpr bool commutative_add = true;
};

// A type the user cannot edit, opted in through a traits specialization.
struct gf2_value { std::uint8_t bit; };

// Not a semiring: no one().
struct no_one {
  using value_type = int;
  static constexpr int add(int a, int b) noexcept { return a + b; }
  static constexpr int mul(int a, int b) noexcept { return a * b; }
  static constexpr int zero() noexcept { return 0; }
};
} // namespace user

template <>
struct mmsb::semiring_traits<user::gf2_value> {
  using value_type = std::uint8_t;
  static constexpr std::uint8_t add(std::uint8_t a, std::uint8_t b) noexcept { return a ^ b; }
  static constexpr std::uint8_t mul(std::uint8_t a, std::uint8_t b) noexcept { return a & b; }
  static constexpr std::uint8_t zero() noexcept { return 0; }
  static constexpr std::uint8_t one() noexcept { return 1; }
  static constexpr bool has_inverse = true;
  static constexpr std::uint8_t sub(std::uint8_t a, std::uint8_t b) noexcept { return a ^ b; }
};

// Arbitrary types are simply not semirings: no hard error.
static_assert(!mmsb::semiring<int>);
static_assert(!mmsb::semiring<void>);
static_assert(!mmsb::semiring<user::no_one>);

// Member opt-in; unspecified flags default to false (exact_add: true for non-floating types).
static_assert(mmsb::semiring<user::xor_and>);
static_assert(mmsb::commutative_add_v<user::xor_and>);
static_assert(!mmsb::idempotent_add_v<user::xor_and>);
static_assert(!mmsb::has_inverse_v<user::xor_and> && !mmsb::ring<user::xor_and>);
static_assert(mmsb::exact_add_v<user::xor_and>);
static_assert(mmsb::semiring_traits<user::xor_and>::add(6u, 3u) == 5u);

// Traits opt-in; flags read through the *_v variables even when the specialization omits them.
static_assert(mmsb::semiring<user::gf2_value>);
static_assert(mmsb::ring<user::gf2_value>);
static_assert(!mmsb::commutative_add_v<user::gf2_value>);
static_assert(!mmsb::bitwise_v<user::gf2_value>);
static_assert(std::is_same_v<mmsb::semiring_value_t<user::gf2_value>, std::uint8_t>);

// The built-ins' capabilities.
static_assert(mmsb::ring<mmsb::plus_times<std::int32_t>>);
static_assert(mmsb::idempotent_semiring<mmsb::min_plus<float>> && !mmsb::ring<mmsb::min_plus<float>>);
static_assert(mmsb::bitwise_v<mmsb::or_and>);
static_assert(!mmsb::exact_add_v<mmsb::plus_times<double>> && mmsb::exact_add_v<mmsb::max_plus<double>>);

TEST_CASE("require_semiring accepts every valid semiring")
{
  CHECK(mmsb::require_semiring<user::xor_and>());
  CHECK(mmsb::require_semiring<user::gf2_value>());
  CHECK(mmsb::require_semiring<mmsb::or_and>());
}
