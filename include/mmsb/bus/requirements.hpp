// What basic_bus (bus.hpp) requires of its policies, checked where the bus is instantiated, each
// failure with a message that names the parameter and what to use instead.
#pragma once

#include <mmsb/core/scheduler.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/semiring/concept.hpp>

#include <type_traits>

namespace mmsb::detail {

template <class Semiring, class Layout, class Allocator, class Scheduler>
struct bus_requirements {
  static_assert(require_semiring<Semiring>());
  static_assert(layout<Layout>, "mmsb: basic_bus<S, Layout, ...>: Layout must be a page layout (dense<T, N>, soa<N, ...>, bits<N>)");
  static_assert(std::is_same_v<typename Layout::value_type, semiring_value_t<Semiring>>,
                "mmsb: basic_bus<S, Layout, ...>: the layout's value_type must be the semiring's value type");
  static_assert(requires(const typename Layout::storage_type& s) { Layout::data(s); },
                "mmsb: basic_bus<S, Layout, ...>: a bus logs whole pages and deltas as contiguous bytes, so Layout "
                "needs static data(storage) giving its slots (or words) contiguously, as dense, bits and soa do "
                "(see docs/layouts.md)");
  static_assert(page_allocator<Allocator>, "mmsb: basic_bus<S, L, Allocator, ...>: Allocator must be a page allocator (host_heap, host_pool, ...)");
  static_assert(host_accessible(Allocator::space),
                "mmsb: basic_bus<S, L, Allocator, ...>: this bus runs on the host, and Allocator hands out device "
                "memory the host must not dereference; use host_heap, host_pool, mapped_file, cuda_pinned or cuda_managed");
  static_assert(scheduler<Scheduler>, "mmsb: basic_bus<S, L, A, Scheduler>: Scheduler must be a scheduler policy (serial, kokkos_scheduler<Space>)");
  static constexpr bool met = true;  // reached only to be named: each check above fails on its own
};

} // namespace mmsb::detail
