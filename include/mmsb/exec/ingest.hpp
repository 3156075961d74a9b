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

} // namespace detail

} // namespace mmsb
