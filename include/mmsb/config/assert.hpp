// Contract checks usable in host and device code: MMSB_EXPECTS (preconditions) and MMSB_ASSERT
// (internal invariants). Compiled out when MMSB_ENABLE_ASSERTIONS is 0 (the default under NDEBUG).
// A contract failure is a programming error, not bad input: bad input gets mmsb::error instead.
#pragma once

#include <mmsb/config/macros.hpp>

#if MMSB_ENABLE_ASSERTIONS
#  if defined(__CUDACC__)
#    include <cstdio>
#  else
#    include <cstdio>
#    include <cstdlib>
#  endif
#endif

namespace mmsb::detail {

#if MMSB_ENABLE_ASSERTIONS
[[noreturn]] MMSB_HD inline void contract_failed(const char* kind, const char* expr, const char* file,
                                                 int line) noexcept
{
#  if MMSB_IMPL_DEVICE_PASS
  printf("mmsb: %s failed: %s at %s:%d (block %d, thread %d)\n", kind, expr, file, line,
         static_cast<int>(blockIdx.x), static_cast<int>(threadIdx.x));
  __trap();
#  else
  std::fprintf(stderr, "mmsb: %s failed: %s at %s:%d\n", kind, expr, file, line);
  std::fflush(stderr);
  std::abort();
#  endif
}
#endif

} // namespace mmsb::detail

#if MMSB_ENABLE_ASSERTIONS
#  define MMSB_IMPL_CONTRACT(kind, ...)                                                            \
    (MMSB_LIKELY(static_cast<bool>(__VA_ARGS__))                                                   \
       ? static_cast<void>(0)                                                                      \
       : ::mmsb::detail::contract_failed(kind, #__VA_ARGS__, __FILE__, __LINE__))
#else
// Unevaluated, so the expression still has to compile but costs nothing.
#  define MMSB_IMPL_CONTRACT(kind, ...) static_cast<void>(sizeof(static_cast<bool>(__VA_ARGS__)))
#endif

// Checks a precondition (a caller's obligation); on failure prints "mmsb: precondition failed:
// EXPR at FILE:LINE" and aborts (traps on device). Off when MMSB_ENABLE_ASSERTIONS is 0.
#define MMSB_EXPECTS(...) MMSB_IMPL_CONTRACT("precondition", __VA_ARGS__)
// Checks an internal invariant; on failure prints "mmsb: assertion failed: EXPR at FILE:LINE"
// and aborts (traps on device). Off when MMSB_ENABLE_ASSERTIONS is 0.
#define MMSB_ASSERT(...) MMSB_IMPL_CONTRACT("assertion", __VA_ARGS__)
