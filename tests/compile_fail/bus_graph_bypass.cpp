// expect: discards qualifiers
// One way in: a bus user cannot write a base page through the graph (bus.graph() is const), nor
// edit topology except through the bus's own edit calls.
#include <mmsb/bus/bus.hpp>

int main()
{
  mmsb::bus<mmsb::plus_times<int>, mmsb::dense<int, 16>> b;
  const auto p = b.create_page();
  mmsb::delta_builder<mmsb::plus_times<int>, mmsb::dense<int, 16>> d(p);
  d.accumulate(0, 1);
#ifdef MMSB_COMPILE_FAIL
  b.graph().apply(d.build());  // the old bypass: not logged, not replayed
#else
  auto tx = b.begin();
  tx.accumulate(p, 0, 1);
  b.commit(tx);
#endif
  return 0;
}
