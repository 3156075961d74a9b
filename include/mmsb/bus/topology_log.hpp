// Topology as state: the bus's topology edits as bytes the log carries with a commit (the
// store's "structure", uninterpreted below the bus), and the whole topology as bytes a checkpoint
// holds. Replaying them in order rebuilds the same graph, with the same edge and region ids, so
// derived pages, provenance and audits come back across topology changes.
//
// Format (little-endian), one blob per commit or checkpoint:
//   u32 version (1), then ops, each a u8 code and its fields:
//     matrix        u32 rows, u32 cols, u32 nnz, nnz × (u32 row, u32 col, value bytes)
//                   defines the blob's next matrix (refs count from 0 within one blob)
//     matrix_edge   u32 src, u32 dst, u32 matrix ref, u32 mask words, mask words × u64
//     kernel_edge   u32 dst, u32 n, n × u32 src, u32 name length, name bytes
//     remove_edge   u32 edge
//     set_weights   u32 edge, u32 matrix ref
//     set_rows      u32 edge, u32 n, n × (u32 row, u32 k, k × (u32 col, value bytes)): the edge's
//                   matrix with those rows replaced (set_weights logs only the rows that changed)
//     region        u32 max_iterations, u32 n, n × u32 member
//     removed_edge  (no fields) the next edge id belonged to an edge removed before (checkpoints;
//                   one byte per id, so a reader's work is bounded by the blob's size)
// Values are the matrix's value type's bytes (the store's shape fixes that type). Matrices are
// written once per blob however many edges share them. A kernel edge logs its name: the function
// itself comes from the bus's kernel table on replay.
//
// A checkpoint's blob writes the regions first, then every edge ever added in id order: a live
// one as it is now, a removed one as a removed_edge op that only reserves its id,
// so that ids come back unchanged and later log records name the right edges. (Re-adding a
// removed edge instead would run its cycle check against regions made after it: refused.)
//
// Here: topology_writer (builds a blob) and read_topology (parses one, calling a visitor); the
// visitor that replays onto a page_graph and a graph's whole topology for a checkpoint are in
// topology_replay.hpp. Malformed bytes are mmsb::error (corrupt), never a crash or
// an unbounded allocation: shapes are checked against the page extent before anything is built.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/graph/csr_matrix.hpp>
#include <mmsb/graph/topology.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmsb::detail {

enum class topology_op : std::uint8_t {
  matrix = 1, matrix_edge = 2, kernel_edge = 3, remove_edge = 4, set_weights = 5, region = 6, removed_edge = 7,
  set_rows = 8
};
inline constexpr std::uint32_t topology_log_version = 1;

// Builds one blob. Matrices are deduplicated by identity: `hold` (when given) keeps each one
// alive while the blob is built, so an address cannot be reused for another matrix; without it
// the caller guarantees that (a checkpoint writes matrices the graph holds).
template <class T>
class topology_writer {
public:
  using matrix_type = csr_matrix<T>;

  [[nodiscard]] bool empty() const noexcept { return out_.empty(); }
  [[nodiscard]] span<const std::byte> bytes() const noexcept { return {out_.data(), out_.size()}; }
  void clear() noexcept
  {
    out_.clear();
    refs_.clear();
    held_.clear();
  }

  // An edit is recorded before the graph takes it; if the graph refuses it, rollback(mark())
  // taken before forgets it, matrices included, so the log never holds an edit the graph lacks
  // (nor the other way round).
  struct mark_type {
    std::size_t bytes, matrices, held;
  };
  [[nodiscard]] mark_type mark() const noexcept { return {out_.size(), refs_.size(), held_.size()}; }
  void rollback(const mark_type& m) noexcept
  {
    out_.resize(m.bytes);
    std::erase_if(refs_, [&](const auto& kv) { return kv.second >= m.matrices; });
    held_.resize(m.held);
  }

  // A topology edit: record() appends it, then apply() makes it (to the graph); if apply (or
  // anything) throws, the record is taken back, so the log and the graph never disagree.
  template <class Record, class Apply>
  decltype(auto) logged(Record&& record, Apply&& apply)
  {
    const auto m = mark();
    try {
      record();
      return apply();
    } catch (...) {
      rollback(m);
      throw;
    }
  }

