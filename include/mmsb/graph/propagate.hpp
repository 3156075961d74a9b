// What a propagation call takes and gives (graph/wave.hpp runs it, page_graph::propagate is the
// door): the strategy a semiring gets, the time budget, and the result.
#pragma once

#include <mmsb/semiring/concept.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mmsb {

// How propagation carries a change to the pages it reaches (graph/wave.hpp has the detail):
// difference pushes A ⊗ Δ (rings with exact ⊕), monotone pushes improvements (idempotent ⊕),
// recompute recomputes the reached rows (anything else, e.g. + over floats).
enum class propagation_strategy : std::uint8_t { difference, monotone, recompute };

// The strategy page_graph uses for Semiring: monotone if ⊕ is idempotent, else difference if it
// is a ring with exact ⊕, else recompute.
template <class Semiring>
inline constexpr propagation_strategy propagation_strategy_v =
  idempotent_add_v<Semiring>                           ? propagation_strategy::monotone
  : (ring<Semiring> && exact_add_v<Semiring>)          ? propagation_strategy::difference
                                                       : propagation_strategy::recompute;

// Stops propagation between units once the deadline has passed (at least one unit always runs,
// so every call makes progress). The default never stops.
struct propagate_budget {
  // When to stop (steady clock); time_point::max() means never.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Whether a finite deadline has passed.
  [[nodiscard]] bool expired() const noexcept
  {
    return deadline != std::chrono::steady_clock::time_point::max() && std::chrono::steady_clock::now() >= deadline;
  }
};

// What one propagate() call did, and whether it finished.
struct propagate_result {
  bool complete = true;          // false: the budget ran out; the next call carries on
  std::size_t units = 0;         // pages (or whole regions) processed by this call
  std::size_t changed_slots = 0; // value slots that changed
  std::size_t frontier = 0;      // units still queued when the call returned
  std::size_t region_rounds = 0; // fixed-point rounds summed over regions
};

} // namespace mmsb
