// Host/device annotation macros, defined once for the whole library.
#pragma once

#include <mmsb/config/config.hpp>

// Host-only builds: libcu++ (our host/device vocabulary: span, bit, limits) would otherwise pull
// the CUDA toolkit's fp16, bf16 and fp8 headers into every translation unit (about 10,000
// preprocessed lines) for types no host path of MMSB uses. Define MMSB_KEEP_CCCL_EXTENDED_TYPES
// (or include libcu++ before MMSB) to keep them. nvcc builds are unaffected.
#if !defined(__CUDACC__) && !defined(MMSB_KEEP_CCCL_EXTENDED_TYPES)
#  ifndef CCCL_DISABLE_FP16_SUPPORT
#    define CCCL_DISABLE_FP16_SUPPORT
#  endif
#  ifndef CCCL_DISABLE_BF16_SUPPORT
#    define CCCL_DISABLE_BF16_SUPPORT
#  endif
#  ifndef CCCL_DISABLE_NVFP8_SUPPORT
#    define CCCL_DISABLE_NVFP8_SUPPORT
#  endif
#endif

// MMSB_HD marks every function a kernel may reach (semiring ops, page accessors, merge, apply).
// Under nvcc it expands to __host__ __device__; under a host compiler it vanishes.
#if defined(__CUDACC__)
#  define MMSB_HD __host__ __device__
#  define MMSB_HOST __host__
#  define MMSB_DEVICE __device__
#else
#  define MMSB_HD
#  define MMSB_HOST
#  define MMSB_DEVICE
#endif

// True while compiling the device side of a translation unit.
#if defined(__CUDA_ARCH__)
#  define MMSB_IMPL_DEVICE_PASS 1
#else
#  define MMSB_IMPL_DEVICE_PASS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define MMSB_FORCEINLINE inline __attribute__((always_inline))
#  define MMSB_LIKELY(x) __builtin_expect(!!(x), 1)
#  define MMSB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define MMSB_FORCEINLINE inline
#  define MMSB_LIKELY(x) (x)
#  define MMSB_UNLIKELY(x) (x)
#endif

// Contracts (MMSB_EXPECTS / MMSB_ASSERT) are on in debug builds and off under NDEBUG, unless the
// user forces them with MMSB_ENABLE_ASSERTIONS=0 or 1.
#if !defined(MMSB_ENABLE_ASSERTIONS)
#  if defined(NDEBUG)
#    define MMSB_ENABLE_ASSERTIONS 0
#  else
#    define MMSB_ENABLE_ASSERTIONS 1
#  endif
#endif
