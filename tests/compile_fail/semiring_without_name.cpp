// expect: mmsb: the semiring has no name for the store's durable shape
// A semiring that does not name itself cannot name a store's files: the bus (through
// shape_descriptor) refuses it with a message saying how to give it a name.
#include <mmsb/bus/shape.hpp>
#include <mmsb/page/dense.hpp>

#include <string_view>

struct unnamed {
  using value_type = int;
  static constexpr int add(int a, int b) noexcept { return a + b; }
  static constexpr int mul(int a, int b) noexcept { return a * b; }
  static constexpr int zero() noexcept { return 0; }
  static constexpr int one() noexcept { return 1; }
#ifndef MMSB_COMPILE_FAIL
  static constexpr std::string_view name = "unnamed_but_named";
#endif
};

int main()
{
  return mmsb::shape_descriptor<unnamed, mmsb::dense<int, 8>>().empty() ? 1 : 0;
}
