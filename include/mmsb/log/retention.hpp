// Retention by checkpoints (durable_store.hpp): the newest `keep` checkpoints stay, and so does the
// log from the first segment the oldest of them needs to be rolled forward, so a damaged newest
// checkpoint falls back to the older one plus the log. checkpoint_retention remembers, for each
// retained checkpoint whose needs are known, the first log segment it needs; the store asks it,
// when a checkpoint starts, which segments may go once that checkpoint is durable.
// Not thread-safe: the store calls it under its exclusive lock.
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/kill_point.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

// The index of the segment file at `path` (named log-INDEX.seg, INDEX in 16 hex digits); 0 if it is not one.
[[nodiscard]] inline std::uint64_t segment_index(const std::string& path)
{
  std::uint64_t index = 0;
  (void)parse_segment_name(path.substr(path.rfind('/') + 1), index);
  return index;
}

// Removes the segments of the log in `log_dir` whose index is below `below` (0: none), then syncs
// the directory if it removed any.
inline void remove_segments_below(file_system& fs, const std::string& log_dir, std::uint64_t below)
{
  if (below == 0) return;
  std::uint64_t index = 0;
  bool removed = false;
  for (const auto& name : fs.list(log_dir))
    if (parse_segment_name(name, index) && index < below) {
      fs.remove(log_dir + "/" + name);
      MMSB_KILL_POINT("truncate.segment_removed");
      removed = true;
    }
  if (removed) fs.sync_dir(log_dir);
  if (removed) MMSB_KILL_POINT("truncate.dir_synced");
}

// Which log segments the retained checkpoints need.
class checkpoint_retention {
public:
  // At open: the first segment each checkpoint in `ckpt_dir` needs, from where recovery saw each
  // segment's commits end (`extents`), or `fresh` (the writer's new segment) when every segment
  // read is covered.
  void learn(file_system& fs, const std::string& ckpt_dir, const std::vector<segment_extent>& extents, std::uint64_t fresh)
  {
    if (!fs.exists(ckpt_dir)) return;
    for (const auto& name : fs.list(ckpt_dir)) {
      mmsb::epoch e;
      if (!parse_checkpoint_name(name, e)) continue;
      std::uint64_t first = fresh;
      for (const auto& x : extents)
        if (e < x.last_commit) {
          first = x.index;
          break;
        }
      needs_.push_back({e, first});
    }
  }

  // A checkpoint at `epoch` starts, whose log begins at segment `first_kept`. Once it is
  // published, the newest `keep` checkpoints remain (it and those in `ckpt_dir`), and the log must
  // still roll the oldest of them forward. Returns the segment index below which every segment
  // may go once it is durable (0, none, unless the oldest retained checkpoint's needs are known),
  // and records this checkpoint's needs.
  [[nodiscard]] std::uint64_t start(file_system& fs, const std::string& ckpt_dir, mmsb::epoch epoch,
                                    std::uint64_t first_kept, std::size_t keep)
  {
    std::vector<mmsb::epoch> retained{epoch};
    if (fs.exists(ckpt_dir))
      for (const auto& name : fs.list(ckpt_dir)) {
        mmsb::epoch e;
        if (parse_checkpoint_name(name, e) && e != epoch) retained.push_back(e);
      }
    std::sort(retained.rbegin(), retained.rend());
    if (retained.size() > keep) retained.resize(keep);
    const mmsb::epoch oldest = retained.back();
    std::uint64_t below = 0;
    if (oldest == epoch) below = first_kept;
    for (const auto& n : needs_)
      if (n.first == oldest) below = n.second;
    std::erase_if(needs_, [&](const auto& n) { return n.first < oldest || n.first == epoch; });
    needs_.push_back({epoch, first_kept});
    return below;
  }

private:
  // (checkpoint epoch, the first log segment that rolls it forward), for the retained
  // checkpoints whose needs are known.
  std::vector<std::pair<mmsb::epoch, std::uint64_t>> needs_;
};

} // namespace mmsb
