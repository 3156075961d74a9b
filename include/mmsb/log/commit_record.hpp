// The payload of a commit record (record_type::commit): one committed epoch's deltas and,
// optionally, bytes the log does not interpret (the bus's topology edits: its "structure").
//
//   u32 n, then n × (u32 length, the delta's wire encoding: delta/codec.hpp, version 2 written,
//   versions 1 and 2 read; a delta is logged sparse exactly when that is smaller than dense)
//   optional structure section: u32 tag "STRC", u32 length, the bytes
//
// A commit without a structure section is byte for byte the format before the section existed.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/log/new_pages.hpp>
#include <mmsb/log/record.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mmsb::detail {

inline constexpr std::uint32_t commit_structure_tag = 0x43525453u;  // "STRC" little-endian

inline void store_u32(std::vector<std::byte>& out, std::uint32_t v)
{
  std::byte b[4];
  store_le(b, v, 4);
  out.insert(out.end(), b, b + 4);
}

// Starts a payload of n deltas (out is cleared by the caller).
inline void begin_commit_payload(std::vector<std::byte>& out, std::size_t n) { store_u32(out, static_cast<std::uint32_t>(n)); }

// One delta: its length, then its wire form (sparse when that is smaller: delta/codec.hpp), encoded
// in place after the length, which is filled in afterwards (the size is computed once).
template <class Semiring, class Layout>
void append_commit_delta(std::vector<std::byte>& out, const delta<Semiring, Layout>& d)
{
  const std::size_t at = out.size();
  store_u32(out, 0);
  try {
    const std::size_t n = encode(d, out);  // may reallocate: the length is stored after
    store_le(out.data() + at, n, 4);
  } catch (...) {
    out.resize(at);
    throw;
  }
}

// Appends deltas (each as length + wire form, as append_commit_delta does) in `ranges` parts:
// run(ranges, f) calls f(r) for every part r, on whatever threads it likes. Each part plans its
// deltas' encodings, the offsets are summed on this thread, then each part writes its own
// bytes, so the payload is byte for byte the serial one at any thread count. The scratch is
// kept: once it has grown, encoding allocates nothing beyond `out`'s growth.
class commit_encoder {
public:
  template <class Semiring, class Layout, class Run>
  void append(std::vector<std::byte>& out, span<const delta<Semiring, Layout>> ds, std::size_t ranges, Run&& run)
  {
    const std::size_t n = ds.size();
    ranges = n == 0 ? 1 : std::min(std::max<std::size_t>(ranges, 1), n);
    plans_.resize(n);
    starts_.resize(ranges + 1);
    const auto first = [&](std::size_t r) { return n * r / ranges; };
    run(ranges, [&](std::size_t r) {
      for (std::size_t k = first(r); k < first(r + 1); ++k) plans_[k] = plan_wire(ds[k]);
    });
    std::size_t at = out.size();
    for (std::size_t r = 0; r < ranges; ++r) {
      starts_[r] = at;
      for (std::size_t k = first(r); k < first(r + 1); ++k) at += 4 + plans_[k].bytes;
    }
    starts_[ranges] = at;
    reserve_for(out, at);
    out.resize(at);  // zeroed: encode_into or-s the bitmaps in
    run(ranges, [&](std::size_t r) {
      std::byte* p = out.data() + starts_[r];
      for (std::size_t k = first(r); k < first(r + 1); ++k) {
        store_le(p, plans_[k].bytes, 4);
        encode_into(ds[k], plans_[k], p + 4);
        p += 4 + plans_[k].bytes;
      }
    });
  }

private:
  std::vector<wire_plan> plans_;
  std::vector<std::size_t> starts_;
};

// The structure section, after the deltas; nothing when `structure` is empty.
inline void append_commit_structure(std::vector<std::byte>& out, span<const std::byte> structure)
{
  if (structure.empty()) return;
  store_u32(out, commit_structure_tag);
  store_u32(out, static_cast<std::uint32_t>(structure.size()));
  out.insert(out.end(), structure.begin(), structure.end());
}

