// How durable_store (log/durable_store.hpp, which includes this at its end and has the contract)
// starts a checkpoint: checkpoint() and begin_checkpoint(), and start_checkpoint(), which freezes
// the epoch (pages in memory by pointer, spilled pages by slot), rolls the log for a blocking
// checkpoint, and hands the job to the background writer with the retention it implies.
#pragma once

#include <mmsb/log/durable_store.hpp>

namespace mmsb {

template <class Semiring, class Layout, class Allocator>
void durable_store<Semiring, Layout, Allocator>::checkpoint(span<const std::byte> structure)
{
  out_of_memory_as_error("checkpoint", [&] {
    std::unique_lock lock(mutex_);
    background_.wait();
    start_checkpoint(structure, true);
    background_.wait();
  });
}

template <class Semiring, class Layout, class Allocator>
bool durable_store<Semiring, Layout, Allocator>::begin_checkpoint(span<const std::byte> structure)
{
  return out_of_memory_as_error("begin_checkpoint", [&] {
    std::unique_lock lock(mutex_);
    if (background_.busy()) return false;
    background_.wait();
    start_checkpoint(structure, false);
    return true;
  });
}

template <class Semiring, class Layout, class Allocator>
void durable_store<Semiring, Layout, Allocator>::start_checkpoint(span<const std::byte> structure, bool roll)
{
  // Pages in memory by pointer; spilled pages stay spilled and the thread reads their records
  // (no spill record is written while the checkpoint is in flight: maintain_memory waits).
  typename background_checkpoint<Layout>::job j;
  std::vector<const page_type*> frozen(table_.id_bound(), nullptr);
  for (std::uint32_t id = 0; id < frozen.size(); ++id) {
    frozen[id] = table_.resident_page(page_id{id});
    if (std::uint32_t slot = 0; !frozen[id] && table_.spill_slot(page_id{id}, slot)) j.spilled.emplace_back(id, slot);
  }
  for (const auto id : pending_.ids())
    if (id < frozen.size()) frozen[id] = nullptr;  // (never spilled: not logged yet)
  if (!j.spilled.empty())
    j.read_spilled = [this](std::uint32_t slot, page_id id, page_type& out) { table_.read_spill_slot(slot, id, out); };
  j.fs = fs_;
  j.dir = ckpt_dir();
  j.shape = shape_;
  j.epoch = epoch_;
  j.structure.assign(structure.begin(), structure.end());
  j.files_mutex = &files_mutex_;
  j.metrics = options_.metrics;
  j.trace = options_.trace;
  if (roll) {
    // Everything the old writer holds reaches the file first: a newer segment must never be
    // synced before an older one.
    std::lock_guard w(writer_mutex_);
    writer_->sync();
    writer_ = std::make_unique<log_writer>(*fs_, log_dir(), shape_, log_resume{true, 0, 0, epoch_}, options_.log);
    MMSB_KILL_POINT("checkpoint.log_rolled");
  }
  // Retention by checkpoints (log/retention.hpp): the segments the retained checkpoints no
  // longer need go once this one is durable.
  const std::uint64_t below = retention_.start(*fs_, ckpt_dir(), epoch_, segment_index(writer_->segment_path()), j.keep);
  j.on_durable = [this, below] { remove_segments_below(*fs_, log_dir(), below); };
  background_.start(std::move(j), std::move(frozen));
}

} // namespace mmsb
