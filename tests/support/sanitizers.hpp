// MMSB_TEST_ASAN / MMSB_TEST_TSAN: 1 when the test is built with AddressSanitizer /
// ThreadSanitizer, under GCC (__SANITIZE_*__) or clang (__has_feature), else 0.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#  define MMSB_TEST_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define MMSB_TEST_ASAN 1
#  endif
#endif
#ifndef MMSB_TEST_ASAN
#  define MMSB_TEST_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#  define MMSB_TEST_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define MMSB_TEST_TSAN 1
#  endif
#endif
#ifndef MMSB_TEST_TSAN
#  define MMSB_TEST_TSAN 0
#endif
