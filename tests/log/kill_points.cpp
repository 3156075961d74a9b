// RELIABILITY #6: SIGKILL at every named kill point (mmsb/log/kill_point.hpp). A forked child runs
// a scripted workload on a posix_file_system store (commits with per-commit sync, small segments
// so they roll, blocking and background checkpoints with log truncation, then commits under
// durability none and a clean close), killed at one point's first and last hit. The parent then
// reopens the store and checks prefix recovery: the state equals the oracle after exactly k
// commits, acknowledged-durable <= k <= attempted; that the child died by SIGKILL at that very
// point (its trace ends with it); and that the store works on after it. A reference run without a
// kill proves every point in mmsb::kill_point_names is reached.
//
// Built with MMSB_KILL_POINTS defined for this file and for its own copy of src/log/log_writer.cpp
// (tests/meson.build), whose points libmmsb compiles out. MMSB_KILL_EVERY_HIT=1 kills at every hit
// of every point instead of the first and last (a longer run).
#if !defined(MMSB_KILL_POINTS)
#error "tests/log/kill_points.cpp needs MMSB_KILL_POINTS (tests/meson.build defines it)"
#endif

#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/kill_point.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>

#include "../support/crash_workload.hpp"
#include "../support/forwarding_file_system.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace mmsb;
namespace crash = mmsb::test::crash;

