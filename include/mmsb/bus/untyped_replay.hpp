// rebuild_state: a store's pages at an epoch, rebuilt without its C++ types (untyped_state.hpp),
// the way recovery (log/recovery.hpp) and durable_store::replay_to rebuild them with types:
// the newest valid checkpoint at or before the epoch, then the log's commits after it.
//
//   rebuild_state(fs, dir, target)   dir is a store directory (log/ and checkpoints/); target
//                                    the epoch, or none for the latest the files reach.
//
// It reads in point-in-time mode and is strict about what it returns: a damaged checkpoint is
// skipped (an older one, or the empty state, is used instead, and the result says so), a torn
// log tail ends the log (the result says so), and everything else throws mmsb::error naming the
// path, epoch or offset at fault:
//   bad_format     no shape (not a store), a shape of another format, files of two shapes
//   unsupported    a semiring untyped_state cannot interpret (a custom one)
//   corrupt        mid-log corruption (a valid record follows the damage), a bad commit record
//   out_of_range   an epoch the files do not reach: before the retained history (names the
//                  oldest reachable epoch and any damaged checkpoint) or past its end (names the
//                  latest recoverable epoch)
// Nothing is written. Derived pages are not recomputed: the pages are the stored (base) pages,
// whose hash is durable_store::replay_to's; `topology` says whether the store has a page graph,
// in which case basic_bus::hash_at, which also recomputes derived values, may differ.
#pragma once

#include <mmsb/bus/shape_info.hpp>
#include <mmsb/bus/untyped_state.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/record.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mmsb {

// The shape a store's files carry: the first readable log segment's, else the newest
// checkpoint's header. Throws mmsb::error (bad_format) naming dir when neither has one.
[[nodiscard]] inline std::vector<std::byte> read_store_shape(file_system& fs, const std::string& dir)
{
  if (auto s = read_log_shape(fs, dir + "/log")) return *s;
  const std::string ckpt_dir = dir + "/checkpoints";
  if (fs.exists(ckpt_dir)) {
    std::vector<mmsb::epoch> all;
    for (const auto& name : fs.list(ckpt_dir)) {
      mmsb::epoch e;
      if (parse_checkpoint_name(name, e)) all.push_back(e);
    }
    std::sort(all.rbegin(), all.rend());
    for (const auto e : all) {
      const auto bytes = detail::read_file(fs, ckpt_dir + "/" + checkpoint_name(e));
      record_header h;
      span<const std::byte> payload;
      if (check_record(bytes, h, payload) == record_fault::none && h.type == record_type::segment)
        return std::vector<std::byte>(payload.begin(), payload.end());
    }
  }
  throw error(errc::bad_format, dir + ": no readable log segment or checkpoint (is this an MMSB store directory?)");
}

namespace detail {
// For messages: the oldest epoch a replay can start from, given the log's first retained commit
// `first`: the oldest checkpoint that validates, or epoch `first - 1` if none does at or after it.
inline std::string oldest_reachable(file_system& fs, const std::string& ckpt_dir, span<const std::byte> shape,
                                    std::size_t page_bytes, mmsb::epoch first)
{
  std::vector<mmsb::epoch> all;
  if (fs.exists(ckpt_dir))
    for (const auto& name : fs.list(ckpt_dir)) {
      mmsb::epoch e;
      if (parse_checkpoint_name(name, e)) all.push_back(e);
    }
  std::sort(all.begin(), all.end());
  for (const auto e : all) {
    const auto l = load_checkpoint(fs, ckpt_dir, shape, page_bytes, [](page_id, mmsb::epoch, span<const std::byte>) {}, e);
    if (l.loaded && l.loaded->epoch == e && first.value() <= e.value() + 1)
      return std::to_string(e.value()) + " (checkpoint " + l.loaded->path + ")";
  }
  return "none (no valid checkpoint is followed by the log, which starts at epoch " + std::to_string(first.value()) + ")";
}
} // namespace detail

// What rebuild_state returns: the pages at an epoch and how they were reached.
struct rebuilt_state {
  untyped_state state;                    // the pages
  mmsb::epoch epoch{};                    // the epoch the pages are at
  std::string checkpoint;                 // the checkpoint it started from; empty: the empty state
  mmsb::epoch checkpoint_epoch{};         // that checkpoint's epoch (0 with no checkpoint)
  std::uint64_t commits = 0;              // log commits applied after it
  bool topology = false;                  // the store has a page graph (derived pages not recomputed)
  std::vector<std::string> notes;         // damaged checkpoints skipped, a torn log tail
};

