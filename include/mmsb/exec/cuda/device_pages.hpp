// device_pages<Semiring, Layout, Backend>: N pages resident on the GPU, in one device block
// (index k is the k-th resident page), and the staging that feeds them. A tick stages one batch
// in pinned memory, uploads it with ONE copy and applies it with ONE launch. Downloads and the
// state hash let callers compare with the CPU. Opt-in (mmsb/cuda.hpp).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/exec/cuda/backend.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::gpu {

// A fixed number of device-resident pages plus the staging and device buffers a batch crosses
// in. Owns its device memory; not copyable; not thread-safe. Failures throw mmsb::error: the
// Backend's (device_error, out_of_memory), out_of_range for slots outside the set, size_mismatch
// from hash().
template <class Semiring, class Layout, class Backend = cuda_runtime_backend>
class device_pages {
public:
  using storage_type = typename Layout::storage_type;    // one page's payload, as on the host
  using builder_type = batch_builder<Semiring, Layout>;  // what a tick's batch is collected in

  // count zeroed pages on the device. Throws (out_of_memory / device_error) with nothing held.
  explicit device_pages(std::size_t count, Backend backend = Backend{}) : backend_(std::move(backend)), count_(count)
  {
    pages_ = static_cast<storage_type*>(backend_.device_alloc(bytes()));
    try {
      backend_.zero(pages_, bytes());
      backend_.sync();
    } catch (...) {
      backend_.device_free(pages_);
      throw;
    }
  }
  device_pages(const device_pages&) = delete;
  device_pages& operator=(const device_pages&) = delete;
  ~device_pages()
  {
    backend_.device_free(pages_);
    if (batch_) backend_.device_free(batch_);
    if (staging_) backend_.host_free(staging_);
  }

  // Number of resident pages, fixed at construction.
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  // Bytes of the resident block: size() pages.
  [[nodiscard]] std::size_t bytes() const noexcept { return count_ * sizeof(storage_type); }
  // The resident block: device memory (host memory under emulated_backend); never dereference
  // it on the host for a real device.
  [[nodiscard]] storage_type* data() noexcept { return pages_; }
  // The backend the operations go through (its stream, a test seam's arming).
  [[nodiscard]] Backend& backend() noexcept { return backend_; }

  // Copies n pages from host memory into resident slots [first, first + n) and waits.
  void upload(std::size_t first, const storage_type* src, std::size_t n)
  {
    check_range(first, n);
    backend_.upload(pages_ + first, src, n * sizeof(storage_type));
    backend_.sync();
  }
  // Copies resident slots [first, first + n) to host memory and waits.
  void download(std::size_t first, storage_type* dst, std::size_t n)
  {
    check_range(first, n);
    backend_.download(dst, pages_ + first, n * sizeof(storage_type));
    backend_.sync();
  }

  // Writes the builder's batch into the pinned staging buffer (grown if needed, never shrunk).
  batch_layout<Layout> stage(const builder_type& b)
  {
    const auto l = b.layout();
    reserve(l.bytes);
    b.write(staging_);
    return l;
  }
  // Enqueues the staged batch: one upload, one launch. With wait, returns after the GPU finished
  // (errors of the step surface here); else the caller syncs through the backend.
  void submit(const batch_layout<Layout>& l, bool wait = true)
  {
    backend_.upload(batch_, staging_, l.bytes);
    backend_.template apply<Semiring, Layout>(pages_, batch_view<Layout>::of(batch_, l));
    if (wait) backend_.sync();
  }
  // stage(b), then submit(): the whole tick's device work.
  void apply(const builder_type& b, bool wait = true) { submit(stage(b), wait); }

  // Capacity for a batch of `bytes` in both the staging and the device buffer. On failure the old
  // buffers stay as they were.
  void reserve(std::size_t bytes)
  {
    if (bytes <= capacity_) return;
    const std::size_t want = std::max(bytes, capacity_ + capacity_ / 2);
    void* host = backend_.host_alloc(want);
    void* dev = nullptr;
    try {
      dev = backend_.device_alloc(want);
    } catch (...) {
      backend_.host_free(host);
      throw;
    }
    if (staging_) backend_.host_free(staging_);
    if (batch_) backend_.device_free(batch_);
    staging_ = static_cast<unsigned char*>(host);
    batch_ = static_cast<unsigned char*>(dev);
    capacity_ = want;
  }
  // The pinned staging buffer (null before the first reserve or stage); moves when it grows.
  [[nodiscard]] const unsigned char* staging() const noexcept { return staging_; }
  // The pinned staging buffer, writable (for callers that fill a batch in place).
  [[nodiscard]] unsigned char* staging() noexcept { return staging_; }
  // The device buffer a batch is uploaded into (null before the first reserve or stage).
  [[nodiscard]] const unsigned char* device_batch() const noexcept { return batch_; }

  // The state hash over the resident pages, named by ids (ascending, one per resident index),
  // downloading in chunks of at most `chunk` pages.
  [[nodiscard]] state_hash hash(span<const page_id> ids, std::size_t chunk = 4096)
  {
    if (ids.size() != count_)
      throw error(errc::size_mismatch, "device_pages::hash: " + std::to_string(ids.size()) + " ids for " +
                                         std::to_string(count_) + " resident pages");
    std::unique_ptr<storage_type[]> buf(new storage_type[std::min(chunk, std::max<std::size_t>(count_, 1))]);
    state_hasher h;
    for (std::size_t first = 0; first < count_; first += chunk) {
      const std::size_t n = std::min(chunk, count_ - first);
      download(first, buf.get(), n);
      for (std::size_t k = 0; k < n; ++k)
        h.add(ids[first + k], {reinterpret_cast<const std::byte*>(&buf[k]), sizeof(storage_type)});
    }
    return h.digest();
  }

private:
  void check_range(std::size_t first, std::size_t n) const
  {
    if (first > count_ || n > count_ - first)
      throw error(errc::out_of_range, "device_pages: pages [" + std::to_string(first) + ", " + std::to_string(first + n) +
                                        ") are outside the " + std::to_string(count_) + " resident pages");
  }

  Backend backend_;
  std::size_t count_;
  storage_type* pages_ = nullptr;
  unsigned char* staging_ = nullptr;
  unsigned char* batch_ = nullptr;
  std::size_t capacity_ = 0;
};

} // namespace mmsb::gpu
