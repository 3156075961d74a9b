// mmsb::check_semiring_laws<S>(): a seeded, sampling check of the semiring laws for tests. It
// returns a report that names the first broken law and its counterexample (host only).
#pragma once

#include <mmsb/semiring/concept.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iomanip>
#include <limits>
#include <memory>
#include <ostream>
#include <ranges>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb {

// The laws in the order they are checked (textbook order: the ⊕ monoid, the ⊗ monoid,
// distributivity, annihilation); the report names the first one broken.
enum class semiring_law : std::uint8_t {
  none,
  add_associativity,   // add(add(a, b), c) == add(a, add(b, c))
  add_identity_left,   // add(zero, a) == a
  add_identity_right,  // add(a, zero) == a
  add_commutativity,   // add(a, b) == add(b, a)        only when `commutative_add_v<S>`
  add_idempotence,     // add(a, a) == a                only when `idempotent_add_v<S>`
  add_inverse,         // sub(add(a, b), b) == a        only when `has_inverse_v<S>`
  add_terminal_left,   // add(terminal, a) == terminal  only when `has_terminal_v<S>`
  add_terminal_right,  // add(a, terminal) == terminal  only when `has_terminal_v<S>`
  mul_associativity,   // mul(mul(a, b), c) == mul(a, mul(b, c))
  mul_identity_left,   // mul(one, a) == a
  mul_identity_right,  // mul(a, one) == a
  distributivity_left, // mul(a, add(b, c)) == add(mul(a, b), mul(a, c))
  distributivity_right,// mul(add(a, b), c) == add(mul(a, c), mul(b, c))
  annihilation_left,   // mul(zero, a) == zero
  annihilation_right,  // mul(a, zero) == zero
};

// The law's name for messages ("add associativity", ...; "none" for semiring_law::none).
constexpr std::string_view law_name(semiring_law law) noexcept
{
  switch (law) {
  case semiring_law::none: return "none";
  case semiring_law::add_associativity: return "add associativity";
  case semiring_law::add_identity_left: return "add identity (left)";
  case semiring_law::add_identity_right: return "add identity (right)";
  case semiring_law::add_commutativity: return "add commutativity";
  case semiring_law::add_idempotence: return "add idempotence";
  case semiring_law::add_inverse: return "add inverse";
  case semiring_law::add_terminal_left: return "add terminal (left)";
  case semiring_law::add_terminal_right: return "add terminal (right)";
  case semiring_law::mul_associativity: return "mul associativity";
  case semiring_law::mul_identity_left: return "mul identity (left)";
  case semiring_law::mul_identity_right: return "mul identity (right)";
  case semiring_law::distributivity_left: return "distributivity (left)";
  case semiring_law::distributivity_right: return "distributivity (right)";
  case semiring_law::annihilation_left: return "annihilation (left)";
  case semiring_law::annihilation_right: return "annihilation (right)";
  }
  return "unknown";
}

// How check_semiring_laws samples: the seed, the pool of values and the float tolerance.
struct law_check_options {
  std::uint64_t seed = 0x5eed;  // seeds the value pool and the tuple sampling; the same seed gives the same checks
  // Random values added to the pool. Only arithmetic and bool value types are drawn; set 0 when
  // the semiring uses only part of its value type (say ints mod 7) and pass the samples yourself.
  std::size_t random_samples = 48;
  // Pair- and triple-wise laws run on every tuple of the pool while that is at most this many,
  // otherwise on this many tuples drawn at random: the check stays in the milliseconds.
  std::size_t max_pairs = 4096;
  std::size_t max_triples = 4096;  // the same cap for the laws over three values
  // Floating value types only: x and y agree when |x - y| <= abs + rel * max(|x|, |y|). The
  // default 0 means plain ==; abs covers cancellation in a*b + a*c, which rel cannot. Drawn
  // fractions lie on a grid where sums of three are exact but products round, so laws that
  // multiply floats (plus_times) need a tolerance; min_plus, max_plus and max_min do not.
  double rel_tolerance = 0;
  double abs_tolerance = 0;  // see rel_tolerance
};

