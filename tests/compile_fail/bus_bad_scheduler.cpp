// expect: mmsb: basic_bus<S, L, A, Scheduler>: Scheduler must be a scheduler policy
#include <mmsb/bus/bus.hpp>

struct not_a_scheduler {};  // no run(), no concurrency(), no name

#ifdef MMSB_COMPILE_FAIL
using sched = not_a_scheduler;
#else
using sched = mmsb::serial;
#endif

int main()
{
  return sizeof(mmsb::basic_bus<mmsb::plus_times<int>, mmsb::dense<int, 16>, mmsb::host_heap, sched>) > 0 ? 0 : 1;
}
