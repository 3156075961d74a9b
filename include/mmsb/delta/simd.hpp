// The SIMD (Google Highway) kernels behind apply and merge for the built-in semirings over
// float, double, int32 and int64 slots, and for or over packed booleans. They are compiled once into the mmsb_simd library with
// Highway's dynamic dispatch: the best target for this CPU (AVX-512, AVX2, SSE4, ...) is picked
// once per call, never per element. Results equal the scalar path bit for bit (tested).
// Used automatically by mmsb::apply and mmsb::merge when MMSB_ENABLE_SIMD is 1.
#pragma once

#include <mmsb/config/config.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace mmsb::simd {

// Slot types with SIMD kernels.
template <class T>
inline constexpr bool supported_v = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                    std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>;

#if MMSB_ENABLE_SIMD
// x[i] = assign[i] ? v[i] : x[i] ⊕ v[i] where mask[i]; n slots, masks hold words_for(n) words.
// op must not be builtin_add::none or logical_or.
template <class T>
void apply_dense(detail::builtin_add op, T* x, const word_t* mask, const word_t* assign, const T* v,
                 std::size_t n) noexcept;

// The payload of merge(a, b): out[i] = b masked ? (b assign or a unmasked ? bv : av ⊕ bv) : av.
// out may alias av. Mask and assign words of the result are the caller's (a | b).
template <class T>
void merge_dense_values(detail::builtin_add op, T* out, const T* av, const word_t* amask, const T* bv,
                        const word_t* bmask, const word_t* bassign, std::size_t n) noexcept;

// Packed booleans under or (bits<N> with or_and), one u64 word = 64 slots:
//   x = mask ? (assign ? v : x | v) : x,  and the payload of merge(a, b) into av.
void apply_or_words(word_t* x, const word_t* mask, const word_t* assign, const word_t* v, std::size_t words) noexcept;
// The payload of merge(a, b) for packed booleans under or, into av; the result's mask and assign
// words are the caller's (a | b).
void merge_or_words(word_t* av, const word_t* amask, const word_t* bv, const word_t* bmask, const word_t* bassign,
                    std::size_t words) noexcept;

// @cond
#define MMSB_IMPL_SIMD_DECLARE(T)                                                                  \
  template <>                                                                                      \
  void apply_dense<T>(detail::builtin_add, T*, const word_t*, const word_t*, const T*, std::size_t) noexcept; \
  template <>                                                                                      \
  void merge_dense_values<T>(detail::builtin_add, T*, const T*, const word_t*, const T*, const word_t*, \
                             const word_t*, std::size_t) noexcept;
// Defined in the mmsb_simd library (src/simd_kernels.cpp).
MMSB_IMPL_SIMD_DECLARE(float)
MMSB_IMPL_SIMD_DECLARE(double)
MMSB_IMPL_SIMD_DECLARE(std::int32_t)
MMSB_IMPL_SIMD_DECLARE(std::int64_t)
#undef MMSB_IMPL_SIMD_DECLARE

// @endcond
// The Highway target the dispatcher picks on this CPU, e.g. "AVX3" (AVX-512).
const char* target_name() noexcept;

// For tests: every compiled target this CPU supports, and a way to force one (0 = undo).
std::vector<std::int64_t> available_targets();
// The name of a given Highway target (as available_targets() lists them).
const char* target_name(std::int64_t target) noexcept;
// Makes the dispatcher use the given target from now on (0 = back to the best for this CPU).
// Not thread-safe against concurrent kernel calls; for tests only.
void force_target(std::int64_t target) noexcept;
#endif

} // namespace mmsb::simd
