// mmsb top DIR: a running bus's live stats, from the stats file next to its directory
// (obs/registry.hpp: DIR.stats), once a second. The file is mapped read-only and read with relaxed
// loads, so the bus is never blocked, and no server is needed. Rates are the differences between
// two readings, over the time between them (the first reading: since the block was created).
#include "cli.hpp"

#include <mmsb/bus/tick.hpp>
#include <mmsb/obs/registry.hpp>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <thread>

#include <signal.h>
#include <unistd.h>

namespace mmsb::tool {

namespace {

using obs::metrics_snapshot;

std::string human(double v, const char* unit)
{
  const char* prefix[] = {"", "k", "M", "G", "T"};
  int k = 0;
  while (v >= 1000 && k < 4) v /= 1000, ++k;
  char buf[48];
  std::snprintf(buf, sizeof buf, v < 10 && k > 0 ? "%.2f %s%s" : "%.1f %s%s", v, prefix[k], unit);
  return buf;
}

std::string duration(double seconds)
{
  char buf[32];
  if (seconds == 0) return "0";
  if (seconds > 1e30) return "inf";
  if (seconds < 1e-3) std::snprintf(buf, sizeof buf, "%.0f us", seconds * 1e6);
  else if (seconds < 1) std::snprintf(buf, sizeof buf, "%.2f ms", seconds * 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  return buf;
}

bool alive(std::uint64_t pid)
{
  return pid != 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

std::uint64_t unix_ms_now()
{
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

struct reading {
  metrics_snapshot s;
  std::uint64_t at_ms = 0;
};

double rate(const reading& now, const reading* before, metric_counter c)
{
  const std::uint64_t from_ms = before ? before->at_ms : now.s.started_unix_ms;
  const std::uint64_t base = before ? before->s[c] : 0;
  const double dt = static_cast<double>(now.at_ms > from_ms ? now.at_ms - from_ms : 1) / 1000.0;
  return static_cast<double>(now.s[c] - base) / dt;
}

void print_text(const std::string& dir, const std::string& path, const reading& r, const reading* before)
{
  const auto& s = r.s;
  const double up = static_cast<double>(r.at_ms - std::min(r.at_ms, s.started_unix_ms)) / 1000.0;
  std::printf("mmsb top %s (%s): pid %" PRIu64 " %s, up %.1f s\n", dir.c_str(), path.c_str(), s.pid,
              alive(s.pid) ? "running" : "GONE (last values shown)", up);
  std::printf("ticks    %" PRIu64 " (%s)   epoch %" PRId64 "\n", s[metric_counter::ticks], human(rate(r, before, metric_counter::ticks), "/s").c_str(),
              s[metric_gauge::epoch]);
  std::printf("changes  %" PRIu64 " (%s)   rejected %" PRIu64 "   pages applied %" PRIu64 "\n", s[metric_counter::changes],
              human(rate(r, before, metric_counter::changes), "/s").c_str(), s[metric_counter::changes_rejected], s[metric_counter::pages_applied]);
  std::printf("backlog  ring depth %" PRId64 "   producers %" PRId64 "   producer waits %" PRIu64 "   propagation frontier %" PRId64 "\n",
              s[metric_gauge::ring_depth], s[metric_gauge::producers], s[metric_counter::producer_waits], s[metric_gauge::propagate_frontier]);
  std::printf("memory   pages %" PRId64 "   resident %s   reserved %s\n", s[metric_gauge::pages],
              human(static_cast<double>(s[metric_gauge::page_bytes_resident]), "B").c_str(),
              human(static_cast<double>(s[metric_gauge::page_bytes_reserved]), "B").c_str());
  std::printf("log      %s (%s)   %" PRIu64 " records   %" PRIu64 " syncs, p99 <= %s\n",
              human(static_cast<double>(s[metric_counter::log_bytes]), "B").c_str(), human(rate(r, before, metric_counter::log_bytes), "B/s").c_str(),
              s[metric_counter::log_records], s[metric_counter::log_syncs], duration(s[metric_histogram::log_sync].quantile_upper_seconds(0.99)).c_str());
  std::printf("ckpt     %" PRIu64 " written, %" PRIu64 " failed, mean %s, stall mean %s%s\n", s[metric_counter::checkpoints],
              s[metric_counter::checkpoint_failures], duration(s[metric_histogram::checkpoint].mean_seconds()).c_str(),
              duration(s[metric_histogram::checkpoint_stall].mean_seconds()).c_str(), s[metric_gauge::checkpoint_in_flight] ? ", one in flight" : "");
  if (s[metric_counter::recovery_lost_commits]) std::printf("RECOVERY lost %" PRIu64 " acknowledged commits on open\n", s[metric_counter::recovery_lost_commits]);
  std::printf("%-10s %10s %10s %10s\n", "phase", "mean", "p50 <=", "p99 <=");
  for (std::size_t p = 0; p <= tick_phase_count; ++p) {
    const auto h = static_cast<metric_histogram>(p == tick_phase_count ? 0 : static_cast<std::size_t>(metric_histogram::phase_ingest) + p);
    const auto& hs = s[h];
    std::printf("%-10s %10s %10s %10s\n", p == tick_phase_count ? "tick" : phase_name(static_cast<tick_phase>(p)),
                duration(hs.mean_seconds()).c_str(), duration(hs.quantile_upper_seconds(0.5)).c_str(),
                duration(hs.quantile_upper_seconds(0.99)).c_str());
  }
}

void print_json(const std::string& dir, const reading& r, const reading* before)
{
  const auto& s = r.s;
  std::string out = "{\"dir\":" + json_string(dir) + ",\"pid\":" + std::to_string(s.pid) + ",\"running\":" + (alive(s.pid) ? "true" : "false");
  out += ",\"ticks_per_second\":" + json_value(std::to_string(rate(r, before, metric_counter::ticks)));
  out += ",\"changes_per_second\":" + json_value(std::to_string(rate(r, before, metric_counter::changes)));
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
  // const char* + std::string&&.
  out += ",\"counters\":{";
  for (std::size_t c = 0; c < counter_count; ++c) {
    if (c) out += ',';
    out += json_string(counter_info[c].name) + ":" + std::to_string(s.counters[c]);
  }
  out += "},\"gauges\":{";
  for (std::size_t g = 0; g < gauge_count; ++g) {
    if (g) out += ',';
    out += json_string(gauge_info[g].name) + ":" + std::to_string(s.gauges[g]);
  }
  out += "},\"histograms\":[";
  for (std::size_t h = 0; h < histogram_count; ++h) {
    const auto& hs = s.histograms[h];
    if (h) out += ',';
    out += "{\"name\":";
    out += json_string(histogram_info[h].name);
    if (histogram_info[h].label) {
      out += ",\"";
      out += histogram_info[h].label;
      out += "\":";
      out += json_string(histogram_info[h].label_value);
    }
    out += ",\"count\":" + std::to_string(hs.count) + ",\"sum_seconds\":" + json_value(std::to_string(hs.sum_seconds)) + "}";
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
}

} // namespace

int top(const std::string& dir, std::uint64_t count, bool json)
{
  const std::string path = obs::stats_path(dir);
  const bool tty = !json && ::isatty(STDOUT_FILENO);
  reading before;
  bool have_before = false;
  for (std::uint64_t i = 0; count == 0 || i < count; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::seconds(1));
    reading now{obs::read_stats_file(path), unix_ms_now()};
    if (tty) std::fputs("\033[H\033[2J", stdout);  // a terminal shows one screen, redrawn
    else if (i && !json) std::fputs("\n", stdout);
    if (json) print_json(dir, now, have_before ? &before : nullptr);
    else print_text(dir, path, now, have_before ? &before : nullptr);
    std::fflush(stdout);
    before = now;
    have_before = true;
  }
  return 0;
}

} // namespace mmsb::tool
