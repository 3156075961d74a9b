// Explicit instantiations of the batch kernels for the stock semiring x layout combinations:
// plus_times, min_plus, max_plus, max_min over float, double, int32, int64 in dense<T, 1024>
// pages (4 KiB for 4-byte slots), and or_and over bits<32768> (4 KiB of packed booleans).
#include "batch.cuh"

#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <cstdint>

#define MMSB_IMPL_BATCH_NUMERIC(T)                                                                 \
  MMSB_GPU_INSTANTIATE_BATCH(mmsb::plus_times<T>, mmsb::dense<T, 1024>)                            \
  MMSB_GPU_INSTANTIATE_BATCH(mmsb::min_plus<T>, mmsb::dense<T, 1024>)                              \
  MMSB_GPU_INSTANTIATE_BATCH(mmsb::max_plus<T>, mmsb::dense<T, 1024>)                              \
  MMSB_GPU_INSTANTIATE_BATCH(mmsb::max_min<T>, mmsb::dense<T, 1024>)

MMSB_IMPL_BATCH_NUMERIC(float)
MMSB_IMPL_BATCH_NUMERIC(double)
MMSB_IMPL_BATCH_NUMERIC(std::int32_t)
MMSB_IMPL_BATCH_NUMERIC(std::int64_t)
MMSB_GPU_INSTANTIATE_BATCH(mmsb::or_and, mmsb::bits<32768>)
