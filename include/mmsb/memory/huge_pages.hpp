// Transparent huge pages for large host blocks. Where the kernel's THP mode is "always" or
// "madvise" (this VM's: /sys/kernel/mm/transparent_hugepage/enabled), a block of huge_page_bytes
// (2 MiB) or more is a mapping of its own, aligned to 2 MiB and advised MADV_HUGEPAGE, so that its
// whole 2 MiB stretches are backed by 2 MiB pages: one TLB entry where 4 KiB pages need 512.
// Random reads over a few 4 MiB pages (a wave's rows, a matrix's columns) then stop missing the
// TLB. Freeing it unmaps it, so its memory goes straight back to the system. Smaller blocks, and
// every block where THP is "never" or absent, off Linux, or under AddressSanitizer (which then
// sees each block), come from the heap as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MMSB_IMPL_HUGE_PAGES_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MMSB_IMPL_HUGE_PAGES_ASAN 1
#endif
#endif

namespace mmsb {

inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;  // x86-64's and arm64's (4 KiB granule) PMD page

namespace detail {

// Whether blocks from huge_page_bytes up get mappings of their own (see the top of this header).
// Read once per process.
[[nodiscard]] inline bool huge_pages_enabled() noexcept
{
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(MMSB_IMPL_HUGE_PAGES_ASAN)
  static const bool on = [] {
    std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return false;
    char line[128] = {};
    const bool read = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    return read && (std::strstr(line, "[always]") || std::strstr(line, "[madvise]"));
  }();
  return on;
#else
  return false;
#endif
}

// The length a huge-page block of `bytes` maps: rounded up to 4 KiB (mmap's granule; a larger
// one only rounds further, in the kernel).
[[nodiscard]] constexpr std::size_t mapped_length(std::size_t bytes) noexcept
{
  return (bytes + 4095) & ~std::size_t{4095};
}

// A 2 MiB-aligned mapping of mapped_length(bytes), advised for huge pages, or null if the system
// refuses. Only where huge_pages_enabled().
[[nodiscard]] inline void* map_huge_block(std::size_t bytes) noexcept
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes > std::numeric_limits<std::size_t>::max() - 2 * huge_page_bytes) return nullptr;
  const std::size_t len = mapped_length(bytes);
  const std::size_t over = len + huge_page_bytes;  // room to slide to a 2 MiB boundary
  void* m = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  const auto raw = reinterpret_cast<std::uintptr_t>(m);
  const auto at = (raw + huge_page_bytes - 1) & ~std::uintptr_t{huge_page_bytes - 1};
  if (at > raw) ::munmap(m, at - raw);
  if (raw + over > at + len) ::munmap(reinterpret_cast<void*>(at + len), raw + over - (at + len));
  (void)::madvise(reinterpret_cast<void*>(at), len, MADV_HUGEPAGE);  // a hint: declined, still a block
  return reinterpret_cast<void*>(at);
#else
  (void)bytes;
  return nullptr;
#endif
}

// Unmaps a block from map_huge_block(bytes).
inline void unmap_huge_block(void* p, std::size_t bytes) noexcept
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  ::munmap(p, mapped_length(bytes));
#else
  (void)p;
  (void)bytes;
#endif
}

// Whether a block of `bytes` is a huge-page mapping: the one rule new_block and delete_block share.
[[nodiscard]] inline bool is_huge_block(std::size_t bytes) noexcept
{
  return bytes >= huge_page_bytes && huge_pages_enabled();
}

// A block of `bytes`: a huge-page mapping where is_huge_block(bytes); else one plain heap request
// of bytes + alignment (a power of two, at least the heap's own alignment), aligned by hand, with
// the pointer to free in the 8 bytes before the block (a plain request, not the aligned operator
// new: see host_heap.hpp for why). Null if refused.
[[nodiscard]] inline void* new_block(std::size_t bytes, std::size_t alignment) noexcept
{
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= sizeof(void*));
  if (is_huge_block(bytes)) return map_huge_block(bytes);
  if (bytes > std::numeric_limits<std::size_t>::max() - alignment) return nullptr;
  void* raw = ::operator new(bytes + alignment, std::nothrow);
  if (!raw) return nullptr;
  // The heap aligns to at least 16: the block starts 16 to `alignment` bytes in, after the pointer.
  const auto at = (reinterpret_cast<std::uintptr_t>(raw) + sizeof(void*) + alignment - 1) & ~std::uintptr_t{alignment - 1};
  void* p = reinterpret_cast<void*>(at);
  static_cast<void**>(p)[-1] = raw;
  return p;
}

// Frees a block from new_block(bytes, ...). Null is a no-op.
inline void delete_block(void* p, std::size_t bytes) noexcept
{
  if (!p) return;
  if (is_huge_block(bytes)) unmap_huge_block(p, bytes);
  else ::operator delete(static_cast<void**>(p)[-1]);
}

} // namespace detail

// A standard allocator for large arrays (a wave's accumulator, a matrix's columns): an array of
// huge_page_bytes or more is a huge-page block (see the top of this header), a smaller one a heap
// block. Stateless; all instances are equal.
template <class T>
struct huge_page_allocator {
  using value_type = T;  // the element type

  huge_page_allocator() noexcept = default;
  // Rebinding: the allocator has no state to carry over.
  template <class U>
  constexpr huge_page_allocator(const huge_page_allocator<U>&) noexcept {}

  // Room for n elements, aligned to alignof(T) (to 2 MiB when it is a huge-page block). Throws
  // std::bad_array_new_length past the address space, std::bad_alloc when the system refuses.
  [[nodiscard]] T* allocate(std::size_t n)
  {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    void* p = detail::new_block(n * sizeof(T), alignment);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  // Frees p, which allocate(n) returned.
  void deallocate(T* p, std::size_t n) noexcept { detail::delete_block(p, n * sizeof(T)); }

  // Always equal: memory from one is freed by any other.
  template <class U>
  friend constexpr bool operator==(const huge_page_allocator&, const huge_page_allocator<U>&) noexcept { return true; }

private:
  static constexpr std::size_t alignment = alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__ ? alignof(T) : __STDCPP_DEFAULT_NEW_ALIGNMENT__;
};

} // namespace mmsb
