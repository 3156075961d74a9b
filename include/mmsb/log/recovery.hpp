// Recovery of a store's files: the newest valid checkpoint (at or before an epoch, if given),
// then the commit records of the log after it, applied in epoch order. durable_store runs it on
// open (recovery) and into a replica for audits (snapshot_at, replay_to, history_at).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/fill.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/page/page.hpp>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace mmsb::detail {

// Loads the newest valid checkpoint (at or before `stop`, if given) and the log after it (up to
// `stop`) into `table`; epoch_out is the epoch reached. A log that does not continue right
// after the checkpoint (a gap) cannot reproduce the state: out_of_range for a replay target,
// corrupt for recovery.
template <class Semiring, class Layout, class Allocator>
recovery_report recover_into(file_system& fs, const std::string& log_dir, const std::string& ckpt_dir, span<const std::byte> shape,
                             recovery_mode mode, page_table<Layout, Allocator>& table, mmsb::epoch& epoch_out, mmsb::epoch stop,
                             std::vector<std::vector<std::byte>>* structure_out)
{
  using delta_type = delta<Semiring, Layout>;
  using page_type = page<Layout>;
  const bool bounded = stop.value() != 0;
  const auto ckpt = load_checkpoint(
    fs, ckpt_dir, shape, sizeof(typename Layout::storage_type),
    [&](page_id id, mmsb::epoch e, span<const std::byte> bytes) {
      table.create(id);  // every byte is then overwritten
      auto& p = table.at(id);
      std::memcpy(&p.storage(), bytes.data(), bytes.size());
      p.set_epoch(e);
    },
    bounded ? stop : mmsb::epoch{~std::uint64_t{0}});
  epoch_out = ckpt.loaded ? ckpt.loaded->epoch : mmsb::epoch{};
  if (structure_out && !ckpt.structure.empty()) structure_out->push_back(ckpt.structure);
  std::vector<delta_type> deltas;  // one commit's, reused
  span<const std::byte> structure;
  return read_log(fs, log_dir, shape, mode,
                  [&](const record_header& h, span<const std::byte> payload) {
                    if (h.type != record_type::commit || (bounded && !(epoch_out < stop))) return;
                    if (h.epoch != epoch_out.next())
                      throw error(bounded ? errc::out_of_range : errc::corrupt,
                                  "the retained log continues at epoch " + std::to_string(h.epoch.value()) +
                                    " but the state is at epoch " + std::to_string(epoch_out.value()) +
                                    " (the records between were truncated)");
                    detail::decode_commit(h.epoch, payload, deltas, structure);
                    if (structure_out && !structure.empty()) structure_out->emplace_back(structure.begin(), structure.end());
                    for (const auto& d : deltas) {
                      if (!table.contains(d.target())) {
                        table.create(d.target());
                        fill_zero<Semiring>(table.at(d.target()));  // as create_page
                      }
                      page_type& p = table.at(d.target());
                      apply(p, d);
                      p.set_epoch(h.epoch);
                    }
                    epoch_out = h.epoch;
                  },
                  epoch_out);
}

} // namespace mmsb::detail
