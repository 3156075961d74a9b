// producer<Semiring, Layout>: how changes reach the bus from any thread. Each producer owns one
// bounded SPSC ring (exec/spsc_ring.hpp, through exec/ingest.hpp's channel) that only the bus's
// tick drains, so producers never contend with each other, and every change carries its order
// key (epoch, producer, sequence) from the start: the order the bus folds changes in never
// depends on arrival time or thread count.
//
// Errors the producer can see at once (a slot past the page's extent) throw in the producer's
// thread. A change to a page that does not exist is only known when the tick drains it: the tick
// drops that change, goes on with everyone else's, and sends an mmsb::error naming the page back
// to that producer (take_errors()).
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/trace.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/exec/ingest.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

// A producer's handle (from basic_bus::make_producer). Movable, not copyable; use it from one
// thread at a time. Each change gets the next sequence number; the epoch is the producer's own
// clock (set_epoch), so replaying the same streams gives the same keys and the same state.
template <class Semiring, class Layout>
class producer {
public:
  using value_type = typename Layout::value_type;  // the element type of one slot
  using channel_type = detail::ingest_channel<value_type>;  // the ring and error list shared with the bus's ingest (exec/ingest.hpp)

  producer() = default;
  // A producer writing into ch (basic_bus::make_producer makes these).
  explicit producer(std::shared_ptr<channel_type> ch) : ch_(std::move(ch)) {}
  // Takes other's ring, epoch and sequence; other is left without a ring (only assign or destroy it).
  producer(producer&&) noexcept = default;
  // Closes this producer's ring (the bus drains what it holds), then takes other's.
  producer& operator=(producer&& other) noexcept
  {
    if (this != &other) {
      close();
      ch_ = std::move(other.ch_);
      combined_ = std::move(other.combined_);
      epoch_ = other.epoch_;
      sequence_ = other.sequence_;
    }
    return *this;
  }
  ~producer() { close(); }

  // This producer's id, the middle of its changes' order keys (0 when it has no ring).
  [[nodiscard]] producer_id id() const noexcept { return ch_ ? ch_->id : producer_id{}; }
  // Changes pushed from now on carry epoch e (a producer's epochs should not decrease).
  void set_epoch(mmsb::epoch e) noexcept { epoch_ = e.value(); }
  // The epoch its next change carries (set_epoch; 0 until set).
  [[nodiscard]] mmsb::epoch current_epoch() const noexcept { return mmsb::epoch{epoch_}; }

  // Queue one change; blocks while the ring is full (it spins briefly, then sleeps until the
  // tick drains). Throws mmsb::error naming page and slot for a slot past the extent
  // (out_of_range) or an unknown op (invalid_argument), with nothing queued.
  void accumulate(page_id p, std::size_t slot, value_type v) { put(p, slot, delta_op::accumulate, v); }
  // x ← v at slot `slot` of page p; otherwise as accumulate.
  void assign(page_id p, std::size_t slot, value_type v) { put(p, slot, delta_op::assign, v); }
  // accumulate or assign, by op; as accumulate.
  void put(page_id p, std::size_t slot, delta_op op, value_type v)
  {
    const auto it = item(p, slot, op, v, sequence_++);
    if (ch_->ring.try_push(it)) return;
    ch_->metrics.add(metric_counter::producer_waits);  // back-pressure: the tick has not drained yet
    (void)ch_->ring.push(it);
  }
  // The same, but returns false at once (nothing queued, no sequence number used) when full.
  [[nodiscard]] bool try_put(page_id p, std::size_t slot, delta_op op, value_type v)
  {
    if (!ch_->ring.try_push(item(p, slot, op, v, sequence_))) return false;
    ++sequence_;
    return true;
  }
  // Every slot of d under one sequence number (a delta's slots are distinct), in bulk.
  void push(const delta<Semiring, Layout>& d)
  {
    MMSB_EXPECTS(ch_ != nullptr);
    const trace_scope traced(ch_->trace, trace_zone::producer_push, ch_->id.value(), ch_->trace.sampled(sequence_));
    d.visit([&](const auto& enc) { send(enc, sequence_++); });
  }
  // Every delta of ds, in order, with producer-side combining: a run of consecutive deltas to
  // the same page is merged here, through the merge law, into one delta under one sequence
  // number before it enters the ring. The bus folds a page's changes in key order and nothing
  // of this producer's falls between the run's keys, so the state and the log are exactly those
  // of pushing them one by one; the ring carries fewer changes. Allocates only the first time a
  // run is combined (a page-sized scratch kept for the next).
  void push(span<const delta<Semiring, Layout>> ds)
  {
    MMSB_EXPECTS(ch_ != nullptr);
    const trace_scope traced(ch_->trace, trace_zone::producer_push, ch_->id.value(), ch_->trace.sampled(sequence_));
    for (std::size_t i = 0; i < ds.size();) {
      std::size_t j = i + 1;
      while (j < ds.size() && ds[j].target() == ds[i].target()) ++j;
      if (j == i + 1) {
        push(ds[i]);
      } else {
        if (!combined_) combined_ = std::make_unique<dense_delta<Semiring, Layout>>(ds[i].target());
        combined_->clear();
        combined_->retarget(ds[i].target());
        for (std::size_t k = i; k < j; ++k) ds[k].visit([&](const auto& enc) { detail::merge_encoded_into(*combined_, enc); });
        send(*combined_, sequence_++);
      }
      i = j;
    }
  }

