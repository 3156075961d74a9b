// Opt-in CUDA support: device probing, the memory policies, the device batch format, the resident
// stores and the host launchers of the native kernels. Link the mmsb_cuda library (meson:
// mmsb_cuda_dep, pkg-config: mmsb-cuda). mmsb/mmsb.hpp never includes it. See docs/gpu.md.
#pragma once

#include <mmsb/config/config.hpp>

#if !MMSB_ENABLE_CUDA
#  error "mmsb: this MMSB was built without CUDA (meson -Dcuda=enabled to build the kernels)"
#endif

#include <mmsb/exec/cuda/apply.hpp>
#include <mmsb/exec/cuda/backend.hpp>
#include <mmsb/exec/cuda/batch.hpp>
#include <mmsb/exec/cuda/device.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>
#include <mmsb/exec/cuda/device_pages.hpp>
#include <mmsb/exec/cuda/fallback.hpp>
#include <mmsb/exec/cuda/hybrid_pages.hpp>
#include <mmsb/exec/cuda/persistent.hpp>
#include <mmsb/exec/cuda/router.hpp>
#include <mmsb/exec/cuda/tick_graph.hpp>
#include <mmsb/memory/cuda/device_pool.hpp>
#include <mmsb/memory/cuda/managed.hpp>
#include <mmsb/memory/cuda/pinned.hpp>
