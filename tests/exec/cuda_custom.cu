// A user's own .cu file: includes kernels/batch.cuh and instantiates the batch kernels for a
// semiring and layout the library never heard of. The test itself is cuda_custom_main.cpp.
#include "../../kernels/batch.cuh"
#include "cuda_custom_semiring.hpp"

MMSB_GPU_INSTANTIATE_BATCH(user::min_plus16, user::layout16)
