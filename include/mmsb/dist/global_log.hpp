// The global log of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md, "Recovery"): what
// every rank appends, in its own store directory, once every rank's local commits of a tick are
// done. Its last tick record defines the last complete global tick: each rank's local epoch at
// it, with the edges and ghosts the ranks share, so reopening restores every rank to that tick.
// Every rank's file holds the same bytes, up to the tick it reached. Needs no MPI.
//
// File `DIR/dist-log`, little-endian:
//   head    "MMSBDLG1" | u64 partition fingerprint | u32 ranks | u64 xxh3-64 of the 20 bytes before it
//   record  u8 kind | u32 n | n bytes | u64 xxh3-64 of the kind, n and the bytes
//     kind 1, an edge   u32 source, u32 destination (global ids), as the ranks accepted it
//     kind 2, a ghost   u32 page, u32 the rank holding a ghost of it, in the order made (a ghost's
//                       local id follows from that order)
//     kind 3, a tick    u64 global ticks completed, ranks × u64 each rank's local epoch at its end
//     kind 4, a region  u32 host rank, u32 max iterations, u32 count, count × u32 pages: a
//                       fixed-point region, computed on the host (dist/placement.hpp), which made
//                       a page (a mirror) for each page owned elsewhere, in this order, right
//                       after the ghosts recorded before it
// The edges and ghosts added since the last tick go out with the next tick record, in one write;
// edits after the last tick record are not part of any tick and are dropped on reopening (a
// rank's log holds them in the commit the tick did not finish either). Reading stops at the
// first record that does not check (a torn tail, or damage: another rank's copy then wins).
// A file is replaced whole (restore, compaction at a global checkpoint) by writing
// DIR/dist-log.tmp, syncing it, renaming it over and syncing the directory.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/log_reader.hpp>

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::dist {

// A fixed-point region as the global log keeps it.
struct global_region {
  std::uint32_t host = 0;            // the rank computing it
  std::uint32_t max_iterations = 0;  // as declared
  std::vector<std::uint32_t> members;  // its pages, global ids, as declared
  std::size_t after_ghosts = 0;      // the ghosts made before it (its mirrors come next)
};

// A global log, read: the partition it is for, and its state at its last tick record.
struct global_log_state {
  std::uint64_t fingerprint = 0;   // the partition's fingerprint()
  std::uint32_t ranks = 0;         // the number of ranks
  bool has_tick = false;           // a tick record was found (false: nothing to restore)
  std::uint64_t tick = 0;          // the global ticks completed at the last tick record
  std::vector<std::uint64_t> epochs;  // by rank: its local bus's epoch then
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;   // (source, destination), global ids, in order
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ghosts;  // (page, holder rank), in the order made
  std::vector<global_region> regions;  // in the order declared
  std::size_t bytes = 0;           // the file's bytes up to the end of the last tick record (the head's, if none)
};

// The file's first 8 bytes (the array's ninth is the string's terminator, never written).
inline constexpr char global_log_magic[9] = "MMSBDLG1";
// The head's size: magic, fingerprint, ranks, checksum.
inline constexpr std::size_t global_log_head_bytes = 8 + 8 + 4 + 8;

// The kinds of global log record.
enum class global_record : std::uint8_t { edge = 1, ghost = 2, tick = 3, region = 4 };

namespace detail {
// A record's kind and size, appended to out; returns where it starts (for end_record).
inline std::size_t begin_record(std::vector<std::byte>& out, global_record kind, std::size_t body_bytes)
{
  const std::size_t at = out.size();
  out.push_back(static_cast<std::byte>(kind));
  mmsb::detail::put_le<std::uint32_t>(out, static_cast<std::uint32_t>(body_bytes));
  return at;
}
// The checksum of the record that starts at `at` and whose body was appended after it.
inline void end_record(std::vector<std::byte>& out, std::size_t at)
{
  mmsb::detail::put_le<std::uint64_t>(out, XXH3_64bits(out.data() + at, out.size() - at));
}
// A whole record with `body`.
inline void put_record(std::vector<std::byte>& out, global_record kind, span<const std::byte> body)
{
  const std::size_t at = begin_record(out, kind, body.size());
  out.insert(out.end(), body.begin(), body.end());
  end_record(out, at);
}
} // namespace detail

// Appends the head for a bus of `ranks` ranks under the partition with `fingerprint`.
inline void put_global_log_head(std::vector<std::byte>& out, std::uint64_t fingerprint, std::uint32_t ranks)
{
  const std::size_t at = out.size();
  out.resize(at + 8);
  std::memcpy(out.data() + at, global_log_magic, 8);
  mmsb::detail::put_le<std::uint64_t>(out, fingerprint);
  mmsb::detail::put_le<std::uint32_t>(out, ranks);
  mmsb::detail::put_le<std::uint64_t>(out, XXH3_64bits(out.data() + at, out.size() - at));
}

// Appends an edge or a ghost record (a, b).
inline void put_global_pair(std::vector<std::byte>& out, global_record kind, std::uint32_t a, std::uint32_t b)
{
  const std::size_t at = detail::begin_record(out, kind, 8);
  mmsb::detail::put_le<std::uint32_t>(out, a);
  mmsb::detail::put_le<std::uint32_t>(out, b);
  detail::end_record(out, at);
}

// Appends a region record.
inline void put_global_region(std::vector<std::byte>& out, std::uint32_t host, std::uint32_t max_iterations,
                              span<const std::uint32_t> members)
{
  const std::size_t at = detail::begin_record(out, global_record::region, 12 + 4 * members.size());
  mmsb::detail::put_le<std::uint32_t>(out, host);
  mmsb::detail::put_le<std::uint32_t>(out, max_iterations);
  mmsb::detail::put_le<std::uint32_t>(out, static_cast<std::uint32_t>(members.size()));
  for (const std::uint32_t m : members) mmsb::detail::put_le<std::uint32_t>(out, m);
  detail::end_record(out, at);
}

// Appends a tick record (allocation-free when out has the room).
inline void put_global_tick(std::vector<std::byte>& out, std::uint64_t tick, span<const std::uint64_t> epochs)
{
  const std::size_t at = detail::begin_record(out, global_record::tick, 8 + 8 * epochs.size());
  mmsb::detail::put_le<std::uint64_t>(out, tick);
  for (const std::uint64_t e : epochs) mmsb::detail::put_le<std::uint64_t>(out, e);
  detail::end_record(out, at);
}

// The whole file for a state (compaction): its head, its ghosts and regions (in the order
// made), its edges, its tick record.
[[nodiscard]] inline std::vector<std::byte> encode_global_log(const global_log_state& s)
{
  std::vector<std::byte> out;
  put_global_log_head(out, s.fingerprint, s.ranks);
  std::size_t r = 0;
  for (std::size_t k = 0; k <= s.ghosts.size(); ++k) {
    for (; r < s.regions.size() && s.regions[r].after_ghosts == k; ++r)
      put_global_region(out, s.regions[r].host, s.regions[r].max_iterations,
                        span<const std::uint32_t>(s.regions[r].members.data(), s.regions[r].members.size()));
    if (k < s.ghosts.size()) put_global_pair(out, global_record::ghost, s.ghosts[k].first, s.ghosts[k].second);
  }
  for (const auto& [src, dst] : s.edges) put_global_pair(out, global_record::edge, src, dst);
  if (s.has_tick) put_global_tick(out, s.tick, span<const std::uint64_t>(s.epochs.data(), s.epochs.size()));
  return out;
}

// Reads a global log's bytes up to its last tick record; stops at the first record that does
// not check, or whose kind or size is unknown, or a tick record for another number of ranks.
// Throws mmsb::error (corrupt) naming `path` when the head is missing or damaged.
[[nodiscard]] inline global_log_state decode_global_log(span<const std::byte> bytes, const std::string& path)
{
  if (bytes.size() < global_log_head_bytes || std::memcmp(bytes.data(), global_log_magic, 8) != 0 ||
      XXH3_64bits(bytes.data(), 20) != mmsb::detail::get_le<std::uint64_t>(bytes.data() + 20))
    throw error(errc::corrupt, "global log " + path + ": no valid head (too short, no MMSBDLG1 magic, or a checksum mismatch)");
  global_log_state s;
  s.fingerprint = mmsb::detail::get_le<std::uint64_t>(bytes.data() + 8);
  s.ranks = mmsb::detail::get_le<std::uint32_t>(bytes.data() + 16);
  s.bytes = global_log_head_bytes;
  auto edges = s.edges, ghosts = s.ghosts;  // up to the record being read
  auto regions = s.regions;
  std::size_t at = global_log_head_bytes;
  while (bytes.size() - at >= 1 + 4 + 8) {
    const std::byte* r = bytes.data() + at;
    const std::uint32_t n = mmsb::detail::get_le<std::uint32_t>(r + 1);
    if (n > bytes.size() - at - 13 || XXH3_64bits(r, 5 + std::size_t{n}) != mmsb::detail::get_le<std::uint64_t>(r + 5 + n)) break;
    const auto kind = static_cast<global_record>(r[0]);
    const std::byte* body = r + 5;
    if ((kind == global_record::edge || kind == global_record::ghost) && n == 8) {
      (kind == global_record::edge ? edges : ghosts)
        .emplace_back(mmsb::detail::get_le<std::uint32_t>(body), mmsb::detail::get_le<std::uint32_t>(body + 4));
    } else if (kind == global_record::region && n >= 12 && n == 12 + 4 * std::size_t{mmsb::detail::get_le<std::uint32_t>(body + 8)}) {
      global_region g;
      g.host = mmsb::detail::get_le<std::uint32_t>(body);
      g.max_iterations = mmsb::detail::get_le<std::uint32_t>(body + 4);
      for (std::size_t k = 0; k < (n - 12) / 4; ++k) g.members.push_back(mmsb::detail::get_le<std::uint32_t>(body + 12 + 4 * k));
      g.after_ghosts = ghosts.size();
      regions.push_back(std::move(g));
    } else if (kind == global_record::tick && n == 8 + 8 * std::size_t{s.ranks}) {
      s.has_tick = true;
      s.tick = mmsb::detail::get_le<std::uint64_t>(body);
      s.epochs.resize(s.ranks);
      for (std::uint32_t k = 0; k < s.ranks; ++k) s.epochs[k] = mmsb::detail::get_le<std::uint64_t>(body + 8 + 8 * std::size_t{k});
      s.edges = edges;
      s.ghosts = ghosts;
      s.regions = regions;
      s.bytes = at + 13 + n;
    } else {
      break;
    }
    at += 13 + n;
  }
  return s;
}

// The global log's path in a rank's store directory.
[[nodiscard]] inline std::string global_log_path(const std::string& dir) { return dir + "/dist-log"; }

// The global log in DIR, or nothing when there is none. Throws mmsb::error (corrupt) for a
// damaged head, and the file system's errors.
[[nodiscard]] inline std::optional<std::pair<global_log_state, std::vector<std::byte>>> read_global_log(file_system& fs,
                                                                                                      const std::string& dir)
{
  const std::string path = global_log_path(dir);
  if (!fs.exists(path)) return std::nullopt;
  auto bytes = mmsb::detail::read_file(fs, path);
  auto s = decode_global_log(span<const std::byte>(bytes.data(), bytes.size()), path);
  bytes.resize(s.bytes);
  return std::pair{std::move(s), std::move(bytes)};
}

// A rank's global log, open for appending (see the top of this header). Not thread-safe.
class global_log_writer {
public:
  global_log_writer() = default;
  global_log_writer(const global_log_writer&) = delete;
  global_log_writer& operator=(const global_log_writer&) = delete;
  ~global_log_writer() { close(); }

  // Replaces DIR/dist-log with `content` (head and records; see the top of this header) and
  // opens it for appending; records pending are dropped. `sync`: sync each tick record. Throws
  // the file system's mmsb::error (the old file then stays, and nothing is open).
  void reset(file_system& fs, const std::string& dir, span<const std::byte> content, bool sync)
  {
    close();
    const std::string path = global_log_path(dir), tmp = path + ".tmp";
    write_synced_file(fs, tmp, content);
    fs.rename(tmp, path);
    fs.sync_dir(dir);
    h_ = fs.open_retrying(path, open_mode::append);
    fs_ = &fs;
    size_ = content.size();
    sync_ = sync;
    pending_.clear();
    failure_.clear();
  }

  // An edge or a ghost added: written with the next tick record.
  void add(global_record kind, std::uint32_t a, std::uint32_t b) { put_global_pair(pending_, kind, a, b); }
  // A region declared: written with the next tick record.
  void add_region(std::uint32_t host, std::uint32_t max_iterations, span<const std::uint32_t> members)
  {
    put_global_region(pending_, host, max_iterations, members);
  }

  // Appends the records pending and the tick record, in one write, synced if asked. On a failure
  // the file is cut back to its last tick record and the edits stay pending; when that cut fails
  // too, every later call rethrows the first error. Throws mmsb::error.
  void append_tick(std::uint64_t tick, span<const std::uint64_t> epochs)
  {
    if (!failure_.empty()) throw error(errc::io_error, failure_);
    const std::size_t edits = pending_.size();
    put_global_tick(pending_, tick, epochs);
    try {
      fs_->write_all(h_, span<const std::byte>(pending_.data(), pending_.size()));
      if (sync_) fs_->sync(h_);
    } catch (const error& e) {
      pending_.resize(edits);
      try {
        fs_->truncate(h_, size_);
      } catch (const error&) {
        failure_ = std::string("the global log is unusable after a failed write: ") + e.what();
      }
      throw;
    }
    size_ += pending_.size();
    pending_.clear();
  }

private:
  void close() noexcept
  {
    if (fs_ != nullptr) fs_->close(h_);
    fs_ = nullptr;
  }

  file_system* fs_ = nullptr;
  file_system::handle h_{};
  std::uint64_t size_ = 0;  // the file's bytes up to its last tick record
  bool sync_ = false;
  std::vector<std::byte> pending_;  // edge and ghost records since the last tick record
  std::string failure_;             // set when the file could not be cut back after a failure
};

} // namespace mmsb::dist
