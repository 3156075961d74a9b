// Opt-in: MMSB's Kokkos scheduler (needs Kokkos headers and library; see docs/execution.md).
#pragma once

#include <mmsb/exec/kokkos_scheduler.hpp>
