// Opt-in CUDA support: device probing and the host launchers of the native kernels. Link the
// mmsb_cuda library (meson: mmsb_cuda_dep, pkg-config: mmsb-cuda). mmsb/mmsb.hpp never includes it.
#pragma once

#include <mmsb/config/config.hpp>

#if !MMSB_ENABLE_CUDA
#  error "mmsb: this MMSB was built without CUDA (meson -Dcuda=enabled to build the kernels)"
#endif

#include <mmsb/exec/cuda/apply.hpp>
#include <mmsb/exec/cuda/device.hpp>
