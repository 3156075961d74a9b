// The transaction log: round trip, durability policies, truncation at every byte offset,
// bit flips, reordered/duplicated/foreign records, restart after a torn tail, and I/O faults.
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include "../support/forwarding_file_system.hpp"
#include "../support/random.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <stdlib.h>

using namespace mmsb;

namespace {

const std::vector<std::byte> shape = [] {
  const char s[] = "test-bus:min_plus<float>:dense<float,1024>";
  std::vector<std::byte> out(sizeof s - 1);
  std::memcpy(out.data(), s, out.size());
  return out;
}();

std::vector<std::byte> payload_for(std::uint64_t e, std::mt19937_64& rng)
{
  std::vector<std::byte> p(8 + rng() % 120);
  for (auto& b : p) b = static_cast<std::byte>(rng());
  detail::store_le(p.data(), e, 8);
  return p;
}

struct logged {
  std::vector<std::vector<std::byte>> payloads;  // index = epoch - 1
};

logged write_log(file_system& fs, std::size_t n, std::uint64_t seed, log_options opts = {})
{
  std::mt19937_64 rng(seed);
  logged out;
  log_writer w(fs, "/log", shape, {}, opts);
  for (std::uint64_t e = 1; e <= n; ++e) {
    out.payloads.push_back(payload_for(e, rng));
    w.append(record_type::commit, epoch{e}, txn_id{e}, out.payloads.back());
  }
  return out;
}

// Reads the log and checks every delivered record against what was written.
recovery_report read_and_check(file_system& fs, const logged& expected, recovery_mode mode = recovery_mode::point_in_time)
{
  std::uint64_t next = 1;
  auto report = read_log(fs, "/log", shape, mode, [&](const record_header& h, span<const std::byte> p) {
    REQUIRE(h.epoch == epoch{next});
    REQUIRE(std::equal(p.begin(), p.end(), expected.payloads[next - 1].begin(), expected.payloads[next - 1].end()));
    ++next;
  });
  REQUIRE(report.records == next - 1);
  return report;
}

std::string only_segment(memory_file_system& fs)
{
  const auto names = fs.list("/log");
  REQUIRE(names.size() == 1);
  return "/log/" + names[0];
}

} // namespace

TEST_CASE("a log round-trips every record in order, across segment rolls")
{
  memory_file_system fs;
  log_options opts;
  opts.segment_bytes = 1024;
  const auto written = write_log(fs, 200, 1, opts);
  CHECK(fs.list("/log").size() > 5);
  const auto report = read_and_check(fs, written);
  CHECK(report.records == 200);
  CHECK(report.last_epoch == epoch{200});
  CHECK(!report.damage);
}

TEST_CASE("durability policies: per_commit syncs every append, group every N, none never (past the segment head)")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  std::mt19937_64 rng(2);
  {
    log_writer w(fs, "/a", shape);
    const auto before = fs.count(fs_op::sync);
    for (std::uint64_t e = 1; e <= 10; ++e) w.append(record_type::commit, epoch{e}, txn_id{e}, payload_for(e, rng));
    CHECK(fs.count(fs_op::sync) - before == 10);
    CHECK(w.unsynced() == 0);
  }
  {
    log_options o;
    o.durability = durability::group;
    o.group_records = 4;
    o.group_interval = std::chrono::hours(1);
    log_writer w(fs, "/b", shape, {}, o);
    const auto before = fs.count(fs_op::sync);
    for (std::uint64_t e = 1; e <= 10; ++e) w.append(record_type::commit, epoch{e}, txn_id{e}, payload_for(e, rng));
    CHECK(fs.count(fs_op::sync) - before == 2);
    CHECK(w.unsynced() == 2);
    w.sync();
    CHECK(w.unsynced() == 0);
  }
  {
    log_options o;
    o.durability = durability::none;
    log_writer w(fs, "/c", shape, {}, o);
    const auto before = fs.count(fs_op::sync);
    for (std::uint64_t e = 1; e <= 10; ++e) w.append(record_type::commit, epoch{e}, txn_id{e}, payload_for(e, rng));
    CHECK(fs.count(fs_op::sync) == before);
    CHECK(w.unsynced() == 10);
  }
}

