// Host launchers of the batch kernels in kernels/batch.cuh: apply one device batch to the
// resident pages in ONE launch, and merge per page the dense records of a batch. The stock
// semiring x layout combinations are instantiated in the mmsb_cuda library (kernels/batch.cu);
// a custom semiring includes kernels/batch.cuh in its own .cu file and instantiates there with
// MMSB_GPU_INSTANTIATE_BATCH(Semiring, Layout).
#pragma once

#include <mmsb/exec/cuda/device_batch.hpp>
#include <mmsb/semiring/concept.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace mmsb::gpu {

// pages: the resident set (device memory); batch: a view of a batch buffer in device memory (or
// mapped pinned memory). Enqueues one kernel on `stream`; throws mmsb::error(device_error)
// naming the batch if the launch is refused. Asynchronous otherwise.
template <class Semiring, class Layout>
void apply_batch(typename Layout::storage_type* pages, const batch_view<Layout>& batch, cudaStream_t stream);

// For segment s (records [seg[s], seg[s + 1]) of `in`, in commit order) writes merge of those
// records to out record s. seg is a device array of segments + 1 offsets. One launch.
template <class Semiring, class Layout>
void merge_batch(const batch_view<Layout>& in, const std::uint32_t* seg, std::size_t segments,
                 dense_records<Layout> out, cudaStream_t stream);

} // namespace mmsb::gpu
