// The persistent apply kernel (include/mmsb/exec/cuda/persistent.hpp): polls a command ring in
// mapped pinned memory and applies each batch with the same unit functions as apply_batch.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>
#include <mmsb/exec/cuda/persistent.hpp>

#include <cuda/atomic>
#include <cuda_runtime.h>

#include <string>

namespace mmsb::gpu::kernels {

inline constexpr unsigned persistent_block = 256;

template <class Semiring, class Layout>
__global__ void __launch_bounds__(persistent_block)
persistent_apply(typename Layout::storage_type* __restrict__ pages, command_ring<Layout>* ring,
                 persistent_state<Layout>* state)
{
  __shared__ persistent_command<Layout> cmd;
  ::cuda::atomic_ref<std::uint64_t, ::cuda::thread_scope_system> head(ring->head);
  ::cuda::atomic_ref<std::uint64_t, ::cuda::thread_scope_system> done(ring->done);
  ::cuda::atomic_ref<unsigned long long, ::cuda::thread_scope_device> fin(state->finished);
  ::cuda::atomic_ref<unsigned long long, ::cuda::thread_scope_device> go(state->go);
  for (std::uint64_t c = 1;; ++c) {
    const std::size_t slot = (c - 1) % command_ring_slots;
    if (threadIdx.x == 0) {
      if (blockIdx.x == 0) {
        while (head.load(::cuda::std::memory_order_acquire) < c) __nanosleep(32);
        // Command c - 1 must be finished by every block before anyone starts c (same pages).
        while (fin.load(::cuda::std::memory_order_acquire) < (c - 1) * gridDim.x) {}
        state->cmd[slot] = ring->slot[slot];
        go.store(c, ::cuda::std::memory_order_release);
      } else {
        while (go.load(::cuda::std::memory_order_acquire) < c) {}
      }
      cmd = state->cmd[slot];
    }
    __syncthreads();
    if (cmd.stop) return;
    const std::size_t n = batch_units(cmd.batch);
    const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t u = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < n; u += stride)
      apply_batch_unit<Semiring, Layout>(pages, cmd.batch, u);
    __syncthreads();
    if (threadIdx.x == 0) {
      // Release: this block's page writes happen before its count (and, for the last block, before
      // `done`, which the host reads with acquire at system scope).
      const unsigned long long prev = fin.fetch_add(1, ::cuda::std::memory_order_acq_rel);
      if (prev + 1 == c * gridDim.x) done.store(c, ::cuda::std::memory_order_release);
    }
  }
}

} // namespace mmsb::gpu::kernels

namespace mmsb::gpu {

template <class Semiring, class Layout>
unsigned launch_persistent(typename Layout::storage_type* pages, command_ring<Layout>* ring,
                           persistent_state<Layout>* state, int blocks, cudaStream_t stream)
{
  const auto fail = [](cudaError_t err, const char* what) {
    (void)cudaGetLastError();
    throw error(errc::device_error, std::string("launch_persistent: ") + what + " failed: " + cudaGetErrorName(err) +
                                      ": " + cudaGetErrorString(err));
  };
  int device = 0, sms = 0, per_sm = 0, coop = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess) fail(e, "cudaGetDevice");
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device); e != cudaSuccess)
    fail(e, "cudaDeviceGetAttribute");
  if (cudaError_t e = cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device); e != cudaSuccess)
    fail(e, "cudaDeviceGetAttribute");
  auto* kernel = &kernels::persistent_apply<Semiring, Layout>;
  if (cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kernels::persistent_block, 0);
      e != cudaSuccess)
    fail(e, "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  const int fit = sms * per_sm;
  const int want = blocks > 0 ? blocks : sms;
  const unsigned grid = static_cast<unsigned>(want < fit ? want : fit);
  if (!coop || grid == 0)
    throw error(errc::unsupported, "launch_persistent: the device cannot guarantee co-resident blocks (no cooperative launch)");
  void* args[] = {&pages, &ring, &state};
  if (cudaError_t e = cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), dim3(grid),
                                                  dim3(kernels::persistent_block), args, 0, stream);
      e != cudaSuccess)
    fail(e, "cudaLaunchCooperativeKernel");
  return grid;
}

} // namespace mmsb::gpu

#define MMSB_GPU_INSTANTIATE_PERSISTENT(SEMIRING, ...)                                             \
  template unsigned mmsb::gpu::launch_persistent<SEMIRING, __VA_ARGS__>(                           \
    typename __VA_ARGS__::storage_type*, mmsb::gpu::command_ring<__VA_ARGS__>*, mmsb::gpu::persistent_state<__VA_ARGS__>*, int, cudaStream_t);
