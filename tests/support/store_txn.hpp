// Log-level tests drive a durable_store directly, without a bus: these collect changes in a
// bus transaction and commit its deltas to the store, as basic_bus::commit does (minus the graph).
#pragma once

#include <mmsb/bus/transaction.hpp>
#include <mmsb/core/ids.hpp>

namespace mmsb::test {

template <class Store>
[[nodiscard]] transaction<typename Store::semiring_type, typename Store::layout_type> begin_txn(const Store&)
{
  return {};
}

// Commits tx's changes as one epoch and empties tx; throws with tx intact, as the bus does.
template <class Store, class Tx>
mmsb::epoch commit_txn(Store& s, Tx& tx)
{
  auto ds = tx.deltas();
  const mmsb::epoch e = s.commit(ds);
  tx.clear();
  return e;
}

} // namespace mmsb::test
