// hybrid_pages<Semiring, Layout, Backend>: a resident page set that applies sealed delta_batches
// on the GPU or the CPU, batch by batch, and falls back to the CPU for good, with one warning,
// when there is no device, MMSB_FORCE_CPU is set, or a device step fails. Opt-in (mmsb/cuda.hpp).
//
// Commit protocol (no partial result is ever committed):
//   * The committed state is the host mirror plus a redo list: the staged device batches that
//     the GPU applied since the mirror last caught up. Each page is `current` (mirror == device),
//     `host_newer` (changed by a CPU-routed batch, not yet on the device) or `device_newer`
//     (mirror + redo[from[page]..] == device).
//   * A GPU step stages the batch (host_newer pages ride along as whole-page images), uploads it
//     once, launches once and waits. Only when all of that succeeded does it append the staged
//     bytes to the redo list and update page states (nothing after the wait can fail: the redo
//     record is allocated before the upload). If any step throws, nothing was committed: the
//     device copy is abandoned (it may hold half a batch), the mirror is brought up to date by
//     replaying the redo list on the CPU with the same unit functions as the kernel, and this and
//     every later batch runs on the CPU.
//   * A CPU-routed batch first downloads the device_newer pages it touches (into a side buffer,
//     committed only when the download completed), then applies on the mirror.
//   * The redo list is trimmed (device_newer pages downloaded) when it exceeds its byte budget and
//     before hashing.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/delta/batch.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/exec/cuda/backend.hpp>
#include <mmsb/exec/cuda/device_batch.hpp>
#include <mmsb/exec/cuda/device_pages.hpp>
#include <mmsb/exec/cuda/fallback.hpp>
#include <mmsb/exec/cuda/router.hpp>
#include <mmsb/page/page.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::gpu {

// How a hybrid_pages routes and how much redo it keeps.
struct hybrid_options {
  // Batches touching at least this many pages go to the GPU; nullopt: measured at start-up.
  std::optional<std::size_t> crossover;
  std::size_t redo_budget_bytes = std::size_t{256} << 20;  // redo list size that triggers a trim (256 MiB)
};

// Counters of what a hybrid_pages did (since construction).
struct hybrid_stats {
  // Batches applied on the GPU.
  std::uint64_t gpu_batches = 0, cpu_batches = 0, pages_pulled = 0, pages_pushed = 0, trims = 0;
  // (The other names declared on the line above, for the API reference.)
  /// @var cpu_batches
  /// Batches applied on the CPU (routed there, or after a fallback).
  /// @var pages_pulled
  /// Pages downloaded into the host mirror (device_newer pages a CPU batch or a trim needed).
  /// @var pages_pushed
  /// Host-newer pages uploaded as whole-page images with a GPU batch.
  /// @var trims
  /// Times the redo list was emptied by downloading every device-newer page.
};

// The hybrid page set (see the top comment): owns a host mirror and, while on_gpu(), a
// device_pages. Not copyable; not thread-safe. A failed device step never loses a committed
// batch: the set falls back to the CPU for good.
template <class Semiring, class Layout, class Backend = cuda_runtime_backend>
class hybrid_pages {
public:
  using storage_type = typename Layout::storage_type;           // one page's payload
  using page_type = page<Layout>;                               // a mirror page
  using device_type = device_pages<Semiring, Layout, Backend>;  // the device side

