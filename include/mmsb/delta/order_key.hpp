// order_key: the fixed order of changes inside a tick, (epoch, producer, sequence). Arrival time
// never counts, so every thread count and backend folds the same changes in the same order.
#pragma once

#include <mmsb/core/ids.hpp>

#include <compare>

namespace mmsb {

struct order_key {
  mmsb::epoch epoch{};
  producer_id producer{};
  sequence_no sequence{};
  friend constexpr auto operator<=>(const order_key&, const order_key&) noexcept = default;
};

} // namespace mmsb
