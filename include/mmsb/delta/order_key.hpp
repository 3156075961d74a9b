// order_key: the fixed order of changes inside a tick, (epoch, producer, sequence). Arrival time
// never counts, so every thread count and backend folds the same changes in the same order.
#pragma once

#include <mmsb/core/ids.hpp>

#include <compare>

namespace mmsb {

// The position of one change in a tick's fold order: compared as (epoch, producer, sequence).
struct order_key {
  mmsb::epoch epoch{};  // the producer's epoch when it made the change (producer::set_epoch)
  producer_id producer{};  // the producer that made it
  sequence_no sequence{};  // its number in that producer's stream
  // Lexicographic over (epoch, producer, sequence).
  friend constexpr auto operator<=>(const order_key&, const order_key&) noexcept = default;
};

} // namespace mmsb