  // One page per id (strictly ascending), all zero. The device, if any, is probed here.
  explicit hybrid_pages(span<const page_id> ids, hybrid_options options = {}, Backend backend = Backend{})
    : options_(options)
  {
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (k && !(ids[k - 1] < ids[k]))
        throw error(errc::invalid_argument, "hybrid_pages: page " + std::to_string(ids[k].value()) + " follows page " +
                                              std::to_string(ids[k - 1].value()) + "; ids must be strictly ascending");
    }
    ids_.assign(ids.begin(), ids.end());
    mirror_.reserve(ids.size());
    for (const auto id : ids) mirror_.emplace_back(id);
    where_.assign(ids.size(), current);
    from_.assign(ids.size(), 0);
    if (const auto probe = Backend::probe(); !probe.available) {
      warn_fallback(probe.reason);
      return;
    }
    try {
      device_ = std::make_unique<device_type>(ids.size(), std::move(backend));
      router_ = options.crossover ? crossover_router{*options.crossover} : measure();
    } catch (const error& e) {
      fall_back(e.what());
    }
  }

  // Whether batches can still go to the GPU: false without a device or after a fallback.
  [[nodiscard]] bool on_gpu() const noexcept { return device_ != nullptr; }
  // The crossover in use (given in the options or measured at construction).
  [[nodiscard]] const crossover_router& router() const noexcept { return router_; }
  // The counters so far.
  [[nodiscard]] const hybrid_stats& stats() const noexcept { return stats_; }
  // Number of pages in the set, fixed at construction.
  [[nodiscard]] std::size_t size() const noexcept { return ids_.size(); }
  // The device side, or nullptr when !on_gpu().
  [[nodiscard]] device_type* device() noexcept { return device_.get(); }
  // After a fallback: the hash of the state recovered from the mirror and the redo list, before
  // the batch whose step failed was applied on the CPU (tests compare it with the pre-step state).
  [[nodiscard]] const std::optional<state_hash>& recovered_hash() const noexcept { return recovered_; }

  // Applies a sealed batch. Unknown pages or an unsealed batch: mmsb::error, nothing changed. A
  // device failure is not an error to the caller: the batch is applied on the CPU instead.
  void apply(const delta_batch<Semiring, Layout>& batch)
  {
    if (!batch.sealed()) throw error(errc::state_error, "hybrid_pages::apply: the batch is not sealed (call seal())");
    std::vector<std::uint32_t> idx;
    idx.reserve(batch.pages().size());
    for (const auto id : batch.pages()) idx.push_back(index_of(id));
    std::vector<delta<Semiring, Layout>> ds;
    ds.reserve(idx.size());
    for (std::size_t k = 0; k < idx.size(); ++k) ds.push_back(batch.merge_partition(k));

    if (device_ && router_.to_gpu(idx.size())) {
      try {
        gpu_step(idx, ds);
        return;
      } catch (const error& e) {
        fall_back(e.what());
      }
    }
    if (device_) {
      try {
        pull(idx);
      } catch (const error& e) {
        fall_back(e.what());
      }
    }
    for (std::size_t k = 0; k < idx.size(); ++k) {
      mmsb::apply(mirror_[idx[k]], ds[k]);
      if (device_) where_[idx[k]] = host_newer;
    }
    ++stats_.cpu_batches;
  }

  // The current page (downloaded first if only the device has it).
  [[nodiscard]] page_type read(page_id id)
  {
    const std::uint32_t i = index_of(id);
    if (device_) {
      try {
        pull({&i, 1});
      } catch (const error& e) {
        fall_back(e.what());
      }
    }
    return mirror_[i];
  }

  // The state hash (core/state_hash.hpp) of every page, as the CPU computes it.
  [[nodiscard]] state_hash hash()
  {
    if (device_) {
      try {
        trim();
      } catch (const error& e) {
        fall_back(e.what());
      }
    }
    state_hasher h;
    for (const auto& p : mirror_) hash_into(h, p);
    return h.digest();
  }

  // Downloads every device_newer page and empties the redo list.
  void trim()
  {
    std::vector<std::uint32_t> all;
    for (std::uint32_t i = 0; i < where_.size(); ++i)
      if (where_[i] == device_newer) all.push_back(i);
    pull(all);
    redo_.clear();
    redo_bytes_ = 0;
    ++stats_.trims;
  }

