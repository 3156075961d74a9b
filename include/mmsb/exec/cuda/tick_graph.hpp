// tick_graph: the steady-state tick (upload the staged batch, apply it) captured once as a CUDA
// graph and replayed with one cudaGraphLaunch per tick. A graph replays fixed parameters, so it
// holds for batches of one shape (the same byte size and record counts, in the same staging and
// device buffers); capture a new one when the shape changes. Needs a stream other than the legacy
// default stream. Opt-in (mmsb/cuda.hpp).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/exec/cuda/device_pages.hpp>
#include <mmsb/memory/cuda/detail.hpp>

#include <cuda_runtime_api.h>

#include <string>

namespace mmsb::gpu {

// One captured, instantiated tick (see the top comment). Owns its graph executable; not
// copyable. Failures throw mmsb::error: unsupported on the legacy stream, device_error naming
// the CUDA call.
template <class Semiring, class Layout>
class tick_graph {
public:
  using pages_type = device_pages<Semiring, Layout, cuda_runtime_backend>;  // the pages it feeds

  // Captures pages.submit(shape, no wait) on the pages' stream. The staging and device batch
  // buffers must already hold shape.bytes (pages.stage or pages.reserve).
  tick_graph(pages_type& pages, const batch_layout<Layout>& shape) : stream_(pages.backend().stream()), shape_(shape)
  {
    if (stream_ == nullptr)
      throw error(errc::unsupported, "tick_graph: the legacy default stream cannot be captured; give the backend a stream");
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    cudaGraph_t graph = nullptr;
    try {
      pages.submit(shape, false);
    } catch (...) {
      (void)cudaStreamEndCapture(stream_, &graph);
      if (graph) (void)cudaGraphDestroy(graph);
      (void)cudaGetLastError();
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    const cudaError_t err = cudaGraphInstantiate(&exec_, graph, 0);
    (void)cudaGraphDestroy(graph);
    check(err, "cudaGraphInstantiate");
  }
  tick_graph(const tick_graph&) = delete;
  tick_graph& operator=(const tick_graph&) = delete;
  ~tick_graph()
  {
    if (exec_) (void)cudaGraphExecDestroy(exec_);
  }

  // The batch shape captured: every launch uploads shape().bytes and applies those record counts.
  [[nodiscard]] const batch_layout<Layout>& shape() const noexcept { return shape_; }

  // One tick: upload + apply, one graph launch. Asynchronous; sync the stream to wait.
  void launch() { check(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch"); }

private:
  static void check(cudaError_t err, const char* what)
  {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    throw error(errc::device_error, std::string("tick_graph: ") + what + " failed: " + mmsb::detail::cuda_message(err));
  }
  cudaStream_t stream_;
  batch_layout<Layout> shape_;
  cudaGraphExec_t exec_ = nullptr;
};

} // namespace mmsb::gpu
