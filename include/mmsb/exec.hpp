// The execution layer: schedulers, ingestion rings and the ingestion engine. The bus that drives
// them is in mmsb/bus.hpp. The Kokkos scheduler is opt-in (mmsb/kokkos.hpp), as is the native
// CUDA backend (mmsb/cuda.hpp).
#pragma once

#include <mmsb/exec/full_policy.hpp>
#include <mmsb/exec/ingest.hpp>
#include <mmsb/exec/mpmc_queue.hpp>
#include <mmsb/exec/scheduler.hpp>
#include <mmsb/exec/spsc_ring.hpp>
