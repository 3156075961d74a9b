// Explicit instantiations of the apply kernels for the stock semirings.
#include "apply.cuh"

#include <mmsb/semiring/builtins.hpp>

#include <cstdint>

#define MMSB_IMPL_INSTANTIATE_APPLY(...)                                                           \
  template void mmsb::gpu::apply_dense<__VA_ARGS__>(                                               \
    mmsb::semiring_value_t<__VA_ARGS__>*, const mmsb::word_t*, const mmsb::word_t*,                \
    const mmsb::semiring_value_t<__VA_ARGS__>*, std::size_t, cudaStream_t);

#define MMSB_IMPL_INSTANTIATE_APPLY_NUMERIC(T)                                                     \
  MMSB_IMPL_INSTANTIATE_APPLY(mmsb::plus_times<T>)                                                 \
  MMSB_IMPL_INSTANTIATE_APPLY(mmsb::min_plus<T>)                                                   \
  MMSB_IMPL_INSTANTIATE_APPLY(mmsb::max_plus<T>)                                                   \
  MMSB_IMPL_INSTANTIATE_APPLY(mmsb::max_min<T>)

MMSB_IMPL_INSTANTIATE_APPLY_NUMERIC(float)
MMSB_IMPL_INSTANTIATE_APPLY_NUMERIC(double)
MMSB_IMPL_INSTANTIATE_APPLY_NUMERIC(std::int32_t)
MMSB_IMPL_INSTANTIATE_APPLY_NUMERIC(std::int64_t)
MMSB_IMPL_INSTANTIATE_APPLY(mmsb::or_and)
