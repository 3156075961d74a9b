// Recovery of a store's files: the newest valid checkpoint (at or before an epoch, if given),
// then the commit records of the log after it, applied in epoch order. durable_store runs it on
// open (recovery) and into a replica for audits (replay_into: snapshot_at, replay_to,
// history_at); for_each_logged_commit reads the history commit by commit (for_each_commit).
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
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb::detail {

// The message for a replay target the retained files cannot rebuild: the epoch asked for, where
// the log resumes, and the oldest epoch reachable (the oldest retained checkpoint the log
// continues from: it and every epoch after it can be rebuilt). It only lists the checkpoint
// directory (names, not contents); a directory it cannot list only shortens the message.
inline std::string unreachable_epoch_message(file_system& fs, const std::string& ckpt_dir, mmsb::epoch asked,
                                             mmsb::epoch state, mmsb::epoch resumes)
{
  std::string m = "replay: epoch " + std::to_string(asked.value()) + " cannot be rebuilt: ";
  if (state.value() == 0)
    m += "no valid checkpoint at or before it remains and the retained log starts at epoch " + std::to_string(resumes.value());
  else
    m += "the newest checkpoint at or before it is at epoch " + std::to_string(state.value()) +
         " but the retained log resumes at epoch " + std::to_string(resumes.value());
  m += " (the records between were truncated); ";
  std::optional<mmsb::epoch> oldest;  // the oldest checkpoint at or after resumes - 1
  try {
    if (fs.exists(ckpt_dir))
      for (const auto& name : fs.list(ckpt_dir)) {
        mmsb::epoch e;
        if (parse_checkpoint_name(name, e) && e.value() + 1 >= resumes.value() && (!oldest || e < *oldest)) oldest = e;
      }
  } catch (const error&) {  // an unreadable directory: say less, but still name the epoch asked for
  }
  const std::string older = state.value() == 0 ? "" : "epoch " + std::to_string(state.value()) + " (its checkpoint) and ";
  if (oldest && older.empty())
    m += "the oldest epoch reachable is " + std::to_string(oldest->value()) + " (a checkpoint the log continues from)";
  else if (oldest)
    m += "reachable are " + older + "every epoch from " + std::to_string(oldest->value()) + " (a checkpoint the log continues from) on";
  else
    m += "no retained checkpoint reaches the log, so no epoch from " + std::to_string(resumes.value() - 1) + " on is reachable";
  return m;
}

// Every page: recover_into's default page filter.
struct all_pages {
  constexpr bool operator()(page_id) const noexcept { return true; }
};

// Loads the newest valid checkpoint (at or before `stop`, if given) and the log after it (up to
// `stop`) into `table`; epoch_out is the epoch reached. A log that does not continue right
// after the checkpoint (a gap) cannot reproduce the state: out_of_range for a replay target,
// corrupt for recovery. Only pages for which keep(id) is true are loaded (rebuilding one page).
template <class Semiring, class Layout, class Allocator, class Keep = all_pages>
recovery_report recover_into(file_system& fs, const std::string& log_dir, const std::string& ckpt_dir, span<const std::byte> shape,
                             recovery_mode mode, page_table<Layout, Allocator>& table, mmsb::epoch& epoch_out, mmsb::epoch stop,
                             std::vector<std::vector<std::byte>>* structure_out, Keep keep = {})
{
  using delta_type = delta<Semiring, Layout>;
  using page_type = page<Layout>;
  const bool bounded = stop.value() != 0;
  const auto ckpt = load_checkpoint(
    fs, ckpt_dir, shape, sizeof(typename Layout::storage_type),
    [&](page_id id, mmsb::epoch e, span<const std::byte> bytes) {
      if (!keep(id)) return;
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
                    if (h.epoch != epoch_out.next()) {
                      if (bounded)
                        throw error(errc::out_of_range, unreachable_epoch_message(fs, ckpt_dir, stop, epoch_out, h.epoch));
                      throw error(errc::corrupt, "the retained log continues at epoch " + std::to_string(h.epoch.value()) +
                                                   " but the state is at epoch " + std::to_string(epoch_out.value()) +
                                                   " (the records between were truncated)");
                    }
                    detail::decode_commit(h.epoch, payload, deltas, structure);
                    if (structure_out && !structure.empty()) structure_out->emplace_back(structure.begin(), structure.end());
                    for (const auto& d : deltas) {
                      if (!keep(d.target())) continue;
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

// The pages at epoch `target`, rebuilt into `replica` (empty): nothing for epoch 0 (before the
// first commit), else recover_into up to it. Throws mmsb::error (out_of_range) when the retained
// files do not reach back or forward to it.
template <class Semiring, class Layout, class Allocator>
void replay_into(file_system& fs, const std::string& log_dir, const std::string& ckpt_dir, span<const std::byte> shape,
                 recovery_mode mode, mmsb::epoch target, page_table<Layout, Allocator>& replica,
                 std::vector<std::vector<std::byte>>* structure_out)
{
  if (target.value() == 0) return;
  mmsb::epoch reached{};
  (void)recover_into<Semiring>(fs, log_dir, ckpt_dir, shape, mode, replica, reached, target, structure_out);
  if (reached != target)
    throw error(errc::out_of_range, "replay: epoch " + std::to_string(target.value()) +
                                      " is past the end of the retained log (epoch " + std::to_string(reached.value()) + ")");
}

// f(epoch, span<const delta>) for every commit of the log in log_dir after epoch `after`, in
// epoch order, with the deltas as logged; an f that also takes span<const std::byte> gets each
// commit's structure. Throws mmsb::error (out_of_range) if the log resumes past after + 1 (a
// checkpoint removed the commits between), naming the oldest epoch to start from.
template <class Semiring, class Layout, class F>
void for_each_logged_commit(file_system& fs, const std::string& log_dir, span<const std::byte> shape, recovery_mode mode,
                            mmsb::epoch after, F& f)
{
  using delta_type = delta<Semiring, Layout>;
  std::vector<delta_type> deltas;
  span<const std::byte> structure;
  mmsb::epoch last = after;
  (void)read_log(fs, log_dir, shape, mode,
                 [&](const record_header& h, span<const std::byte> payload) {
                   if (h.type != record_type::commit || !(after < h.epoch)) return;
                   if (h.epoch != last.next())
                     throw error(errc::out_of_range,
                                 "history: the commits after epoch " + std::to_string(after.value()) +
                                   " were asked for, but the retained log resumes at epoch " + std::to_string(h.epoch.value()) +
                                   (last == after ? std::string{} : " after epoch " + std::to_string(last.value())) +
                                   " (a checkpoint removed the commits between); the oldest epoch to start from is " +
                                   std::to_string(h.epoch.value() - 1));
                   detail::decode_commit(h.epoch, payload, deltas, structure);
                   if constexpr (std::is_invocable_v<F&, mmsb::epoch, span<const delta_type>, span<const std::byte>>)
                     f(h.epoch, span<const delta_type>{deltas.data(), deltas.size()}, structure);
                   else
                     f(h.epoch, span<const delta_type>{deltas.data(), deltas.size()});
                   last = h.epoch;
                 },
                 after);
}

} // namespace mmsb::detail
