// expect: mmsb: not a layout
#include <mmsb/delta/dense_delta.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#ifdef MMSB_COMPILE_FAIL
struct layout { using value_type = float; };
#else
using layout = mmsb::dense<float, 8>;
#endif

int main()
{
  mmsb::dense_delta<mmsb::min_plus<float>, layout> d(mmsb::page_id{1});
  return static_cast<int>(d.count());
}
