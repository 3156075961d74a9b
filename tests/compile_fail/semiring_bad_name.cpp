// expect: mmsb: a semiring's name must be printable ASCII without spaces or '='
// A name is a word of the durable shape descriptor (fields are separated by spaces and '='),
// so one that would make the descriptor ambiguous is refused.
#include <mmsb/bus/shape.hpp>
#include <mmsb/page/dense.hpp>

#include <string_view>

struct badly_named {
  using value_type = int;
#ifdef MMSB_COMPILE_FAIL
  static constexpr std::string_view name = "my semiring";
#else
  static constexpr std::string_view name = "my_semiring";
#endif
  static constexpr int add(int a, int b) noexcept { return a + b; }
  static constexpr int mul(int a, int b) noexcept { return a * b; }
  static constexpr int zero() noexcept { return 0; }
  static constexpr int one() noexcept { return 1; }
};

int main()
{
  return mmsb::shape_descriptor<badly_named, mmsb::dense<int, 8>>().empty() ? 1 : 0;
}
