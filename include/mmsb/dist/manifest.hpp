// The global checkpoint record of a distributed bus (dist/mpi_bus.hpp; docs/distributed.md):
// what every rank writes, in its own store directory, once every rank's local checkpoint of one
// global tick is durable. It names the tick, each rank's local epoch at it, and the edges and
// ghosts the ranks share, so that reopening restores every rank to that tick. Needs no MPI.
//
// File `DIR/dist-checkpoint` (written as DIR/dist-checkpoint.tmp, synced, renamed, the directory
// synced: a crash leaves the old record or the new one, never half of one), little-endian:
//   "MMSBDCK1" | u64 tick | u64 partition fingerprint | u32 ranks | ranks × u64 epoch |
//   u64 edges | edges × (u32 source, u32 destination) | u64 ghosts | ghosts × (u32 page, u32 rank) |
//   u64 xxh3-64 of every byte before it
// Edges are the ones the ranks accepted, in the order they were added; ghosts are (page, the
// rank holding a ghost of it), in the order they were made (a ghost's local id follows from it).
// set_aside_after() puts a rank's store back at its epoch in the record.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/log/checkpoint.hpp>
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

// One global checkpoint record (see the top of this header).
struct global_checkpoint {
  std::uint64_t tick = 0;         // the global ticks completed at the checkpoint
  std::uint64_t fingerprint = 0;  // the partition's fingerprint()
  std::vector<std::uint64_t> epochs;  // by rank: its local bus's epoch at the checkpoint
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;   // (source, destination), global ids, in order
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ghosts;  // (page, holder rank), in the order made
};

// The record's first 8 bytes (the array's ninth is the string's terminator, never written).
inline constexpr char global_checkpoint_magic[9] = "MMSBDCK1";

// The record's bytes.
[[nodiscard]] inline std::vector<std::byte> encode_global_checkpoint(const global_checkpoint& c)
{
  std::vector<std::byte> out(8);
  std::memcpy(out.data(), global_checkpoint_magic, 8);
  mmsb::detail::put_le<std::uint64_t>(out, c.tick);
  mmsb::detail::put_le<std::uint64_t>(out, c.fingerprint);
  mmsb::detail::put_le<std::uint32_t>(out, static_cast<std::uint32_t>(c.epochs.size()));
  for (const auto e : c.epochs) mmsb::detail::put_le<std::uint64_t>(out, e);
  for (const auto* list : {&c.edges, &c.ghosts}) {
    mmsb::detail::put_le<std::uint64_t>(out, list->size());
    for (const auto& [a, b] : *list) {
      mmsb::detail::put_le<std::uint32_t>(out, a);
      mmsb::detail::put_le<std::uint32_t>(out, b);
    }
  }
  mmsb::detail::put_le<std::uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

// Decodes a record; throws mmsb::error (corrupt) naming `path` and what is wrong.
[[nodiscard]] inline global_checkpoint decode_global_checkpoint(span<const std::byte> bytes, const std::string& path)
{
  const auto bad = [&](const std::string& why) { return error(errc::corrupt, "global checkpoint record " + path + ": " + why); };
  if (bytes.size() < 8 + 8 + 8 + 4 + 8 + 8 + 8 || std::memcmp(bytes.data(), global_checkpoint_magic, 8) != 0)
    throw bad("not a record (too short, or no MMSBDCK1 magic)");
  const std::size_t body = bytes.size() - 8;
  if (XXH3_64bits(bytes.data(), body) != mmsb::detail::get_le<std::uint64_t>(bytes.data() + body)) throw bad("checksum mismatch");
  std::size_t at = 8;
  const auto need = [&](std::size_t n) {
    if (body - at < n) throw bad("cut short at byte " + std::to_string(at));
  };
  const auto u64 = [&] {
    need(8);
    const auto v = mmsb::detail::get_le<std::uint64_t>(bytes.data() + at);
    at += 8;
    return v;
  };
  const auto u32 = [&] {
    need(4);
    const auto v = mmsb::detail::get_le<std::uint32_t>(bytes.data() + at);
    at += 4;
    return v;
  };
  global_checkpoint c;
  c.tick = u64();
  c.fingerprint = u64();
  const std::uint32_t ranks = u32();
  need(std::size_t{ranks} * 8);
  for (std::uint32_t r = 0; r < ranks; ++r) c.epochs.push_back(u64());
  for (auto* list : {&c.edges, &c.ghosts}) {
    const std::uint64_t n = u64();
    if (n > (body - at) / 8) throw bad("a list of " + std::to_string(n) + " pairs in " + std::to_string(body - at) + " bytes");
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::uint32_t a = u32();
      list->emplace_back(a, u32());
    }
  }
  if (at != body) throw bad(std::to_string(body - at) + " bytes past the record");
  return c;
}

// The record's path in a rank's store directory.
[[nodiscard]] inline std::string global_checkpoint_path(const std::string& dir) { return dir + "/dist-checkpoint"; }

// Writes c as DIR/dist-checkpoint, atomically (see the top of this header). Throws the file
// system's mmsb::error; the old record, if any, then stays.
inline void write_global_checkpoint(file_system& fs, const std::string& dir, const global_checkpoint& c)
{
  const std::string path = global_checkpoint_path(dir), tmp = path + ".tmp";
  const auto bytes = encode_global_checkpoint(c);
  const auto h = fs.open_retrying(tmp, open_mode::truncate);
  try {
    fs.write_all(h, span<const std::byte>(bytes.data(), bytes.size()));
    fs.sync(h);
  } catch (...) {
    fs.close(h);
    throw;
  }
  fs.close(h);
  fs.rename(tmp, path);
  fs.sync_dir(dir);
}

// The record in DIR, or nothing when there is none. Throws mmsb::error (corrupt) for a damaged
// one, and the file system's errors.
[[nodiscard]] inline std::optional<global_checkpoint> read_global_checkpoint(file_system& fs, const std::string& dir)
{
  const std::string path = global_checkpoint_path(dir);
  if (!fs.exists(path)) return std::nullopt;
  const auto bytes = mmsb::detail::read_file(fs, path);
  return decode_global_checkpoint(span<const std::byte>(bytes.data(), bytes.size()), path);
}

// Moves the store in DIR's checkpoints newer than e, then its log, into a new DIR/set-aside-N
// (nothing is deleted), so the store opens at e (its checkpoint at e, no log after it). Newer
// checkpoints go first: a crash between the two steps leaves nothing that opens past e. Throws
// mmsb::error (corrupt) when the checkpoint at e is missing, and the file system's errors.
inline void set_aside_after(file_system& fs, const std::string& dir, mmsb::epoch e)
{
  const std::string ckpts = dir + "/checkpoints", log = dir + "/log";
  if (!fs.exists(ckpts + "/" + checkpoint_name(e)))
    throw error(errc::corrupt, "its checkpoint at epoch " + std::to_string(e.value()) + " (" + ckpts + "/" + checkpoint_name(e) + ") is missing");
  std::string aside;
  for (int k = 0; aside.empty() || fs.exists(aside); ++k) aside = dir + "/set-aside-" + std::to_string(k);
  fs.make_dir(aside);
  bool moved = false;
  for (const auto& name : fs.list(ckpts)) {
    mmsb::epoch at;
    if (parse_checkpoint_name(name, at) && e < at) {
      fs.rename(ckpts + "/" + name, aside + "/" + name);
      moved = true;
    }
  }
  if (moved) fs.sync_dir(ckpts);
  if (fs.exists(log)) fs.rename(log, aside + "/log");
  fs.sync_dir(dir);
}

} // namespace mmsb::dist
