// expect: mmsb: cannot compare an id with a plain number
#include <mmsb/core/ids.hpp>

int main()
{
  const mmsb::page_id p{1};
#ifdef MMSB_COMPILE_FAIL
  return p == 1;
#else
  return p == mmsb::page_id{1} ? 0 : 1;
#endif
}
