// Named kill points (RELIABILITY #6): MMSB_KILL_POINT("commit.after_append") marks a step of the
// log layer where a crash test may kill the process. It compiles to nothing (a compile-time check
// of the name) unless MMSB_KILL_POINTS is defined before the first mmsb include, which only test
// binaries do; then every point reached counts its hits and
//   MMSB_KILL_AT=name:N     raises SIGKILL on the process at the N-th hit of that point (N: 1 if
//                           left out); an unknown name aborts with a message naming it;
//   MMSB_KILL_TRACE=path    appends "name hit\n" to path at every hit (one write(2) each, under a
//                           lock, so the line of the point that kills is the last one written).
// The environment is read at the first hit; reload_kill_points() reads it again (a forked child).
// kill_point_names lists every point: a name outside it does not compile, so a test that sees
// each listed name in a trace has reached every point compiled in.
// The points are in headers, except the log writer's (src/log/log_writer.cpp), which libmmsb
// compiles without them: a test binary compiles its own copy of that file with the define
// (tests/meson.build, log/kill_points). Release code pays nothing.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#if defined(MMSB_KILL_POINTS)
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <fcntl.h>
#include <unistd.h>
#endif

namespace mmsb {

// Every kill point, in the order its steps run: commit, log append and sync, segment roll,
// checkpoint write and publish, background checkpoint, log truncation.
inline constexpr std::array<std::string_view, 25> kill_point_names = {
  "commit.before_encode",           // durable_store: the commit is checked, nothing encoded or written
  "log.append.after_write",         // log_writer::append: the record is in the file, not yet synced
  "log.sync.after_file",            // log_writer::sync: the active segment synced
  "commit.after_append",            // durable_store: the record is appended (and synced per policy), not applied
  "commit.after_apply",             // durable_store: applied at its epoch, commit() not yet returned
  "segment.roll.old_done",          // log_writer::roll: the old segment synced and closed (every durability mode)
  "segment.created",                // log_writer: the new segment file exists, empty
  "segment.head_written",           // log_writer: its segment record is written, not synced
  "segment.head_synced",            // log_writer: its segment record is synced
  "segment.dir_synced",             // log_writer: the log directory synced (the new segment's name)
  "log.dir_created.parent_synced",  // log_writer: a new log directory's own entry synced
  "checkpoint.log_rolled",          // durable_store: a blocking checkpoint synced the log and started a segment
  "checkpoint.dir_created",         // checkpoint_file: the checkpoint directory made, its entry synced
  "checkpoint.tmp_created",         // checkpoint_file: the temp file exists, empty
  "checkpoint.add.flushed",         // checkpoint_file::add: ~1 MiB of page records written to the temp file
  "checkpoint.background.pages_written",  // background_checkpoint: every page is in the temp file's buffer or file
  "checkpoint.finish.written",      // checkpoint_file::finish: the whole temp file written, not synced
  "checkpoint.finish.synced",       // checkpoint_file::finish: the temp file synced, not yet renamed
  "checkpoint.publish.renamed",     // checkpoint_file::publish: renamed into place, directory not synced
  "checkpoint.publish.dir_synced",  // checkpoint_file::publish: the checkpoint counts from here
  "checkpoint.publish.old_removed", // checkpoint_file::publish: one old checkpoint removed (per removal)
  "checkpoint.publish.pruned",      // checkpoint_file::publish: the removals' directory sync done
  "truncate.segment_removed",       // durable_store: one covered log segment removed (per removal)
  "truncate.dir_synced",            // durable_store: the log directory synced after the removals
  "checkpoint.background.durable",  // background_checkpoint: published and truncated, owner not yet told
};

namespace detail {
// The index of name in kill_point_names, or kill_point_names.size() when it is not there.
constexpr std::size_t kill_point_index(std::string_view name) noexcept
{
  for (std::size_t i = 0; i < kill_point_names.size(); ++i)
    if (kill_point_names[i] == name) return i;
  return kill_point_names.size();
}
} // namespace detail

#if defined(MMSB_KILL_POINTS)

namespace detail {
struct kill_point_state {
  std::mutex mutex;
  bool configured = false;
  std::array<std::uint64_t, kill_point_names.size()> hits{};
  std::size_t target = kill_point_names.size();  // none
  std::uint64_t target_hit = 0;
  int trace_fd = -1;
};

inline kill_point_state& kill_points() noexcept
{
  static kill_point_state s;
  return s;
}

// Under s.mutex: reads MMSB_KILL_AT and MMSB_KILL_TRACE, zeroes the counts.
inline void configure_kill_points(kill_point_state& s) noexcept
{
  s.hits.fill(0);
  s.target = kill_point_names.size();
  s.target_hit = 0;
  if (s.trace_fd >= 0) ::close(s.trace_fd);
  s.trace_fd = -1;
  if (const char* at = std::getenv("MMSB_KILL_AT"); at && *at) {
    const std::string_view spec(at);
    const auto colon = spec.rfind(':');
    const std::string_view name = colon == std::string_view::npos ? spec : spec.substr(0, colon);
    s.target = kill_point_index(name);
    if (s.target == kill_point_names.size()) {
      std::fprintf(stderr, "mmsb: MMSB_KILL_AT='%s': '%.*s' is not a kill point (mmsb::kill_point_names lists them)\n", at,
                   static_cast<int>(name.size()), name.data());
      std::abort();
    }
    char* end = nullptr;
    s.target_hit = colon == std::string_view::npos ? 1 : std::strtoull(at + colon + 1, &end, 10);
    if (s.target_hit == 0 || (end && *end != '\0')) {
      std::fprintf(stderr, "mmsb: MMSB_KILL_AT='%s': the hit count after ':' must be a number >= 1\n", at);
      std::abort();
    }
  }
  if (const char* trace = std::getenv("MMSB_KILL_TRACE"); trace && *trace) {
    s.trace_fd = ::open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s.trace_fd < 0) {
      std::fprintf(stderr, "mmsb: MMSB_KILL_TRACE='%s' cannot be opened: %s\n", trace, std::strerror(errno));
      std::abort();
    }
  }
  s.configured = true;
}

// One hit of kill point i: count it, trace it, and die if it is the chosen hit.
inline void kill_point_reached(std::size_t i) noexcept
{
  kill_point_state& s = kill_points();
  const std::lock_guard lock(s.mutex);  // held through the kill: no other point runs after this line
  if (!s.configured) configure_kill_points(s);
  const std::uint64_t n = ++s.hits[i];
  if (s.trace_fd >= 0) {
    char line[128];
    const int len = std::snprintf(line, sizeof line, "%.*s %llu\n", static_cast<int>(kill_point_names[i].size()),
                                  kill_point_names[i].data(), static_cast<unsigned long long>(n));
    if (len > 0) (void)!::write(s.trace_fd, line, static_cast<std::size_t>(len));
  }
  if (i == s.target && n == s.target_hit) {
    ::kill(::getpid(), SIGKILL);
    for (;;) ::pause();  // SIGKILL cannot be caught: the process is gone before this returns
  }
}
} // namespace detail

