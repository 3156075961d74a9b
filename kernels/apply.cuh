// Device kernels that apply deltas to device-resident pages. Every element goes through
// mmsb::apply_element, the same MMSB_HD law the CPU paths use, so results match bit for bit.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/exec/cuda/apply.hpp>

#include <cuda_runtime.h>

#include <string>

namespace mmsb::gpu::kernels {

// Grid-stride over elements; each thread reads its mask and assign bits from the word arrays.
template <class Semiring>
__global__ void apply_dense(semiring_value_t<Semiring>* __restrict__ state, const word_t* __restrict__ mask,
                            const word_t* __restrict__ assign, const semiring_value_t<Semiring>* __restrict__ payload,
                            std::size_t n)
{
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    if (test_bit(mask, i)) state[i] = apply_element<Semiring>(state[i], test_bit(assign, i), payload[i]);
  }
}

} // namespace mmsb::gpu::kernels

namespace mmsb::gpu {

template <semiring Semiring>
void apply_dense(semiring_value_t<Semiring>* state, const word_t* mask, const word_t* assign,
                 const semiring_value_t<Semiring>* payload, std::size_t n, cudaStream_t stream)
{
  if (n == 0) return;
  constexpr unsigned block = 256;
  const std::size_t want = (n + block - 1) / block;
  const unsigned grid = static_cast<unsigned>(want < 65535 ? want : 65535);
  kernels::apply_dense<Semiring><<<grid, block, 0, stream>>>(state, mask, assign, payload, n);
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess)
    throw error(errc::device_error, std::string("apply_dense launch over ") + std::to_string(n) +
                                      " elements failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

} // namespace mmsb::gpu