namespace {
// Forwards to a memory_file_system and notes every start_writeback hint with the file's size at
// the time.
class writeback_noting_file_system final : public test::forwarding_file_system {
public:
  struct hint {
    std::string path;
    std::uint64_t offset = 0, length = 0, size = 0;
  };
  explicit writeback_noting_file_system(memory_file_system& inner) : forwarding_file_system(inner) {}

  handle open(const std::string& path, open_mode mode) override
  {
    const handle h = inner().open(path, mode);
    paths_[h] = path;
    return h;
  }
  void start_writeback(handle h, std::uint64_t offset, std::uint64_t length) noexcept override
  {
    hints.push_back({paths_.at(h), offset, length, inner().size(h)});
  }

  std::vector<hint> hints;

private:
  std::map<handle, std::string> paths_;
};

// The file's length in bytes.
std::uint64_t size_of(file_system& fs, const std::string& path)
{
  const auto h = fs.open(path, open_mode::read);
  const auto n = fs.size(h);
  fs.close(h);
  return n;
}
} // namespace

TEST_CASE("under none and group the writer starts writeback of each writeback_bytes written, segment by segment")
{
  MMSB_TEST_INFO_SEED();
  for (const auto mode : {durability::none, durability::group, durability::per_commit}) {
    for (const std::uint64_t every : {std::uint64_t{0}, std::uint64_t{4096}}) {
      CAPTURE(static_cast<int>(mode), every);
      memory_file_system mem;
      writeback_noting_file_system fs(mem);
      log_options o;
      o.durability = mode;
      o.group_records = 50;
      o.segment_bytes = 32 << 10;
      o.buffer_bytes = 1000;
      o.writeback_bytes = every;
      const auto written = write_log(fs, 1500, test::seed(), o);
      CHECK(read_and_check(mem, written).records == 1500);
      const auto segments = mem.list("/log");
      REQUIRE(segments.size() > 3);
      if (mode == durability::per_commit || every == 0) {
        CHECK(fs.hints.empty());  // per_commit syncs at once: nothing to start early
        continue;
      }
      // Each segment's hints run back to back from its start, each at least `every` long and
      // within what was written then; together they leave less than a stretch and a buffer.
      std::map<std::string, std::uint64_t> hinted;
      for (const auto& h : fs.hints) {
        CHECK(h.offset == hinted[h.path]);
        CHECK(h.length >= every);
        CHECK(h.offset + h.length <= h.size);
        hinted[h.path] = h.offset + h.length;
      }
      for (const auto& name : segments) {
        const std::string path = "/log/" + name;
        CHECK(size_of(mem, path) - hinted[path] < every + o.buffer_bytes + 200);
      }
    }
  }
}

TEST_CASE("truncation at every byte offset recovers exactly the complete records and reports the dropped bytes")
{
  memory_file_system fs;
  const auto written = write_log(fs, 12, 3);
  const std::string seg = only_segment(fs);
  const std::string full = fs.contents(seg);
  // Record boundaries, from the framing.
  std::vector<std::size_t> ends;
  for (std::size_t off = 0; off < full.size();) {
    const auto len = detail::load_le(reinterpret_cast<const std::byte*>(full.data()) + off + 4, 4);
    off += record_header_bytes + len;
    ends.push_back(off);
  }
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    fs.set_contents(seg, full.substr(0, cut));
    std::size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    const std::size_t valid_end = complete ? ends[complete - 1] : 0;
    INFO("cut at " << cut);
    const auto report = read_and_check(fs, written);
    REQUIRE(report.records == (complete ? complete - 1 : 0));  // the segment record is not counted
    if (cut == valid_end && complete > 0) {
      REQUIRE(!report.damage);
      REQUIRE_NOTHROW(read_and_check(fs, written, recovery_mode::strict));
    } else {
      REQUIRE(report.damage);
      REQUIRE(!report.damage->mid_log);
      REQUIRE(report.damage->offset == valid_end);
      REQUIRE(report.damage->dropped_bytes == cut - valid_end);
      REQUIRE_THROWS_AS(read_and_check(fs, written, recovery_mode::strict), error);
    }
  }
}

