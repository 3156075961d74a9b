// The ingestion engine: what one change looks like as it crosses a ring (ingest_item), the bus
// side of one producer (ingest_channel: its SPSC ring and the errors sent back to it) and of all
// of them (ingest_hub: registration and the tick's drain into a batch). The producer handle that
// fills a channel is in bus/producer.hpp; the tick that calls the drain, in bus/bus.hpp.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/order_key.hpp>
#include <mmsb/exec/spsc_ring.hpp>

#include <algorithm>
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

  ingest_channel(producer_id p, std::size_t capacity, metrics_sink m = {}, trace_sink t = {})
      : id(p), ring(capacity), metrics(m), trace(t)
  {
  }

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
  metrics_sink metrics;  // the producer counts its waits on a full ring here (mmsb_producer_waits)
  trace_sink trace;      // ... and traces its pushes of deltas here (sampled)
};

// The bus side of all its producers: their channels, in registration (= producer id) order, and
// the drain that empties them into a batch once per tick. open() is thread-safe; drain_into
// belongs to the one thread that ticks.
template <class Value>
class ingest_hub {
public:
  using channel_type = ingest_channel<Value>;
  struct drained {
    std::size_t changes = 0;   // appended to the batch
    std::size_t rejected = 0;  // sent back to their producers (unknown page)
    std::size_t channels = 0;  // producers' channels drained (open ones, and closed ones not yet empty)
  };

  // A hub whose producers count their waits in m and trace their pushes in t (off by default).
  explicit ingest_hub(metrics_sink m = {}, trace_sink t = {}) noexcept : metrics_(m), trace_(t) {}

  // A channel with the next producer id and a ring of `capacity` changes. Throws mmsb::error
  // for a capacity that is not a power of two.
  std::shared_ptr<channel_type> open(std::size_t capacity)
  {
    std::lock_guard lock(mutex_);
    auto ch = std::make_shared<channel_type>(producer_id{next_id_++}, capacity, metrics_, trace_);
    channels_.push_back(ch);
    return ch;
  }

  // Drains every ring, in producer order, into batch (push_unchecked: the producer checked the
  // slot and the op, and room is reserved a chunk at a time). A change to a page exists(page)
  // refuses goes back to its producer as an mmsb::error (unknown_page) naming it; a closed
  // producer's channel goes once it is empty. Allocation-free once the buffers have grown.
  template <class Batch, class Exists>
  drained drain_into(Batch& batch, Exists&& exists)
  {
    {
      std::lock_guard lock(mutex_);
      draining_.assign(channels_.begin(), channels_.end());
    }
    constexpr std::size_t chunk = 4096;
    if (scratch_.size() < chunk) scratch_.resize(chunk);
    drained out;
    bool any_closed = false;
    for (const auto& ch : draining_) {
      const bool closed = ch->closed.load(std::memory_order_acquire);  // before the last drain
      while (const std::size_t n = ch->ring.pop_bulk({scratch_.data(), scratch_.size()})) {
        batch.reserve(batch.size() + n);
        for (std::size_t k = 0; k < n; ++k) {
          const auto& it = scratch_[k];
          if (!exists(page_id{it.page})) {
            ch->send_error(error(errc::unknown_page, "producer " + std::to_string(ch->id.value()) + ": page " + std::to_string(it.page) +
                                                       " does not exist (change to slot " + std::to_string(it.slot) + ", epoch " +
                                                       std::to_string(it.epoch) + ", sequence " + std::to_string(it.sequence) + " dropped)"));
            ++out.rejected;
            continue;
          }
          batch.push_unchecked(page_id{it.page}, it.slot, it.op, it.value, order_key{mmsb::epoch{it.epoch}, ch->id, sequence_no{it.sequence}});
          ++out.changes;
        }
        if (n < scratch_.size()) break;
      }
      any_closed = any_closed || closed;
    }
    out.channels = draining_.size();
    draining_.clear();
    if (any_closed) {
      std::lock_guard lock(mutex_);
      std::erase_if(channels_, [](const auto& ch) { return ch->closed.load(std::memory_order_acquire) && ch->ring.empty_approx(); });
    }
    return out;
  }

private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<channel_type>> channels_;  // registration order = producer id order
  std::vector<std::shared_ptr<channel_type>> draining_;  // this tick's copy
  std::vector<ingest_item<Value>> scratch_;
  std::uint32_t next_id_ = 0;
  metrics_sink metrics_;
  trace_sink trace_;
};

} // namespace detail

} // namespace mmsb
