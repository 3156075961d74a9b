// Opt-in: MMSB's Kokkos scheduler, kokkos_scheduler<ExecSpace> (see docs/execution.md). Header-only:
// it needs Kokkos's headers and library (Kokkos 3.4 or newer), either the Kokkos MMSB was built with
// (CMake: mmsb::kokkos; pkg-config: mmsb.pc carries its flags) or the user's own (docs/install.md).
#pragma once

#include <mmsb/exec/kokkos_scheduler.hpp>
