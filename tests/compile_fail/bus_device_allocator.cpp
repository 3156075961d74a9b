// expect: mmsb: basic_bus<S, L, Allocator, ...>: this bus runs on the host, and Allocator hands out device memory
// A host bus over device memory would dereference device pointers on the host: refused at compile
// time. The real cuda_device_pool when the CUDA headers are here, else an allocator of the same
// memory space (the check reads only Allocator::space).
#include <mmsb/bus/bus.hpp>

#if __has_include(<cuda_runtime_api.h>)
#include <mmsb/memory/cuda/device_pool.hpp>
using device_allocator = mmsb::cuda_device_pool;
#else
struct device_allocator {
  static constexpr mmsb::memory_space space = mmsb::memory_space::device;
  void* allocate(std::size_t) { return nullptr; }
  void deallocate(void*, std::size_t) noexcept {}
  mmsb::allocator_stats stats() const noexcept { return {}; }
};
#endif

#ifdef MMSB_COMPILE_FAIL
using alloc = device_allocator;
#else
using alloc = mmsb::host_heap;
#endif

int main()
{
  return sizeof(mmsb::basic_bus<mmsb::plus_times<int>, mmsb::dense<int, 16>, alloc>) > 0 ? 0 : 1;
}