private:
  enum state : std::uint8_t { current, host_newer, device_newer };
  struct redo_record {
    std::unique_ptr<unsigned char[]> bytes;
    batch_layout<Layout> layout;
  };

  std::uint32_t index_of(page_id id) const
  {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id)
      throw error(errc::unknown_page, "hybrid_pages: page " + std::to_string(id.value()) + " is not resident");
    return static_cast<std::uint32_t>(it - ids_.begin());
  }

  void gpu_step(const std::vector<std::uint32_t>& idx, const std::vector<delta<Semiring, Layout>>& ds)
  {
    batch_builder<Semiring, Layout> b;
    std::vector<std::uint32_t> pushed;  // host_newer pages that ride along as images
    std::vector<storage_type> images;
    std::size_t in_batch = 0;
    for (std::uint32_t i = 0; i < where_.size(); ++i)
      if (where_[i] == host_newer) pushed.push_back(i);
    for (const auto i : pushed) in_batch += std::binary_search(idx.begin(), idx.end(), i);
    images.reserve(in_batch);  // stable addresses for the builder
    for (const auto i : pushed) {
      const auto it = std::lower_bound(idx.begin(), idx.end(), i);
      if (it != idx.end() && *it == i) {
        images.push_back(mirror_[i].storage());
        ds[static_cast<std::size_t>(it - idx.begin())].visit([&](const auto& enc) { apply_to(images.back(), enc); });
        b.add_image(i, images.back());
      } else {
        b.add_image(i, mirror_[i].storage());
      }
    }
    for (std::size_t k = 0; k < idx.size(); ++k)
      if (where_[idx[k]] != host_newer) b.add(idx[k], ds[k]);

    const auto l = device_->stage(b);
    redo_record rec{std::unique_ptr<unsigned char[]>(new unsigned char[l.bytes]), l};  // before the step: no throw after
    redo_.reserve(redo_.size() + 1);
    device_->submit(l, true);
    // Committed on the device: record it (nothing below throws).
    std::memcpy(rec.bytes.get(), device_->staging(), l.bytes);
    const auto r = static_cast<std::uint32_t>(redo_.size());
    redo_.push_back(std::move(rec));
    redo_bytes_ += l.bytes;
    for (const auto i : pushed) { where_[i] = device_newer; from_[i] = r; }
    for (const auto i : idx)
      if (where_[i] == current) { where_[i] = device_newer; from_[i] = r; }
    stats_.pages_pushed += pushed.size();
    ++stats_.gpu_batches;
    if (redo_bytes_ > options_.redo_budget_bytes) trim();
  }

  // Makes the mirror current for the given pages; commits only after every download completed.
  void pull(span<const std::uint32_t> pages)
  {
    std::vector<std::uint32_t> need;
    for (const auto i : pages)
      if (where_[i] == device_newer) need.push_back(i);
    if (need.empty()) return;
    std::unique_ptr<storage_type[]> buf(new storage_type[need.size()]);
    auto& be = device_->backend();
    for (std::size_t k = 0; k < need.size(); ++k) be.download(&buf[k], device_->data() + need[k], sizeof(storage_type));
    be.sync();
    for (std::size_t k = 0; k < need.size(); ++k) {
      mirror_[need[k]].storage() = buf[k];
      where_[need[k]] = current;
    }
    stats_.pages_pulled += need.size();
  }

  // Gives up the device: replays the redo list onto the mirror for device_newer pages.
  void fall_back(const std::string& reason) noexcept
  {
    warn_fallback(reason);
    for (std::uint32_t r = 0; r < redo_.size(); ++r) {
      const auto v = batch_view<Layout>::of(redo_[r].bytes.get(), redo_[r].layout);
      const auto mine = [&](std::uint32_t i) { return where_[i] == device_newer && from_[i] <= r; };
      constexpr std::size_t words = batch_view<Layout>::words;
      for (std::size_t d = 0; d < v.dense_count; ++d)
        if (mine(v.dense_page[d]))
          for (std::size_t u = 0; u < detail::units_per_page_v<Layout>; ++u)
            apply_dense_unit<Semiring, Layout>(mirror_[v.dense_page[d]].storage(), v.mask + d * words,
                                               v.assign + d * words, v.payload[d], u);
      for (std::size_t k = 0; k < v.sparse_count; ++k) {
        const auto i = v.sparse_page[k];
        if (!mine(i)) continue;
        const std::uint32_t s = v.sparse_slot[k];
        const std::size_t slot = s & ~sparse_assign_bit;
        auto& x = mirror_[i].storage();
        Layout::store(x, slot, apply_element<Semiring>(Layout::load(x, slot), (s & sparse_assign_bit) != 0,
                                                       static_cast<typename Layout::value_type>(v.sparse_value[k])));
      }
    }
    redo_.clear();
    redo_bytes_ = 0;
    std::fill(where_.begin(), where_.end(), current);
    device_.reset();
    try {
      state_hasher h;
      for (const auto& p : mirror_) hash_into(h, p);
      recovered_ = h.digest();
    } catch (...) {  // only a diagnostic: no memory for the hasher leaves it unset
    }
  }

  // Start-up measurement: CPU cost of one page's dense apply, GPU cost of 1- and 64-page steps on
  // scratch pages. Throws what the device throws.
  crossover_router measure()
  {
    using clock = std::chrono::steady_clock;
    constexpr std::size_t pages = 64;
    auto d = std::make_unique<dense_delta<Semiring, Layout>>(page_id{0});
    for (std::size_t i = 0; i < Layout::extent; i += 3) d->put_unchecked(i, {false, typename Layout::value_type{}});
    auto scratch = std::make_unique<page_type>(page_id{0});
    double cpu = 1e300;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = clock::now();
      for (int k = 0; k < 16; ++k) mmsb::apply(*scratch, *d);
      cpu = std::min(cpu, std::chrono::duration<double, std::nano>(clock::now() - t0).count() / 16);
    }
    device_type dev(pages, Backend{});
    const auto time_step = [&](std::size_t n) {
      batch_builder<Semiring, Layout> b;
      for (std::uint32_t i = 0; i < n; ++i) b.add(i, *d);
      double best = 1e300;
      for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = clock::now();
        dev.apply(b);
        best = std::min(best, std::chrono::duration<double, std::nano>(clock::now() - t0).count());
      }
      return best;
    };
    const double one = time_step(1), many = time_step(pages);
    const double per_page = std::max(0.0, (many - one) / (pages - 1));
    return crossover_router::from_costs(cpu, std::max(0.0, one - per_page), per_page);
  }

  hybrid_options options_;
  std::vector<page_id> ids_;
  std::vector<page_type> mirror_;
  std::vector<std::uint8_t> where_;
  std::vector<std::uint32_t> from_;
  std::vector<redo_record> redo_;
  std::size_t redo_bytes_ = 0;
  std::unique_ptr<device_type> device_;
  crossover_router router_{};
  hybrid_stats stats_;
  std::optional<state_hash> recovered_;
};

} // namespace mmsb::gpu