  void matrix_edge(std::uint32_t src, std::uint32_t dst, const matrix_type& a, span<const word_t> mask,
                   std::shared_ptr<const matrix_type> hold = nullptr)
  {
    const std::uint32_t ref = matrix_ref(a, std::move(hold));
    op(topology_op::matrix_edge);
    u32(src);
    u32(dst);
    u32(ref);
    u32(static_cast<std::uint32_t>(mask.size()));
    for (const word_t w : mask) u64(w);
  }
  void kernel_edge(span<const page_id> srcs, std::uint32_t dst, std::string_view name)
  {
    op(topology_op::kernel_edge);
    u32(dst);
    u32(static_cast<std::uint32_t>(srcs.size()));
    for (const auto s : srcs) u32(s.value());
    u32(static_cast<std::uint32_t>(name.size()));
    const auto* b = reinterpret_cast<const std::byte*>(name.data());
    out_.insert(out_.end(), b, b + name.size());
  }
  void remove_edge(std::uint32_t e)
  {
    op(topology_op::remove_edge);
    u32(e);
  }
  void set_weights(std::uint32_t e, const matrix_type& a, std::shared_ptr<const matrix_type> hold = nullptr)
  {
    const std::uint32_t ref = matrix_ref(a, std::move(hold));
    op(topology_op::set_weights);
    u32(e);
    u32(ref);
  }
  void removed_edge() { op(topology_op::removed_edge); }
  // Edge e's matrix becomes `now`, which differs from the one it had only in rows `changed`.
  void set_rows(std::uint32_t e, const matrix_type& now, span<const std::uint32_t> changed)
  {
    op(topology_op::set_rows);
    u32(e);
    u32(static_cast<std::uint32_t>(changed.size()));
    for (const std::uint32_t r : changed) {
      const auto cols = now.row_cols(r);
      const auto vals = now.row_values(r);
      u32(r);
      u32(static_cast<std::uint32_t>(cols.size()));
      const std::size_t at = out_.size();
      out_.resize(at + cols.size() * (4 + sizeof(T)));
      std::byte* p = out_.data() + at;
      for (std::size_t k = 0; k < cols.size(); ++k, p += 4 + sizeof(T)) {
        put32(p, cols[k]);
        const T v = static_cast<T>(vals[k]);
        std::memcpy(p + 4, &v, sizeof(T));
      }
    }
  }
  void region(span<const page_id> members, std::uint32_t max_iterations)
  {
    op(topology_op::region);
    u32(max_iterations);
    u32(static_cast<std::uint32_t>(members.size()));
    for (const auto m : members) u32(m.value());
  }

private:
  void start()
  {
    if (out_.empty()) u32(topology_log_version);
  }
  void op(topology_op o)
  {
    start();
    out_.push_back(static_cast<std::byte>(o));
  }
  void u32(std::uint32_t v)
  {
    const std::size_t at = out_.size();
    out_.resize(at + 4);
    put32(out_.data() + at, v);
  }
  static void put32(std::byte* p, std::uint32_t v) noexcept
  {
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(p, &v, 4);  // one store
    } else {
      for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xffu);
    }
  }
  void u64(std::uint64_t v)
  {
    u32(static_cast<std::uint32_t>(v));
    u32(static_cast<std::uint32_t>(v >> 32));
  }
  std::uint32_t matrix_ref(const matrix_type& a, std::shared_ptr<const matrix_type> hold)
  {
    if (const auto it = refs_.find(&a); it != refs_.end()) return it->second;
    op(topology_op::matrix);
    u32(static_cast<std::uint32_t>(a.rows()));
    u32(static_cast<std::uint32_t>(a.cols()));
    u32(static_cast<std::uint32_t>(a.nnz()));
    constexpr std::size_t entry_bytes = 8 + sizeof(T);
    const std::size_t at = out_.size();
    out_.resize(at + a.nnz() * entry_bytes);  // one growth for every entry
    std::byte* p = out_.data() + at;
    const auto rows = static_cast<std::uint32_t>(a.rows());
    for (std::uint32_t r = 0; r < rows; ++r) {
      const auto cols = a.row_cols(r);
      const auto vals = a.row_values(r);
      const std::size_t n = cols.size();
      for (std::size_t k = 0; k < n; ++k, p += entry_bytes) {
        put32(p, r);
        put32(p + 4, cols[k]);
        const T v = static_cast<T>(vals[k]);
        std::memcpy(p + 8, &v, sizeof(T));
      }
    }
    const auto ref = static_cast<std::uint32_t>(refs_.size());
    if (hold) held_.push_back(std::move(hold));
    refs_.emplace(&a, ref);
    return ref;
  }

  std::vector<std::byte> out_;
  std::unordered_map<const matrix_type*, std::uint32_t> refs_;
  std::vector<std::shared_ptr<const matrix_type>> held_;
};

