// Putting a closed store's files back at an earlier epoch: cut_store_after(fs, dir, e) moves
// every checkpoint newer than e and every log record past e into a new DIR/set-aside-N
// directory (nothing is deleted), so the store in DIR then opens at e, from its newest
// checkpoint at or before e plus the log up to e. The distributed bus (dist/restore.hpp) uses it
// to bring every rank's store back to the last tick every rank finished.
//
// Order, so that a crash at any step leaves files that open at e or later and a rerun finishes
// the job (each step finds what is left from scratch):
//   1. checkpoints newer than e are renamed into the set-aside directory, which is synced first;
//   2. the log segments after the one holding the first record past e are renamed there, newest
//      first (the log left is always a prefix, never one with a hole);
//   3. that segment's bytes from the first record past e on are copied there (synced), then the
//      segment is truncated at that record and synced.
// Records are found by their framing (log/record.hpp), as recovery walks them: a segment's
// walk stops at its first damaged record, and what follows the damage is left as it is (recovery
// decides about it). A log that holds nothing past e is not touched.
// Call it only on a store no durable_store has open. Throws the file system's mmsb::error.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/record.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace mmsb {

// What cut_store_after moved (see the top of this header).
struct store_cut {
  std::string aside;                 // the DIR/set-aside-N directory made ("" when nothing moved)
  std::uint64_t checkpoints = 0;     // checkpoints moved
  std::uint64_t segments = 0;        // whole log segments moved
  std::string cut_segment;           // the segment cut ("" when none was)
  std::uint64_t cut_offset = 0;      // ... at this offset, the first record past e
  std::uint64_t cut_bytes = 0;       // ... and the bytes it held from there on (copied aside)

  // True when something moved.
  [[nodiscard]] bool changed() const noexcept { return checkpoints != 0 || segments != 0 || !cut_segment.empty(); }
};

namespace detail {
// Where the first record past e lies: its segment's place in `indices` and its offset, or
// indices.size() when no valid record is past e.
struct first_past {
  std::size_t segment = 0;
  std::uint64_t offset = 0;
};
inline first_past find_first_past(file_system& fs, const std::string& log, const std::vector<std::uint64_t>& indices, mmsb::epoch e)
{
  file_view view;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    view.load(fs, log + "/" + segment_name(indices[k]));
    const span<const std::byte> bytes = view.bytes();
    std::size_t off = 0;
    while (off < bytes.size()) {
      record_header h;
      span<const std::byte> payload;
      if (check_record(bytes.subspan(off), h, payload) != record_fault::none) break;  // damage: recovery's business
      if (h.type != record_type::segment && e < h.epoch) return {k, off};
      off += record_header_bytes + h.payload_bytes;
    }
  }
  return {indices.size(), 0};
}

// A new, synced DIR/set-aside-N.
inline std::string make_aside_dir(file_system& fs, const std::string& dir)
{
  std::string aside;
  for (int k = 0; aside.empty() || fs.exists(aside); ++k) aside = dir + "/set-aside-" + std::to_string(k);
  fs.make_dir(aside);
  fs.sync_dir(dir);
  return aside;
}
} // namespace detail

// Moves the store in dir's checkpoints newer than e and its log past e into a new
// dir/set-aside-N (see the top of this header). Throws the file system's mmsb::error.
inline store_cut cut_store_after(file_system& fs, const std::string& dir, mmsb::epoch e)
{
  store_cut cut;
  const std::string ckpts = dir + "/checkpoints", log = dir + "/log";
  const auto aside = [&]() -> const std::string& {
    if (cut.aside.empty()) cut.aside = detail::make_aside_dir(fs, dir);
    return cut.aside;
  };
  if (fs.exists(ckpts)) {
    for (const auto& name : fs.list(ckpts)) {
      mmsb::epoch at;
      if (parse_checkpoint_name(name, at) && e < at) {
        fs.rename(ckpts + "/" + name, aside() + "/" + name);
        ++cut.checkpoints;
      }
    }
    if (cut.checkpoints != 0) fs.sync_dir(ckpts);
  }
  if (!fs.exists(log)) return cut;
  std::vector<std::uint64_t> indices;
  std::uint64_t index = 0;
  for (const auto& name : fs.list(log))
    if (parse_segment_name(name, index)) indices.push_back(index);
  std::sort(indices.begin(), indices.end());
  const detail::first_past at = detail::find_first_past(fs, log, indices, e);
  if (at.segment == indices.size()) return cut;
  for (std::size_t k = indices.size(); k-- > at.segment + 1;) {  // newest first: the log left is a prefix
    fs.rename(log + "/" + segment_name(indices[k]), aside() + "/" + segment_name(indices[k]));
    ++cut.segments;
  }
  if (cut.segments != 0) fs.sync_dir(log);
  cut.cut_segment = log + "/" + segment_name(indices[at.segment]);
  cut.cut_offset = at.offset;
  {
    file_view view;
    view.load(fs, cut.cut_segment);
    const span<const std::byte> tail = view.bytes().subspan(static_cast<std::size_t>(at.offset));
    cut.cut_bytes = tail.size();
    write_synced_file(fs, aside() + "/" + segment_name(indices[at.segment]) + ".tail", tail);
  }
  fs.sync_dir(aside());
  const auto h = fs.open_retrying(cut.cut_segment, open_mode::append);
  try {
    fs.truncate(h, at.offset);
    fs.sync(h);
  } catch (...) {
    fs.close(h);
    throw;
  }
  fs.close(h);
  return cut;
}

} // namespace mmsb
