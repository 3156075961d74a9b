// obs::registry: owns the block the bus records its metrics in (core/metrics.hpp), in process
// memory or in a memory-mapped stats file another process can read (`mmsb top`), and reads it
// back as a snapshot: every counter and histogram summed over its per-thread shards.
//
//   mmsb::obs::registry reg = mmsb::obs::registry::in_file(mmsb::obs::stats_path("db"));
//   mmsb::bus_options o;
//   o.dir = "db";
//   o.metrics = reg.sink();          // the registry outlives the bus
//   mmsb::bus<mmsb::plus_times<double>> bus(o);
//   ... reg.snapshot()[mmsb::metric_counter::ticks] ...
//
// Reading never blocks recording: a snapshot is relaxed loads of the shards, so it sees each
// value as some recent moment left it (counters never go backwards). docs/observability.md has
// every metric, its unit, and the exporters.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/metrics.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mmsb::obs {

// One histogram read back: observations per bucket (not cumulative), their count and sum.
struct histogram_snapshot {
  std::array<std::uint64_t, histogram_buckets> buckets{};  // observations in bucket k (bucket_upper_seconds(k))
  std::uint64_t count = 0;                                 // observations in all
  double sum_seconds = 0;                                  // their sum

  // The mean, in seconds (0 without observations).
  [[nodiscard]] double mean_seconds() const noexcept { return count ? sum_seconds / static_cast<double>(count) : 0.0; }
  // An upper bound of the q-quantile (0 < q <= 1): the upper bound of the bucket holding the
  // observation of rank ceil(q * count); 0 without observations, +infinity past the last finite bucket.
  [[nodiscard]] double quantile_upper_seconds(double q) const noexcept;
};

// Every metric read back at one moment (see the top of this header).
struct metrics_snapshot {
  std::array<std::uint64_t, counter_count> counters{};          // by metric_counter
  std::array<std::int64_t, gauge_count> gauges{};               // by metric_gauge
  std::array<histogram_snapshot, histogram_count> histograms{};  // by metric_histogram
  std::uint64_t pid = 0;              // the process that writes the block
  std::uint64_t started_unix_ms = 0;  // when it created the block

  // One counter's value.
  [[nodiscard]] std::uint64_t operator[](metric_counter c) const noexcept { return counters[static_cast<std::size_t>(c)]; }
  // One gauge's value.
  [[nodiscard]] std::int64_t operator[](metric_gauge g) const noexcept { return gauges[static_cast<std::size_t>(g)]; }
  // One histogram's buckets, count and sum.
  [[nodiscard]] const histogram_snapshot& operator[](metric_histogram h) const noexcept { return histograms[static_cast<std::size_t>(h)]; }
};

// Sums a block's shards (see the top of this header).
[[nodiscard]] metrics_snapshot read(const metrics_block& b) noexcept;

// The stats file of the bus whose directory is `bus_dir`: next to it, "<bus_dir>.stats"
// (trailing slashes dropped). `mmsb top DIR` reads it.
[[nodiscard]] std::string stats_path(std::string bus_dir);

// Reads a stats file another process writes: maps it read-only, checks it and sums it. Throws
// mmsb::error naming the path: io_error (missing, unreadable), corrupt (too short, not a stats
// file, or written by an MMSB with other metrics). The writer is never blocked.
[[nodiscard]] metrics_snapshot read_stats_file(const std::string& path);

// Owns one metrics block (see the top of this header). Not copyable; movable.
class registry {
public:
  // A block in process memory.
  registry();
  // A block in a stats file at `path`, which replaces any file there (by rename, so a reader of
  // the old one is never cut short) and stays locked while the registry lives: a second registry
  // on the same path is refused (mmsb::error io_error naming the path and the holder's pid).
  // The file is left behind afterwards with its last values. Throws mmsb::error (io_error)
  // naming the path when it cannot be created or mapped.
  [[nodiscard]] static registry in_file(const std::string& path);
  // Takes over other's block (sinks given out keep pointing at it).
  registry(registry&&) noexcept;
  // The same, releasing this registry's own block.
  registry& operator=(registry&&) noexcept;
  ~registry();

  // Where to record: give it to bus_options::metrics (or any component's options).
  [[nodiscard]] metrics_sink sink() const noexcept { return metrics_sink(block_); }
  // Every metric now.
  [[nodiscard]] metrics_snapshot snapshot() const noexcept { return read(*block_); }
  // The stats file's path; empty for a registry in memory.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  struct file_mapping;
  registry(std::unique_ptr<file_mapping> f, std::string path);
  std::unique_ptr<metrics_block> memory_;
  std::unique_ptr<file_mapping> file_;
  metrics_block* block_ = nullptr;
  std::string path_;
};

} // namespace mmsb::obs