TEST_CASE("bit flips anywhere are detected; mid-log damage is reported as corruption")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  memory_file_system fs;
  const auto written = write_log(fs, 30, 4);
  const std::string seg = only_segment(fs);
  const std::string full = fs.contents(seg);
  const std::size_t last_record = full.size() - (record_header_bytes + written.payloads.back().size());
  // 2,000 flips in CI; MMSB_FLIPS=20000 for the figure in docs/reliability.md (RELIABILITY #3).
  const char* flips_env = std::getenv("MMSB_FLIPS");
  const int flips = flips_env ? std::max(1, std::atoi(flips_env)) : 2000;
  int trials = 0, mid = 0, undetected = 0;
  for (int trial = 0; trial < flips; ++trial) {
    std::string bad = full;
    const std::size_t bit = rng() % (bad.size() * 8);
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    fs.set_contents(seg, bad);
    const std::size_t head = record_header_bytes + shape.size() + segment_trailer_bytes;
    if (bit / 8 < head) {  // the segment's own first record: with records after it, not this log's files
      REQUIRE_THROWS_MATCHES(read_and_check(fs, written), error, Catch::Predicate<error>([](const error& e) {
                               return e.code() == errc::corrupt && std::string(e.what()).find("its first record is unreadable") != std::string::npos;
                             }, "corrupt: the first record is unreadable"));
      ++trials;
      continue;
    }
    const auto report = read_and_check(fs, written);  // delivered records are never altered ones
    if (!report.damage) {
      ++undetected;
      ++trials;
      continue;
    }
    if (bit / 8 < last_record) {
      REQUIRE(report.damage->mid_log);
      ++mid;
    }
    ++trials;
  }
  CHECK(trials == flips);
  CHECK(undetected == 0);
  CHECK(mid > flips / 2);
  std::printf("bit flips: %d tried, %d undetected, %d reported as mid-log corruption\n", trials, undetected, mid);
}

TEST_CASE("duplicated, swapped and foreign records are detected")
{
  memory_file_system fs;
  const auto written = write_log(fs, 5, 5);
  const std::string seg = only_segment(fs);
  const std::string full = fs.contents(seg);
  std::vector<std::size_t> starts;
  for (std::size_t off = 0; off < full.size();) {
    starts.push_back(off);
    off += record_header_bytes + detail::load_le(reinterpret_cast<const std::byte*>(full.data()) + off + 4, 4);
  }
  starts.push_back(full.size());
  const auto rec = [&](std::size_t i) { return full.substr(starts[i], starts[i + 1] - starts[i]); };

  fs.set_contents(seg, rec(0) + rec(1) + rec(2) + rec(2) + rec(3));  // duplicated
  auto r = read_and_check(fs, written);
  REQUIRE(r.damage);
  CHECK(r.damage->fault == record_fault::bad_order);
  CHECK(r.damage->mid_log);

  fs.set_contents(seg, rec(0) + rec(1) + rec(3) + rec(2) + rec(4));  // swapped
  r = read_and_check(fs, written);
  REQUIRE(r.damage);
  CHECK(r.damage->fault == record_fault::bad_order);
  CHECK(r.records == 1);

  // A segment record (valid checksum) in the middle of a segment.
  std::vector<std::byte> stray;
  encode_record(stray, record_type::segment, epoch{9}, txn_id{9}, {});
  fs.set_contents(seg, rec(0) + rec(1) + std::string(reinterpret_cast<const char*>(stray.data()), stray.size()));
  r = read_and_check(fs, written);
  REQUIRE(r.damage);
  CHECK(r.damage->fault == record_fault::bad_segment);

  // A log written for another bus.
  const std::vector<std::byte> other_shape(shape.size(), std::byte{'x'});
  fs.set_contents(seg, full);
  CHECK_THROWS_WITH(read_log(fs, "/log", other_shape, recovery_mode::point_in_time, [](auto&&, auto&&) {}),
                    Catch::Contains("was written for a different bus"));
}

TEST_CASE("after a torn tail, recovery plus a new writer gives a clean log (no false corruption)")
{
  memory_file_system fs;
  auto written = write_log(fs, 10, 6);
  const std::string seg = only_segment(fs);
  const std::string full = fs.contents(seg);
  fs.set_contents(seg, full.substr(0, full.size() - 7));  // the last record is torn
  written.payloads.pop_back();
  auto report = read_and_check(fs, written);
  REQUIRE(report.damage);
  REQUIRE(!report.damage->mid_log);

  std::mt19937_64 rng(7);
  {
    log_writer w(fs, "/log", shape, report.end);
    for (std::uint64_t e = 10; e <= 15; ++e) {
      written.payloads.push_back(payload_for(e, rng));
      w.append(record_type::commit, epoch{e}, txn_id{e}, written.payloads.back());
    }
  }
  report = read_and_check(fs, written, recovery_mode::strict);
  CHECK(report.records == 15);
  CHECK(!report.damage);
  CHECK(fs.contents(seg) == full.substr(0, full.size() - 7));  // recovery never rewrote the old segment
}

