// transaction<Semiring, Layout>: changes to any pages, collected until the bus commits them as one
// epoch (basic_bus::begin, commit, abort). Nothing is visible, logged or propagated before the
// commit, and a failed commit leaves the transaction as it was, so it can be retried.
//
// Within a transaction, changes to one slot fold in call order: accumulates under ⊕, and a later
// assign overrides what came before. Across transactions, the later commit wins.
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/delta/delta.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace mmsb {

// Changes to any pages of one bus, collected until basic_bus::commit logs them as one epoch (see
// the top of this header). Move-only (one delta builder per page); not thread-safe.
template <class Semiring, class Layout>
class transaction {
public:
  using value_type = typename Layout::value_type;  // the element type of one slot
  using delta_type = delta<Semiring, Layout>;  // one change to one page

  // Adds x ← x ⊕ v at slot `slot` of page p, folded after earlier changes to that slot.
  // Throw mmsb::error (out_of_range) naming the page and slot for a slot past the page's extent;
  // the transaction keeps its other changes. The page must exist when the transaction commits.
  transaction& accumulate(page_id p, std::size_t slot, value_type v)
  {
    builder(p).accumulate(slot, v);
    return *this;
  }
  // Adds x ← v at slot `slot` of page p, overriding earlier changes to that slot; the same errors as
  // accumulate.
  transaction& assign(page_id p, std::size_t slot, value_type v)
  {
    builder(p).assign(slot, v);
    return *this;
  }

  // True when no page has been changed.
  [[nodiscard]] bool empty() const noexcept { return builders_.empty(); }
  // Pages the transaction changes.
  [[nodiscard]] std::size_t pages() const noexcept { return builders_.size(); }
  // Drops every change (what basic_bus::abort and a successful commit do).
  void clear() noexcept { builders_.clear(); }

  // One delta per page, in ascending page order, appended to out; the transaction is unchanged.
  void deltas_into(std::vector<delta_type>& out) const
  {
    out.reserve(out.size() + builders_.size());
    for (const auto& [id, b] : builders_) out.push_back(b.peek());
  }
  // One delta per page, in ascending page order, as a new vector; the transaction is unchanged.
  [[nodiscard]] std::vector<delta_type> deltas() const
  {
    std::vector<delta_type> out;
    deltas_into(out);
    return out;
  }

private:
  delta_builder<Semiring, Layout>& builder(page_id p)
  {
    auto it = builders_.find(p.value());
    if (it == builders_.end()) it = builders_.emplace(p.value(), delta_builder<Semiring, Layout>(p)).first;
    return it->second;
  }
  std::map<std::uint32_t, delta_builder<Semiring, Layout>> builders_;  // ascending page order
};

} // namespace mmsb
