// Page heat: per-page write and read counts per time window, for a heatmap of which pages are
// hot (obs/heatmap.hpp renders it as a PNG and a CSV). The bus records into a heat_recorder
// through a heat_sink (bus_options::heat): a write for every page a commit changes (its
// merged delta applied), a read for every bus.value(p); a window closes every
// `ticks_per_window` ticks. Off by default (one branch per commit and per read).
//
// Owner-thread only, like the bus calls that record: plain counters, no atomics. Allocation only
// when a new page id is first seen or a window closes (the history keeps the newest
// `max_windows`, reusing their storage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace mmsb {

// The counts of one time window, indexed by page id (pages past the end: zero).
struct heat_window {
  std::uint64_t first_tick = 0;         // the first tick the window covers (counting from 0)
  std::uint64_t ticks = 0;              // ticks it covers
  std::vector<std::uint32_t> writes;    // commits that changed the page
  std::vector<std::uint32_t> reads;     // bus.value() calls
};

// The recorder (see the top of this header).
class heat_recorder {
public:
  // Windows of `ticks_per_window` ticks (at least 1); the newest `max_windows` are kept.
  explicit heat_recorder(std::uint64_t ticks_per_window = 1, std::size_t max_windows = 4096)
      : per_window_(ticks_per_window ? ticks_per_window : 1), max_windows_(max_windows ? max_windows : 1)
  {
  }

  // Counts one write of `page` in the current window.
  void wrote(std::uint32_t page) { ++at(current_.writes, page); }
  // Counts one read of `page` in the current window.
  void read(std::uint32_t page) { ++at(current_.reads, page); }
  // Ends one tick; closes the window after ticks_per_window of them.
  void tick_ended()
  {
    if (++current_.ticks < per_window_) return;
    close_window();
  }
  // Closes the current window now (if it covers any tick), so it is part of windows().
  void flush()
  {
    if (current_.ticks != 0) close_window();
  }

  // The closed windows, oldest first.
  [[nodiscard]] const std::deque<heat_window>& windows() const noexcept { return windows_; }
  // Ticks per window, as made.
  [[nodiscard]] std::uint64_t ticks_per_window() const noexcept { return per_window_; }
  // The current (open) window.
  [[nodiscard]] const heat_window& current() const noexcept { return current_; }

private:
  static std::uint32_t& at(std::vector<std::uint32_t>& v, std::uint32_t page)
  {
    if (page >= v.size()) v.resize(std::size_t{page} + 1, 0);
    return v[page];
  }
  void close_window()
  {
    heat_window next;
    if (windows_.size() >= max_windows_) {  // reuse the oldest window's storage
      next = std::move(windows_.front());
      windows_.pop_front();
    }
    next.first_tick = current_.first_tick + current_.ticks;
    next.ticks = 0;
    next.writes.assign(current_.writes.size(), 0);
    next.reads.assign(current_.reads.size(), 0);
    windows_.push_back(std::move(current_));
    current_ = std::move(next);
  }

  std::uint64_t per_window_;
  std::size_t max_windows_;
  heat_window current_;
  std::deque<heat_window> windows_;
};

// Where the bus records page heat: a recorder, or nothing (off).
class heat_sink {
public:
  constexpr heat_sink() noexcept = default;
  // Records into r (nullptr: off).
  constexpr explicit heat_sink(heat_recorder* r) noexcept : r_(r) {}
  // True when recording goes somewhere.
  [[nodiscard]] constexpr bool on() const noexcept { return r_ != nullptr; }
  // heat_recorder::wrote, when on.
  void wrote(std::uint32_t page) const
  {
    if (r_) r_->wrote(page);
  }
  // heat_recorder::read, when on.
  void read(std::uint32_t page) const
  {
    if (r_) r_->read(page);
  }
  // heat_recorder::tick_ended, when on.
  void tick_ended() const
  {
    if (r_) r_->tick_ended();
  }

private:
  heat_recorder* r_ = nullptr;
};

} // namespace mmsb
