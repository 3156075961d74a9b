// obs::registry (mmsb/obs/registry.hpp): in memory and in a stats file; a stats file read back
// by another reader, refused when a second writer wants it, and bad files named in the error.
#include <mmsb/obs/registry.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace mmsb;
using namespace std::chrono_literals;

namespace {
struct temp_dir {
  std::filesystem::path path;
  temp_dir()
  {
    char name[] = "/tmp/mmsb-obs-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};
} // namespace

TEST_CASE("the stats file sits next to the bus's directory")
{
  CHECK(obs::stats_path("db") == "db.stats");
  CHECK(obs::stats_path("/var/lib/bus/") == "/var/lib/bus.stats");
  CHECK(obs::stats_path("/") == "/.stats");
}

TEST_CASE("a registry in memory records and snapshots")
{
  obs::registry reg;
  CHECK(reg.path().empty());
  reg.sink().add(metric_counter::commits, 3);
  reg.sink().set(metric_gauge::pages, 12);
  const auto s = reg.snapshot();
  CHECK(s.pid == static_cast<std::uint64_t>(::getpid()));
  CHECK(s.started_unix_ms > 0);
  if (MMSB_METRICS) {
    CHECK(s[metric_counter::commits] == 3);
    CHECK(s[metric_gauge::pages] == 12);
  }
  obs::registry moved = std::move(reg);
  moved.sink().add(metric_counter::commits);
  if (MMSB_METRICS) CHECK(moved.snapshot()[metric_counter::commits] == 4);
}

TEST_CASE("a stats file is read by another process while its writer records, and refused to a second writer")
{
  temp_dir d;
  const std::string path = obs::stats_path((d.path / "db").string());
  auto reg = obs::registry::in_file(path);
  CHECK(reg.path() == path);
  CHECK(std::filesystem::exists(path));
  reg.sink().add(metric_counter::ticks, 5);
  reg.sink().observe(metric_histogram::tick, 2ms);
  reg.sink().set(metric_gauge::epoch, 41);

  // Another process reads it (a fork: its own mapping of the file).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int rc = 0;
    try {
      const auto s = obs::read_stats_file(path);
      if (MMSB_METRICS && (s[metric_counter::ticks] != 5 || s[metric_gauge::epoch] != 41 || s[metric_histogram::tick].count != 1)) rc = 1;
      if (s.pid != static_cast<std::uint64_t>(::getppid())) rc = 2;
    } catch (...) {
      rc = 3;
    }
    ::_exit(rc);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // A second writer on the same path is refused, naming the path and the holder.
  CHECK_THROWS_MATCHES(obs::registry::in_file(path), error, Catch::Predicate<error>([&](const error& e) {
                         const std::string w = e.what();
                         return e.code() == errc::io_error && w.find(path) != std::string::npos && w.find("in use") != std::string::npos &&
                                w.find("pid " + std::to_string(::getpid())) != std::string::npos;
                       }, "io_error naming the path and the pid"));
  // The file is untouched by the refusal, and readable after the writer is gone.
  reg.sink().add(metric_counter::ticks);
  { auto gone = std::move(reg); }
  if (MMSB_METRICS) CHECK(obs::read_stats_file(path)[metric_counter::ticks] == 6);
  // Now free: a new writer replaces it with an empty block.
  auto again = obs::registry::in_file(path);
  CHECK(obs::read_stats_file(path)[metric_counter::ticks] == 0);
}

TEST_CASE("bad stats files are refused with the path named, and left as they were")
{
  temp_dir d;
  const std::string missing = (d.path / "nope.stats").string();
  CHECK_THROWS_MATCHES(obs::read_stats_file(missing), error, Catch::Predicate<error>([&](const error& e) {
                         return e.code() == errc::io_error && std::string(e.what()).find(missing) != std::string::npos;
                       }, "io_error naming the path"));
  const auto write = [&](const std::string& name, const std::string& bytes) {
    const std::string p = (d.path / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  };
  const std::string small = write("small.stats", "MMSBSTAT");
  CHECK_THROWS_MATCHES(obs::read_stats_file(small), error, Catch::Predicate<error>([&](const error& e) {
                         const std::string w = e.what();
                         return e.code() == errc::corrupt && w.find(small) != std::string::npos && w.find("8 bytes") != std::string::npos;
                       }, "corrupt naming the path and size"));
  const std::string junk = write("junk.stats", std::string(sizeof(metrics_block), 'x'));
  CHECK_THROWS_MATCHES(obs::read_stats_file(junk), error, Catch::Predicate<error>([&](const error& e) {
                         return e.code() == errc::corrupt && std::string(e.what()).find("not a stats file") != std::string::npos;
                       }, "corrupt: not a stats file"));
  // A block from an MMSB with other metrics.
  std::string other(sizeof(metrics_block), '\0');
  const std::uint64_t magic = metrics_block::magic_value, layout = metrics_layout_id() + 1;
  std::memcpy(other.data(), &magic, 8);
  std::memcpy(other.data() + 8, &layout, 8);
  const std::string foreign = write("foreign.stats", other);
  CHECK_THROWS_MATCHES(obs::read_stats_file(foreign), error, Catch::Predicate<error>([&](const error& e) {
                         return e.code() == errc::corrupt && std::string(e.what()).find("other metrics") != std::string::npos;
                       }, "corrupt: another layout"));
  CHECK(std::filesystem::file_size(junk) == sizeof(metrics_block));
  // A stats file cannot be made where its directory does not exist.
  CHECK_THROWS_MATCHES(obs::registry::in_file((d.path / "no" / "db.stats").string()), error, Catch::Predicate<error>([&](const error& e) {
                         return e.code() == errc::io_error && std::string(e.what()).find("no/db.stats") != std::string::npos;
                       }, "io_error naming the path"));
}
