// The execution layer: schedulers, ingestion rings, producers, the tick and basic_bus. The Kokkos
// scheduler is opt-in (mmsb/kokkos.hpp), as is the native CUDA backend (mmsb/cuda.hpp).
#pragma once

#include <mmsb/exec/bus.hpp>
#include <mmsb/exec/full_policy.hpp>
#include <mmsb/exec/ingest.hpp>
#include <mmsb/exec/mpmc_queue.hpp>
#include <mmsb/exec/scheduler.hpp>
#include <mmsb/exec/spsc_ring.hpp>
#include <mmsb/exec/tick.hpp>
