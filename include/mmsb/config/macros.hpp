// Host/device annotation macros, defined once for the whole library.
#pragma once

#include <mmsb/config/config.hpp>

// Host-only builds: libcu++ (our host/device vocabulary: span, bit, limits) would otherwise pull
// the CUDA toolkit's fp16, bf16 and fp8 headers into every translation unit (about 10,000
// preprocessed lines) for types no host path of MMSB uses. Define MMSB_KEEP_CCCL_EXTENDED_TYPES
// (or include libcu++ before MMSB) to keep them. nvcc builds are unaffected.
#if !defined(__CUDACC__) && !defined(MMSB_KEEP_CCCL_EXTENDED_TYPES)
#  ifndef CCCL_DISABLE_FP16_SUPPORT
// Set by MMSB in host-only builds: libcu++ leaves out its fp16 (__half) support (see above).
#    define CCCL_DISABLE_FP16_SUPPORT
#  endif
#  ifndef CCCL_DISABLE_BF16_SUPPORT
// Set by MMSB in host-only builds: libcu++ leaves out its bf16 (__nv_bfloat16) support.
#    define CCCL_DISABLE_BF16_SUPPORT
#  endif
#  ifndef CCCL_DISABLE_NVFP8_SUPPORT
// Set by MMSB in host-only builds: libcu++ leaves out its fp8 support.
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
// Marks a function callable from host and device code: __host__ __device__ under nvcc, nothing
// under a host compiler.
#  define MMSB_HD
// Marks a host-only function: __host__ under nvcc, nothing under a host compiler.
#  define MMSB_HOST
// Marks a device-only function: __device__ under nvcc, nothing under a host compiler.
#  define MMSB_DEVICE
#endif

// True while compiling the device side of a translation unit.
#if defined(__CUDA_ARCH__)
#  define MMSB_IMPL_DEVICE_PASS 1
#else
// Internal: 1 while nvcc compiles the device side of a translation unit (__CUDA_ARCH__), else 0.
#  define MMSB_IMPL_DEVICE_PASS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define MMSB_FORCEINLINE inline __attribute__((always_inline))
#  define MMSB_LIKELY(x) __builtin_expect(!!(x), 1)
#  define MMSB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
// `inline` that also forces inlining where the compiler supports it (always_inline on GCC/Clang).
#  define MMSB_FORCEINLINE inline
// Branch hint: x (a condition) is expected true; __builtin_expect on GCC/Clang, else plain x.
#  define MMSB_LIKELY(x) (x)
// Branch hint: x (a condition) is expected false; __builtin_expect on GCC/Clang, else plain x.
#  define MMSB_UNLIKELY(x) (x)
#endif

// Contracts (MMSB_EXPECTS / MMSB_ASSERT) are on in debug builds and off under NDEBUG, unless the
// user forces them with MMSB_ENABLE_ASSERTIONS=0 or 1.
#if !defined(MMSB_ENABLE_ASSERTIONS)
#  if defined(NDEBUG)
#    define MMSB_ENABLE_ASSERTIONS 0
#  else
// 1 when MMSB_EXPECTS / MMSB_ASSERT are checked (the default without NDEBUG), 0 when compiled
// out; define it to 0 or 1 before including MMSB to override.
#    define MMSB_ENABLE_ASSERTIONS 1
#  endif
#endif
