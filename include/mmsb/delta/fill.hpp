// Initial page values. A page starts at its semiring's zero(), the identity of ⊕, so that the
// first accumulate to a slot gives the value a reader expects (min(+inf, 2.5) = 2.5 under
// min_plus, where a page of zero bytes would keep 0). Page tables hand out pages of zero bytes;
// fill_zero<Semiring> turns one into zero() slots, and is free when zero() is all zero bytes
// (plus_times, or_and over bits).
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cstddef>
#include <cstring>

namespace mmsb {

// Every slot of p becomes v.
template <layout Layout>
void fill(page<Layout>& p, typename Layout::value_type v) noexcept
{
  for (std::size_t i = 0; i < Layout::extent; ++i) p.set(i, v);
}

// True when v's object representation is all zero bytes (a fresh page already holds it).
template <class T>
[[nodiscard]] bool is_zero_bytes(const T& v) noexcept
{
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (const unsigned char c : b)
    if (c != 0) return false;
  return true;
}

// Every slot of p becomes semiring_traits<Semiring>::zero().
template <class Semiring, layout Layout>
void fill_zero(page<Layout>& p) noexcept
{
  const auto z = semiring_traits<Semiring>::zero();
  if (!is_zero_bytes(z)) fill(p, z);
}

// A page with every slot at the semiring's zero(), at epoch 0: where a page's value starts.
template <class Semiring, layout Layout>
[[nodiscard]] page<Layout> make_page(page_id id)
{
  page<Layout> p(id);
  fill_zero<Semiring>(p);
  return p;
}

} // namespace mmsb
