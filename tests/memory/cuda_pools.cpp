// The CUDA memory policies. Without a GPU: the pool's limit refusal (checked before any CUDA
// call) still runs, then "SKIP: <reason>" and exit 77. With one: size classes and reuse (hits,
// misses, reserved vs in use), slabs instead of one cudaMalloc per page, refusals that name the
// size and leave the pool as it was, pinned staging, and managed memory refusing more than the
// device has free.
#include <mmsb/cuda.hpp>

#include <cuda_runtime.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {
int failures = 0;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      ++failures;                                                                                  \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
      std::printf(__VA_ARGS__);                                                                    \
      std::printf("\n");                                                                           \
    }                                                                                              \
  } while (0)

bool names(const mmsb::error& e, const std::string& what) { return std::string(e.what()).find(what) != std::string::npos; }
} // namespace

int main()
{
  {  // a limit refusal happens before any CUDA call: runs everywhere
    mmsb::cuda_device_pool pool(nullptr, 1);
    bool refused = false;
    try {
      (void)pool.allocate(4096);
    } catch (const mmsb::error& e) {
      refused = e.code() == mmsb::errc::out_of_memory && names(e, "4096");
    }
    const auto s = pool.pool_stats();
    CHECK(refused && s.base.reserved_bytes == 0 && s.base.live_blocks == 0 && s.base.failures == 1,
          "limit refusal must name the size and leave the pool empty");
  }
  const auto probe = mmsb::gpu::probe_devices();
  if (!probe.available) {
    std::printf("SKIP: no usable CUDA device (%s); the pool's limit refusal passed, the rest needs a GPU\n", probe.reason.c_str());
    return failures ? 1 : 77;
  }
  {
    mmsb::cuda_device_pool pool;
    std::vector<void*> pages;
    for (int k = 0; k < 1000; ++k) pages.push_back(pool.allocate(4096));
    auto s = pool.pool_stats();
    CHECK(s.misses <= 2 && s.base.reserved_bytes == 4u << 20 && s.base.live_bytes == 1000u * 4096,
          "1000 pages: %llu misses, %llu reserved", static_cast<unsigned long long>(s.misses),
          static_cast<unsigned long long>(s.base.reserved_bytes));
    CHECK(cudaMemset(pages[999], 1, 4096) == cudaSuccess, "a pooled page is device memory");
    for (auto* p : pages) pool.deallocate(p, 4096);
    const auto hits_before = s.hits;
    for (int k = 0; k < 1000; ++k) pages[static_cast<std::size_t>(k)] = pool.allocate(4000);
    s = pool.pool_stats();
    CHECK(s.hits - hits_before == 1000 && s.misses <= 2 && s.base.reserved_bytes == 4u << 20, "reuse: %llu hits", static_cast<unsigned long long>(s.hits - hits_before));
    void* big = pool.allocate(std::size_t{100} << 20);  // past the largest class: a dedicated block
    const auto reserved = pool.pool_stats().base.reserved_bytes;
    pool.deallocate(big, std::size_t{100} << 20);
    CHECK(pool.pool_stats().base.reserved_bytes == reserved - (std::size_t{100} << 20), "dedicated blocks go back");
    const auto before = pool.pool_stats();
    bool refused = false;
    try {
      (void)pool.allocate(std::size_t{1} << 50);  // 1 PiB
    } catch (const mmsb::error& e) {
      refused = e.code() == mmsb::errc::out_of_memory && names(e, std::to_string(std::size_t{1} << 50));
      std::printf("refusal: %s\n", e.what());
    }
    const auto after = pool.pool_stats();
    CHECK(refused && after.base.reserved_bytes == before.base.reserved_bytes && after.base.live_blocks == before.base.live_blocks,
          "a device refusal names the size and leaves the pool unchanged");
    for (auto* p : pages) pool.deallocate(p, 4000);
    std::printf("device pool: 1000 pages from 2 MiB slabs, %llu hits, %llu misses, %llu bytes reserved\n",
                static_cast<unsigned long long>(after.hits), static_cast<unsigned long long>(after.misses),
                static_cast<unsigned long long>(after.base.reserved_bytes));
  }
  {
    mmsb::cuda_pinned pinned;
    auto* p = static_cast<unsigned char*>(pinned.allocate(1 << 20));
    p[0] = 7;  // the host touches it
    void* d = nullptr;
    cudaMalloc(&d, 1 << 20);
    CHECK(cudaMemcpyAsync(d, p, 1 << 20, cudaMemcpyHostToDevice, nullptr) == cudaSuccess, "pinned upload");
    cudaDeviceSynchronize();
    cudaFree(d);
    pinned.deallocate(p, 1 << 20);
    CHECK(pinned.stats().live_bytes == 0 && pinned.stats().allocations == 1, "pinned stats");
  }
  {
    mmsb::cuda_managed managed;
    std::size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    bool refused = false;
    try {
      (void)managed.allocate(free_bytes + (std::size_t{1} << 30));
    } catch (const mmsb::error& e) {
      refused = e.code() == mmsb::errc::out_of_memory && names(e, std::to_string(free_bytes + (std::size_t{1} << 30)));
      std::printf("managed refusal: %s\n", e.what());
    }
    CHECK(refused && managed.stats().live_blocks == 0, "managed memory past the free size is refused up front");
    auto* m = static_cast<float*>(managed.allocate(1 << 20));
    m[0] = 1.5f;
    managed.prefetch_to_device(m, 1 << 20);
    managed.prefetch_to_host(m, 1 << 20);
    CHECK(cudaDeviceSynchronize() == cudaSuccess && m[0] == 1.5f, "managed memory with prefetch hints");
    managed.deallocate(m, 1 << 20);
  }
  std::printf("%s\n", failures ? "FAIL" : "PASS: CUDA memory policies");
  return failures ? 1 : 0;
}
