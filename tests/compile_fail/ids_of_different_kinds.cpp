// expect: mmsb: cannot compare ids of different kinds
#include <mmsb/core/ids.hpp>

int main()
{
  const mmsb::page_id p{1};
  const mmsb::epoch e{1};
#ifdef MMSB_COMPILE_FAIL
  return p == e;
#else
  return p.value() == e.value() ? 0 : 1;
#endif
}
