// apply(page, delta): state ⊕ delta → state'. The path is chosen once per call: the word-parallel
// path for packed booleans, the SIMD kernels for built-in semirings over float/double/int32/int64,
// and the generic scalar path (any semiring) otherwise. All paths give the same bits.
#pragma once

#include <mmsb/config/config.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/delta/dense_delta.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/delta/simd.hpp>
#include <mmsb/delta/sparse_delta.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <concepts>
#include <string>

namespace mmsb {

namespace detail {

// The generic path: visits set mask bits only, so sparse masks cost little.
template <class Semiring, class Layout>
MMSB_HD constexpr void apply_dense_generic(typename Layout::storage_type& x, const word_t* mask, const word_t* assign,
                                           const typename Layout::storage_type& v) noexcept
{
  for (std::size_t w = 0; w < words_for(Layout::extent); ++w) {
    for (word_t bits = mask[w]; bits != 0; bits &= bits - 1) {
      const std::size_t i = w * word_bits + static_cast<std::size_t>(countr_zero(bits));
      Layout::store(x, i, apply_element<Semiring>(Layout::load(x, i), test_bit(assign, i), Layout::load(v, i)));
    }
  }
}

// Packed booleans under a bitwise semiring: 64 slots per word operation.
//   r = assign ? v : x | v;   x' = mask ? r : x
MMSB_HD constexpr void apply_words_or(word_t* x, const word_t* mask, const word_t* assign, const word_t* v,
                                      std::size_t words) noexcept
{
  for (std::size_t w = 0; w < words; ++w) {
    const word_t r = (assign[w] & v[w]) | (~assign[w] & (x[w] | v[w]));
    x[w] = (mask[w] & r) | (~mask[w] & x[w]);
  }
}

// The same for merge(a, b) into a: a.v = b.mask ? (b.assign | ~a.mask ? b.v : a.v | b.v) : a.v.
MMSB_HD constexpr void merge_words_or(word_t* av, const word_t* amask, const word_t* bv, const word_t* bmask,
                                      const word_t* bassign, std::size_t words) noexcept
{
  for (std::size_t w = 0; w < words; ++w) {
    const word_t fromb = ((bassign[w] | ~amask[w]) & bv[w]) | (~bassign[w] & amask[w] & (av[w] | bv[w]));
    av[w] = (bmask[w] & fromb) | (~bmask[w] & av[w]);
  }
}

// A layout whose slots are one contiguous array in slot order, reachable through data(): the
// only layouts the fast paths may treat as flat memory. (Custom layouts without data() take the
// generic path whatever kind they report.)
template <class Layout, class Element>
concept contiguous_as = requires(typename Layout::storage_type& s) {
  { Layout::data(s) } -> std::same_as<Element*>;
};

template <class Semiring, class Layout>
inline constexpr bool use_word_path_v = Layout::kind == layout_kind::bits && contiguous_as<Layout, word_t> &&
                                        bitwise_v<Semiring> && builtin_add_v<Semiring> == builtin_add::logical_or;

template <class Semiring, class Layout>
inline constexpr bool use_simd_path_v =
  MMSB_ENABLE_SIMD && Layout::kind != layout_kind::bits && contiguous_as<Layout, typename Layout::value_type> &&
  simd::supported_v<typename Layout::value_type> &&
  (builtin_add_v<Semiring> == builtin_add::plus || builtin_add_v<Semiring> == builtin_add::min ||
   builtin_add_v<Semiring> == builtin_add::max);

template <class Delta>
void check_target(page_id page, const Delta& d)
{
  if (d.target() != page)
    throw error(errc::invalid_argument, "delta for page " + std::to_string(d.target().value()) +
                                          " applied to page " + std::to_string(page.value()));
}

} // namespace detail

// Applies d to raw storage with no target check. Never throws.
template <class Semiring, class Layout>
void apply_to(typename Layout::storage_type& x, const dense_delta<Semiring, Layout>& d) noexcept
{
  if constexpr (detail::use_word_path_v<Semiring, Layout>) {
#if MMSB_ENABLE_SIMD
    simd::apply_or_words(Layout::data(x), d.mask_words(), d.assign_words(), Layout::data(d.payload()), Layout::words);
#else
    detail::apply_words_or(Layout::data(x), d.mask_words(), d.assign_words(), Layout::data(d.payload()), Layout::words);
#endif
  } else if constexpr (detail::use_simd_path_v<Semiring, Layout>) {
#if MMSB_ENABLE_SIMD
    simd::apply_dense(detail::builtin_add_v<Semiring>, Layout::data(x), d.mask_words(), d.assign_words(),
                      Layout::data(d.payload()), Layout::extent);
#endif
  } else {
    detail::apply_dense_generic<Semiring, Layout>(x, d.mask_words(), d.assign_words(), d.payload());
  }
}

// Applies d to raw storage with no target check. Never throws; device-callable.
template <class Semiring, class Layout>
MMSB_HD constexpr void apply_to(typename Layout::storage_type& x, const sparse_delta<Semiring, Layout>& d) noexcept
{
  for (const auto& e : d.entries())
    Layout::store(x, e.index, apply_element<Semiring>(Layout::load(x, e.index), e.op == delta_op::assign, e.value));
}

// Applies d to p. Throws mmsb::error (invalid_argument) if d targets another page, leaving p as
// it was. The page's epoch is not changed: committing a transaction does that.
template <class Semiring, class Layout>
void apply(page<Layout>& p, const dense_delta<Semiring, Layout>& d)
{
  detail::check_target(p.id(), d);
  apply_to(p.storage(), d);
}

// Applies d to p. Throws mmsb::error (invalid_argument) if d targets another page, leaving p as
// it was. The page's epoch is not changed.
template <class Semiring, class Layout>
void apply(page<Layout>& p, const sparse_delta<Semiring, Layout>& d)
{
  detail::check_target(p.id(), d);
  apply_to(p.storage(), d);
}

} // namespace mmsb
