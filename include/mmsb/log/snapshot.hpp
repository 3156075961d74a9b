// store_snapshot<Layout>: every page of a store at one committed epoch, copied out of it, so a
// reader keeps it while commits go on (durable_store::snapshot, snapshot_at, history_at).
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/page/page.hpp>

#include <vector>

namespace mmsb {

// Every page at one committed epoch (see the top of this header).
template <class Layout>
struct store_snapshot {
  mmsb::epoch epoch{};              // the committed epoch the pages are at
  std::vector<page<Layout>> pages;  // every page, by ascending id

  // A copy of every page of `table` (a page_table), taken as at epoch e.
  template <class Table>
  [[nodiscard]] static store_snapshot copy_of(const Table& table, mmsb::epoch e)
  {
    store_snapshot s{e, {}};
    table.for_each([&](const page<Layout>& p) { s.pages.push_back(p); });
    return s;
  }
};

} // namespace mmsb