// What check_semiring_laws found: ok, or the first broken law with a counterexample.
struct law_check_report {
  bool ok = true;  // true when every law checked held
  semiring_law law = semiring_law::none; // the first broken law; none when ok
  std::string counterexample;            // the values and both sides of the law; empty when ok
  std::uint64_t seed = 0;                // options.seed: rerun with it to reproduce
  std::size_t checks = 0;                // law evaluations run (up to and including the failure)
  std::size_t values = 0;                // size of the value pool
  std::string note;                      // why the pool may be too small to mean much, if it is

  // True when every law checked held.
  explicit operator bool() const noexcept { return ok; }
  // The name of the broken law (law_name(law)); "none" when ok.
  std::string_view law_name() const noexcept { return mmsb::law_name(law); }
  // Field-wise equality: the same seed gives an equal report.
  bool operator==(const law_check_report&) const = default;
};

// One line: the verdict, counts and seed, and the note if any (for test failure messages).
inline std::ostream& operator<<(std::ostream& os, const law_check_report& report)
{
  if (report.ok)
    os << "semiring laws hold: " << report.checks << " checks over " << report.values << " values";
  else
    os << "semiring law broken: " << report.law_name() << ": " << report.counterexample << " ("
       << report.checks << " checks over " << report.values << " values";
  os << (report.ok ? " (" : ", ") << "seed 0x" << std::hex << report.seed << std::dec << ')';
  if (!report.note.empty()) os << "; note: " << report.note;
  return os;
}

namespace detail {

// value_type when S has one; a placeholder otherwise so that the signature below stays valid and
// the body's require_semiring<S>() names what is missing.
struct law_no_value_type {};
template <class S>
struct law_value {
  using type = law_no_value_type;
};
template <traits_have_value_type S>
struct law_value<S> {
  using type = semiring_value_t<S>;
};

template <class T>
concept law_streamable = requires(std::ostream& os, const T& v) { os << v; };
template <class T>
concept law_comparable = requires(const T& a, const T& b) { { a == b } -> std::convertible_to<bool>; };

template <class T>
std::string law_format(const T& v)
{
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_integral_v<T>) {
    // Widen so that int8_t and char print as numbers.
    if constexpr (std::is_signed_v<T>) return std::to_string(static_cast<long long>(v));
    else return std::to_string(static_cast<unsigned long long>(v));
  } else if constexpr (law_streamable<T>) {
    std::ostringstream os;
    if constexpr (std::is_floating_point_v<T>) os << std::setprecision(std::numeric_limits<T>::max_digits10);
    os << v;
    return os.str();
  } else {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    std::ostringstream os;
    os << "bytes{" << std::hex << std::setfill('0');
    for (std::size_t i = 0; i < sizeof(T); ++i) os << (i ? " " : "") << std::setw(2) << unsigned(bytes[i]);
    os << '}';
    return os.str();
  }
}

// fabs and fmax for law_equal, without <cmath>: a NaN operand still makes the comparison false.
constexpr long double law_fabs(long double v) noexcept { return v < 0 ? -v : v; }
constexpr long double law_fmax(long double a, long double b) noexcept { return a < b ? b : a; }

// Floats within the tolerance, otherwise ==; bytes for a type without == (so give a padded
// user value type an operator==).
template <class T>
bool law_equal(const T& x, const T& y, const law_check_options& options)
{
  if constexpr (std::is_floating_point_v<T>) {
    if (x == y) return true;
    const long double a = x, b = y;
    const long double scale = law_fmax(law_fabs(a), law_fabs(b));
    return law_fabs(a - b) <= options.abs_tolerance + options.rel_tolerance * scale; // false on NaN
  } else if constexpr (law_comparable<T>) {
    return static_cast<bool>(x == y);
  } else {
    return std::memcmp(&x, &y, sizeof(T)) == 0;
  }
}

