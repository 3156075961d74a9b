// How durable_store (log/durable_store.hpp, which includes this at its end and has the contract)
// reads its past from its files: the state at an epoch (snapshot_at, history_at, replay_to, all
// through with_state_at), the logged commits (for_each_commit), and one page rebuilt from the
// checkpoint and the log when its spill record is damaged (rebuild_page).
#pragma once

#include <mmsb/log/durable_store.hpp>

namespace mmsb {

template <class Semiring, class Layout, class Allocator>
auto durable_store<Semiring, Layout, Allocator>::snapshot_at(mmsb::epoch target) const -> snapshot_type
{
  snapshot_type s;
  with_state_at(target, [&](const page_table<Layout, Allocator>& t) { s = snapshot_type::copy_of(t, target); });
  return s;
}

template <class Semiring, class Layout, class Allocator>
auto durable_store<Semiring, Layout, Allocator>::history_at(mmsb::epoch target) const -> history_type
{
  history_type h;
  with_state_at(target, [&](const page_table<Layout, Allocator>& t) { h.state = snapshot_type::copy_of(t, target); }, &h.structure);
  return h;
}

template <class Semiring, class Layout, class Allocator>
state_hash durable_store<Semiring, Layout, Allocator>::replay_to(mmsb::epoch target) const
{
  state_hash h{};
  with_state_at(target, [&](const page_table<Layout, Allocator>& t) { h = t.hash(); });
  return h;
}

template <class Semiring, class Layout, class Allocator>
template <class F>
void durable_store<Semiring, Layout, Allocator>::for_each_commit(F&& f, mmsb::epoch after) const
{
  out_of_memory_as_error("for_each_commit", [&] {
    write_out_buffer();
    std::shared_lock lock(mutex_);
    std::shared_lock files(files_mutex_);  // no checkpoint thread removes a segment under us
    detail::for_each_logged_commit<Semiring, Layout>(*fs_, log_dir(), shape_, recovery_mode_in_effect(), after, f);
  });
}

template <class Semiring, class Layout, class Allocator>
bool durable_store<Semiring, Layout, Allocator>::rebuild_page(page_id id, mmsb::epoch e, page_type& out) const
{
  write_out_buffer();
  std::shared_lock files(files_mutex_);
  page_table<Layout, Allocator> replica;
  mmsb::epoch reached{};
  // Replayed to the current epoch (always reachable: it is what recovery would do); the page
  // has not changed since its epoch e, which the result must carry.
  (void)detail::recover_into<Semiring>(*fs_, log_dir(), ckpt_dir(), shape_, recovery_mode_in_effect(), replica, reached, epoch_,
                                       nullptr, [id](page_id p) { return p == id; });
  const page_type* p = replica.find(id);
  if (!p || p->epoch() != e) return false;
  out = *p;
  return true;
}

template <class Semiring, class Layout, class Allocator>
template <class F>
void durable_store<Semiring, Layout, Allocator>::with_state_at(mmsb::epoch target, F&& f, std::vector<std::vector<std::byte>>* structure_out) const
{
  out_of_memory_as_error("replay", [&] {
    write_out_buffer();
    std::shared_lock lock(mutex_);
    std::shared_lock files(files_mutex_);  // no checkpoint thread removes a file under us
    page_table<Layout, Allocator> replica;
    detail::replay_into<Semiring>(*fs_, log_dir(), ckpt_dir(), shape_, recovery_mode_in_effect(), target, replica, structure_out);
    f(replica);
  });
}

} // namespace mmsb
