// Explicit instantiations of the persistent apply kernel for the stock combinations (as batch.cu).
#include "persistent.cuh"

#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <cstdint>

#define MMSB_IMPL_PERSISTENT_NUMERIC(T)                                                            \
  MMSB_GPU_INSTANTIATE_PERSISTENT(mmsb::plus_times<T>, mmsb::dense<T, 1024>)                       \
  MMSB_GPU_INSTANTIATE_PERSISTENT(mmsb::min_plus<T>, mmsb::dense<T, 1024>)                         \
  MMSB_GPU_INSTANTIATE_PERSISTENT(mmsb::max_plus<T>, mmsb::dense<T, 1024>)                         \
  MMSB_GPU_INSTANTIATE_PERSISTENT(mmsb::max_min<T>, mmsb::dense<T, 1024>)

MMSB_IMPL_PERSISTENT_NUMERIC(float)
MMSB_IMPL_PERSISTENT_NUMERIC(double)
MMSB_IMPL_PERSISTENT_NUMERIC(std::int32_t)
MMSB_IMPL_PERSISTENT_NUMERIC(std::int64_t)
MMSB_GPU_INSTANTIATE_PERSISTENT(mmsb::or_and, mmsb::bits<32768>)
