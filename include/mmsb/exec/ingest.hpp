// The ingestion engine: what one change looks like as it crosses a ring (ingest_item) and the
// bus side of one producer (ingest_channel: its SPSC ring and the errors sent back to it). The
// producer handle that fills a channel is in bus/producer.hpp; the tick that drains it, in
// bus/bus.hpp.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/order_key.hpp>
#include <mmsb/exec/spsc_ring.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

namespace detail {

// One slot change as it crosses a ring (trivially copyable, 40 B for 8-byte values).
template <class Value>
struct ingest_item {
  std::uint32_t page;
  std::uint32_t slot;
  std::uint64_t epoch;
  std::uint64_t sequence;
  Value value;
  delta_op op;
};

// The bus side of one producer: its ring, and the errors the bus sends back.
template <class Value>
struct ingest_channel {
  using ring_type = spsc_ring<ingest_item<Value>, full_policy::block>;
  static constexpr std::size_t max_errors = 1024;  // kept per producer; later ones are counted

  ingest_channel(producer_id p, std::size_t capacity) : id(p), ring(capacity) {}

  void send_error(error e)
  {
    std::lock_guard lock(mutex);
    if (errors.size() < max_errors) errors.push_back(std::move(e));
    else ++dropped_errors;
  }

  producer_id id;
  ring_type ring;
  std::atomic<bool> closed{false};  // the producer handle is gone; drop the channel once empty
  std::mutex mutex;
  std::vector<error> errors;
  std::size_t dropped_errors = 0;
};

// Drains every channel's ring, in channel order, through scratch (grown to a chunk once):
// on_chunk(n) before each chunk of n changes, then on_item(channel, item) for each. Returns whether any channel was closed before its
// last drain (the caller may then drop channels that are closed and empty).
template <class Channel, class Item, class OnChunk, class OnItem>
bool drain(const std::vector<std::shared_ptr<Channel>>& channels, std::vector<Item>& scratch, OnChunk&& on_chunk, OnItem&& on_item)
{
  constexpr std::size_t chunk = 4096;
  if (scratch.size() < chunk) scratch.resize(chunk);
  bool any_closed = false;
  for (const auto& ch : channels) {
    const bool closed = ch->closed.load(std::memory_order_acquire);  // before the last drain
    while (const std::size_t n = ch->ring.pop_bulk({scratch.data(), scratch.size()})) {
      on_chunk(n);
      for (std::size_t k = 0; k < n; ++k) on_item(*ch, scratch[k]);
      if (n < scratch.size()) break;
    }
    any_closed = any_closed || closed;
  }
  return any_closed;
}

} // namespace detail

} // namespace mmsb
