// bus_model<S, N>: bus_base over basic_bus<S, dense<T, N>> on the posix file system (internal to
// libmmsb_c; included only by the instances_*.cpp translation units, each instantiating a few).
//
// Pushed changes wait in the handle (pending_) until tick(), which turns them into one
// transaction and commits it: one epoch, logged before it is applied. A push that fails leaves
// pending_ as it was (room is reserved before anything is appended); a tick that fails leaves
// the changes pending for the next one. Pages created since the last commit make the next tick
// (or checkpoint) commit even with nothing queued, so a new page is never lost.
#pragma once

#include "bus_impl.hpp"

#include <mmsb/bus/bus.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb::capi {

template <class Semiring, std::size_t N>
class bus_model final : public bus_base {
public:
  using value_type = semiring_value_t<Semiring>;
  using layout_type = dense<value_type, N>;
  using bus_type = basic_bus<Semiring, layout_type>;

  explicit bus_model(const open_args& a)
      : bus_(options(a, fs_)), lost_ticks_(bus_.store().lost_commits()), recovery_report_(bus_.store().recovery().describe())
  {
  }

  std::uint32_t create_page(const void* initial) override
  {
    const page_id id = initial ? bus_.create_page(load(initial, 0)) : bus_.create_page();
    created_ = id;  // logged by the next commit, which tick() and checkpoint() make happen
    return id.value();
  }
  [[nodiscard]] std::size_t page_count() const override { return bus_.store().pages().size(); }

  void push_sparse(std::uint32_t page, mmsb_op op, const std::uint32_t* slots, const void* values, std::size_t count) override
  {
    check_page(page);
    for (std::size_t k = 0; k < count; ++k)
      if (slots[k] >= N)
        throw error(errc::out_of_range, "page " + std::to_string(page) + ": slots[" + std::to_string(k) + "] = " +
                                          std::to_string(slots[k]) + " is past the extent (pages hold " + std::to_string(N) + " slots)");
    pending_.reserve(pending_.size() + count);  // may throw: nothing appended yet
    for (std::size_t k = 0; k < count; ++k) pending_.push_back({page, slots[k], op, load(values, k)});
  }

  void push_dense(std::uint32_t page, mmsb_op op, const std::uint64_t* mask, const void* payload) override
  {
    check_page(page);
    constexpr std::size_t words = (N + 63) / 64;
    if constexpr (N % 64 != 0)
      if (mask[words - 1] >> (N % 64) != 0)
        throw error(errc::invalid_argument, "page " + std::to_string(page) + ": the mask sets bits past the extent (" +
                                              std::to_string(N) + " slots); bits " + std::to_string(N) + " and up must be 0");
    std::size_t count = 0;
    for (std::size_t w = 0; w < words; ++w) count += static_cast<std::size_t>(std::popcount(mask[w]));
    pending_.reserve(pending_.size() + count);
    for (std::size_t w = 0; w < words; ++w)
      for (std::uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
        const auto i = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
        pending_.push_back({page, i, op, load(payload, i)});
      }
  }

  std::uint64_t tick() override
  {
    if (pending_.empty() && !created_) return bus_.current_epoch().value();
    auto tx = bus_.begin();
    for (const auto& c : pending_) {
      if (c.op == MMSB_ASSIGN) tx.assign(page_id{c.page}, c.slot, c.value);
      else tx.accumulate(page_id{c.page}, c.slot, c.value);
    }
    // Pages created since the last commit are logged with the next commit, and a commit needs a
    // change: with nothing queued, slot 0 of the newest page takes the value it has (no value
    // changes; the epoch advances), so a new page is durable after a tick, as the header says.
    if (pending_.empty()) tx.assign(*created_, 0, layout_type::load(bus_.value(*created_).storage(), 0));
    const auto e = bus_.commit(tx);  // throws with nothing applied: pending_ stays for the next tick
    pending_.clear();
    created_.reset();
    return e.value();
  }
  void discard() noexcept override { pending_.clear(); }

