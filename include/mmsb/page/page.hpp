// page<Layout>: one page of state: the layout's storage, the page id, and the epoch of its last
// committed change. Trivially copyable bytes: it moves between host, device, disk and another
// process unchanged. The storage comes first, so it is aligned to a cache line.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/macros.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/page/layout.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mmsb {

// One page: the slots of Layout plus its id and the epoch of its last committed change. Not
// thread-safe: a page is written by one thread (or kernel) at a time.
template <layout Layout>
class page {
public:
  using layout_type = Layout;  // the layout policy (dense, bits, soa)
  using value_type = typename Layout::value_type;  // the element type of one slot
  using storage_type = typename Layout::storage_type;  // the layout's trivially copyable block of all slots
  static constexpr std::size_t extent = Layout::extent;  // the number of slots

  // All slots zero (value-initialized storage), id 0, epoch 0 ("never written").
  constexpr page() noexcept = default;
  // A zeroed page with the given id and epoch (default 0, "never written").
  MMSB_HD constexpr explicit page(page_id id, mmsb::epoch version = mmsb::epoch{}) noexcept : id_(id), epoch_(version) {}

  // The page's id.
  [[nodiscard]] MMSB_HD constexpr page_id id() const noexcept { return id_; }
  // The epoch of its last committed change (0: never written).
  [[nodiscard]] MMSB_HD constexpr mmsb::epoch epoch() const noexcept { return epoch_; }
  // Records the epoch of a change; the bus and recovery call it when they commit or restore one.
  MMSB_HD constexpr void set_epoch(mmsb::epoch e) noexcept { epoch_ = e; }
  // A hint: starts bringing the page's id and epoch into the cache (host only), for loops that
  // read many pages' epochs (provenance's writers).
  void prefetch_header() const noexcept { __builtin_prefetch(&epoch_); }

  // A hint: starts bringing slot i's bytes into the cache (host only; the line is exact for
  // dense pages and proportional for packed or split layouts). Never faults.
  void prefetch_slot(std::size_t i) const noexcept
  {
    __builtin_prefetch(reinterpret_cast<const char*>(&data_) + i * sizeof(storage_type) / extent);
  }
  // Slot i; requires i < extent (checked by MMSB_EXPECTS in debug builds).
  [[nodiscard]] MMSB_HD constexpr value_type get(std::size_t i) const noexcept
  {
    MMSB_EXPECTS(i < extent);
    return Layout::load(data_, i);
  }
  // Sets slot i to v; requires i < extent (checked by MMSB_EXPECTS in debug builds).
  MMSB_HD constexpr void set(std::size_t i, value_type v) noexcept
  {
    MMSB_EXPECTS(i < extent);
    Layout::store(data_, i, v);
  }

  // The raw slot block, for layout-aware code (SIMD, kernels, checkpoints).
  [[nodiscard]] MMSB_HD constexpr storage_type& storage() noexcept { return data_; }
  // The raw slot block, read-only.
  [[nodiscard]] MMSB_HD constexpr const storage_type& storage() const noexcept { return data_; }

  // The payload bytes only: what the state hash and checkpoints cover.
  [[nodiscard]] span<const std::byte> payload_bytes() const noexcept
  {
    return {reinterpret_cast<const std::byte*>(&data_), sizeof(storage_type)};
  }

private:
  storage_type data_{};
  page_id id_{};
  std::uint32_t reserved_{0};  // explicit, zeroed: no uninitialized padding between id and epoch
  mmsb::epoch epoch_{};
};

// Feeds a page into a state hash: its id and payload bytes (not its epoch, so that a replayed
// state hashes equal to the live one whatever epochs the replay assigned).
template <layout Layout>
void hash_into(state_hasher& h, const page<Layout>& p)
{
  h.add(p.id(), p.payload_bytes());
}

} // namespace mmsb
