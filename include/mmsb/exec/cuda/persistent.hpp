// persistent_apply: an optional tick path for small batches. One long-lived kernel polls a
// command ring in mapped pinned memory (cuda::atomic_ref, system scope) and applies each batch
// the host publishes, so a tick costs no launch at all: the host writes the batch and a command,
// bumps `head`, and later sees `done` reach the command's number. The batch may sit in the pinned
// staging itself (read over PCIe in place: no copy for tiny batches) or in device memory.
//
// All blocks of the kernel are co-resident (a cooperative launch sized by occupancy) and take
// command c only after every block finished c - 1, so commands apply in order, as ticks must.
// Opt-in (mmsb/cuda.hpp); the kernel is kernels/persistent.cuh, instantiated for the stock
// combinations in the mmsb_cuda library.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>
#include <mmsb/memory/cuda/detail.hpp>

#include <cuda/atomic>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mmsb::gpu {

// Commands the ring holds; the host waits for the oldest to finish before reusing its slot.
inline constexpr std::size_t command_ring_slots = 64;

// One command to the persistent kernel: apply a batch, or stop.
template <class Layout>
struct persistent_command {
  batch_view<Layout> batch;  // the batch to apply (pinned or device memory the kernel can read)
  std::uint32_t stop = 0;    // non-zero: the kernel exits (batch ignored)
};

// Lives in mapped pinned memory. head: commands published (host writes); done: commands finished
// (the kernel writes). Command c (1-based) is in slot (c - 1) % command_ring_slots.
template <class Layout>
struct command_ring {
  alignas(64) std::uint64_t head;                                   // commands published
  alignas(64) std::uint64_t done;                                   // commands finished
  alignas(64) persistent_command<Layout> slot[command_ring_slots];  // the commands
};

// Device-memory side of the kernel: block 0 alone polls the ring in host memory, copies each
// command here and releases it with `go`; the other blocks poll `go` in device memory (L2), so
// the PCIe link sees one poller, not one per block.
template <class Layout>
struct persistent_state {
  unsigned long long finished;  // block completions, all commands
  unsigned long long go;        // commands released to every block
  persistent_command<Layout> cmd[command_ring_slots];  // block 0's copies of the commands
};

// Launches the persistent kernel on `stream` (cooperatively; blocks <= 0 means one per SM, the
// most that fit otherwise). state: zeroed device memory. Returns the grid size. Throws
// mmsb::error(device_error) if the launch is refused.
template <class Semiring, class Layout>
unsigned launch_persistent(typename Layout::storage_type* pages, command_ring<Layout>* ring,
                           persistent_state<Layout>* state, int blocks, cudaStream_t stream);

// Owns one running persistent kernel, its command ring and its state. Not copyable; one host
// thread submits. Construction throws mmsb::error (device_error) naming the refused CUDA call,
// with nothing left running; the destructor stops the kernel.
template <class Semiring, class Layout>
class persistent_apply {
public:
  using storage_type = typename Layout::storage_type;  // one page's payload

  // Starts the kernel over `pages` (device memory) on `stream`, which it then occupies until stop().
  persistent_apply(storage_type* pages, cudaStream_t stream, int blocks = 0) : stream_(stream)
  {
    void* ring = nullptr;
    check(cudaHostAlloc(&ring, sizeof(command_ring<Layout>), cudaHostAllocMapped), "cudaHostAlloc (command ring)");
    ring_ = static_cast<command_ring<Layout>*>(ring);
    ring_->head = 0;
    ring_->done = 0;
    if (const cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&finished_), sizeof *finished_); err != cudaSuccess) {
      (void)cudaFreeHost(ring_);
      check(err, "cudaMalloc (kernel state)");
    }
    try {
      check(cudaMemsetAsync(finished_, 0, sizeof *finished_, stream_), "cudaMemsetAsync");
      grid_ = launch_persistent<Semiring, Layout>(pages, ring_, finished_, blocks, stream_);
    } catch (...) {
      (void)cudaStreamSynchronize(stream_);
      (void)cudaFree(finished_);
      (void)cudaFreeHost(ring_);
      throw;
    }
  }
  persistent_apply(const persistent_apply&) = delete;
  persistent_apply& operator=(const persistent_apply&) = delete;
  ~persistent_apply()
  {
    stop();
    (void)cudaFree(finished_);
    (void)cudaFreeHost(ring_);
  }

  // The number of blocks the kernel runs with.
  [[nodiscard]] unsigned grid() const noexcept { return grid_; }

  // Publishes a batch (its view must stay valid until wait(returned number) returns). Blocks
  // while the ring is full.
  std::uint64_t submit(const batch_view<Layout>& b) { return publish({b, 0}); }
  // Waits until command c has been applied.
  void wait(std::uint64_t c) const noexcept
  {
    ::cuda::atomic_ref<std::uint64_t, ::cuda::thread_scope_system> done(ring_->done);
    while (done.load(::cuda::std::memory_order_acquire) < c) {}
  }
  // Ends the kernel (idempotent).
  void stop() noexcept
  {
    if (stopped_) return;
    stopped_ = true;
    publish({batch_view<Layout>{}, 1});
    (void)cudaStreamSynchronize(stream_);
  }

private:
  std::uint64_t publish(const persistent_command<Layout>& cmd) noexcept
  {
    const std::uint64_t c = ++published_;
    if (c > command_ring_slots) wait(c - command_ring_slots);  // the slot's previous command is done
    ring_->slot[(c - 1) % command_ring_slots] = cmd;
    ::cuda::atomic_ref<std::uint64_t, ::cuda::thread_scope_system> head(ring_->head);
    head.store(c, ::cuda::std::memory_order_release);
    return c;
  }
  static void check(cudaError_t err, const char* what)
  {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    throw error(errc::device_error, std::string("persistent_apply: ") + what + " failed: " + mmsb::detail::cuda_message(err));
  }

  cudaStream_t stream_;
  command_ring<Layout>* ring_ = nullptr;
  persistent_state<Layout>* finished_ = nullptr;
  unsigned grid_ = 0;
  std::uint64_t published_ = 0;
  bool stopped_ = false;
};

} // namespace mmsb::gpu
