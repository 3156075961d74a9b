// The device backend seam: every device operation the resident stores perform (allocate, copy,
// launch, synchronize) goes through one small policy object, so that tests can put a fake
// device or an injected failure under exactly the code that runs on a GPU.
//
//   cuda_runtime_backend   the real one: the CUDA runtime on one stream
//   emulated_backend       host memory and the same MMSB_HD unit functions: a "device" that
//                          exists everywhere, so the commit and fallback logic is testable
//                          on machines without a GPU (CI)
//   faulty<Backend>        fails the Nth operation (once or from then on), optionally after the
//                          apply it fails has written part of its pages
//
// Every operation throws mmsb::error(device_error) naming the call on failure.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/exec/cuda/batch.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>
#include <mmsb/exec/cuda/device.hpp>
#include <mmsb/memory/cuda/detail.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace mmsb::gpu {

class cuda_runtime_backend {
public:
  static constexpr const char* name = "cuda";

  cuda_runtime_backend() = default;
  explicit cuda_runtime_backend(cudaStream_t stream) noexcept : stream_(stream) {}

  // Whether this backend can run here (a driver and a device, MMSB_FORCE_CPU unset).
  [[nodiscard]] static device_probe probe() { return probe_devices(); }

  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

  void* device_alloc(std::size_t bytes)
  {
    void* p = nullptr;
    if (const cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes); err != cudaSuccess)
      mmsb::detail::throw_cuda_alloc(err, "cudaMalloc", bytes);
    return p;
  }
  void device_free(void* p) noexcept { (void)cudaFree(p); }
  void* host_alloc(std::size_t bytes)
  {
    void* p = nullptr;
    if (const cudaError_t err = cudaHostAlloc(&p, bytes == 0 ? 1 : bytes, cudaHostAllocMapped); err != cudaSuccess)
      mmsb::detail::throw_cuda_alloc(err, "cudaHostAlloc (pinned staging)", bytes);
    return p;
  }
  void host_free(void* p) noexcept { (void)cudaFreeHost(p); }

  void upload(void* device, const void* host, std::size_t bytes)
  {
    check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_), "upload (cudaMemcpyAsync H2D)", bytes);
  }
  void download(void* host, const void* device, std::size_t bytes)
  {
    check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_), "download (cudaMemcpyAsync D2H)", bytes);
  }
  void zero(void* device, std::size_t bytes)
  {
    check(cudaMemsetAsync(device, 0, bytes, stream_), "cudaMemsetAsync", bytes);
  }
  template <class Semiring, class Layout>
  void apply(typename Layout::storage_type* pages, const batch_view<Layout>& b)
  {
    apply_batch<Semiring, Layout>(pages, b, stream_);
  }
  void sync()
  {
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", 0);
  }

private:
  static void check(cudaError_t err, const char* what, std::size_t bytes)
  {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    throw error(errc::device_error, std::string(what) + (bytes ? " of " + std::to_string(bytes) + " bytes" : std::string()) +
                                      " failed: " + mmsb::detail::cuda_message(err));
  }
  cudaStream_t stream_ = nullptr;
};

// A device made of host memory. Copies are memcpy, launches run the batch's units in order on
// the calling thread through the same unit functions the kernels use.
class emulated_backend {
public:
  static constexpr const char* name = "emulated";

  [[nodiscard]] static device_probe probe() { return {true, 1, {}}; }

