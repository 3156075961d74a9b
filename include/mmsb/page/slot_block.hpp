// The storage blocks of the built-in layouts: K values aligned to page_alignment, with no padding.
// A page's state hash and its checkpoint record cover every byte of its storage_type, so a padding
// byte, whose value C++ leaves indeterminate (clang does not zero it; GCC happened to), would make
// equal states hash and checkpoint differently. The bytes up to the next multiple of
// page_alignment are therefore an explicit member, zeroed on construction and never written.
// A custom layout's storage_type must have no padding either (docs/pages.md).
#pragma once

#include <mmsb/core/alignment.hpp>

#include <cstddef>

namespace mmsb::detail {

// The bytes after K values of T up to the next multiple of page_alignment.
template <class T, std::size_t K>
inline constexpr std::size_t tail_bytes = round_up(K * sizeof(T), page_alignment) - K * sizeof(T);

// K values of T (member `values`), then the zeroed tail.
template <class T, std::size_t K, std::size_t Tail = tail_bytes<T, K>>
struct alignas(page_alignment) value_block {
  T values[K];
  std::byte zero_tail[Tail]{};  // explicit, zeroed: no indeterminate padding
};
template <class T, std::size_t K>
struct alignas(page_alignment) value_block<T, K, 0> {
  T values[K];
};

// The same for bit-packed pages: K words (member `words`), then the zeroed tail.
template <class Word, std::size_t K, std::size_t Tail = tail_bytes<Word, K>>
struct alignas(page_alignment) word_block {
  Word words[K];
  std::byte zero_tail[Tail]{};  // explicit, zeroed: no indeterminate padding
};
template <class Word, std::size_t K>
struct alignas(page_alignment) word_block<Word, K, 0> {
  Word words[K];
};

} // namespace mmsb::detail
