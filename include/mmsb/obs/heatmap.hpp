// Page heatmaps: a heat_recorder's windows (core/heat.hpp) as a PNG and as a CSV.
//
//   mmsb::heat_recorder heat(10);              // windows of 10 ticks
//   mmsb::bus_options o;
//   o.heat = mmsb::heat_sink(&heat);           // the recorder outlives the bus
//   ... ticks ...
//   mmsb::obs::write_heatmap_png(heat, "heat.png");
//   mmsb::obs::write_heatmap_csv(heat, "heat.csv");
//
// The PNG: time runs left to right, one column per window (stretched to at least min_width
// pixels); pages run top to bottom, one row per page (or per band of pages when there are more
// than max_rows: a band's count is its pages' sum). The top panel is writes, the bottom panel
// reads, split by a grey line. Colour is log(1 + count) scaled to the panel's largest count:
// black (none), through red and orange, to white (hottest). docs/observability.md shows one.
//
// The CSV: "window,first_tick,ticks,page,writes,reads", one row per page with a nonzero count in
// a window, windows oldest first. Both include the open window when it covers a tick.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/heat.hpp>

#include <cstddef>
#include <string>

namespace mmsb::obs {

// How a heatmap PNG is laid out (see the top of this header).
struct heatmap_options {
  std::size_t max_rows = 512;   // pages are banded above this many rows per panel
  std::size_t min_width = 256;  // columns are widened to reach at least this many pixels
};

// Writes the PNG. Throws mmsb::error: io_error naming the path when it cannot be written,
// invalid_argument when there is no window yet or this MMSB was built without libpng.
void write_heatmap_png(const heat_recorder& heat, const std::string& path, heatmap_options o = {});
// Writes the CSV. Throws mmsb::error (io_error) naming the path when it cannot be written.
void write_heatmap_csv(const heat_recorder& heat, const std::string& path);

} // namespace mmsb::obs
