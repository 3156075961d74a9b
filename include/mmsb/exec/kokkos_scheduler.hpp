// kokkos_scheduler<ExecSpace>: the bus's per-page work on a Kokkos execution space. Opt-in
// (include mmsb/kokkos.hpp, link Kokkos): the rest of MMSB never includes Kokkos headers.
// Header-only, so any Kokkos 3.4 or newer on the include path serves, whether or not MMSB itself
// was configured with one (MMSB_ENABLE_KOKKOS says only that); see docs/install.md.
//
//   kokkos_scheduler<Kokkos::Serial>   one host thread
//   kokkos_scheduler<Kokkos::OpenMP>   the OpenMP thread pool (OMP_NUM_THREADS, --kokkos-num-threads)
//   kokkos_scheduler<Kokkos::Cuda>     compiles where the user's Kokkos has CUDA. Page work reads
//                                      and writes host pages, so a space the host cannot reach
//                                      runs it on Kokkos::DefaultHostExecutionSpace; device-resident
//                                      pages are the native CUDA backend's job (docs/gpu.md).
//
// Ownership of Kokkos. If Kokkos is already initialized when the first scheduler is made, the
// user owns it: MMSB never initializes or finalizes it, and the user must finalize only after the
// last bus is gone. Otherwise MMSB initializes it (default arguments, so OMP_NUM_THREADS and
// KOKKOS_* environment variables apply) and finalizes it once, at program exit.
#pragma once

#include <mmsb/exec/scheduler.hpp>

#if defined(__has_include)
#  if !__has_include(<Kokkos_Core.hpp>)
#    error "mmsb: mmsb/kokkos.hpp needs Kokkos, and Kokkos_Core.hpp is not on the include path. CMake: find_package(mmsb CONFIG REQUIRED COMPONENTS Kokkos) and link mmsb::kokkos, or find_package(Kokkos) and link Kokkos::kokkos; pkg-config: an MMSB built with Kokkos puts its flags in mmsb.pc; otherwise add -I<kokkos>/include -fopenmp (docs/install.md)"
#  endif
#endif

#include <Kokkos_Core.hpp>

#if !defined(KOKKOS_VERSION) || KOKKOS_VERSION < 30400
#  error "mmsb: kokkos_scheduler needs Kokkos 3.4 or newer"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <type_traits>

namespace mmsb {

namespace detail {
class kokkos_runtime {
public:
  // Initializes Kokkos unless the user already has; finalizes at exit only what it initialized.
  static void acquire()
  {
    static kokkos_runtime rt;
    (void)rt;
  }

private:
  kokkos_runtime()
  {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize();
      owned_ = true;
    }
  }
  ~kokkos_runtime()
  {
    if (owned_ && Kokkos::is_initialized()) Kokkos::finalize();
  }
  bool owned_ = false;
};
} // namespace detail

// A scheduler (core/scheduler.hpp) that runs the work items on a Kokkos execution space; Kokkos
// is initialized on first construction if the user has not (see Ownership above).
template <class ExecSpace = Kokkos::DefaultHostExecutionSpace>
class kokkos_scheduler {
  static_assert(Kokkos::is_execution_space<ExecSpace>::value,
                "mmsb: kokkos_scheduler<S> needs a Kokkos execution space (Kokkos::Serial, Kokkos::OpenMP, Kokkos::Cuda)");

public:
  // The space page work runs on: ExecSpace if it can reach host memory, else the default host space.
  using space = std::conditional_t<Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible, ExecSpace,
                                   Kokkos::DefaultHostExecutionSpace>;
  // Shown in diagnostics and benchmark output.
  static constexpr const char* name = "kokkos";

  kokkos_scheduler()
  {
    detail::kokkos_runtime::acquire();
    space_ = space{};
  }

  // How many items the space may run at once (its thread count; 1 for Serial).
  [[nodiscard]] std::size_t concurrency() const noexcept { return static_cast<std::size_t>(space_.concurrency()); }
  // The Kokkos name of the space page work runs on ("Serial", "OpenMP", ...).
  [[nodiscard]] static const char* space_name() noexcept { return space::name(); }

  // f(i) for every i in [0, n), in parallel on the space; returns after a fence. Kokkos must not
  // see an exception (OpenMP would terminate): the first one is kept, later items are skipped,
  // and it is rethrown here.
  template <class F>
  void run(std::size_t n, F&& f) const
  {
    if (n == 0) return;
    std::exception_ptr first;
    std::atomic<bool> failed{false};
    std::mutex m;
    // Kokkos takes the label as a std::string: one short enough for its in-place buffer keeps a
    // dispatch free of heap allocations (a tick must not allocate).
    Kokkos::parallel_for(
      "mmsb::run", Kokkos::RangePolicy<space, Kokkos::IndexType<std::int64_t>>(space_, 0, static_cast<std::int64_t>(n)),
      [&](std::int64_t i) {
        if (failed.load(std::memory_order_relaxed)) return;
        try {
          f(static_cast<std::size_t>(i));
        } catch (...) {
          std::lock_guard lock(m);
          if (!first) first = std::current_exception();
          failed.store(true, std::memory_order_relaxed);
        }
      });
    space_.fence();
    if (first) std::rethrow_exception(first);
  }

private:
  space space_;
};

} // namespace mmsb
