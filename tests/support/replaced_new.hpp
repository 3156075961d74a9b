// Replaces the global operator new/new[] and delete/delete[] of a test program, every form
// together (a sanitizer must never see memory from one allocator freed by another), with malloc,
// aligned_alloc and free, and calls a hook before each allocation, on any thread. Include it in
// exactly one .cpp of the program (the replacements are definitions).
//   allocations_of(f) counts what f allocates (tests/bus/tick_alloc.cpp, tests/dist/wire.cpp);
//   tests/log/alloc_failure.cpp fails the Nth.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace mmsb::test {

// Called with the size before every allocation through global operator new (any form, any
// thread). Returning false fails that allocation: the throwing forms throw std::bad_alloc, the
// nothrow forms return null. Null (the default): every allocation goes through.
using allocation_hook_fn = bool (*)(std::size_t bytes) noexcept;
inline std::atomic<allocation_hook_fn> allocation_hook{nullptr};

namespace detail {
// align 0: the plain forms (malloc); otherwise the std::align_val_t forms.
inline void* replaced_allocate(std::size_t n, std::size_t align) noexcept
{
  if (const auto hook = allocation_hook.load(std::memory_order_relaxed); hook != nullptr && !hook(n)) return nullptr;
  if (align == 0) return std::malloc(n ? n : 1);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
inline void* replaced_allocate_or_throw(std::size_t n, std::size_t align)
{
  if (void* p = replaced_allocate(n, align)) return p;
  throw std::bad_alloc();
}
inline std::atomic<std::size_t> counted{0};
inline bool count_allocation(std::size_t) noexcept
{
  counted.fetch_add(1, std::memory_order_relaxed);
  return true;
}
} // namespace detail

// The allocations through global operator new (any form, any thread) while f runs. Sets and
// then clears allocation_hook (on a throw too), which must be null when it is called.
template <class F>
std::size_t allocations_of(F&& f)
{
  struct unhook {
    ~unhook() { allocation_hook.store(nullptr); }  // on a throw from f too
  };
  detail::counted.store(0);
  allocation_hook.store(&detail::count_allocation);
  {
    const unhook u;
    f();
  }
  return detail::counted.load();
}
} // namespace mmsb::test

void* operator new(std::size_t n) { return mmsb::test::detail::replaced_allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return mmsb::test::detail::replaced_allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a)
{
  return mmsb::test::detail::replaced_allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a)
{
  return mmsb::test::detail::replaced_allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return mmsb::test::detail::replaced_allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return mmsb::test::detail::replaced_allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
  return mmsb::test::detail::replaced_allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
  return mmsb::test::detail::replaced_allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
