// merge(a, b): one delta with the effect of a then b, so that for every state s
//   apply(apply(s, a), b) == apply(s, merge(a, b))
// bit for bit whenever ⊕ is exactly associative (exact_add_v), and up to rounding for + over
// floating point. Both deltas must target the same page.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/delta/apply.hpp>
#include <mmsb/delta/dense_delta.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/delta/simd.hpp>
#include <mmsb/delta/sparse_delta.hpp>

#include <string>

namespace mmsb {

namespace detail {
template <class A, class B>
void check_same_target(const A& a, const B& b)
{
  if (a.target() != b.target())
    throw error(errc::invalid_argument, "cannot merge a delta for page " + std::to_string(a.target().value()) +
                                          " with one for page " + std::to_string(b.target().value()));
}
} // namespace detail

// dense ∘ dense, in place: a becomes merge(a, b). Never throws (targets are the caller's check).
template <class Semiring, class Layout>
void merge_into(dense_delta<Semiring, Layout>& a, const dense_delta<Semiring, Layout>& b) noexcept
{
  constexpr std::size_t words = dense_delta<Semiring, Layout>::words;
  if constexpr (detail::use_word_path_v<Semiring, Layout>) {
#if MMSB_ENABLE_SIMD
    simd::merge_or_words(Layout::data(a.payload()), a.mask_words(), Layout::data(b.payload()), b.mask_words(),
                         b.assign_words(), words);
#else
    detail::merge_words_or(Layout::data(a.payload()), a.mask_words(), Layout::data(b.payload()), b.mask_words(),
                           b.assign_words(), words);
#endif
  } else if constexpr (detail::use_simd_path_v<Semiring, Layout>) {
#if MMSB_ENABLE_SIMD
    simd::merge_dense_values(detail::builtin_add_v<Semiring>, Layout::data(a.payload()), Layout::data(a.payload()),
                             a.mask_words(), Layout::data(b.payload()), b.mask_words(), b.assign_words(), Layout::extent);
#endif
  } else {
    for (std::size_t w = 0; w < words; ++w) {
      for (word_t bits = b.mask_words()[w]; bits != 0; bits &= bits - 1) {
        const std::size_t i = w * word_bits + static_cast<std::size_t>(countr_zero(bits));
        const delta_element<typename Layout::value_type> e{test_bit(b.assign_words(), i), Layout::load(b.payload(), i)};
        Layout::store(a.payload(), i,
                      test_bit(a.mask_words(), i)
                        ? merge_element<Semiring>({test_bit(a.assign_words(), i), Layout::load(a.payload(), i)}, e).value
                        : e.value);
      }
    }
  }
  for (std::size_t w = 0; w < words; ++w) {
    // assign' = b.assign | (a.assign & ~b.mask) | (a.assign & b.mask) = a.assign | b.assign
    a.assign_words()[w] |= b.assign_words()[w];
    a.mask_words()[w] |= b.mask_words()[w];
  }
}

// dense ∘ dense: a new dense delta. Throws mmsb::error (invalid_argument) naming both pages if
// they target different pages.
template <class Semiring, class Layout>
[[nodiscard]] dense_delta<Semiring, Layout> merge(const dense_delta<Semiring, Layout>& a,
                                                  const dense_delta<Semiring, Layout>& b)
{
  detail::check_same_target(a, b);
  dense_delta<Semiring, Layout> out = a;
  merge_into(out, b);
  return out;
}

// sparse ∘ sparse: a merge-join of the two sorted entry lists.
template <class Semiring, class Layout>
[[nodiscard]] sparse_delta<Semiring, Layout> merge(const sparse_delta<Semiring, Layout>& a,
                                                   const sparse_delta<Semiring, Layout>& b)
{
  detail::check_same_target(a, b);
  sparse_delta<Semiring, Layout> out(a.target());
  out.reserve(a.count() + b.count());
  const auto ea = a.entries(), eb = b.entries();
  std::size_t i = 0, j = 0;
  while (i < ea.size() || j < eb.size()) {
    if (j == eb.size() || (i < ea.size() && ea[i].index < eb[j].index)) {
      out.push_back(ea[i].index, ea[i].op, ea[i].value);
      ++i;
    } else if (i == ea.size() || eb[j].index < ea[i].index) {
      out.push_back(eb[j].index, eb[j].op, eb[j].value);
      ++j;
    } else {
      const auto m = merge_element<Semiring>({ea[i].op == delta_op::assign, ea[i].value},
                                             {eb[j].op == delta_op::assign, eb[j].value});
      out.push_back(ea[i].index, m.assign ? delta_op::assign : delta_op::accumulate, m.value);
      ++i;
      ++j;
    }
  }
  return out;
}

} // namespace mmsb