TEST_CASE("a failed write leaves the log as it was and the writer works again")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  std::mt19937_64 rng(8);
  logged written;
  log_writer w(fs, "/log", shape);
  for (std::uint64_t e = 1; e <= 3; ++e) {
    written.payloads.push_back(payload_for(e, rng));
    w.append(record_type::commit, epoch{e}, txn_id{e}, written.payloads.back());
  }
  const std::string before = mem.contents("/log/" + mem.list("/log")[0]);
  fs.fail_nth(fs_op::write, 1, EIO);
  const auto p = payload_for(4, rng);
  CHECK_THROWS_AS(w.append(record_type::commit, epoch{4}, txn_id{4}, p), error);
  CHECK(mem.contents("/log/" + mem.list("/log")[0]) == before);
  CHECK(!w.poisoned());
  written.payloads.push_back(p);
  w.append(record_type::commit, epoch{4}, txn_id{4}, p);
  CHECK(read_and_check(mem, written, recovery_mode::strict).records == 4);

  // Short writes that run out of space: the partial record is cut back; after space returns, it works.
  fs.short_writes(7);
  fs.space_budget(20);
  const auto q = payload_for(5, rng);
  try {
    w.append(record_type::commit, epoch{5}, txn_id{5}, q);
    FAIL("append past the space budget succeeded");
  } catch (const error& e) {
    CHECK(e.code() == errc::no_space);
  }
  CHECK(read_and_check(mem, written, recovery_mode::strict).records == 4);
  fs.reset();
  written.payloads.push_back(q);
  w.append(record_type::commit, epoch{5}, txn_id{5}, q);
  CHECK(read_and_check(mem, written, recovery_mode::strict).records == 5);
}

TEST_CASE("a failed sync poisons the writer with the original error; reading still works")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  std::mt19937_64 rng(9);
  logged written;
  log_writer w(fs, "/log", shape);
  written.payloads.push_back(payload_for(1, rng));
  w.append(record_type::commit, epoch{1}, txn_id{1}, written.payloads.back());
  fs.fail_nth(fs_op::sync, 1, EIO);
  std::string first;
  written.payloads.push_back(payload_for(2, rng));  // written, but its sync failed: readers may see it
  try {
    w.append(record_type::commit, epoch{2}, txn_id{2}, written.payloads.back());
    FAIL("sync failure not reported");
  } catch (const error& e) {
    first = e.what();
    CHECK(e.code() == errc::io_error);
  }
  CHECK(w.poisoned());
  fs.reset();
  CHECK_THROWS_WITH(w.append(record_type::commit, epoch{3}, txn_id{3}, payload_for(3, rng)), first);
  CHECK_THROWS_WITH(w.sync(), first);
  CHECK(read_and_check(mem, written).records >= 1);
}

TEST_CASE("append refuses segment records and commits out of sequence, writing nothing")
{
  memory_file_system fs;
  log_writer w(fs, "/log", shape);
  const std::vector<std::byte> p(8);
  w.append(record_type::commit, epoch{5}, txn_id{1}, p);
  const std::string before = fs.contents("/log/" + fs.list("/log")[0]);
  CHECK_THROWS_WITH(w.append(record_type::commit, epoch{7}, txn_id{2}, p),
                    "log /log: commit at epoch 7 does not follow the last commit at epoch 5");
  CHECK_THROWS_WITH(w.append(record_type::commit, epoch{5}, txn_id{2}, p),
                    "log /log: commit at epoch 5 does not follow the last commit at epoch 5");
  CHECK_THROWS_WITH(w.append(record_type::segment, epoch{6}, txn_id{2}, p),
                    "log /log: segment records are written by the log itself");
  CHECK(fs.contents("/log/" + fs.list("/log")[0]) == before);
  CHECK(!w.poisoned());
  w.append(record_type::commit, epoch{6}, txn_id{2}, p);
}