// Draws are mapped from mt19937_64 by hand, not through std distributions (whose output the
// standard leaves to each library), so a seed reproduces on every platform. law_rng is
// std::mt19937_64, compiled into libmmsb (src/semiring/check_laws.cpp) so that <random> stays
// out of this header.
class law_rng {
public:
  explicit law_rng(std::uint64_t seed);
  law_rng(const law_rng&) = delete;
  law_rng& operator=(const law_rng&) = delete;
  ~law_rng();
  std::uint64_t operator()();

private:
  struct state;
  std::unique_ptr<state> s_;
};

inline std::uint64_t law_below(law_rng& rng, std::uint64_t n) { return n == 0 ? 0 : rng() % n; }

template <class T>
T law_draw(law_rng& rng)
{
  const bool small = (rng() & 1u) != 0;
  if constexpr (std::is_integral_v<T>) {
    // Small values, or wide ones bounded by max/8 so that sums of three cannot wrap (min_plus and
    // max_plus over integers add in ⊗ and are laws only while nothing overflows).
    const std::uint64_t bound = small ? 16 : static_cast<std::uint64_t>(std::numeric_limits<T>::max() / 8);
    if constexpr (std::is_signed_v<T>)
      return static_cast<T>(static_cast<std::int64_t>(law_below(rng, 2 * bound + 1)) - static_cast<std::int64_t>(bound));
    else
      return static_cast<T>(law_below(rng, bound + 1));
  } else {
    // Integer-valued in [-16, 16], or fractions k * 2^-F in [-16, 16] with F = digits - 10: a sum
    // of three stays exact, a product of two does not.
    if (small) return static_cast<T>(static_cast<std::int64_t>(law_below(rng, 33)) - 16);
    constexpr int frac_bits = std::clamp(std::numeric_limits<T>::digits - 10, 0, 58);
    const std::int64_t span = std::int64_t{16} << frac_bits;
    const auto k = static_cast<std::int64_t>(law_below(rng, 2 * static_cast<std::uint64_t>(span) + 1)) - span;
    T scale = 1;  // 2^-frac_bits, exact (what ldexp(k, -frac_bits) multiplies by)
    for (int i = 0; i < frac_bits; ++i) scale /= 2;
    return static_cast<T>(k) * scale;
  }
}

// zero(), one() and the samples, then, for bool every value, for arithmetic types a few small
// integers (negatives too) and the random draws.
template <class S>
std::vector<semiring_value_t<S>> law_pool(const std::vector<semiring_value_t<S>>& samples, law_rng& rng,
                                          const law_check_options& options)
{
  using T = semiring_value_t<S>;
  using tr = semiring_traits<S>;
  std::vector<T> pool{tr::zero(), tr::one()};
  pool.insert(pool.end(), samples.begin(), samples.end());
  if constexpr (std::is_same_v<T, bool>) {
    pool.push_back(false);
    pool.push_back(true);
  } else if constexpr (std::is_arithmetic_v<T>) {
    if (options.random_samples > 0) {
      for (int k : {0, 1, 2, 3}) pool.push_back(static_cast<T>(k));
      if constexpr (std::is_signed_v<T>)
        for (int k : {-1, -2, -3}) pool.push_back(static_cast<T>(k));
      if constexpr (std::is_floating_point_v<T>)
        for (double k : {0.5, -0.25, 1.5}) pool.push_back(static_cast<T>(k));
    }
    for (std::size_t i = 0; i < options.random_samples; ++i) pool.push_back(law_draw<T>(rng));
  }
  return pool;
}

