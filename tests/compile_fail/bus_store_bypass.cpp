// expect: discards qualifiers
// One way in: a bus user cannot commit to the store behind the graph's back (the store, as the
// bus hands it out, is const). bus.commit(tx) is the way, and it keeps derived pages in step.
#include <mmsb/bus/bus.hpp>

int main()
{
  mmsb::bus<mmsb::plus_times<int>, mmsb::dense<int, 16>> b;
  const auto p = b.create_page();
  auto tx = b.begin();
  tx.accumulate(p, 0, 1);
#ifdef MMSB_COMPILE_FAIL
  auto ds = tx.deltas();
  b.store().commit(ds);  // the old bypass: derived pages would go stale
#else
  b.commit(tx);
#endif
  return 0;
}
