// expect: mmsb: semiring has no one()
#include <mmsb/semiring/concept.hpp>

struct almost {
  using value_type = int;
  static constexpr int add(int a, int b) noexcept { return a + b; }
  static constexpr int mul(int a, int b) noexcept { return a * b; }
  static constexpr int zero() noexcept { return 0; }
#ifndef MMSB_COMPILE_FAIL
  static constexpr int one() noexcept { return 1; }
#endif
};

static_assert(mmsb::require_semiring<almost>());

int main() { return 0; }
