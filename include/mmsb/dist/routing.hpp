// Routing: the changes a rank's producers push for pages other ranks own, in the compact wire
// form the distributed bus (dist/mpi_bus.hpp; docs/distributed.md) sends them in, one stream per
// owner rank (change_router), and their owner's side (change_inbox). Needs no MPI.
//
// The wire form, per destination: runs of one producer's changes in one epoch,
//   u32 producer | u32 count | LEB128 epoch | LEB128 first sequence     (one per run)
//   count × ( u32 page | slot (u16 when pages have at most 65,536 slots, else u32) | u8 op |
//             LEB128 sequence step from the change before (0 for the first) | value (the delta
//             codec's wire value) )                                   (fixed fields little-endian)
// so a change of a double costs 16 bytes in a long run (the in-memory routed_change takes 40),
// plus about 10 bytes a run. decode() checks every field (the page is the receiver's, the slot
// in range, the op known, the counts and steps within the bytes) before the caller changes
// anything.
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/dist/placement.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace mmsb::dist {

// One change on its way to its page's owner (the receiver's decoded form).
template <class T>
struct routed_change {
  std::uint64_t epoch;     // the producer's epoch when it pushed
  std::uint64_t sequence;  // the producer's sequence number
  std::uint32_t producer;  // the global producer id
  std::uint32_t page;      // the global page id
  std::uint32_t slot;      // the slot in the page
  std::uint32_t op;        // delta_op
  T value;                 // the change's value
};

// A producer's handle on a distributed bus (dist/mpi_bus.hpp: mpi_bus::producer): changes
// pushed here reach their pages' owners at the bus's next tick. Use it on the bus's thread; it
// must not outlive the bus. Bus provides value_type and queue(producer&, page, slot, op, value).
template <class Bus>
class routed_producer {
public:
  using value_type = typename Bus::value_type;  // the element type of one slot

  // Its global id.
  [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
  // Changes pushed from now on carry epoch e.
  void set_epoch(mmsb::epoch e) noexcept { epoch_ = e.value(); }
  // x ← x ⊕ v at slot `slot` of page g (a global id). Throws mmsb::error with nothing queued:
  // unknown_page naming g and the bus's range, out_of_range naming the page and slot.
  void accumulate(page_id g, std::size_t slot, value_type v) { bus_->queue(*this, g, slot, delta_op::accumulate, v); }
  // x ← v at slot `slot` of page g; as accumulate.
  void assign(page_id g, std::size_t slot, value_type v) { bus_->queue(*this, g, slot, delta_op::assign, v); }
private:
  friend Bus;
  routed_producer(Bus* b, std::uint32_t id) : bus_(b), id_(id) {}
  // Its next change's order key: epoch, sequence (the sequence advances).
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> next_key() noexcept { return {epoch_, sequence_++}; }
  Bus* bus_;
  std::uint32_t id_;
  std::uint64_t epoch_ = 0;
  std::uint64_t sequence_ = 0;
};

// The outgoing streams of one rank, one per owner rank (see the top of this header). Buffers
// keep their capacity across ticks.
template <class Layout>
class change_router {
public:
  using value_type = typename Layout::value_type;  // the element type of one slot
  using change_type = routed_change<value_type>;   // one change

  // Streams for `ranks` owner ranks, all empty.
  explicit change_router(std::size_t ranks = 0) : out_(ranks), runs_(ranks) {}

  // Appends c to owner's stream (continuing the open run when c continues it).
  void add(std::uint32_t owner, const change_type& c)
  {
    ++changes_;
    auto& out = out_[owner];
    auto& run = runs_[owner];
    if (!run.open || run.producer != c.producer || run.epoch != c.epoch || c.sequence < run.last_sequence) {
      run = {out.size(), c.producer, 0, c.epoch, c.sequence, true};
      out.resize(out.size() + 8);
      mmsb::detail::write_le<std::uint32_t>(out.data() + run.header, c.producer);  // the count follows, patched below
      put_leb128(out, c.epoch);
      put_leb128(out, c.sequence);
    }
    std::byte fixed[4 + slot_bytes + 1];
    mmsb::detail::write_le<std::uint32_t>(fixed, c.page);
    if constexpr (slot_bytes == 2) mmsb::detail::write_le<std::uint16_t>(fixed + 4, static_cast<std::uint16_t>(c.slot));
    else mmsb::detail::write_le<std::uint32_t>(fixed + 4, c.slot);
    fixed[4 + slot_bytes] = static_cast<std::byte>(c.op);
    out.insert(out.end(), fixed, fixed + sizeof fixed);
    put_leb128(out, c.sequence - run.last_sequence);
    std::byte v[sizeof(wire_value)];
    mmsb::detail::write_le<wire_value>(v, static_cast<wire_value>(c.value));
    out.insert(out.end(), v, v + sizeof v);
    run.last_sequence = c.sequence;
    mmsb::detail::write_le<std::uint32_t>(out.data() + run.header + 4, ++run.count);
  }

  // The streams, by owner rank (what the exchange sends).
  [[nodiscard]] const std::vector<std::vector<std::byte>>& streams() const noexcept { return out_; }
  // Changes added since the last clear().
  [[nodiscard]] std::uint64_t changes() const noexcept { return changes_; }
  // Bytes in every stream together.
  [[nodiscard]] std::uint64_t bytes() const noexcept
  {
    std::uint64_t n = 0;
    for (const auto& o : out_) n += o.size();
    return n;
  }
  // Empties every stream (keeping its capacity) and closes every run.
  void clear() noexcept
  {
    for (auto& o : out_) o.clear();
    for (auto& r : runs_) r.open = false;
    changes_ = 0;
  }

  // Decodes what rank `from` sent to rank `me` (the host of every page in it, under place),
  // appending to out. Returns what is wrong with it, or "" (out then holds what was decoded
  // before the fault).
  [[nodiscard]] static std::string decode(int from, std::uint32_t me, const placement& place, span<const std::byte> bytes,
                                          std::vector<change_type>& out)
  {
    const auto bad = [&](const std::string& what) {
      return "mpi_bus tick: the changes rank " + std::to_string(from) + " routed to rank " + std::to_string(me) + " are malformed (" +
             what + "); nothing changed";
    };
    std::size_t at = 0;
    while (at < bytes.size()) {
      if (bytes.size() - at < 8) return bad("a run header cut short at byte " + std::to_string(at));
      change_type c{};
      c.producer = mmsb::detail::get_le<std::uint32_t>(bytes.data() + at);
      const std::uint32_t count = mmsb::detail::get_le<std::uint32_t>(bytes.data() + at + 4);
      at += 8;
      if (!get_leb128(bytes, at, c.epoch) || !get_leb128(bytes, at, c.sequence)) return bad("a run header cut short");
      for (std::uint32_t k = 0; k < count; ++k) {
        if (bytes.size() - at < 4 + slot_bytes + 1) return bad("change " + std::to_string(k) + " of a run cut short");
        const std::byte* f = bytes.data() + at;
        c.page = mmsb::detail::get_le<std::uint32_t>(f);
        c.slot = slot_bytes == 2 ? mmsb::detail::get_le<std::uint16_t>(f + 4) : mmsb::detail::get_le<std::uint32_t>(f + 4);
        c.op = static_cast<std::uint32_t>(f[4 + slot_bytes]);
        at += 4 + slot_bytes + 1;
        std::uint64_t step = 0;
        if (!get_leb128(bytes, at, step)) return bad("a sequence step cut short or too long");
        if (bytes.size() - at < sizeof(wire_value)) return bad("a value cut short");
        c.value = static_cast<value_type>(mmsb::detail::get_le<wire_value>(bytes.data() + at));
        at += sizeof(wire_value);
        c.sequence += step;
        if (c.page >= place.pages() || place.host(page_id{c.page}) != me)
          return bad("page " + std::to_string(c.page) + " is not rank " + std::to_string(me) + "'s");
        if (c.slot >= Layout::extent) return bad("page " + std::to_string(c.page) + " slot " + std::to_string(c.slot) + " past the extent");
        if (c.op > static_cast<std::uint32_t>(delta_op::assign)) return bad("an unknown operation " + std::to_string(c.op));
        out.push_back(c);
      }
    }
    return {};
  }

private:
  static constexpr std::size_t slot_bytes = Layout::extent <= 65536 ? 2 : 4;
  using wire_value = mmsb::detail::wire_t<value_type>;
  // The run being written to one rank: where its header is, and what continues it.
  struct open_run {
    std::size_t header = 0;
    std::uint32_t producer = 0, count = 0;
    std::uint64_t epoch = 0, last_sequence = 0;
    bool open = false;
  };

  static void put_leb128(std::vector<std::byte>& out, std::uint64_t v)
  {
    for (;; v >>= 7) {
      out.push_back(static_cast<std::byte>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
      if (v < 0x80) return;
    }
  }
  // Reads a LEB128 value at bytes[at] (at moves past it); false when cut short or too long.
  static bool get_leb128(span<const std::byte> bytes, std::size_t& at, std::uint64_t& v)
  {
    v = 0;
    for (unsigned shift = 0; at < bytes.size() && shift <= 63; shift += 7) {
      const auto b = static_cast<std::uint8_t>(bytes[at++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  std::vector<std::vector<std::byte>> out_;  // by owner rank
  std::vector<open_run> runs_;               // by owner rank
  std::uint64_t changes_ = 0;
};

// The receiving side: what every rank routed to this one in a tick, decoded and checked, then in
// the key one bus folds changes in. Buffers keep their capacity across ticks.
template <class Layout>
class change_inbox {
public:
  using change_type = routed_change<typename Layout::value_type>;  // one change

  // Decodes the streams in `wire` (rank k's from[k] bytes, in rank order) for rank `me`, then
  // appends `own` (this rank's changes to its own pages, which never pass through MPI) and
  // empties it. Returns what is wrong, or "": a malformed stream, more than `capacity` changes
  // with `extra` more to come (the local ring would never drain: it drains only in the tick),
  // or a producer id that pushed from two ranks.
  [[nodiscard]] std::string receive(const placement& place, std::uint32_t me, span<const std::byte> wire, const std::vector<int>& from,
                                    std::vector<change_type>& own, std::size_t capacity, std::size_t extra)
  {
    changes_.clear();
    counts_.assign(from.size(), 0);
    std::string why;
    std::size_t at = 0;
    for (std::size_t k = 0; k < from.size(); ++k) {
      const std::size_t n = static_cast<std::size_t>(from[k]), before = changes_.size();
      if (why.empty()) why = change_router<Layout>::decode(static_cast<int>(k), me, place, wire.subspan(at, n), changes_);
      counts_[k] = changes_.size() - before;
      at += n;
    }
    received_ = changes_.size();
    changes_.insert(changes_.end(), own.begin(), own.end());  // this rank's own, last
    counts_[me] = own.size();
    own.clear();
    if (!why.empty()) return why;
    if (changes_.size() + extra > capacity)
      return "mpi_bus tick: " + std::to_string(changes_.size()) + " changes routed to rank " + std::to_string(me) +
             ", more than its local ring holds (bus_options::ring_capacity " + std::to_string(capacity) + "); nothing changed";
    return duplicate_producer(me);
  }
  // Changes other ranks sent in the last receive().
  [[nodiscard]] std::size_t received() const noexcept { return received_; }
  // Every change of the last receive(), in (epoch, producer, sequence) order (sorted only when
  // out of order: one producer's arrive in order).
  [[nodiscard]] const std::vector<change_type>& in_order()
  {
    const auto by_key = [](const change_type& a, const change_type& b) {
      return std::tie(a.epoch, a.producer, a.sequence) < std::tie(b.epoch, b.producer, b.sequence);
    };
    if (!std::is_sorted(changes_.begin(), changes_.end(), by_key)) std::sort(changes_.begin(), changes_.end(), by_key);
    return changes_;
  }
  // Drops the last receive()'s changes.
  void clear() noexcept { changes_.clear(); }

private:
  // A producer id seen from two ranks, or "". The changes hold the other ranks' in rank order,
  // then this rank's own: one entry per run of one producer's changes (a rank's producers push
  // in runs), linear, then a sort of the runs.
  [[nodiscard]] std::string duplicate_producer(std::uint32_t me)
  {
    seen_.clear();
    std::size_t at = 0;
    const auto segment = [&](std::size_t k) {
      for (std::size_t i = 0; i < counts_[k]; ++i)
        if (i == 0 || changes_[at + i].producer != changes_[at + i - 1].producer) seen_.emplace_back(changes_[at + i].producer, k);
      at += counts_[k];
    };
    for (std::size_t k = 0; k < counts_.size(); ++k)
      if (k != me) segment(k);
    segment(me);
    std::sort(seen_.begin(), seen_.end());
    seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
    for (std::size_t i = 1; i < seen_.size(); ++i)
      if (seen_[i].first == seen_[i - 1].first)
        return "mpi_bus tick: producer " + std::to_string(seen_[i].first) + " pushed on rank " + std::to_string(seen_[i - 1].second) +
               " and on rank " + std::to_string(seen_[i].second) + "; producer ids must be unique across ranks; nothing changed";
    return {};
  }

  std::vector<change_type> changes_;
  std::vector<std::size_t> counts_;  // by rank: its changes in changes_
  std::size_t received_ = 0;
  std::vector<std::pair<std::uint32_t, std::size_t>> seen_;  // (producer, rank), one per run
};

} // namespace mmsb::dist