TEST_CASE("a new writer continues the epochs recovery found")
{
  memory_file_system fs;
  const auto written = write_log(fs, 4, 10);
  const auto report = read_and_check(fs, written);
  CHECK(report.end.last_commit == epoch{4});
  log_writer w(fs, "/log", shape, report.end);
  const std::vector<std::byte> p(8);
  CHECK_THROWS_AS(w.append(record_type::commit, epoch{1}, txn_id{1}, p), error);
  w.append(record_type::commit, epoch{5}, txn_id{5}, p);
}

TEST_CASE("a newly created log directory survives a power loss once a commit is acknowledged")
{
  memory_file_system fs;
  fs.make_dir("/state");
  fs.sync_dir("/");  // the parent exists durably; the writer must make its own entry in it durable
  {
    log_writer w(fs, "/state/log", shape);
    w.append(record_type::commit, epoch{1}, txn_id{1}, std::vector<std::byte>(8));  // per_commit: durable now
    fs.crash(crash_mode::drop, 1);
  }
  const auto report = read_log(fs, "/state/log", shape, recovery_mode::strict, [](auto&&, auto&&) {});
  CHECK(report.records == 1);
}

TEST_CASE("headless segments left by failed starts never hide later acknowledged commits")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  logged written;
  std::mt19937_64 rng(11);
  {
    log_writer w(fs, "/log", shape);
    for (std::uint64_t e = 1; e <= 5; ++e) {
      written.payloads.push_back(payload_for(e, rng));
      w.append(record_type::commit, epoch{e}, txn_id{e}, written.payloads.back());
    }
  }
  // A start whose first record cannot be written: the writer removes its segment file.
  fs.fail_nth(fs_op::write, 1, ENOSPC);
  CHECK_THROWS_AS(log_writer(fs, "/log", shape), error);
  fs.reset();
  CHECK(mem.list("/log").size() == 1);
  // A start whose segment creation reached the disk but whose head did not (power loss).
  mem.set_contents("/log/" + segment_name(1), "");
  mem.set_contents("/log/" + segment_name(2), "");
  auto report = read_and_check(mem, written);
  REQUIRE(report.damage);
  CHECK(!report.damage->mid_log);
  {
    log_writer w(fs, "/log", shape, report.end);
    for (std::uint64_t e = 6; e <= 10; ++e) {
      written.payloads.push_back(payload_for(e, rng));
      w.append(record_type::commit, epoch{e}, txn_id{e}, written.payloads.back());
    }
  }
  report = read_and_check(mem, written, recovery_mode::strict);
  CHECK(report.records == 10);
  CHECK(!report.damage);
}

TEST_CASE("compressed payloads round-trip, and damage to them is still detected")
{
  memory_file_system fs;
  log_options o;
  o.compress = true;
  logged written;
  {
    log_writer w(fs, "/log", shape, {}, o);
    for (std::uint64_t e = 1; e <= 20; ++e) {
      std::vector<std::byte> p(2000, static_cast<std::byte>(e));  // compressible
      detail::store_le(p.data(), e, 8);
      written.payloads.push_back(p);
      w.append(record_type::commit, epoch{e}, txn_id{e}, p);
    }
  }
  const std::string seg = only_segment(fs);
  const std::string full = fs.contents(seg);
  CHECK(full.size() < 20 * 2000 / 4);  // actually compressed
  CHECK(read_and_check(fs, written, recovery_mode::strict).records == 20);
  // Damage inside a compressed payload: caught by the checksum before decompression.
  std::string bad = full;
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x10);
  fs.set_contents(seg, bad);
  const auto r = read_and_check(fs, written);
  REQUIRE(r.damage);
  CHECK(r.damage->mid_log);
}

TEST_CASE("durability none: buffered records across segment rolls survive sync() and a power loss, with no hole")
{
  memory_file_system fs;
  log_options o;
  o.durability = durability::none;
  o.segment_bytes = 2048;
  o.buffer_bytes = 700;
  logged written;
  std::mt19937_64 rng(12);
  log_writer w(fs, "/log", shape, {}, o);
  for (std::uint64_t e = 1; e <= 120; ++e) {
    written.payloads.push_back(payload_for(e, rng));
    w.append(record_type::commit, epoch{e}, txn_id{e}, written.payloads.back());
  }
  CHECK(fs.list("/log").size() > 5);
  w.sync();
  fs.crash(crash_mode::drop, 1);  // only what sync() made durable is left
  const auto r = read_and_check(fs, written, recovery_mode::strict);
  CHECK(r.records == 120);
}