  void* device_alloc(std::size_t bytes) { return alloc(bytes, "emulated device_alloc"); }
  void device_free(void* p) noexcept { ::operator delete(p, std::align_val_t{4096}); }
  void* host_alloc(std::size_t bytes) { return alloc(bytes, "emulated host_alloc"); }
  void host_free(void* p) noexcept { ::operator delete(p, std::align_val_t{4096}); }
  void upload(void* device, const void* host, std::size_t bytes) noexcept { std::memcpy(device, host, bytes); }
  void download(void* host, const void* device, std::size_t bytes) noexcept { std::memcpy(host, device, bytes); }
  void zero(void* device, std::size_t bytes) noexcept { std::memset(device, 0, bytes); }
  template <class Semiring, class Layout>
  void apply(typename Layout::storage_type* pages, const batch_view<Layout>& b) noexcept
  {
    apply_batch_host<Semiring, Layout>(pages, b);
  }
  void sync() noexcept {}

private:
  static void* alloc(std::size_t bytes, const char* what)
  {
    void* p = ::operator new(bytes == 0 ? 1 : bytes, std::align_val_t{4096}, std::nothrow);
    if (!p) throw error(errc::out_of_memory, std::string(what) + " of " + std::to_string(bytes) + " bytes failed");
    return p;
  }
};

// What an injected failure does to the operation it hits.
enum class fault_mode : std::uint8_t {
  before,   // the operation does not happen
  partial,  // an apply writes about half its batch first (a kernel that died part-way)
};

template <class Backend>
class faulty {
public:
  static constexpr const char* name = "faulty";

  template <class... Args>
  explicit faulty(Args&&... args) : inner_(static_cast<Args&&>(args)...) {}

  [[nodiscard]] static device_probe probe() { return Backend::probe(); }

  // Fail the nth device operation from now (1 = the next). sticky: every later one fails too,
  // as after a lost context.
  void fail_at(std::uint64_t nth, fault_mode mode = fault_mode::before, bool sticky = false) noexcept
  {
    countdown_ = nth;
    mode_ = mode;
    sticky_ = sticky;
  }
  void disarm() noexcept { countdown_ = 0; sticky_ = false; failing_ = false; }
  [[nodiscard]] std::uint64_t operations() const noexcept { return ops_; }
  [[nodiscard]] std::uint64_t injected() const noexcept { return injected_; }
  [[nodiscard]] Backend& inner() noexcept { return inner_; }

  void* device_alloc(std::size_t bytes) { hit("device_alloc"); return inner_.device_alloc(bytes); }
  void device_free(void* p) noexcept { inner_.device_free(p); }
  void* host_alloc(std::size_t bytes) { hit("host_alloc"); return inner_.host_alloc(bytes); }
  void host_free(void* p) noexcept { inner_.host_free(p); }
  void upload(void* d, const void* h, std::size_t n) { hit("upload"); inner_.upload(d, h, n); }
  void download(void* h, const void* d, std::size_t n) { hit("download"); inner_.download(h, d, n); }
  void zero(void* d, std::size_t n) { hit("zero"); inner_.zero(d, n); }
  template <class Semiring, class Layout>
  void apply(typename Layout::storage_type* pages, const batch_view<Layout>& b)
  {
    if (!due()) {
      inner_.template apply<Semiring, Layout>(pages, b);
      return;
    }
    if (mode_ == fault_mode::partial) {
      batch_view<Layout> half = b;  // the first half of the dense records, no sparse entries
      half.dense_count = b.dense_count / 2 + (b.dense_count == 1 ? 1 : 0);
      half.sparse_count = b.dense_count == 0 ? b.sparse_count / 2 : 0;
      inner_.template apply<Semiring, Layout>(pages, half);
      inner_.sync();
    }
    fail("apply");
  }
  void sync() { hit("sync"); inner_.sync(); }

private:
  bool due() noexcept
  {
    ++ops_;
    if (failing_) return true;
    if (countdown_ == 0) return false;
    if (--countdown_ != 0) return false;
    failing_ = sticky_;
    return true;
  }
  void hit(const char* what)
  {
    if (due()) fail(what);
  }
  [[noreturn]] void fail(const char* what)
  {
    ++injected_;
    throw error(errc::device_error, std::string("injected device failure in ") + what + " (device operation " +
                                      std::to_string(ops_) + ")");
  }

  Backend inner_;
  std::uint64_t countdown_ = 0, ops_ = 0, injected_ = 0;
  fault_mode mode_ = fault_mode::before;
  bool sticky_ = false, failing_ = false;
};

} // namespace mmsb::gpu
