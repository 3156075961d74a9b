// The metrics vocabulary every layer records in: counters, gauges and time histograms with fixed
// buckets, each named once here, and the block of shared memory they land in. obs/ owns blocks
// (in process memory or in a memory-mapped stats file), reads them and exports them
// (docs/observability.md lists every metric with its meaning and unit).
//
// Recording: a component holds a metrics_sink (in its options; its owner passes its own down)
// and calls add, set or observe. A default-constructed sink is off: each call is one predictable
// branch and nothing else. In a build configured with -Dmetrics=false (MMSB_METRICS 0) every
// call compiles to nothing.
//
// Per thread, lock-free and allocation-free: each counter and histogram has metric_shards copies,
// one cache-line-aligned shard per thread ordinal (modulo metric_shards); a thread adds to its
// own shard with a relaxed atomic add, so threads do not share a line unless more than
// metric_shards of them record. Readers sum the shards. A gauge is one value, set by the one
// thread that owns what it measures (the bus's owner).
//
// The block is plain data (atomics and integers, no pointers), so it can live in a file another
// process maps read-only (obs/stats_file.hpp, `mmsb top`); a reader never blocks a writer.
#pragma once

#include <mmsb/config/config.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>


namespace mmsb {

// Monotone counts (Prometheus counters).
enum class metric_counter : std::uint8_t {
  ticks,                    // ticks run
  changes,                  // slot changes drained from the producers' rings
  changes_rejected,         // changes sent back to their producers (unknown page): the bus's drops
  pages_applied,            // merged deltas applied (one per changed page per commit)
  commits,                  // commits logged (ticks with changes, transactions, checkpoints' pending edits)
  log_records,              // records appended to the log
  log_bytes,                // bytes appended to the log (framing included)
  log_syncs,                // log syncs (fsync of a segment or of the directory)
  checkpoints,              // checkpoints written
  checkpoint_failures,      // checkpoints that failed (the store keeps the older ones)
  propagate_waves,          // propagation waves finished (a tick's propagation that completed with work done)
  propagate_units,          // derived pages (or whole regions) recomputed by propagation
  propagate_changed_slots,  // derived value slots that changed
  region_rounds,            // fixed-point rounds summed over regions
  producer_waits,           // pushes that found their ring full and waited (back-pressure)
  recovery_lost_commits,    // acknowledged commits an opening recovery dropped (point in time)
  pages_spilled,            // pages moved to the spill file (memory budget)
  pages_reloaded,           // spilled pages brought back on access
  spill_failures,           // maintain phases a spill-file error stopped (no_space, io_error)
  spill_damaged,            // spill records that failed their check (rebuilt or reported, never returned)
};
inline constexpr std::size_t counter_count = 20;  // the number of counters

// Values that go up and down (Prometheus gauges), set by the bus's owner thread.
enum class metric_gauge : std::uint8_t {
  epoch,                 // the epoch of the last commit
  pages,                 // pages in the store
  page_bytes_resident,   // bytes of page storage in memory (the allocator's live bytes)
  page_bytes_reserved,   // bytes the allocator took from the system (pools keep free blocks)
  propagate_frontier,    // propagation units queued after the last tick (a budget ran out)
  ring_depth,            // changes the last tick found waiting in the producers' rings
  producers,             // producers open
  checkpoint_in_flight,  // 1 while a background checkpoint is being written
  last_tick_unix_ms,     // wall-clock time the last tick ended (Unix epoch, milliseconds)
  pages_in_spill_file,   // pages spilled now (memory budget)
};
inline constexpr std::size_t gauge_count = 10;  // the number of gauges

// Durations (Prometheus histograms in seconds).
enum class metric_histogram : std::uint8_t {
  tick,              // one whole tick
  phase_ingest,      // the tick's phases (bus/tick.hpp), in order
  phase_merge,
  phase_apply_log,
  phase_propagate,
  phase_maintain,
  log_sync,          // one log sync (fsync)
  checkpoint,        // writing one checkpoint (on the store's thread, for a background one)
  checkpoint_stall,  // the owner thread's share of starting one (snapshotting the pages)
};
inline constexpr std::size_t histogram_count = 9;  // the number of histograms

// Histogram buckets: bucket k < histogram_buckets - 1 holds durations up to 2^k microseconds
// (the last finite one 2^24 us, about 16.8 s); the last holds longer ones (+Inf).
inline constexpr std::size_t histogram_buckets = 26;
// The upper bound of bucket k in seconds (+Inf for the last: returns a negative number).
[[nodiscard]] constexpr double bucket_upper_seconds(std::size_t k) noexcept
{
  return k + 1 < histogram_buckets ? static_cast<double>(std::uint64_t{1} << k) * 1e-6 : -1.0;
}
// The bucket a duration of `ns` nanoseconds falls in (branch-free).
[[nodiscard]] constexpr std::size_t bucket_of(std::uint64_t ns) noexcept
{
  const std::uint64_t us = ns / 1000 + (ns % 1000 != 0);  // rounded up
  const auto k = static_cast<std::size_t>(std::bit_width(us > 0 ? us - 1 : 0));
  return std::min(k, histogram_buckets - 1);
}

// A metric's exported name, help text and (for one member of a labelled family) its label.
struct metric_info {
  const char* name;         // the Prometheus name (counters end in _total, durations in _seconds)
  const char* help;         // one line: what it counts, in which unit
  const char* label;        // the label's name, or nullptr
  const char* label_value;  // the label's value, or nullptr
};

// Every metric's info, indexed by its enum.
inline constexpr std::array<metric_info, counter_count> counter_info{{
  {"mmsb_ticks_total", "Ticks run.", nullptr, nullptr},
  {"mmsb_changes_total", "Slot changes drained from producer rings.", nullptr, nullptr},
  {"mmsb_changes_rejected_total", "Changes sent back to their producers (unknown page).", nullptr, nullptr},
  {"mmsb_pages_applied_total", "Merged page deltas applied.", nullptr, nullptr},
  {"mmsb_commits_total", "Commits logged.", nullptr, nullptr},
  {"mmsb_log_records_total", "Records appended to the log.", nullptr, nullptr},
  {"mmsb_log_bytes_total", "Bytes appended to the log, framing included.", nullptr, nullptr},
  {"mmsb_log_syncs_total", "Log syncs (fsync).", nullptr, nullptr},
  {"mmsb_checkpoints_total", "Checkpoints written.", nullptr, nullptr},
  {"mmsb_checkpoint_failures_total", "Checkpoints that failed.", nullptr, nullptr},
  {"mmsb_propagate_waves_total", "Propagation waves finished.", nullptr, nullptr},
  {"mmsb_propagate_units_total", "Derived pages or regions recomputed by propagation.", nullptr, nullptr},
  {"mmsb_propagate_changed_slots_total", "Derived value slots changed by propagation.", nullptr, nullptr},
  {"mmsb_region_rounds_total", "Fixed-point region rounds.", nullptr, nullptr},
  {"mmsb_producer_waits_total", "Producer pushes that found their ring full and waited.", nullptr, nullptr},
  {"mmsb_recovery_lost_commits_total", "Acknowledged commits dropped by recovery on open.", nullptr, nullptr},
  {"mmsb_pages_spilled_total", "Pages moved to the spill file (memory budget).", nullptr, nullptr},
  {"mmsb_pages_reloaded_total", "Spilled pages brought back on access.", nullptr, nullptr},
  {"mmsb_spill_failures_total", "Maintain phases stopped by a spill-file error.", nullptr, nullptr},
  {"mmsb_spill_damaged_total", "Spill records that failed their check.", nullptr, nullptr},
}};
// Every gauge's info, indexed by its enum.
inline constexpr std::array<metric_info, gauge_count> gauge_info{{
  {"mmsb_epoch", "Epoch of the last commit.", nullptr, nullptr},
  {"mmsb_pages", "Pages in the store.", nullptr, nullptr},
  {"mmsb_page_bytes_resident", "Bytes of page storage in memory.", nullptr, nullptr},
  {"mmsb_page_bytes_reserved", "Bytes the page allocator holds from the system.", nullptr, nullptr},
  {"mmsb_propagate_frontier", "Propagation units queued for the next tick.", nullptr, nullptr},
  {"mmsb_ring_depth", "Changes the last tick found in the producer rings.", nullptr, nullptr},
  {"mmsb_producers", "Producers open.", nullptr, nullptr},
  {"mmsb_checkpoint_in_flight", "1 while a background checkpoint is written.", nullptr, nullptr},
  {"mmsb_last_tick_unix_ms", "Wall-clock time the last tick ended, Unix milliseconds.", nullptr, nullptr},
  {"mmsb_pages_in_spill_file", "Pages in the spill file now.", nullptr, nullptr},
}};
// Every histogram's info, indexed by its enum.
inline constexpr std::array<metric_info, histogram_count> histogram_info{{
  {"mmsb_tick_seconds", "Duration of one tick.", nullptr, nullptr},
  {"mmsb_tick_phase_seconds", "Duration of one tick phase.", "phase", "ingest"},
  {"mmsb_tick_phase_seconds", "Duration of one tick phase.", "phase", "merge"},
  {"mmsb_tick_phase_seconds", "Duration of one tick phase.", "phase", "apply_log"},
  {"mmsb_tick_phase_seconds", "Duration of one tick phase.", "phase", "propagate"},
  {"mmsb_tick_phase_seconds", "Duration of one tick phase.", "phase", "maintain"},
  {"mmsb_log_sync_seconds", "Duration of one log sync.", nullptr, nullptr},
  {"mmsb_checkpoint_seconds", "Duration of writing one checkpoint.", nullptr, nullptr},
  {"mmsb_checkpoint_stall_seconds", "Owner-thread time spent starting a checkpoint.", nullptr, nullptr},
}};

// One histogram's shard: counts per bucket and the sum of the durations.
struct metrics_histogram_cells {
  std::array<std::atomic<std::uint64_t>, histogram_buckets> buckets;  // observations per bucket
  std::atomic<std::uint64_t> sum_ns;                                  // their sum, in nanoseconds
};

// Shards per block: threads record into shard (ordinal % metric_shards).
inline constexpr std::size_t metric_shards = 16;

// One thread's copy of every counter and histogram (see the top of this header).
struct alignas(64) metrics_shard {
  std::array<std::atomic<std::uint64_t>, counter_count> counters;    // this shard's part of each counter
  std::array<metrics_histogram_cells, histogram_count> histograms;  // ... and of each histogram
};

// A name for this vocabulary and layout: a block written under another one is refused by readers.
[[nodiscard]] constexpr std::uint64_t metrics_layout_id() noexcept
{
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over every name and label, and the sizes
  const auto mix = [&](const char* s) {
    for (; s && *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
    h = (h ^ 0xffu) * 0x100000001b3ull;
  };
  for (const auto& m : counter_info) mix(m.name);
  for (const auto& m : gauge_info) mix(m.name);
  for (const auto& m : histogram_info) (mix(m.name), mix(m.label_value));
  return h ^ (metric_shards << 8) ^ histogram_buckets;
}

// The block (see the top of this header). Zero bytes are a valid empty block; the owner fills in
// the header.
struct metrics_block {
  static constexpr std::uint64_t magic_value = 0x5441545342534d4dull;  // "MMSBSTAT", little-endian
  std::atomic<std::uint64_t> magic;   // magic_value once the header is complete (released last)
  std::uint64_t layout;               // metrics_layout_id() of the writer
  std::uint64_t pid;                  // the writing process
  std::uint64_t started_unix_ms;      // when the block was created
  alignas(64) std::array<std::atomic<std::int64_t>, gauge_count> gauges;  // every gauge, set by the owner
  std::array<metrics_shard, metric_shards> shards;                         // the per-thread shards
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free,
              "a metrics block in shared memory needs lock-free 64-bit atomics");

namespace detail {
inline std::atomic<std::uint32_t> next_metrics_ordinal{0};
// This thread's shard: ordinals in order of a thread's first recording.
[[nodiscard]] inline std::size_t this_thread_shard() noexcept
{
  thread_local const std::uint32_t ordinal = next_metrics_ordinal.fetch_add(1, std::memory_order_relaxed);
  return ordinal % metric_shards;
}
} // namespace detail

// Where a component records (see the top of this header): a block, or nothing (off).
class metrics_sink {
public:
  constexpr metrics_sink() noexcept = default;
  // Records into b (nullptr: off).
  constexpr explicit metrics_sink(metrics_block* b) noexcept : b_(b) {}

  // True when recording goes somewhere.
  [[nodiscard]] constexpr bool on() const noexcept { return MMSB_METRICS && b_ != nullptr; }
  // The block recorded into (nullptr when off).
  [[nodiscard]] constexpr metrics_block* block() const noexcept { return b_; }

  // Adds n to counter c.
  void add([[maybe_unused]] metric_counter c, [[maybe_unused]] std::uint64_t n = 1) const noexcept
  {
#if MMSB_METRICS
    if (b_ == nullptr) return;
    b_->shards[detail::this_thread_shard()].counters[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
#endif
  }
  // Sets gauge g to v.
  void set([[maybe_unused]] metric_gauge g, [[maybe_unused]] std::int64_t v) const noexcept
  {
#if MMSB_METRICS
    if (b_ == nullptr) return;
    b_->gauges[static_cast<std::size_t>(g)].store(v, std::memory_order_relaxed);
#endif
  }
  // Records one duration in histogram h (negative durations count as zero).
  void observe([[maybe_unused]] metric_histogram h, [[maybe_unused]] std::chrono::nanoseconds d) const noexcept
  {
#if MMSB_METRICS
    if (b_ == nullptr) return;
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(d.count(), 0));
    auto& cells = b_->shards[detail::this_thread_shard()].histograms[static_cast<std::size_t>(h)];
    cells.buckets[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
    cells.sum_ns.fetch_add(ns, std::memory_order_relaxed);
#endif
  }

private:
  metrics_block* b_ = nullptr;
};

// Times its scope into a histogram; reads the clock only when the sink is on.
class metrics_timer {
public:
  // Starts timing into h (when s is on).
  metrics_timer(metrics_sink s, metric_histogram h) noexcept : s_(s), h_(h)
  {
    if (s_.on()) start_ = std::chrono::steady_clock::now();
  }
  metrics_timer(const metrics_timer&) = delete;
  metrics_timer& operator=(const metrics_timer&) = delete;
  ~metrics_timer()
  {
    if (s_.on()) s_.observe(h_, std::chrono::steady_clock::now() - start_);
  }

private:
  metrics_sink s_;
  metric_histogram h_;
  std::chrono::steady_clock::time_point start_{};
};

} // namespace mmsb