// Decodes a commit record's deltas into `out` (cleared first) and its structure (a view into
// payload; empty if none). Throws mmsb::error (corrupt) naming the epoch.
template <class Semiring, class Layout>
void decode_commit(mmsb::epoch e, span<const std::byte> payload, std::vector<delta<Semiring, Layout>>& out,
                   span<const std::byte>& structure)
{
  const auto bad = [&](const char* why) {
    return error(errc::corrupt, "commit record at epoch " + std::to_string(e.value()) + " is " + why);
  };
  out.clear();
  structure = {};
  if (payload.size() < 4) throw bad("too short");
  const auto n = static_cast<std::uint32_t>(load_le(payload.data(), 4));
  std::size_t off = 4;
  for (std::uint32_t k = 0; k < n; ++k) {
    if (payload.size() - off < 4) throw bad("truncated");
    const std::size_t len = load_le(payload.data() + off, 4);
    off += 4;
    if (payload.size() - off < len) throw bad("truncated");
    out.push_back(decode<Semiring, Layout>(payload.subspan(off, len)));
    off += len;
  }
  if (off == payload.size()) return;
  if (payload.size() - off < 8 || load_le(payload.data() + off, 4) != commit_structure_tag)
    throw bad("followed by bytes that are not a structure section");
  const std::size_t len = load_le(payload.data() + off + 4, 4);
  if (payload.size() - off - 8 != len) throw bad("truncated in its structure section");
  structure = payload.subspan(off + 8, len);
}

// Encodes one commit record's payload into `payload`: `deltas`, then an empty delta for every
// page in `pending` (created since the last commit) that none of them names, so recovery creates
// it, then `structure`. A page created at a value other than zero() is logged as "every slot :=
// initial, then its delta" as one delta (the merge law), so recovery, which creates pages at
// zero(), reaches the same bytes (live, the page already holds the initial value). With no new
// page to name, the encoding runs in parts on `sched` (commit_encoder: the same bytes at any
// thread count), allocating nothing once the buffers have grown.
template <class Semiring, class Layout, class Sched>
void encode_commit(std::vector<std::byte>& payload, commit_encoder& encoder, span<const delta<Semiring, Layout>> deltas,
                   const new_pages<typename Layout::value_type>& pending, span<const std::byte> structure, const Sched& sched)
{
  using delta_type = delta<Semiring, Layout>;
  std::vector<std::uint32_t> fresh;  // pages created since the last commit that no delta names
  if (!pending.empty()) {
    std::vector<std::uint32_t> named;
    named.reserve(deltas.size());
    for (const auto& d : deltas) named.push_back(d.target().value());
    std::sort(named.begin(), named.end());
    for (const auto id : pending.ids())
      if (!std::binary_search(named.begin(), named.end(), id)) fresh.push_back(id);
  }
  payload.clear();
  begin_commit_payload(payload, deltas.size() + fresh.size());
  const auto append = [&](const delta_type& d) {
    if (const auto* init = pending.initial_of(d.target().value())) {
      delta_builder<Semiring, Layout> b(d.target());
      for (std::size_t i = 0; i < Layout::extent; ++i) b.assign(i, *init);
      append_commit_delta(payload, merge(b.build(), d));
      return;
    }
    append_commit_delta(payload, d);
  };
  if (fresh.empty() && !pending.any_initial()) {  // the steady state: in parts on the scheduler
    const std::size_t parts = sched.concurrency() > 1 ? sched.concurrency() * 4 : 1;
    encoder.append(payload, deltas, parts, [&](std::size_t n, auto&& f) { sched.run(n, f); });
  } else {
    for (const auto& d : deltas) append(d);
    for (const auto id : fresh) append(delta_type(sparse_delta<Semiring, Layout>(page_id{id})));
  }
  append_commit_structure(payload, structure);
}

} // namespace mmsb::detail