  [[nodiscard]] std::uint64_t epoch() const override { return bus_.current_epoch().value(); }
  [[nodiscard]] std::uint64_t lost_ticks() const noexcept override { return lost_ticks_; }
  [[nodiscard]] const std::string& recovery_report() const noexcept override { return recovery_report_; }
  [[nodiscard]] const void* page_data(std::uint32_t page) const override
  {
    check_page(page);
    return layout_type::data(bus_.value(page_id{page}).storage());
  }
  [[nodiscard]] std::uint64_t hash() const override { return bus_.hash().value; }
  [[nodiscard]] std::uint64_t hash_at(std::uint64_t e) const override { return bus_.hash_at(mmsb::epoch{e}).value; }
  void read_at(std::uint64_t e, std::uint32_t page, void* out) const override
  {
    const auto snap = bus_.store().snapshot_at(mmsb::epoch{e});
    const auto it = std::find_if(snap.pages.begin(), snap.pages.end(), [&](const auto& p) { return p.id().value() == page; });
    if (it == snap.pages.end())
      throw error(errc::unknown_page, "page " + std::to_string(page) + " did not exist at epoch " + std::to_string(e) + " (" +
                                        std::to_string(snap.pages.size()) + " pages then)");
    std::memcpy(out, layout_type::data(it->storage()), sizeof(value_type) * N);
  }
  // A checkpoint holds only committed pages: pages created since the last commit are committed
  // first (see tick), so they are in it; changes queued but not ticked stay queued.
  void checkpoint() override
  {
    if (created_) {
      auto queued = std::move(pending_);
      pending_.clear();
      try {
        (void)tick();
      } catch (...) {
        pending_ = std::move(queued);
        throw;
      }
      pending_ = std::move(queued);
    }
    bus_.checkpoint();
  }

private:
  struct change {
    std::uint32_t page;
    std::uint32_t slot;
    mmsb_op op;
    value_type value;
  };

  static bus_options options(const open_args& a, posix_file_system& fs)
  {
    bus_options o;
    o.fs = &fs;
    o.dir = a.dir;
    if (a.flags & MMSB_OPEN_POINT_IN_TIME) o.store.recovery = recovery_mode::point_in_time;
    if (a.flags & MMSB_OPEN_NO_SYNC) {
      // Written to the file at every commit (no writer buffer), only not fsync'd: a process
      // crash loses nothing; an OS crash or power loss may lose the ticks not yet synced.
      o.store.log.durability = durability::none;
      o.store.log.buffer_bytes = 0;
    }
    return o;
  }

  // Element k of a caller's buffer, which need not be aligned. A bool slot takes any nonzero byte
  // as true (reading an arbitrary byte as bool would be undefined).
  static value_type load(const void* values, std::size_t k) noexcept
  {
    if constexpr (std::is_same_v<value_type, bool>) {
      return static_cast<const unsigned char*>(values)[k] != 0;
    } else {
      value_type v;
      std::memcpy(&v, static_cast<const unsigned char*>(values) + k * sizeof(value_type), sizeof(value_type));
      return v;
    }
  }

  void check_page(std::uint32_t page) const
  {
    if (!bus_.store().pages().contains(page_id{page}))
      throw error(errc::unknown_page, "page " + std::to_string(page) + " does not exist (the bus has " +
                                        std::to_string(page_count()) + " pages, numbered from 0)");
  }

  posix_file_system fs_;  // before bus_: the bus's store uses it until destroyed
  bus_type bus_;
  std::vector<change> pending_;
  std::optional<page_id> created_;  // the newest page created since the last commit, if any
  std::uint64_t lost_ticks_;        // recovery's findings at open (they never change afterwards)
  std::string recovery_report_;
};

template <class Semiring, std::size_t N>
std::unique_ptr<bus_base> make_bus(const open_args& a)
{
  return std::make_unique<bus_model<Semiring, N>>(a);
}

} // namespace mmsb::capi
