// Scheduler policies (the concept and `serial`) live in core/scheduler.hpp, so the graph's and
// the log's parallel phases can take a scheduler without depending on exec/; this header keeps
// the exec/ spelling working. kokkos_scheduler is in exec/kokkos_scheduler.hpp.
#pragma once

#include <mmsb/core/scheduler.hpp>
