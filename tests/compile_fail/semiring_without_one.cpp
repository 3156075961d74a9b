// expect: mmsb: semiring has no one()
// A user-facing type (delta_builder) refuses a would-be semiring with a one-line message.
#include <mmsb/delta/delta.hpp>
#include <mmsb/page/dense.hpp>

struct almost {
  using value_type = int;
  static constexpr int add(int a, int b) noexcept { return a + b; }
  static constexpr int mul(int a, int b) noexcept { return a * b; }
  static constexpr int zero() noexcept { return 0; }
#ifndef MMSB_COMPILE_FAIL
  static constexpr int one() noexcept { return 1; }
#endif
};

int main()
{
  mmsb::delta_builder<almost, mmsb::dense<int, 8>> b(mmsb::page_id{1});
  b.accumulate(0, 1);
  return static_cast<int>(b.count()) - 1;
}
