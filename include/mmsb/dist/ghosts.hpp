// Both sides of the ghosts of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md): the
// owner's boundary pages (pages other ranks hold ghosts of), each with its value as last sent,
// turned after each step into one encoded delta per changed page (delta/codec.hpp: assigns of
// the changed slots); and the holder's decoding of what arrived into ghost assigns, every delta
// checked. Needs no MPI.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/delta.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace mmsb::dist {

// A ghost slot to assign on its holder: (the ghost's local id, slot, value).
template <class T>
struct ghost_update {
  page_id ghost;       // the ghost's local id
  std::uint32_t slot;  // the slot
  T value;             // its new value
};

// The owner's side: its boundary pages, in the order they became boundary pages.
template <class Semiring, class Layout>
class boundary_set {
public:
  using value_type = typename Layout::value_type;      // the element type of one slot
  using storage_type = typename Layout::storage_type;  // one page's slots

  // Rank `holder` now holds a ghost of page `global` (local id `local`), whose value is `now`
  // (recorded as sent, the first holder's time). Returns the value as sent.
  const storage_type& add_holder(std::uint32_t global, page_id local, std::uint32_t holder, const storage_type& now)
  {
    auto it = at_.find(global);
    if (it == at_.end()) {
      it = at_.emplace(global, pages_.size()).first;
      pages_.push_back({global, local, {}, now});
    }
    auto& b = pages_[it->second];
    b.holders.push_back(holder);
    return b.shadow;
  }
  // How many pages have ghosts elsewhere.
  [[nodiscard]] std::size_t size() const noexcept { return pages_.size(); }
  // Every rank holding a ghost of a page here (repeats included).
  template <class F>
  void for_each_holder(F&& f) const
  {
    for (const auto& b : pages_)
      for (const std::uint32_t h : b.holders) f(h);
  }

  // Compares each page's value (value_of(local id)) with what was last sent; for each that
  // changed, encodes the changed slots as one delta of assigns and hands it to send(holder,
  // bytes) for every holder, and records the value as sent. Returns (slots, bytes) summed over
  // the holders. Allocation-free once warm.
  template <class ValueOf, class Send>
  std::pair<std::uint64_t, std::uint64_t> collect(ValueOf&& value_of, Send&& send)
  {
    std::uint64_t slots = 0, bytes = 0;
    for (auto& b : pages_) {
      const storage_type& now = value_of(b.local);
      if (std::memcmp(&now, &b.shadow, sizeof(storage_type)) == 0) continue;
      auto& s = scratch_.reuse_sparse(page_id{b.global});
      s.reserve(Layout::extent);  // once: kept across pages and ticks
      for (std::size_t i = 0; i < Layout::extent; ++i) {
        const value_type v = Layout::load(now, i);
        if (same_bits(v, Layout::load(b.shadow, i))) continue;
        s.push_back_unchecked(static_cast<std::uint32_t>(i), delta_op::assign, v);
      }
      b.shadow = now;
      encoded_.clear();
      const std::size_t n = encode(scratch_, encoded_);
      for (const std::uint32_t h : b.holders) send(h, span<const std::byte>(encoded_.data(), n));
      slots += s.count() * b.holders.size();
      bytes += n * b.holders.size();
    }
    return {slots, bytes};
  }

  // Whether two values are the same bits.
  [[nodiscard]] static bool same_bits(value_type a, value_type b) noexcept { return std::memcmp(&a, &b, sizeof(value_type)) == 0; }

private:
  struct page {
    std::uint32_t global;               // its global id
    page_id local;                      // its local id
    std::vector<std::uint32_t> holders; // the ranks holding a ghost of it, in the order made
    storage_type shadow;                // its value as last sent to them
  };
  std::vector<page> pages_;
  std::unordered_map<std::uint32_t, std::size_t> at_;  // global id -> place in pages_
  delta<Semiring, Layout> scratch_;
  std::vector<std::byte> encoded_;
};

// The holder's side: decodes a stream of encoded deltas from rank `from` into ghost assigns
// (ghosts: global id -> the ghost's local id), appending to out; each delta is decoded into
// `scratch` (allocation-free once warm: delta/codec.hpp, decode_into). Throws mmsb::error for a
// malformed stream, a delta for a page this rank holds no ghost of, or an accumulate.
template <class Semiring, class Layout>
void decode_ghost_updates(int from, span<const std::byte> rest, const std::unordered_map<std::uint32_t, page_id>& ghosts,
                          std::vector<ghost_update<typename Layout::value_type>>& out, delta<Semiring, Layout>& scratch)
{
  using value_type = typename Layout::value_type;
  while (!rest.empty()) {
    const std::size_t n = encoded_size_at<Layout>(rest);
    decode_into(rest.first(n), scratch);
    const delta<Semiring, Layout>& d = scratch;
    rest = rest.subspan(n);
    const auto it = ghosts.find(d.target().value());
    if (it == ghosts.end())
      throw error(errc::invalid_argument, "rank " + std::to_string(from) + " sent a change of page " + std::to_string(d.target().value()) +
                                            ", which this rank holds no ghost of");
    d.visit([&](const auto& enc) {
      const auto assign = [&](std::size_t i, bool is_assign, value_type v) {
        if (!is_assign)
          throw error(errc::invalid_argument, "rank " + std::to_string(from) + " sent an accumulate to slot " + std::to_string(i) +
                                                " of page " + std::to_string(d.target().value()) + "; ghost updates are assigns");
        out.push_back({it->second, static_cast<std::uint32_t>(i), v});
      };
      if constexpr (std::is_same_v<std::decay_t<decltype(enc)>, sparse_delta<Semiring, Layout>>) {
        for (const auto& e : enc.entries()) assign(e.index, e.op == delta_op::assign, e.value);
      } else {
        for (std::size_t i = 0; i < Layout::extent; ++i)
          if (enc.contains(i)) assign(i, enc.is_assign(i), enc.value(i));
      }
    });
  }
}

} // namespace mmsb::dist