// Reads one blob and calls the visitor's
//   matrix_edge(src, dst, shared_ptr<const matrix>, span<const word_t> mask)
//   kernel_edge(span<const page_id> srcs, dst, std::string name)
//   remove_edge(edge), set_weights(edge, shared_ptr<const matrix>), region(span<const page_id>, max),
//   removed_edge(), set_rows(edge, span<const u32> rows (ascending), span<const matrix_entry> their entries)
// in order. Matrices must be extent × extent. Throws mmsb::error (corrupt) naming `what` and the
// offset for a malformed blob; whatever the visitor throws passes through.
template <class T, class Visitor>
void read_topology(span<const std::byte> blob, std::size_t extent, const std::string& what, Visitor&& v)
{
  using matrix_type = csr_matrix<T>;
  std::size_t off = 0;
  const auto bad = [&](const std::string& why) {
    return error(errc::corrupt, what + ": topology record " + why + " at byte " + std::to_string(off));
  };
  const auto need = [&](std::size_t n) {
    if (blob.size() - off < n) throw bad("truncated");
  };
  const auto u32 = [&]() {
    need(4);
    std::uint32_t x = 0;
    for (int i = 0; i < 4; ++i) x |= static_cast<std::uint32_t>(blob[off + static_cast<std::size_t>(i)]) << (8 * i);
    off += 4;
    return x;
  };
  if (blob.empty()) return;
  if (const auto version = u32(); version != topology_log_version)
    throw bad("of version " + std::to_string(version) + " (this build reads version " + std::to_string(topology_log_version) + ")");
  const auto read_value = [&](T& out) {
    need(sizeof(T));
    if constexpr (std::is_same_v<T, bool>) {  // only 0 and 1 are bools
      if (blob[off] != std::byte{0} && blob[off] != std::byte{1}) throw bad("has a boolean weight that is neither 0 nor 1");
      out = blob[off] == std::byte{1};
    } else {
      std::memcpy(&out, blob.data() + off, sizeof(T));
    }
    off += sizeof(T);
  };
  std::vector<std::shared_ptr<const matrix_type>> matrices;
  std::vector<page_id> ids;
  std::vector<std::uint32_t> ids32;
  std::vector<word_t> mask;
  std::vector<matrix_entry<T>> entries;
  const auto matrix_at = [&](std::uint32_t ref) {
    if (ref >= matrices.size()) throw bad("names matrix " + std::to_string(ref) + " of " + std::to_string(matrices.size()));
    return matrices[ref];
  };
  while (off < blob.size()) {
    const auto code = static_cast<topology_op>(blob[off]);
    ++off;
    switch (code) {
    case topology_op::matrix: {
      const std::uint32_t rows = u32(), cols = u32(), nnz = u32();
      if (rows != extent || cols != extent)
        throw bad("has a " + std::to_string(rows) + " x " + std::to_string(cols) + " matrix, pages hold " + std::to_string(extent) + " slots");
      if (nnz > (blob.size() - off) / (8 + sizeof(T))) throw bad("truncated");
      entries.clear();
      entries.reserve(nnz);
      for (std::uint32_t k = 0; k < nnz; ++k) {
        matrix_entry<T> e{};
        e.row = u32();
        e.col = u32();
        read_value(e.value);
        entries.push_back(e);
      }
      matrices.push_back(std::make_shared<const matrix_type>(matrix_type::from_entries(rows, cols, {entries.data(), entries.size()})));
      break;
    }
    case topology_op::matrix_edge: {
      const std::uint32_t src = u32(), dst = u32(), ref = u32(), words = u32();
      if (words > (blob.size() - off) / 8) throw bad("truncated");
      mask.assign(words, 0);
      for (auto& w : mask) {
        const std::uint64_t lo = u32(), hi = u32();
        w = lo | (hi << 32);
      }
      v.matrix_edge(src, dst, matrix_at(ref), span<const word_t>{mask.data(), mask.size()});
      break;
    }
    case topology_op::kernel_edge: {
      const std::uint32_t dst = u32(), n = u32();
      if (n > (blob.size() - off) / 4) throw bad("truncated");
      ids.clear();
      for (std::uint32_t k = 0; k < n; ++k) ids.push_back(page_id{u32()});
      const std::uint32_t len = u32();
      need(len);
      std::string name(reinterpret_cast<const char*>(blob.data() + off), len);
      off += len;
      v.kernel_edge(span<const page_id>{ids.data(), ids.size()}, dst, std::move(name));
      break;
    }
    case topology_op::remove_edge: v.remove_edge(u32()); break;
    case topology_op::removed_edge: v.removed_edge(); break;
    case topology_op::set_rows: {
      const std::uint32_t e = u32(), n = u32();
      if (n > (blob.size() - off) / 8) throw bad("truncated");
      ids32.clear();
      entries.clear();
      for (std::uint32_t k = 0; k < n; ++k) {
        const std::uint32_t row = u32(), count = u32();
        if (row >= extent || (!ids32.empty() && row <= ids32.back())) throw bad("has rows out of order or past " + std::to_string(extent));
        if (count > (blob.size() - off) / (4 + sizeof(T))) throw bad("truncated");
        ids32.push_back(row);
        for (std::uint32_t c = 0; c < count; ++c) {
          matrix_entry<T> x{};
          x.row = row;
          x.col = u32();
          read_value(x.value);
          entries.push_back(x);
        }
      }
      v.set_rows(e, span<const std::uint32_t>{ids32.data(), ids32.size()}, span<const matrix_entry<T>>{entries.data(), entries.size()});
      break;
    }
    case topology_op::set_weights: {
      const std::uint32_t e = u32(), ref = u32();
      v.set_weights(e, matrix_at(ref));
      break;
    }
    case topology_op::region: {
      const std::uint32_t max_iterations = u32(), n = u32();
      if (n > (blob.size() - off) / 4) throw bad("truncated");
      ids.clear();
      for (std::uint32_t k = 0; k < n; ++k) ids.push_back(page_id{u32()});
      v.region(span<const page_id>{ids.data(), ids.size()}, max_iterations);
      break;
    }
    default: --off; throw bad("with unknown operation " + std::to_string(static_cast<unsigned>(code)));
    }
  }
}

} // namespace mmsb::detail
