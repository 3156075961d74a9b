// Host launchers for the apply kernels in kernels/apply.cuh. The stock semirings are
// instantiated in the compiled mmsb_cuda library; a custom semiring includes kernels/apply.cuh
// in its own .cu file and instantiates apply_dense there.
#pragma once

#include <mmsb/core/bits.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>

namespace mmsb::gpu {

// Applies a dense delta to n device-resident elements, in stream order:
//   for each i with mask bit i set: state[i] = assign bit i ? payload[i] : state[i] ⊕ payload[i]
// All pointers are device pointers; mask and assign hold words_for(n) words. Throws
// mmsb::error(errc::device_error) if the launch fails; the launch is asynchronous otherwise.
template <semiring Semiring>
void apply_dense(semiring_value_t<Semiring>* state, const word_t* mask, const word_t* assign,
                 const semiring_value_t<Semiring>* payload, std::size_t n, cudaStream_t stream = nullptr);

} // namespace mmsb::gpu