namespace {
using test::temp_dir;
// Everything read_log hands over, and its report, as one comparable string.
std::string replay_transcript(file_system& fs, const std::string& dir, recovery_mode mode)
{
  std::string out;
  const auto report = read_log(fs, dir, shape, mode, [&](const record_header& h, span<const std::byte> p) {
    out += std::to_string(h.epoch.value()) + ":" + std::to_string(static_cast<int>(h.type)) + ":";
    out.append(reinterpret_cast<const char*>(p.data()), p.size());
    out += '|';
  });
  return out + "#" + report.describe() + "#" + std::to_string(report.end.segment) + "/" + std::to_string(report.end.offset);
}
} // namespace

TEST_CASE("replay through a mapped segment and through the read fallback gives the same records and report")
{
  temp_dir tmp;
  const std::string dir = tmp.path + "/log";
  posix_file_system disk;
  log_options opts;
  opts.segment_bytes = 4096;
  opts.durability = durability::none;
  std::mt19937_64 rng(7);
  {
    log_writer w(disk, dir, shape, {}, opts);
    for (std::uint64_t e = 1; e <= 300; ++e) {
      const auto p = payload_for(e, rng);
      w.append(record_type::commit, epoch{e}, txn_id{e}, p);
    }
  }
  REQUIRE(disk.list(dir).size() > 3);
  {
    file_view v;
    v.load(disk, dir + "/" + disk.list(dir).front());
    CHECK(v.mapped());
    faulty_file_system reading(disk);
    file_view r;
    r.load(reading, dir + "/" + disk.list(dir).front());
    CHECK(!r.mapped());
    CHECK(std::equal(v.bytes().begin(), v.bytes().end(), r.bytes().begin(), r.bytes().end()));
  }
  faulty_file_system fallback(disk);  // maps nothing: every segment through read()
  const std::string mapped = replay_transcript(disk, dir, recovery_mode::strict);
  CHECK(mapped == replay_transcript(fallback, dir, recovery_mode::strict));
  CHECK(fallback.count(fs_op::read) > 0);
  CHECK(mapped.find("300 records in") != std::string::npos);
}

TEST_CASE("a corrupt record in a mapped segment is detected with the same error as on the read path")
{
  temp_dir tmp;
  const std::string dir = tmp.path + "/log";
  posix_file_system disk;
  log_options opts;
  opts.segment_bytes = 4096;
  opts.durability = durability::none;
  std::mt19937_64 rng(8);
  {
    log_writer w(disk, dir, shape, {}, opts);
    for (std::uint64_t e = 1; e <= 100; ++e) {
      const auto p = payload_for(e, rng);
      w.append(record_type::commit, epoch{e}, txn_id{e}, p);
    }
  }
  const auto names = disk.list(dir);
  REQUIRE(names.size() > 2);
  const std::string seg = dir + "/" + names[1];  // a middle segment: later ones are valid
  std::string bytes;
  {
    file_view v;
    v.load(disk, seg);
    bytes.assign(reinterpret_cast<const char*>(v.bytes().data()), v.bytes().size());
  }
  const std::size_t at = bytes.size() / 2;  // inside some record after the segment's head
  {
    const auto h = disk.open(seg, open_mode::truncate);
    bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
    disk.write_all(h, span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
    disk.close(h);
  }
  faulty_file_system fallback(disk);
  std::string mapped_error, read_error;
  try {
    (void)read_log(disk, dir, shape, recovery_mode::strict, [](const record_header&, span<const std::byte>) {});
  } catch (const error& e) {
    CHECK(e.code() == errc::corrupt);
    mapped_error = e.what();
  }
  try {
    (void)read_log(fallback, dir, shape, recovery_mode::strict, [](const record_header&, span<const std::byte>) {});
  } catch (const error& e) {
    read_error = e.what();
  }
  CHECK(mapped_error.find("log corruption at " + seg + " offset ") == 0);
  CHECK(mapped_error == read_error);
  // Point in time: the same prefix, the same damage (segment, offset, mid-log) either way.
  const std::string mapped = replay_transcript(disk, dir, recovery_mode::point_in_time);
  CHECK(mapped.find("CORRUPTION at " + seg) != std::string::npos);
  CHECK(mapped == replay_transcript(fallback, dir, recovery_mode::point_in_time));
}