// Reads MMSB_KILL_AT and MMSB_KILL_TRACE again and zeroes the hit counts (for a forked child
// whose parent already reached a point). Only with MMSB_KILL_POINTS.
inline void reload_kill_points() noexcept
{
  detail::kill_point_state& s = detail::kill_points();
  const std::lock_guard lock(s.mutex);
  detail::configure_kill_points(s);
}

// How often the named point was reached since the environment was read; 0 for an unknown name.
// Only with MMSB_KILL_POINTS.
inline std::uint64_t kill_point_hits(std::string_view name) noexcept
{
  const std::size_t i = detail::kill_point_index(name);
  if (i == kill_point_names.size()) return 0;
  detail::kill_point_state& s = detail::kill_points();
  const std::lock_guard lock(s.mutex);
  return s.hits[i];
}

} // namespace mmsb

// Marks a kill point; `name` must be one of mmsb::kill_point_names (a string literal).
#define MMSB_KILL_POINT(name)                                                                                   \
  do {                                                                                                          \
    constexpr std::size_t mmsb_impl_kill_point_ = ::mmsb::detail::kill_point_index(name);                       \
    static_assert(mmsb_impl_kill_point_ < ::mmsb::kill_point_names.size(), "mmsb: unknown kill point " name);   \
    ::mmsb::detail::kill_point_reached(mmsb_impl_kill_point_);                                                  \
  } while (false)

#else

} // namespace mmsb

// Marks a kill point; `name` must be one of mmsb::kill_point_names (a string literal). Without
// MMSB_KILL_POINTS only the name is checked, at compile time.
#define MMSB_KILL_POINT(name)                                                                                   \
  do {                                                                                                          \
    static_assert(::mmsb::detail::kill_point_index(name) < ::mmsb::kill_point_names.size(),                     \
                  "mmsb: unknown kill point " name);                                                            \
  } while (false)

#endif
