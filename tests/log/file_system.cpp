#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <stdlib.h>

using mmsb::crash_mode;
using mmsb::errc;
using mmsb::file_system;
using mmsb::fs_op;
using mmsb::open_mode;

namespace {

// One fixture per file system: `fs` and a directory `dir` (without a trailing '/') to work in.
struct posix_fixture {
  std::string dir;
  mmsb::posix_file_system fs;
  posix_fixture()
  {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mmsb-fs-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~posix_fixture()
  {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  posix_fixture(const posix_fixture&) = delete;
  posix_fixture& operator=(const posix_fixture&) = delete;
};

struct memory_fixture {
  std::string dir = "/t";
  mmsb::memory_file_system fs;
  memory_fixture()
  {
    fs.make_dir(dir);
    fs.sync_dir("/");
  }
};

mmsb::span<const std::byte> bytes_of(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

std::string read_all(file_system& fs, file_system::handle h)
{
  std::string out(static_cast<std::size_t>(fs.size(h)), '\0');
  const std::size_t n = fs.read(h, 0, {reinterpret_cast<std::byte*>(out.data()), out.size()});
  out.resize(n);
  return out;
}

std::string file_contents(file_system& fs, const std::string& path)
{
  const auto h = fs.open(path, open_mode::read);
  std::string out = read_all(fs, h);
  fs.close(h);
  return out;
}

void put(file_system& fs, const std::string& path, const std::string& bytes)
{
  const auto h = fs.open(path, open_mode::truncate);
  fs.write_all(h, bytes_of(bytes));
  fs.sync(h);
  fs.close(h);
}

// Names in dir mapped to contents ("<dir>" for directories), read through fs.
std::map<std::string, std::string> snapshot(file_system& fs, const std::string& dir)
{
  std::map<std::string, std::string> out;
  for (const std::string& name : fs.list(dir)) {
    std::string value = "<dir>";
    try {
      const auto h = fs.open(dir + "/" + name, open_mode::read);
      try {
        value = read_all(fs, h);
      } catch (const mmsb::error&) {
      }
      fs.close(h);
    } catch (const mmsb::error&) {
    }
    out[name] = value;
  }
  return out;
}

template <class F>
mmsb::error caught(F&& f)
{
  try {
    f();
  } catch (const mmsb::error& e) {
    return e;
  }
  FAIL("expected mmsb::error");
  return mmsb::error(errc::ok, "");
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

} // namespace

#define MMSB_FS_FIXTURES posix_fixture, memory_fixture

TEMPLATE_TEST_CASE("file_system open modes", "[log][file_system]", MMSB_FS_FIXTURES)
{
  TestType f;
  file_system& fs = f.fs;
  const std::string a = f.dir + "/a";

  const auto missing = caught([&] { fs.open(f.dir + "/missing", open_mode::read); });
  CHECK(missing.code() == errc::io_error);
  CHECK(contains(missing.what(), "open " + f.dir + "/missing"));
  CHECK(contains(missing.what(), "No such file or directory (errno 2)"));
  CHECK_FALSE(fs.exists(f.dir + "/missing"));

  auto h = fs.open(a, open_mode::create_new);
  CHECK(fs.exists(a));
  fs.write_all(h, bytes_of("one"));
  fs.close(h);

  const auto again = caught([&] { fs.open(a, open_mode::create_new); });
  CHECK(again.code() == errc::io_error);
  CHECK(contains(again.what(), a));
  CHECK(file_contents(fs, a) == "one");

  h = fs.open(a, open_mode::append);
  fs.write_all(h, bytes_of("two"));
  CHECK(read_all(fs, h) == "onetwo");  // write handles read too
  fs.close(h);
  CHECK(file_contents(fs, a) == "onetwo");

  h = fs.open(a, open_mode::truncate);
  CHECK(fs.size(h) == 0);
  fs.write_all(h, bytes_of("3"));
  fs.close(h);
  CHECK(file_contents(fs, a) == "3");

  h = fs.open(a, open_mode::read);
  CHECK(caught([&] { fs.write(h, bytes_of("x")); }).code() == errc::io_error);
  fs.close(h);
  const auto stale = caught([&] { fs.size(h); });  // a closed handle
  CHECK(stale.code() == errc::io_error);
  CHECK(contains(stale.what(), "Bad file descriptor"));

  CHECK(caught([&] { fs.open(f.dir + "/no/such/dir", open_mode::append); }).code() == errc::io_error);
}

TEMPLATE_TEST_CASE("file_system write, read, size and truncate", "[log][file_system]", MMSB_FS_FIXTURES)
{
  MMSB_TEST_INFO_SEED();
  TestType f;
  file_system& fs = f.fs;
  std::mt19937_64 rng(mmsb::test::seed());
  std::string expect;
  for (int i = 0; i < 20; ++i) expect.push_back(static_cast<char>(rng()));
  expect += std::string(3, '\0') + "tail";

  const auto h = fs.open(f.dir + "/data", open_mode::create_new);
  fs.write_all(h, bytes_of(expect.substr(0, 10)));
  fs.write_all(h, bytes_of(expect.substr(10)));
  fs.start_writeback(h, 0, expect.size());  // a hint: nothing a reader sees changes
  CHECK(read_all(fs, h) == expect);
  fs.sync(h);
  CHECK(fs.size(h) == expect.size());
  CHECK(read_all(fs, h) == expect);

  std::string buf(8, '?');
  const auto into = mmsb::span<std::byte>(reinterpret_cast<std::byte*>(buf.data()), buf.size());
  CHECK(fs.read(h, 5, into) == 8);
  CHECK(buf == expect.substr(5, 8));
  CHECK(fs.read(h, expect.size() - 3, into) == 3);  // short only at end of file
  CHECK(buf.substr(0, 3) == expect.substr(expect.size() - 3));
  CHECK(fs.read(h, expect.size(), into) == 0);
  CHECK(fs.read(h, expect.size() + 100, into) == 0);

  fs.truncate(h, 4);
  CHECK(fs.size(h) == 4);
  fs.write_all(h, bytes_of("XY"));  // appends at the new end
  CHECK(read_all(fs, h) == expect.substr(0, 4) + "XY");
  fs.truncate(h, 9);  // extends with zeros
  CHECK(read_all(fs, h) == expect.substr(0, 4) + "XY" + std::string(3, '\0'));
  fs.sync(h);
  fs.close(h);
  fs.start_writeback(h, 0, 9);  // a closed handle: ignored, never reaches a reused descriptor
  CHECK(file_contents(fs, f.dir + "/data") == expect.substr(0, 4) + "XY" + std::string(3, '\0'));
}

TEMPLATE_TEST_CASE("file_system rename, remove, list, make_dir, sync_dir", "[log][file_system]", MMSB_FS_FIXTURES)
{
  TestType f;
  file_system& fs = f.fs;
  const std::string d = f.dir;
  put(fs, d + "/new", "new");
  put(fs, d + "/old", "old");

  // An open handle follows the file, not the name.
  const auto h = fs.open(d + "/old", open_mode::read);
  fs.rename(d + "/new", d + "/old");  // replaces atomically
  CHECK_FALSE(fs.exists(d + "/new"));
  CHECK(file_contents(fs, d + "/old") == "new");
  CHECK(read_all(fs, h) == "old");
  fs.close(h);
  fs.sync_dir(d);

  const auto gone = caught([&] { fs.rename(d + "/new", d + "/other"); });
  CHECK(gone.code() == errc::io_error);
  CHECK(contains(gone.what(), "rename " + d + "/new -> " + d + "/other"));

  put(fs, d + "/c", "c");
  put(fs, d + "/a", "a");
  fs.make_dir(d + "/sub");
  fs.make_dir(d + "/sub");  // an existing directory is fine
  CHECK(fs.exists(d + "/sub"));
  CHECK(fs.list(d) == std::vector<std::string>{"a", "c", "old", "sub"});
  CHECK(fs.list(d + "/sub").empty());
  CHECK(caught([&] { fs.make_dir(d + "/a"); }).code() == errc::io_error);   // a file is in the way
  CHECK(caught([&] { fs.make_dir(d + "/x/y"); }).code() == errc::io_error); // no parent

  fs.rename(d + "/c", d + "/sub/c");
  CHECK(fs.list(d + "/sub") == std::vector<std::string>{"c"});
  fs.sync_dir(d);
  fs.sync_dir(d + "/sub");

  fs.remove(d + "/a");
  CHECK_FALSE(fs.exists(d + "/a"));
  const auto again = caught([&] { fs.remove(d + "/a"); });
  CHECK(again.code() == errc::io_error);
  CHECK(contains(again.what(), "remove " + d + "/a"));
  CHECK(fs.list(d) == std::vector<std::string>{"old", "sub"});

  CHECK(contains(caught([&] { fs.list(d + "/missing"); }).what(), d + "/missing"));
  CHECK(contains(caught([&] { fs.sync_dir(d + "/missing"); }).what(), "sync_dir " + d + "/missing"));
}

TEMPLATE_TEST_CASE("write_all completes over short writes", "[log][file_system]", MMSB_FS_FIXTURES)
{
  MMSB_TEST_INFO_SEED();
  TestType f;
  mmsb::faulty_file_system fs(f.fs);
  std::mt19937_64 rng(mmsb::test::seed());
  std::string payload;
  for (int i = 0; i < 1000; ++i) payload.push_back(static_cast<char>(rng()));

  fs.short_writes(7);
  const auto h = fs.open(f.dir + "/log", open_mode::append);
  CHECK(fs.write(h, bytes_of(payload)) == 7);
  fs.write_all(h, bytes_of(payload.substr(7)));
  CHECK(fs.count(fs_op::write) == 1 + (payload.size() - 7 + 6) / 7);
  fs.close(h);
  CHECK(file_contents(f.fs, f.dir + "/log") == payload);
}

TEMPLATE_TEST_CASE("faulty_file_system: a failed call leaves the inner file system untouched", "[log][file_system][faults]",
                   MMSB_FS_FIXTURES)
{
  TestType f;
  const std::string d = f.dir;
  put(f.fs, d + "/a", "alpha");
  put(f.fs, d + "/b", "beta");
  f.fs.make_dir(d + "/sub");
  f.fs.sync_dir(d);

  mmsb::faulty_file_system fs(f.fs);
  const auto h = fs.open(d + "/a", open_mode::append);
  const auto before = snapshot(f.fs, d);

  const std::vector<std::pair<fs_op, std::function<void()>>> calls = {
      {fs_op::open, [&] { fs.close(fs.open(d + "/fresh", open_mode::create_new)); }},
      {fs_op::read, [&] { (void)read_all(fs, h); }},
      {fs_op::write, [&] { fs.write_all(h, bytes_of("more")); }},
      {fs_op::sync, [&] { fs.sync(h); }},
      {fs_op::truncate, [&] { fs.truncate(h, 1); }},
      {fs_op::rename, [&] { fs.rename(d + "/a", d + "/b"); }},
      {fs_op::remove, [&] { fs.remove(d + "/b"); }},
      {fs_op::sync_dir, [&] { fs.sync_dir(d); }},
      {fs_op::list, [&] { (void)fs.list(d); }},
      {fs_op::make_dir, [&] { fs.make_dir(d + "/dir2"); }},
  };
  for (const auto& [op, call] : calls) {
    for (const int err : {EIO, ENOSPC, EDQUOT, EROFS}) {
      INFO(mmsb::to_string(op) << " with errno " << err);
      fs.reset();
      fs.fail_nth(op, 1, err);
      const auto e = caught(call);
      CHECK(e.code() == (err == ENOSPC || err == EDQUOT ? errc::no_space : errc::io_error));
      CHECK(contains(e.what(), std::string(mmsb::to_string(op)) + " "));
      CHECK(contains(e.what(), "(errno " + std::to_string(err) + ")"));
      CHECK(fs.count(op) == 1);
      CHECK(fs.injected() == 1);
      CHECK(snapshot(f.fs, d) == before);
    }
  }
  // An armed close cannot throw; it is counted and the handle is closed all the same.
  fs.reset();
  fs.fail_nth(fs_op::close, 1, EIO);
  fs.close(h);
  CHECK(fs.count(fs_op::close) == 1);
  CHECK(fs.injected() == 1);
  CHECK(caught([&] { f.fs.size(h); }).code() == errc::io_error);
  CHECK(snapshot(f.fs, d) == before);
}

TEMPLATE_TEST_CASE("faulty_file_system: the nth call fails, once or for good", "[log][file_system][faults]", MMSB_FS_FIXTURES)
{
  TestType f;
  mmsb::faulty_file_system fs(f.fs);
  const std::string path = f.dir + "/log";
  const auto h = fs.open(path, open_mode::append);

  fs.fail_nth(fs_op::write, 3, EIO);
  fs.write_all(h, bytes_of("1"));
  fs.write_all(h, bytes_of("2"));
  const auto e = caught([&] { fs.write(h, bytes_of("3")); });
  CHECK(e.code() == errc::io_error);
  CHECK(contains(e.what(), "write " + path + ": Input/output error (errno 5)"));
  fs.write_all(h, bytes_of("4"));
  CHECK(read_all(f.fs, h) == "124");
  CHECK(fs.count(fs_op::write) == 4);
  CHECK(fs.injected() == 1);

  fs.fail_nth(fs_op::sync, 2, EIO, true);
  fs.sync(h);
  for (int i = 0; i < 3; ++i) CHECK(caught([&] { fs.sync(h); }).code() == errc::io_error);
  fs.write_all(h, bytes_of("5"));  // other classes are unaffected
  CHECK(fs.injected() == 4);
  fs.reset();
  CHECK(fs.count(fs_op::sync) == 0);
  fs.sync(h);
  CHECK(fs.injected() == 0);
  CHECK(read_all(f.fs, h) == "1245");

  CHECK(caught([&] { fs.fail_nth(fs_op::write, 0, EIO); }).code() == errc::invalid_argument);
  fs.close(h);
}

TEMPLATE_TEST_CASE("faulty_file_system: a space budget fills up like a disk", "[log][file_system][faults]", MMSB_FS_FIXTURES)
{
  TestType f;
  mmsb::faulty_file_system fs(f.fs);
  const std::string path = f.dir + "/log";
  const auto h = fs.open(path, open_mode::append);
  fs.write_all(h, bytes_of("before"));  // before the budget: not counted

  fs.space_budget(10);
  CHECK(fs.write(h, bytes_of("012345")) == 6);
  CHECK(fs.write(h, bytes_of("6789abc")) == 4);  // up to the budget, short
  const auto full = caught([&] { fs.write(h, bytes_of("x")); });
  CHECK(full.code() == errc::no_space);
  CHECK(contains(full.what(), "write " + path + ": No space left on device (errno 28)"));
  CHECK(read_all(f.fs, h) == "before0123456789");

  const auto torn = caught([&] { fs.write_all(h, bytes_of("more")); });
  CHECK(torn.code() == errc::no_space);

  fs.space_budget(3);
  CHECK(caught([&] { fs.write_all(h, bytes_of("abcdef")); }).code() == errc::no_space);
  CHECK(read_all(f.fs, h) == "before0123456789abc");  // write_all keeps what it wrote

  fs.reset();
  fs.write_all(h, bytes_of("after"));
  CHECK(read_all(f.fs, h) == "before0123456789abcafter");
  fs.close(h);
}

TEST_CASE("posix_file_system reports a real disk full on /dev/full", "[log][file_system]")
{
  mmsb::posix_file_system fs;
  const auto h = fs.open("/dev/full", open_mode::append);
  const auto e = caught([&] { fs.write(h, bytes_of("anything")); });
  CHECK(e.code() == errc::no_space);
  CHECK(std::string(e.what()) == "write /dev/full: No space left on device (errno 28)");
  CHECK(caught([&] { fs.write_all(h, bytes_of("x")); }).code() == errc::no_space);
  fs.close(h);
}

// --- memory_file_system crash simulation ----------------------------------------------------

namespace {

constexpr crash_mode all_modes[] = {crash_mode::keep, crash_mode::drop, crash_mode::tear, crash_mode::garble, crash_mode::random};

const char* name_of(crash_mode m)
{
  switch (m) {
  case crash_mode::keep: return "keep";
  case crash_mode::drop: return "drop";
  case crash_mode::tear: return "tear";
  case crash_mode::garble: return "garble";
  case crash_mode::random: return "random";
  }
  return "?";
}

// A durable file holding synced + unsynced, the second part never synced.
void setup_file(mmsb::memory_file_system& fs, const std::string& path, const std::string& synced, const std::string& unsynced)
{
  const auto h = fs.open(path, open_mode::create_new);
  fs.write_all(h, bytes_of(synced));
  fs.sync(h);
  fs.sync_dir("/t");
  fs.write_all(h, bytes_of(unsynced));
}

} // namespace

TEST_CASE("memory_file_system crash: synced data survives, unsynced data as the mode says", "[log][file_system][crash]")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(mmsb::test::seed());
  for (const crash_mode mode : all_modes) {
    for (int round = 0; round < 50; ++round) {
      INFO("mode " << name_of(mode) << ", round " << round);
      std::string synced, unsynced;
      for (std::size_t i = rng() % 40; i > 0; --i) synced.push_back(static_cast<char>(rng()));
      for (std::size_t i = 1 + rng() % 40; i > 0; --i) unsynced.push_back(static_cast<char>(rng()));
      const std::string all = synced + unsynced;

      memory_fixture f;
      setup_file(f.fs, "/t/f", synced, unsynced);
      const auto h = f.fs.open("/t/f", open_mode::read);
      f.fs.crash(mode, rng());
      CHECK(caught([&] { f.fs.size(h); }).code() == errc::io_error);  // handles die with the crash

      const std::string after = f.fs.contents("/t/f");
      REQUIRE(after.size() >= synced.size());
      REQUIRE(after.size() <= all.size());
      CHECK(after.compare(0, synced.size(), synced) == 0);
      const bool intact = after == all.substr(0, after.size());
      switch (mode) {
      case crash_mode::keep: CHECK(after == all); break;
      case crash_mode::drop: CHECK(after == synced); break;
      case crash_mode::tear: CHECK(intact); break;
      case crash_mode::garble:
        CHECK(after.size() > synced.size());
        CHECK_FALSE(intact);
        break;
      case crash_mode::random: break;
      }
      // A crash leaves everything durable: a second crash changes nothing.
      f.fs.crash(crash_mode::drop, 0);
      CHECK(f.fs.contents("/t/f") == after);
    }
  }
}

TEST_CASE("memory_file_system crash: the same seed gives the same outcome, modes vary per file", "[log][file_system][crash]")
{
  MMSB_TEST_INFO_SEED();
  const auto run = [](std::uint64_t seed) {
    memory_fixture f;
    std::vector<std::string> out;
    for (int i = 0; i < 40; ++i) setup_file(f.fs, "/t/f" + std::to_string(i), "synced", "-unsynced-bytes-" + std::to_string(i));
    for (int i = 0; i < 30; ++i) put(f.fs, "/t/new" + std::to_string(i), "x");  // directory never synced
    f.fs.crash(crash_mode::random, seed);
    for (const auto& name : f.fs.list("/t")) out.push_back(name + "=" + f.fs.contents("/t/" + name));
    return out;
  };
  const auto first = run(mmsb::test::seed());
  CHECK(first == run(mmsb::test::seed()));
  CHECK(first != run(mmsb::test::seed() + 1));

  std::map<std::string, int> kinds;
  for (const auto& entry : first) {
    if (entry.rfind("new", 0) == 0) continue;
    const std::string content = entry.substr(entry.find('=') + 1);
    const std::string all = "synced-unsynced-bytes-" + entry.substr(1, entry.find('=') - 1);
    REQUIRE(content.rfind("synced", 0) == 0);
    if (content == all) ++kinds["keep"];
    else if (content == "synced") ++kinds["drop or empty tear"];
    else if (content == all.substr(0, content.size())) ++kinds["tear"];
    else ++kinds["garble"];
  }
  CHECK(kinds.size() == 4);  // 40 files: every outcome shows up
  CHECK(first.size() > 40);  // some unsynced creations survived ...
  CHECK(first.size() < 70);  // ... and some did not
}

TEST_CASE("memory_file_system crash: directory changes need sync_dir", "[log][file_system][crash]")
{
  for (const crash_mode mode : {crash_mode::keep, crash_mode::drop}) {
    INFO("mode " << name_of(mode));
    const bool keep = mode == crash_mode::keep;
    memory_fixture f;
    auto& fs = f.fs;
    put(fs, "/t/durable", "d");
    put(fs, "/t/ckpt", "old");
    fs.sync_dir("/t");

    put(fs, "/t/created", "c");  // data synced, directory not
    fs.remove("/t/durable");
    put(fs, "/t/ckpt.tmp", "new");
    fs.rename("/t/ckpt.tmp", "/t/ckpt");
    fs.make_dir("/t/sub");
    put(fs, "/t/sub/inner", "i");
    fs.sync_dir("/t/sub");  // its parent was not synced, so sub may vanish with its content

    fs.crash(mode, 1);
    CHECK(fs.exists("/t/created") == keep);
    CHECK(fs.exists("/t/durable") == !keep);
    CHECK(fs.contents("/t/ckpt") == (keep ? "new" : "old"));
    CHECK(fs.exists("/t/ckpt.tmp") == false);
    CHECK(fs.exists("/t/sub/inner") == keep);
  }

  // Under random each rename is kept or reverted whole: the file has exactly one of its names.
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    INFO("seed " << seed);
    memory_fixture f;
    put(f.fs, "/t/a", "payload");
    f.fs.sync_dir("/t");
    f.fs.rename("/t/a", "/t/b");
    f.fs.crash(crash_mode::random, seed);
    CHECK(f.fs.exists("/t/a") != f.fs.exists("/t/b"));
    CHECK(f.fs.contents(f.fs.exists("/t/a") ? "/t/a" : "/t/b") == "payload");
  }
}

TEST_CASE("memory_file_system crash: an unsynced truncate and set_contents", "[log][file_system][crash]")
{
  memory_fixture f;
  auto& fs = f.fs;
  setup_file(fs, "/t/f", "0123456789", "");
  auto h = fs.open("/t/f", open_mode::append);
  fs.truncate(h, 4);
  fs.write_all(h, bytes_of("ab"));
  fs.crash(crash_mode::drop, 0);
  CHECK(fs.contents("/t/f") == "0123456789");

  h = fs.open("/t/f", open_mode::append);
  fs.truncate(h, 4);
  fs.write_all(h, bytes_of("ab"));
  fs.crash(crash_mode::garble, 7);
  const std::string after = fs.contents("/t/f");
  CHECK(after.compare(0, 4, "0123") == 0);
  CHECK(after.size() > 4);
  CHECK(after.size() <= 6);

  // set_contents is what a test finds on disk: durable, visible to readers.
  fs.set_contents("/t/f", "corrupted");
  fs.set_contents("/t/g", "created");
  CHECK(file_contents(fs, "/t/f") == "corrupted");
  fs.crash(crash_mode::drop, 0);
  CHECK(fs.contents("/t/f") == "corrupted");
  CHECK(fs.contents("/t/g") == "created");
  CHECK(caught([&] { (void)fs.contents("/t/missing"); }).code() == errc::io_error);
}
