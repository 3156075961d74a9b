// The examples' --heatmap PATH: page heat recorded by the bus (core/heat.hpp) written as a PNG at
// PATH and a CSV beside it (PATH with .csv), through mmsb/obs/heatmap.hpp.
#pragma once

#include <mmsb/obs/heatmap.hpp>

#include "options.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

namespace example {

// Refuses (exit 2) a --heatmap path whose directory is not there, before the run.
inline void check_heatmap_path(const option_parser& p, const std::string& path)
{
  if (path.empty()) return;
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) p.reject("--heatmap", path, "no directory " + dir.string() + " to write it in");
}

// Writes the PNG and the CSV; prints where, or why not. False when either failed.
inline bool write_heatmap(const mmsb::heat_recorder& heat, const std::string& png)
{
  const std::string csv = std::filesystem::path(png).replace_extension(".csv").string();
  try {
    mmsb::obs::write_heatmap_png(heat, png);
    mmsb::obs::write_heatmap_csv(heat, csv);
  } catch (const mmsb::error& e) {
    std::printf("heatmap NOT WRITTEN: %s\n", e.what());
    return false;
  }
  std::printf("heatmap: %s and %s (%zu windows of %llu ticks: writes above, reads below)\n", png.c_str(), csv.c_str(),
              heat.windows().size() + (heat.current().ticks ? 1 : 0), static_cast<unsigned long long>(heat.ticks_per_window()));
  return true;
}

} // namespace example