// Every index tuple while there are at most `cap`, otherwise `cap` drawn at random.
template <std::size_t Arity>
std::vector<std::array<std::size_t, Arity>> law_tuples(std::size_t n, std::size_t cap, law_rng& rng)
{
  std::size_t all = 1;
  for (std::size_t i = 0; i < Arity && all <= cap; ++i) all *= n;
  std::vector<std::array<std::size_t, Arity>> out;
  if (all <= cap) {
    out.reserve(all);
    for (std::size_t t = 0; t < all; ++t) {
      std::array<std::size_t, Arity> idx{};
      for (std::size_t i = 0, r = t; i < Arity; ++i, r /= n) idx[i] = r % n;
      out.push_back(idx);
    }
  } else {
    out.reserve(cap);
    for (std::size_t t = 0; t < cap; ++t) {
      std::array<std::size_t, Arity> idx{};
      for (auto& i : idx) i = static_cast<std::size_t>(law_below(rng, n));
      out.push_back(idx);
    }
  }
  return out;
}

template <class S>
law_check_report check_laws_impl(const std::vector<semiring_value_t<S>>& samples, const law_check_options& options)
{
  using T = semiring_value_t<S>;
  using tr = semiring_traits<S>;
  law_rng rng(options.seed);
  const std::vector<T> pool = law_pool<S>(samples, rng, options);
  const auto pairs = law_tuples<2>(pool.size(), options.max_pairs, rng);
  const auto triples = law_tuples<3>(pool.size(), options.max_triples, rng);

  law_check_report report;
  report.seed = options.seed;
  report.values = pool.size();
  if (samples.empty() && !std::is_arithmetic_v<T>)
    report.note = "no samples supplied and the value type cannot be drawn at random, so only zero() and "
                  "one() were checked; pass sample values";
  else if (samples.empty() && std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && options.random_samples == 0)
    report.note = "no samples supplied and random_samples is 0, so only zero() and one() were checked";

  // One law over one tuple of values: records the counterexample and returns false when broken.
  auto holds = [&](semiring_law law, std::initializer_list<T> vals, const T& lhs, const T& rhs,
                   std::string_view lhs_text, std::string_view rhs_text) {
    ++report.checks;
    if (law_equal(lhs, rhs, options)) return true;
    std::string text;
    char name = 'a';
    for (const T& v : vals) {
      if (name != 'a') text += ", ";
      text.append(1, name).append(" = ").append(law_format(v));
      ++name;
    }
    text += ": ";
    text.append(lhs_text).append(" = ").append(law_format(lhs)).append(", ");
    text.append(rhs_text).append(" = ").append(law_format(rhs));
    report.ok = false;
    report.law = law;
    report.counterexample = std::move(text);
    return false;
  };
  // A law over every value, pair or triple: `sides` gives its two sides, which must agree.
  auto law1 = [&](semiring_law law, std::string_view lhs, std::string_view rhs, auto sides) {
    for (const T& a : pool) {
      const auto [l, r] = sides(a);
      if (!holds(law, {a}, l, r, lhs, rhs)) return false;
    }
    return true;
  };
  auto law2 = [&](semiring_law law, std::string_view lhs, std::string_view rhs, auto sides) {
    for (const auto& [i, j] : pairs) {
      const auto [l, r] = sides(pool[i], pool[j]);
      if (!holds(law, {pool[i], pool[j]}, l, r, lhs, rhs)) return false;
    }
    return true;
  };
  auto law3 = [&](semiring_law law, std::string_view lhs, std::string_view rhs, auto sides) {
    for (const auto& [i, j, k] : triples) {
      const auto [l, r] = sides(pool[i], pool[j], pool[k]);
      if (!holds(law, {pool[i], pool[j], pool[k]}, l, r, lhs, rhs)) return false;
    }
    return true;
  };

  // In semiring_law order; the first counterexample ends the check.
  using L = semiring_law;
  const T zero = tr::zero(), one = tr::one();
  if (!law3(L::add_associativity, "add(add(a, b), c)", "add(a, add(b, c))",
            [](T a, T b, T c) { return std::pair{tr::add(tr::add(a, b), c), tr::add(a, tr::add(b, c))}; }))
    return report;
  if (!law1(L::add_identity_left, "add(zero, a)", "a", [&](T a) { return std::pair{tr::add(zero, a), a}; }))
    return report;
  if (!law1(L::add_identity_right, "add(a, zero)", "a", [&](T a) { return std::pair{tr::add(a, zero), a}; }))
    return report;
  if constexpr (commutative_add_v<S>)
    if (!law2(L::add_commutativity, "add(a, b)", "add(b, a)",
              [](T a, T b) { return std::pair{tr::add(a, b), tr::add(b, a)}; }))
      return report;
  if constexpr (idempotent_add_v<S>)
    if (!law1(L::add_idempotence, "add(a, a)", "a", [](T a) { return std::pair{tr::add(a, a), a}; }))
      return report;
  if constexpr (has_inverse_v<S>)
    if (!law2(L::add_inverse, "sub(add(a, b), b)", "a",
              [](T a, T b) { return std::pair{tr::sub(tr::add(a, b), b), a}; }))
      return report;
  if constexpr (has_terminal_v<S>) {
    const T t = tr::terminal();
    if (!law1(L::add_terminal_left, "add(terminal, a)", "terminal", [&](T a) { return std::pair{tr::add(t, a), t}; }))
      return report;
    if (!law1(L::add_terminal_right, "add(a, terminal)", "terminal", [&](T a) { return std::pair{tr::add(a, t), t}; }))
      return report;
  }
  if (!law3(L::mul_associativity, "mul(mul(a, b), c)", "mul(a, mul(b, c))",
            [](T a, T b, T c) { return std::pair{tr::mul(tr::mul(a, b), c), tr::mul(a, tr::mul(b, c))}; }))
    return report;
  if (!law1(L::mul_identity_left, "mul(one, a)", "a", [&](T a) { return std::pair{tr::mul(one, a), a}; }))
    return report;
  if (!law1(L::mul_identity_right, "mul(a, one)", "a", [&](T a) { return std::pair{tr::mul(a, one), a}; }))
    return report;
  if (!law3(L::distributivity_left, "mul(a, add(b, c))", "add(mul(a, b), mul(a, c))", [](T a, T b, T c) {
        return std::pair{tr::mul(a, tr::add(b, c)), tr::add(tr::mul(a, b), tr::mul(a, c))};
      }))
    return report;
  if (!law3(L::distributivity_right, "mul(add(a, b), c)", "add(mul(a, c), mul(b, c))", [](T a, T b, T c) {
        return std::pair{tr::mul(tr::add(a, b), c), tr::add(tr::mul(a, c), tr::mul(b, c))};
      }))
    return report;
  if (!law1(L::annihilation_left, "mul(zero, a)", "zero", [&](T a) { return std::pair{tr::mul(zero, a), zero}; }))
    return report;
  law1(L::annihilation_right, "mul(a, zero)", "zero", [&](T a) { return std::pair{tr::mul(a, zero), zero}; });
  return report;
}

} // namespace detail

// Checks the semiring laws of S on zero(), one(), `samples` and (for arithmetic and bool value
// types) seeded random values; commutativity, idempotence, the inverse and the terminal only
// where S claims them. A broken law is reported, not thrown. Pass samples as any range or a braced list:
//   auto r = mmsb::check_semiring_laws<my_sr>({x, y, z});
//   CHECK(r);            // or INFO(r) to print the law, the counterexample and the seed
template <class Semiring, std::ranges::input_range Range = std::initializer_list<typename detail::law_value<Semiring>::type>>
law_check_report check_semiring_laws(const Range& samples = {}, const law_check_options& options = {})
{
  static_assert(require_semiring<Semiring>());
  if constexpr (semiring<Semiring>) {
    using T = semiring_value_t<Semiring>;
    static_assert(std::convertible_to<std::ranges::range_reference_t<const Range>, T>,
                  "mmsb: check_semiring_laws: the samples must convert to the semiring's value_type");
    std::vector<T> values;
    for (auto&& v : samples) values.push_back(static_cast<T>(v));
    return detail::check_laws_impl<Semiring>(values, options);
  } else {
    return {};
  }
}

} // namespace mmsb
