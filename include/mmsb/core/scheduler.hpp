// Scheduler policies: who runs the bus's per-page work (and the graph's and the log's parallel
// phases, which is why the concept sits in core/). A scheduler runs `n` independent work
// items (disjoint page ranges) and returns when all are done; the bus chooses it once, as a
// template argument, and calls it once per phase of a tick, never per element.
//
//   serial                       the calling thread, in order (no dependencies, the default)
//   kokkos_scheduler<ExecSpace>  Kokkos (mmsb/exec/kokkos_scheduler.hpp, opt-in): Serial, OpenMP,
//                                and Cuda where the user's Kokkos has it
//
// Contract for every scheduler: each index in [0, n) runs exactly once; items may run
// concurrently and in any order, so the result must not depend on either (the bus gives each
// item its own pages). An exception from an item reaches the caller after every item has
// stopped (which one wins when several throw is unspecified).
#pragma once

#include <concepts>
#include <cstddef>

namespace mmsb {

namespace detail {
struct probe_work {
  void operator()(std::size_t) const noexcept {}
};
} // namespace detail

template <class S>
concept scheduler = std::default_initializable<S> && requires(S& s, const S& cs, std::size_t n) {
  { cs.concurrency() } -> std::convertible_to<std::size_t>;  // how many items may run at once
  s.run(n, detail::probe_work{});                             // run(n, f): f(i) for i in [0, n)
  { S::name } -> std::convertible_to<const char*>;
};

// Everything on the calling thread, in index order.
struct serial {
  // Shown in diagnostics and benchmark output.
  static constexpr const char* name = "serial";
  // Always 1: one item at a time.
  [[nodiscard]] std::size_t concurrency() const noexcept { return 1; }
  // Calls f(0), f(1), ..., f(n - 1) in order; an exception from f stops the loop and propagates.
  template <class F>
  void run(std::size_t n, F&& f) const
  {
    for (std::size_t i = 0; i < n; ++i) f(i);
  }
};

static_assert(scheduler<serial>);

} // namespace mmsb
