#include <mmsb/semiring/builtins.hpp>
#include <mmsb/semiring/check_laws.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <list>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

using namespace mmsb;

namespace {

std::string to_text(const law_check_report& report)
{
  std::ostringstream os;
  os << report;
  return os.str();
}

// plus_times over int, except that zero() is 1: not the identity of +.
struct wrong_zero {
  using value_type = std::int32_t;
  static constexpr std::int32_t add(std::int32_t a, std::int32_t b) noexcept { return detail::wrap_add(a, b); }
  static constexpr std::int32_t mul(std::int32_t a, std::int32_t b) noexcept { return detail::wrap_mul(a, b); }
  static constexpr std::int32_t zero() noexcept { return 1; }
  static constexpr std::int32_t one() noexcept { return 1; }
};

// plus_times that claims an idempotent ⊕: a + a != a.
struct claims_idempotent {
  using value_type = std::int64_t;
  static constexpr std::int64_t add(std::int64_t a, std::int64_t b) noexcept { return detail::wrap_add(a, b); }
  static constexpr std::int64_t mul(std::int64_t a, std::int64_t b) noexcept { return detail::wrap_mul(a, b); }
  static constexpr std::int64_t zero() noexcept { return 0; }
  static constexpr std::int64_t one() noexcept { return 1; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
};

// (+, max, 0, lowest): both are monoids, but max does not distribute over +.
struct plus_max {
  using value_type = std::int32_t;
  static constexpr std::int32_t add(std::int32_t a, std::int32_t b) noexcept { return detail::wrap_add(a, b); }
  static constexpr std::int32_t mul(std::int32_t a, std::int32_t b) noexcept { return a > b ? a : b; }
  static constexpr std::int32_t zero() noexcept { return 0; }
  static constexpr std::int32_t one() noexcept { return std::numeric_limits<std::int32_t>::lowest(); }
};

// plus_times whose sub adds instead of subtracting.
struct wrong_sub {
  using value_type = std::int32_t;
  static constexpr std::int32_t add(std::int32_t a, std::int32_t b) noexcept { return detail::wrap_add(a, b); }
  static constexpr std::int32_t mul(std::int32_t a, std::int32_t b) noexcept { return detail::wrap_mul(a, b); }
  static constexpr std::int32_t sub(std::int32_t a, std::int32_t b) noexcept { return detail::wrap_add(a, b); }
  static constexpr std::int32_t zero() noexcept { return 0; }
  static constexpr std::int32_t one() noexcept { return 1; }
  static constexpr bool has_inverse = true;
};

// The ring of integers mod 7 over a user value type, which cannot be drawn at random.
struct mod7 {
  std::uint8_t v;
  friend constexpr bool operator==(mod7, mod7) = default;
  friend std::ostream& operator<<(std::ostream& os, mod7 x) { return os << unsigned(x.v) << " (mod 7)"; }
};
struct mod7_ring {
  using value_type = mod7;
  static constexpr mod7 add(mod7 a, mod7 b) noexcept { return {std::uint8_t((a.v + b.v) % 7)}; }
  static constexpr mod7 mul(mod7 a, mod7 b) noexcept { return {std::uint8_t((a.v * b.v) % 7)}; }
  static constexpr mod7 sub(mod7 a, mod7 b) noexcept { return {std::uint8_t((a.v + 7 - b.v) % 7)}; }
  static constexpr mod7 zero() noexcept { return {0}; }
  static constexpr mod7 one() noexcept { return {1}; }
  static constexpr bool commutative_add = true;
  static constexpr bool has_inverse = true;
};

// The same ring over plain int: only 0..6 are in its domain, so nothing may be drawn at random.
struct int_mod7 {
  using value_type = int;
  static constexpr int add(int a, int b) noexcept { return (a + b) % 7; }
  static constexpr int mul(int a, int b) noexcept { return (a * b) % 7; }
  static constexpr int zero() noexcept { return 0; }
  static constexpr int one() noexcept { return 1; }
  static constexpr bool commutative_add = true;
};

// A user value type with == but no operator<<, under a ⊕ that claims idempotence it lacks.
struct opaque {
  std::uint32_t bits;
  friend constexpr bool operator==(opaque, opaque) = default;
};
struct opaque_sr {
  using value_type = opaque;
  static constexpr opaque add(opaque a, opaque b) noexcept { return {a.bits + b.bits}; }
  static constexpr opaque mul(opaque a, opaque b) noexcept { return {a.bits * b.bits}; }
  static constexpr opaque zero() noexcept { return {0}; }
  static constexpr opaque one() noexcept { return {1}; }
  static constexpr bool idempotent_add = true;
};

std::vector<mod7> all_mod7()
{
  std::vector<mod7> out;
  for (std::uint8_t v = 0; v < 7; ++v) out.push_back({v});
  return out;
}

} // namespace

TEMPLATE_TEST_CASE("exact built-ins satisfy every law with no tolerance", "", plus_times<std::int32_t>,
                   plus_times<std::int64_t>, min_plus<std::int32_t>, min_plus<std::int64_t>, min_plus<float>,
                   min_plus<double>, max_plus<std::int32_t>, max_plus<std::int64_t>, max_plus<float>,
                   max_plus<double>, max_min<std::int32_t>, max_min<std::int64_t>, max_min<float>,
                   max_min<double>, or_and)
{
  const auto report = check_semiring_laws<TestType>();
  INFO(report);
  CHECK(report);
  CHECK(report.law == semiring_law::none);
  CHECK(report.counterexample.empty());
  CHECK(report.seed == 0x5eed);
  CHECK(report.checks > 0);
  CHECK(report.note.empty());
}

TEMPLATE_TEST_CASE("plus_times over floats satisfies the laws up to rounding", "", float, double)
{
  law_check_options options;
  // The absolute part absorbs cancellation in a*b + a*c, whose terms reach a few hundred.
  options.rel_tolerance = std::numeric_limits<TestType>::epsilon() * 8;
  options.abs_tolerance = std::numeric_limits<TestType>::epsilon() * 4096;
  const auto report = check_semiring_laws<plus_times<TestType>>({TestType(0.1), TestType(-3.7), TestType(12.5)}, options);
  INFO(report);
  CHECK(report);

  // Without a tolerance the products round and a ⊗ law breaks; the additive laws hold exactly.
  const auto exact = check_semiring_laws<plus_times<TestType>>();
  INFO(exact);
  CHECK(!exact);
  CHECK((exact.law == semiring_law::mul_associativity || exact.law == semiring_law::distributivity_left ||
         exact.law == semiring_law::distributivity_right));
}

TEST_CASE("a user range of any kind supplies the samples")
{
  const std::vector<std::int32_t> vec{5, -9, 1 << 20};
  const std::list<std::int32_t> lst{7, 11};
  CHECK(check_semiring_laws<max_plus<std::int32_t>>(vec).values ==
        check_semiring_laws<max_plus<std::int32_t>>().values + 3);
  CHECK(check_semiring_laws<max_plus<std::int32_t>>(lst));
  CHECK(check_semiring_laws<or_and>({true, false}).values == 6);
}

TEST_CASE("a wrong zero() is reported as a broken ⊕ identity")
{
  const auto report = check_semiring_laws<wrong_zero>();
  INFO(report);
  CHECK(!report);
  CHECK(report.law == semiring_law::add_identity_left);
  CHECK(report.law_name() == "add identity (left)");
  CHECK(report.counterexample.find("add(zero, a)") != std::string::npos);
  CHECK(report.seed == 0x5eed);
  CHECK(to_text(report).find("add identity (left)") != std::string::npos);
  CHECK(to_text(report).find("seed 0x5eed") != std::string::npos);
}

TEST_CASE("a false idempotent_add claim is caught")
{
  const auto report = check_semiring_laws<claims_idempotent>();
  INFO(report);
  CHECK(!report);
  CHECK(report.law == semiring_law::add_idempotence);
  CHECK(report.law_name() == "add idempotence");
  CHECK_FALSE(report.counterexample.empty());
}

TEST_CASE("a non-distributive pair of monoids is caught")
{
  const auto report = check_semiring_laws<plus_max>();
  INFO(report);
  CHECK(!report);
  CHECK(report.law == semiring_law::distributivity_left);
  CHECK(report.law_name() == "distributivity (left)");
  CHECK(report.counterexample.find("mul(a, add(b, c))") != std::string::npos);
  CHECK(report.counterexample.find("c = ") != std::string::npos);
}

TEST_CASE("a sub that does not undo add is caught")
{
  const auto report = check_semiring_laws<wrong_sub>();
  INFO(report);
  CHECK(!report);
  CHECK(report.law == semiring_law::add_inverse);
}

TEST_CASE("a user semiring passes on its own samples")
{
  SECTION("user value type: only the samples, zero() and one(), every triple")
  {
    const auto report = check_semiring_laws<mod7_ring>(all_mod7());
    INFO(report);
    CHECK(report);
    CHECK(report.values == 9);
    CHECK(report.note.empty());
    // Idempotence is not claimed: 6 laws over the values, commutativity and inverse over pairs,
    // 4 over triples.
    CHECK(report.checks == 6 * 9 + 2 * 81 + 4 * 729);
  }
  SECTION("no samples for a user value type: checks zero() and one() and says so")
  {
    const auto report = check_semiring_laws<mod7_ring>();
    CHECK(report);
    CHECK(report.values == 2);
    CHECK_FALSE(report.note.empty());
    CHECK(to_text(report).find("note:") != std::string::npos);
  }
  SECTION("an arithmetic value type with a smaller domain: random_samples = 0")
  {
    law_check_options options;
    options.random_samples = 0;
    CHECK(check_semiring_laws<int_mod7>({0, 1, 2, 3, 4, 5, 6}, options));
    // Drawn ints lie outside 0..6, where the laws fail.
    CHECK_FALSE(check_semiring_laws<int_mod7>({0, 1, 2, 3, 4, 5, 6}));
  }
  SECTION("a broken law over a user value type names the user's values")
  {
    const auto report = check_semiring_laws<mod7_ring>({mod7{9}});
    CHECK(!report);
    CHECK(report.counterexample.find("(mod 7)") != std::string::npos);
  }
}

TEST_CASE("a value type without operator<< prints as bytes")
{
  const auto report = check_semiring_laws<opaque_sr>({opaque{3}});
  INFO(report);
  CHECK(!report);
  CHECK(report.law == semiring_law::add_idempotence);
  CHECK(report.counterexample.find("bytes{") != std::string::npos);
}

TEST_CASE("the same seed gives the same report; the seed is the one passed")
{
  law_check_options options;
  options.seed = 12345;
  options.max_triples = 64; // random triples: the draw depends on the seed
  const auto a = check_semiring_laws<plus_max>({}, options);
  const auto b = check_semiring_laws<plus_max>({}, options);
  CHECK(a == b);
  CHECK(to_text(a) == to_text(b));
  CHECK(a.seed == 12345);
  CHECK(to_text(a).find("seed 0x3039") != std::string::npos);

  const auto ok1 = check_semiring_laws<plus_times<double>>({}, options);
  const auto ok2 = check_semiring_laws<plus_times<double>>({}, options);
  CHECK(ok1 == ok2);

  options.seed = 54321;
  const auto c = check_semiring_laws<plus_max>({}, options);
  CHECK(c.seed == 54321);
  CHECK(c.law == semiring_law::distributivity_left);
}

TEST_CASE("the triple cap bounds the work")
{
  law_check_options options;
  options.max_pairs = 10;
  options.max_triples = 20;
  const auto report = check_semiring_laws<max_min<std::int64_t>>({}, options);
  CHECK(report);
  // 9 laws over the values (idempotence and the terminal's two sides included), commutativity
  // over pairs, 4 over triples.
  CHECK(report.checks == 9 * report.values + 10 + 4 * 20);
}