[[nodiscard]] inline rebuilt_state rebuild_state(file_system& fs, const std::string& dir, std::optional<mmsb::epoch> target)
{
  const auto shape_bytes = read_store_shape(fs, dir);
  rebuilt_state r{untyped_state(parse_shape(shape_bytes, dir)), {}, {}, {}, 0, false, {}};
  const std::string log_dir = dir + "/log", ckpt_dir = dir + "/checkpoints";
  const auto ckpt = load_checkpoint(
    fs, ckpt_dir, shape_bytes, r.state.shape().page_bytes,
    [&](page_id id, mmsb::epoch e, span<const std::byte> bytes) { r.state.load_page(id, e, bytes); },
    target ? *target : mmsb::epoch{~std::uint64_t{0}});
  for (const auto& why : ckpt.rejected) r.notes.push_back("damaged checkpoint skipped: " + why);
  if (ckpt.loaded) {
    r.checkpoint = ckpt.loaded->path;
    r.checkpoint_epoch = r.epoch = ckpt.loaded->epoch;
  }
  r.topology = ckpt.structure.size() > 4;  // a topology blob is a u32 version, then ops
  const mmsb::epoch base = r.epoch;
  std::optional<mmsb::epoch> gap;  // the first commit that does not follow the state
  const auto report = read_log(
    fs, log_dir, shape_bytes, recovery_mode::point_in_time,
    [&](const record_header& h, span<const std::byte> payload) {
      if (h.type != record_type::commit || gap || (target && !(r.epoch < *target))) return;
      if (h.epoch != r.epoch.next()) {
        gap = h.epoch;
        return;
      }
      const auto structure = r.state.apply_commit(h.epoch, payload);
      r.topology = r.topology || structure.size() > 4;
      r.epoch = h.epoch;
      ++r.commits;
    },
    base);
  const bool short_of_target = !target || r.epoch < *target;
  if (report.damage) {
    const auto& d = *report.damage;
    const std::string where = d.segment + " offset " + std::to_string(d.offset) + ": " + to_string(d.fault);
    if (d.mid_log && short_of_target)
      throw error(errc::corrupt, "log corruption at " + where + " (a valid record follows, so this is not a torn tail; the state after epoch " +
                                   std::to_string(r.epoch.value()) + " cannot be rebuilt; `mmsb log verify` shows the damage)");
    r.notes.push_back(std::string(d.mid_log ? "log corruption" : "torn log tail") + " at " + where + ", after epoch " +
                      std::to_string(report.last_epoch.value()));
  }
  if (gap && short_of_target) {
    std::string msg = dir + ": " + (target ? "epoch " + std::to_string(target->value()) : std::string("the latest epoch")) +
                      " cannot be rebuilt: the retained log continues at epoch " + std::to_string(gap->value()) +
                      " but the state is at epoch " + std::to_string(r.epoch.value()) + " (" +
                      (ckpt.loaded && r.epoch == base ? "checkpoint " + ckpt.loaded->path : r.epoch == base ? std::string("no valid checkpoint at or before it") : std::string("after the log's commits")) + ")";
    if (r.epoch == base) msg += "; the oldest reachable epoch is " + detail::oldest_reachable(fs, ckpt_dir, shape_bytes, r.state.shape().page_bytes, *gap);
    for (const auto& why : ckpt.rejected) msg += "; damaged checkpoint " + why;
    throw error(errc::out_of_range, msg);
  }
  if (target && r.epoch < *target) {
    // Before what the files reach, not past it: a valid checkpoint after the target, with no log
    // left that leads from an older state to it (the log before a checkpoint is removed).
    const auto newest = load_checkpoint(fs, ckpt_dir, shape_bytes, r.state.shape().page_bytes,
                                        [](page_id, mmsb::epoch, span<const std::byte>) {}, mmsb::epoch{~std::uint64_t{0}});
    if (newest.loaded && *target < newest.loaded->epoch)
      throw error(errc::out_of_range, dir + ": epoch " + std::to_string(target->value()) +
                                        " cannot be rebuilt: no valid checkpoint at or before it, and the log that led past it was removed; the oldest reachable epoch is " +
                                        detail::oldest_reachable(fs, ckpt_dir, shape_bytes, r.state.shape().page_bytes, newest.loaded->epoch.next()));
    std::string msg = dir + ": epoch " + std::to_string(target->value()) + " is beyond the log: the latest recoverable epoch is " +
                      std::to_string(r.epoch.value());
    for (const auto& n : r.notes) msg += "; " + n;
    throw error(errc::out_of_range, msg);
  }
  return r;
}

} // namespace mmsb