  // Errors the bus sent back since the last call (unknown pages), oldest first; none for a
  // default-constructed or moved-from producer.
  [[nodiscard]] std::vector<error> take_errors()
  {
    if (!ch_) return {};
    std::lock_guard lock(ch_->mutex);
    return std::exchange(ch_->errors, {});
  }

private:
  // d's slots into the ring under one sequence number, in chunks.
  void send(const sparse_delta<Semiring, Layout>& d, std::uint64_t seq)
  {
    chunked([&](auto&& emit) {
      for (const auto& e : d.entries()) emit(e.index, e.op, e.value);
    }, d.target(), seq);
  }
  void send(const dense_delta<Semiring, Layout>& d, std::uint64_t seq)
  {
    chunked([&](auto&& emit) {
      for (std::size_t w = 0; w < dense_delta<Semiring, Layout>::words; ++w)
        for (word_t bits = d.mask_words()[w]; bits != 0; bits &= bits - 1) {
          const auto i = static_cast<std::uint32_t>(w * word_bits + static_cast<std::size_t>(countr_zero(bits)));
          emit(i, d.is_assign(i) ? delta_op::assign : delta_op::accumulate, d.value(i));
        }
    }, d.target(), seq);
  }
  template <class ForEach>
  void chunked(ForEach&& for_each, page_id page, std::uint64_t seq)
  {
    constexpr std::size_t chunk = 64;
    detail::ingest_item<value_type> buf[chunk];
    std::size_t n = 0;
    for_each([&](std::uint32_t slot, delta_op op, value_type v) {
      buf[n++] = item(page, slot, op, v, seq);
      if (n == chunk) {
        push_all(buf, n);
        n = 0;
      }
    });
    if (n) push_all(buf, n);
  }
  // buf[0, n) into the ring, waiting (and counting the wait) while it is full.
  void push_all(const detail::ingest_item<value_type>* buf, std::size_t n)
  {
    const std::size_t done = ch_->ring.try_push_bulk({buf, n});
    if (done == n) return;
    ch_->metrics.add(metric_counter::producer_waits);
    (void)ch_->ring.push_bulk({buf + done, n - done});
  }

  detail::ingest_item<value_type> item(page_id p, std::size_t slot, delta_op op, value_type v, std::uint64_t seq) const
  {
    MMSB_EXPECTS(ch_ != nullptr);
    if (slot >= Layout::extent)
      throw error(errc::out_of_range, "producer " + std::to_string(ch_->id.value()) + ": page " + std::to_string(p.value()) +
                                        " slot " + std::to_string(slot) + " is out of range (pages hold " +
                                        std::to_string(Layout::extent) + " slots)");
    if (op != delta_op::accumulate && op != delta_op::assign)
      throw error(errc::invalid_argument, "producer " + std::to_string(ch_->id.value()) + ": page " + std::to_string(p.value()) +
                                            " slot " + std::to_string(slot) + ": unknown op " +
                                            std::to_string(static_cast<unsigned>(op)));
    return {p.value(), static_cast<std::uint32_t>(slot), epoch_, seq, v, op};
  }
  void close() noexcept
  {
    if (ch_) ch_->closed.store(true, std::memory_order_release);
    ch_.reset();
  }

  std::shared_ptr<channel_type> ch_;
  std::unique_ptr<dense_delta<Semiring, Layout>> combined_;  // push(span)'s scratch
  std::uint64_t epoch_ = 0;
  std::uint64_t sequence_ = 0;
};

} // namespace mmsb
