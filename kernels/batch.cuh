// Device kernels for device batches (include/mmsb/exec/cuda/device_batch.hpp): apply one batch to
// the resident pages in one launch, and merge dense records per page. Every element goes through
// the MMSB_HD unit functions of device_batch.hpp, which call apply_element / merge_element, the
// law every CPU path uses, so results match the CPU bit for bit.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/exec/cuda/batch.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>

#include <cuda_runtime.h>

#include <string>

namespace mmsb::gpu::kernels {

inline constexpr unsigned batch_block = 256;

// Grid-stride over the batch's units (dense units, then sparse entries). For dense<float, 1024>
// a page is 256 units of 16 bytes: one block per page, coalesced.
template <class Semiring, class Layout>
__global__ void __launch_bounds__(batch_block) apply_batch(typename Layout::storage_type* __restrict__ pages,
                                                           const batch_view<Layout> b)
{
  const std::size_t n = batch_units(b);
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t u = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < n; u += stride)
    apply_batch_unit<Semiring, Layout>(pages, b, u);
}

template <class Semiring, class Layout>
__global__ void merge_batch(const batch_view<Layout> in, const std::uint32_t* __restrict__ seg, std::size_t segments,
                            dense_records<Layout> out)
{
  constexpr std::size_t words = batch_view<Layout>::words;
  const std::size_t n = segments * words;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t u = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < n; u += stride) {
    const std::size_t s = u / words;
    merge_segment_word<Semiring, Layout>(in, seg[s], seg[s + 1], out, s, u - s * words);
  }
}

[[nodiscard]] inline unsigned grid_for(std::size_t units) noexcept
{
  const std::size_t want = (units + batch_block - 1) / batch_block;
  constexpr std::size_t cap = std::size_t{1} << 20;  // grid-stride beyond this
  return static_cast<unsigned>(want < cap ? want : cap);
}

inline void check_launch(const char* what, std::size_t count)
{
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess)
    throw error(errc::device_error, std::string(what) + " launch over " + std::to_string(count) +
                                      " units failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

} // namespace mmsb::gpu::kernels

namespace mmsb::gpu {

template <class Semiring, class Layout>
void apply_batch(typename Layout::storage_type* pages, const batch_view<Layout>& batch, cudaStream_t stream)
{
  const std::size_t n = batch_units(batch);
  if (n == 0) return;
  kernels::apply_batch<Semiring, Layout><<<kernels::grid_for(n), kernels::batch_block, 0, stream>>>(pages, batch);
  kernels::check_launch("apply_batch", n);
}

template <class Semiring, class Layout>
void merge_batch(const batch_view<Layout>& in, const std::uint32_t* seg, std::size_t segments,
                 dense_records<Layout> out, cudaStream_t stream)
{
  const std::size_t n = segments * batch_view<Layout>::words;
  if (n == 0) return;
  kernels::merge_batch<Semiring, Layout><<<kernels::grid_for(n), kernels::batch_block, 0, stream>>>(in, seg, segments, out);
  kernels::check_launch("merge_batch", n);
}

} // namespace mmsb::gpu

// Explicit instantiation of both launchers for one semiring x layout (use at namespace scope in a
// .cu file that includes this header).
#define MMSB_GPU_INSTANTIATE_BATCH(SEMIRING, ...)                                                  \
  template void mmsb::gpu::apply_batch<SEMIRING, __VA_ARGS__>(                                     \
    typename __VA_ARGS__::storage_type*, const mmsb::gpu::batch_view<__VA_ARGS__>&, cudaStream_t); \
  template void mmsb::gpu::merge_batch<SEMIRING, __VA_ARGS__>(                                     \
    const mmsb::gpu::batch_view<__VA_ARGS__>&, const std::uint32_t*, std::size_t,                  \
    mmsb::gpu::dense_records<__VA_ARGS__>, cudaStream_t);