namespace {
// 8 KiB pages, 136 of them at first: a checkpoint is over 1 MiB, so checkpoint_file::add
// flushes (checkpoint.add.flushed) before finish() writes the rest.
using lay = dense<std::int64_t, 1024>;
using store = durable_store<crash::semiring, lay>;
constexpr std::uint32_t base_pages = 136;
const std::vector<std::byte> shape(12, std::byte{6});
constexpr std::uint64_t total_commits = 24;

store_options options(durability d)
{
  store_options o;
  o.log.durability = d;
  o.log.segment_bytes = 512;  // about 4 commits a segment: segments roll throughout
  return o;
}

// What the child has acknowledged: commits that returned, and how many of them are durable
// against a process crash (all under per-commit sync; under none only those a checkpoint or a
// clean close covers).
// posix_file_system with sync() and sync_dir() left to the kernel: a killed process loses nothing
// the kernel holds, so for this test an fsync only costs time (a few ms each, thousands in all);
// the points at syncs are still reached. Power loss, where syncs matter, is #7
// (tests/log/power_loss.cpp). MMSB_KILL_REAL_SYNC=1 syncs for real.
class kernel_synced_file_system final : public test::forwarding_file_system {
public:
  kernel_synced_file_system() : forwarding_file_system(real_) {}
  void sync(handle h) override
  {
    if (real_sync_) real_.sync(h);
  }
  void sync_dir(const std::string& dir) override
  {
    if (real_sync_) real_.sync_dir(dir);
  }

private:
  posix_file_system real_;
  bool real_sync_ = std::getenv("MMSB_KILL_REAL_SYNC") != nullptr;
};

struct ack {
  std::uint64_t acked = 0, durable = 0;
};

void send(int fd, ack a)
{
  if (write(fd, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) _exit(3);
}

// The scripted workload; reports every acknowledgement on fd.
void workload(const std::string& dir, int fd)
{
  kernel_synced_file_system fs;
  std::uint64_t c = 0, durable_upto = 0;
  const auto commit = [&](store& s, bool durable) {
    ++c;
    if (crash::commit_step(s, base_pages, c).value() != c) _exit(4);
    if (durable) durable_upto = c;
    send(fd, {c, durable_upto});
  };
  {
    store s(fs, dir, shape, options(durability::per_commit));
    while (c < 6) commit(s, true);
    s.checkpoint();  // blocking: rolls the log, creates the checkpoint directory, truncates
    while (c < 11) commit(s, true);
    (void)s.begin_checkpoint();  // background, with commits (copy-on-write) while it runs
    while (c < 14) commit(s, true);
    s.wait_checkpoint();
    while (c < 16) commit(s, true);
    s.checkpoint();  // the third: publishing removes the oldest
  }
  {
    store s(fs, dir, shape, options(durability::none));
    while (c < total_commits) commit(s, false);  // rolls leave older segments unsynced
  }  // the close syncs them, oldest first
  send(fd, {c, c});
}

struct child_result {
  int status = 0;
  ack last;
  std::vector<std::string> trace;  // "name hit" lines
};

// Runs the workload in a forked child with MMSB_KILL_AT=kill_at (none if empty).
child_result run_child(const std::string& dir, const std::string& trace_path, const std::string& kill_at)
{
  std::remove(trace_path.c_str());
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    setenv("MMSB_KILL_TRACE", trace_path.c_str(), 1);
    if (kill_at.empty()) unsetenv("MMSB_KILL_AT");
    else setenv("MMSB_KILL_AT", kill_at.c_str(), 1);
    reload_kill_points();
    try {
      workload(dir, fds[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kill_points child: %s\n", e.what());
      _exit(2);
    }
    _exit(0);
  }
  close(fds[1]);
  child_result r;
  for (ack a; read(fds[0], &a, sizeof a) == static_cast<ssize_t>(sizeof a);) r.last = a;
  close(fds[0]);
  REQUIRE(waitpid(pid, &r.status, 0) == pid);
  std::ifstream in(trace_path);
  for (std::string line; std::getline(in, line);) r.trace.push_back(line);
  return r;
}

std::string describe(int status)
{
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  return "status " + std::to_string(status);
}
} // namespace

TEST_CASE("every named kill point: SIGKILL there leaves a prefix with every acknowledged commit")
{
  char root_template[] = "/tmp/mmsb-killpoints-XXXXXX";
  REQUIRE(mkdtemp(root_template) != nullptr);
  const std::string root = root_template;
  const std::string trace = root + "/trace";
  kernel_synced_file_system fs;  // the reopen and the commit after it: real files, no fsync

  // The reference run: no kill; every point must show up in the trace.
  std::map<std::string, std::uint64_t> hits;
  {
    const auto r = run_child(root + "/reference", trace, "");
    INFO("reference child " << describe(r.status));
    REQUIRE((WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0));
    REQUIRE(r.last.acked == total_commits);
    for (const auto& line : r.trace) {
      std::istringstream is(line);
      std::string name;
      std::uint64_t n = 0;
      is >> name >> n;
      hits[name] = std::max(hits[name], n);
    }
    std::string never;
    for (const auto name : kill_point_names)
      if (hits.count(std::string(name)) == 0) never += " " + std::string(name);
    INFO("kill points never reached:" << never);
    CHECK(never.empty());
    CHECK(hits.size() == kill_point_names.size());  // and nothing outside the list
    store s(fs, root + "/reference", shape, options(durability::per_commit));
    CHECK(crash::check_prefix(s, base_pages, total_commits, total_commits).empty());
  }

  const bool every_hit = std::getenv("MMSB_KILL_EVERY_HIT") != nullptr;
  int cases = 0;
  for (const auto name_view : kill_point_names) {
    const std::string name(name_view);
    const std::uint64_t last = hits[name];
    std::set<std::uint64_t> which{1, last};
    if (every_hit)
      for (std::uint64_t n = 1; n <= last; ++n) which.insert(n);
    for (const std::uint64_t n : which) {
      if (n == 0) continue;
      const std::string spec = name + ":" + std::to_string(n);
      const std::string dir = root + "/case-" + std::to_string(cases++);
      const auto r = run_child(dir, trace, spec);
      INFO("MMSB_KILL_AT=" << spec << ": child " << describe(r.status) << ", acknowledged " << r.last.acked
                           << " (durable " << r.last.durable << ")");
      REQUIRE((WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL));
      REQUIRE(!r.trace.empty());
      CHECK(r.trace.back() == name + " " + std::to_string(n));  // it died at that point, that hit

      // Prefix recovery: every durable acknowledged commit, at most the one in flight more.
      std::uint64_t k = 0;
      try {
        store s(fs, dir, shape, options(durability::per_commit));
        INFO("recovery: " << s.recovery().describe());
        CHECK(!(s.recovery().damage && s.recovery().damage->mid_log));
        CHECK(crash::check_prefix(s, base_pages, r.last.durable, r.last.acked + 1) == "");
        k = s.current_epoch().value();
        (void)crash::commit_step(s, base_pages, k + 1);  // and it goes on from there
      } catch (const std::exception& e) {
        FAIL("reopening after the kill threw: " << e.what());
      }
      store again(fs, dir, shape, options(durability::per_commit));
      CHECK(crash::check_prefix(again, base_pages, k + 1, k + 1) == "");
    }
  }
  CHECK(cases >= static_cast<int>(kill_point_names.size()));
  std::printf("kill points: %zu points, %d kill runs\n", kill_point_names.size(), cases);
  std::system((std::string("rm -rf ") + root).c_str());
}
