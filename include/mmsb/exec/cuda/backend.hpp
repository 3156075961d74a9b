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

// The real device: CUDA runtime calls, all asynchronous on one stream until sync(). Copies and
// launches are stream-ordered; a failure throws errc::device_error (out_of_memory for an
// allocation the device refuses) naming the call and the size. Not thread-safe.
class cuda_runtime_backend {
public:
  // Shown in diagnostics and benchmark output.
  static constexpr const char* name = "cuda";

  cuda_runtime_backend() = default;
  // Works on `stream` (not owned; it must outlive the backend). The default is the legacy stream.
  explicit cuda_runtime_backend(cudaStream_t stream) noexcept : stream_(stream) {}

  // Whether this backend can run here (a driver and a device, MMSB_FORCE_CPU unset).
  [[nodiscard]] static device_probe probe() { return probe_devices(); }

  // The stream every operation is queued on.
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

  // Device memory of `bytes` (cudaMalloc; at least 1 byte).
  void* device_alloc(std::size_t bytes)
  {
    void* p = nullptr;
    if (const cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes); err != cudaSuccess)
      mmsb::detail::throw_cuda_alloc(err, "cudaMalloc", bytes);
    return p;
  }
  // Frees device_alloc memory (cudaFree synchronizes the device); null is a no-op.
  void device_free(void* p) noexcept { (void)cudaFree(p); }
  // Pinned, mapped host memory of `bytes` for staging copies (cudaHostAlloc).
  void* host_alloc(std::size_t bytes)
  {
    void* p = nullptr;
    if (const cudaError_t err = cudaHostAlloc(&p, bytes == 0 ? 1 : bytes, cudaHostAllocMapped); err != cudaSuccess)
      mmsb::detail::throw_cuda_alloc(err, "cudaHostAlloc (pinned staging)", bytes);
    return p;
  }
  // Frees host_alloc memory; null is a no-op.
  void host_free(void* p) noexcept { (void)cudaFreeHost(p); }

  // Queues a copy of `bytes` from host to device. The host buffer must stay unchanged until
  // sync() (pinned memory makes the copy truly asynchronous).
  void upload(void* device, const void* host, std::size_t bytes)
  {
    check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_), "upload (cudaMemcpyAsync H2D)", bytes);
  }
  // Queues a copy of `bytes` from device to host; the host buffer is filled only after sync().
  void download(void* host, const void* device, std::size_t bytes)
  {
    check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_), "download (cudaMemcpyAsync D2H)", bytes);
  }
  // Queues setting `bytes` of device memory to zero.
  void zero(void* device, std::size_t bytes)
  {
    check(cudaMemsetAsync(device, 0, bytes, stream_), "cudaMemsetAsync", bytes);
  }
  // Queues the kernel that applies batch b (in device memory) to the device pages under
  // Semiring's law.
  template <class Semiring, class Layout>
  void apply(typename Layout::storage_type* pages, const batch_view<Layout>& b)
  {
    apply_batch<Semiring, Layout>(pages, b, stream_);
  }
  // Waits for everything queued; an asynchronous failure of any of it is thrown here.
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
  // Shown in diagnostics and benchmark output.
  static constexpr const char* name = "emulated";

  // Always available: one emulated device.
  [[nodiscard]] static device_probe probe() { return {true, 1, {}}; }

  // 4 KiB-aligned host memory standing in for device memory; out_of_memory naming the size.
  void* device_alloc(std::size_t bytes) { return alloc(bytes, "emulated device_alloc"); }
  // Frees device_alloc memory; null is a no-op.
  void device_free(void* p) noexcept { ::operator delete(p, std::align_val_t{4096}); }
  // 4 KiB-aligned host memory standing in for pinned staging; out_of_memory naming the size.
  void* host_alloc(std::size_t bytes) { return alloc(bytes, "emulated host_alloc"); }
  // Frees host_alloc memory; null is a no-op.
  void host_free(void* p) noexcept { ::operator delete(p, std::align_val_t{4096}); }
  // Copies at once (memcpy).
  void upload(void* device, const void* host, std::size_t bytes) noexcept { std::memcpy(device, host, bytes); }
  // Copies at once (memcpy).
  void download(void* host, const void* device, std::size_t bytes) noexcept { std::memcpy(host, device, bytes); }
  // Zeroes at once (memset).
  void zero(void* device, std::size_t bytes) noexcept { std::memset(device, 0, bytes); }
  // Applies batch b at once, unit by unit on the calling thread, with the kernels' unit functions.
  template <class Semiring, class Layout>
  void apply(typename Layout::storage_type* pages, const batch_view<Layout>& b) noexcept
  {
    apply_batch_host<Semiring, Layout>(pages, b);
  }
  // Nothing to wait for: every operation has already completed.
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

// A test seam over Backend: counts device operations (allocations, copies, zero, apply, sync;
// frees are never failed) and makes an armed one throw errc::device_error naming it. Not
// thread-safe.
template <class Backend>
class faulty {
public:
  // Shown in diagnostics.
  static constexpr const char* name = "faulty";

  // Constructs the inner backend from args; starts disarmed.
  template <class... Args>
  explicit faulty(Args&&... args) : inner_(static_cast<Args&&>(args)...) {}

  // The inner backend's probe.
  [[nodiscard]] static device_probe probe() { return Backend::probe(); }

  // Fail the nth device operation from now (1 = the next). sticky: every later one fails too,
  // as after a lost context.
  void fail_at(std::uint64_t nth, fault_mode mode = fault_mode::before, bool sticky = false) noexcept
  {
    countdown_ = nth;
    mode_ = mode;
    sticky_ = sticky;
  }
  // Cancels any armed failure, sticky ones included: later operations reach the inner backend.
  void disarm() noexcept { countdown_ = 0; sticky_ = false; failing_ = false; }
  // Device operations counted so far (failed ones included).
  [[nodiscard]] std::uint64_t operations() const noexcept { return ops_; }
  // Failures injected so far.
  [[nodiscard]] std::uint64_t injected() const noexcept { return injected_; }
  // The wrapped backend (operations made through it directly are neither counted nor failed).
  [[nodiscard]] Backend& inner() noexcept { return inner_; }

  // Counted: throws if due, else the inner backend's device_alloc.
  void* device_alloc(std::size_t bytes) { hit("device_alloc"); return inner_.device_alloc(bytes); }
  // Not counted, never fails.
  void device_free(void* p) noexcept { inner_.device_free(p); }
  // Counted: throws if due, else the inner backend's host_alloc.
  void* host_alloc(std::size_t bytes) { hit("host_alloc"); return inner_.host_alloc(bytes); }
  // Not counted, never fails.
  void host_free(void* p) noexcept { inner_.host_free(p); }
  // Counted: throws if due (nothing copied), else the inner backend's upload.
  void upload(void* d, const void* h, std::size_t n) { hit("upload"); inner_.upload(d, h, n); }
  // Counted: throws if due (nothing copied), else the inner backend's download.
  void download(void* h, const void* d, std::size_t n) { hit("download"); inner_.download(h, d, n); }
  // Counted: throws if due, else the inner backend's zero.
  void zero(void* d, std::size_t n) { hit("zero"); inner_.zero(d, n); }
  // Counted: if due, throws, after applying about half of b under fault_mode::partial.
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
  // Counted: throws if due, else the inner backend's sync.
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
