// Recovery (mmsb/log/recovery.hpp, log_reader.hpp) as a store owner meets it: the recovery modes
// over a torn tail, mid-log corruption and an unreadable first segment; retention by checkpoints,
// so a damaged newest checkpoint falls back to the older one and reopens at the same epoch with
// the same state (issue 20, defects 0-2); a closed store cut back to an earlier epoch
// (log/cut.hpp) opens there with that epoch's state and goes on from it.
#include <mmsb/bus.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/log/cut.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/obs/registry.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_files.hpp"
#include "../support/store_txn.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace mmsb;

namespace {
using S = plus_times<std::int64_t>;
using L = dense<std::int64_t, 8>;
using store = durable_store<S, L>;

const std::vector<std::byte>& shape() {
  static const auto s = shape_descriptor<S, L>();
  return s;
}

store_options with(recovery_mode m, std::uint64_t segment_bytes = std::uint64_t{64} << 20)
{
  store_options o;
  o.recovery = m;
  o.log.segment_bytes = segment_bytes;
  return o;
}

// Commit k (k = 1, 2, ...) adds k to slot k % 8 of page k % 3 and creates the pages at first.
epoch commit_one(store& s, int k)
{
  while (s.pages().size() < 3) (void)s.create_page();
  auto tx = mmsb::test::begin_txn(s);
  tx.accumulate(page_id{static_cast<std::uint32_t>(k % 3)}, static_cast<std::size_t>(k % 8), k);
  return mmsb::test::commit_txn(s, tx);
}

// The (start offset, epoch) of every commit record of a segment, walking its records.
std::vector<std::pair<std::size_t, std::uint64_t>> commits_in(const std::string& bytes)
{
  std::vector<std::pair<std::size_t, std::uint64_t>> out;
  const span<const std::byte> all(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  std::size_t off = 0;
  while (off < all.size()) {
    record_header h;
    span<const std::byte> payload;
    REQUIRE(check_record(all.subspan(off), h, payload) == record_fault::none);
    if (h.type == record_type::commit) out.emplace_back(off, h.epoch.value());
    off += record_header_bytes + h.payload_bytes;
  }
  return out;
}

std::vector<std::string> segments(memory_file_system& fs, const std::string& dir)
{
  std::vector<std::string> out;
  std::uint64_t i = 0;
  for (const auto& n : fs.list(dir + "/log"))
    if (parse_segment_name(n, i)) out.push_back(dir + "/log/" + n);
  std::sort(out.begin(), out.end());
  return out;
}

std::string newest_checkpoint(memory_file_system& fs, const std::string& dir)
{
  std::vector<std::string> names;
  epoch e;
  for (const auto& n : fs.list(dir + "/checkpoints"))
    if (parse_checkpoint_name(n, e)) names.push_back(n);
  REQUIRE(!names.empty());
  std::sort(names.begin(), names.end());
  return dir + "/checkpoints/" + names.back();
}

void flip(memory_file_system& fs, const std::string& path, std::size_t at)
{
  std::string b = fs.contents(path);
  REQUIRE(at < b.size());
  b[at] = static_cast<char>(b[at] ^ 0x10);
  fs.set_contents(path, b);
}
} // namespace

TEST_CASE("a damaged newest checkpoint falls back to the older one plus the log: same epoch, same state")
{
  for (const bool background : {false, true})
    for (const bool reopen_between : {false, true})
      for (const std::uint64_t segment_bytes : {std::uint64_t{64} << 20, std::uint64_t{300}}) {
        INFO("background " << background << ", reopen between checkpoints " << reopen_between << ", segment bytes "
                           << segment_bytes);
        memory_file_system fs;
        const auto checkpoint = [&](store& s) {
          if (background) {
            REQUIRE(s.begin_checkpoint());
            (void)commit_one(s, 100);  // a commit while it is written (the active segment spans the epoch)
            s.wait_checkpoint();
          } else {
            s.checkpoint();
          }
        };
        epoch last;
        state_hash h;
        {
          auto s = std::make_unique<store>(fs, "/db", shape(), with(recovery_mode::tolerate_torn_tail, segment_bytes));
          int k = 1;
          for (; k <= 4; ++k) (void)commit_one(*s, k);
          checkpoint(*s);
          for (; k <= 8; ++k) (void)commit_one(*s, k);
          if (reopen_between) s = std::make_unique<store>(fs, "/db", shape(), with(recovery_mode::tolerate_torn_tail, segment_bytes));
          checkpoint(*s);
          for (; k <= 12; ++k) (void)commit_one(*s, k);
          last = s->current_epoch();
          h = s->hash();
        }
        const std::string newest = newest_checkpoint(fs, "/db");
        const std::string bytes = fs.contents(newest);
        for (const std::size_t at : {std::size_t{3}, bytes.size() / 2, bytes.size() - 5}) {
          flip(fs, newest, at);
          store s(fs, "/db", shape());
          CHECK(s.current_epoch() == last);
          CHECK(s.hash() == h);
          CHECK(s.recovery().lost_records() == 0);
          fs.set_contents(newest, bytes);
        }
        fs.remove(newest);  // a missing newest checkpoint alike
        store s(fs, "/db", shape());
        CHECK(s.current_epoch() == last);
        CHECK(s.hash() == h);
      }
}

TEST_CASE("retention by checkpoints keeps the log from the older retained checkpoint on, and no more")
{
  memory_file_system fs;
  store s(fs, "/db", shape(), with(recovery_mode::tolerate_torn_tail, 300));
  std::vector<epoch> checkpoints;
  std::vector<state_hash> hashes{s.hash()};
  for (int k = 1; k <= 60; ++k) {
    (void)commit_one(s, k);
    hashes.push_back(s.hash());
    if (k % 10 == 0) {
      s.checkpoint();
      checkpoints.push_back(s.current_epoch());
    }
  }
  // The older retained checkpoint (epoch 50) and every epoch after it replay; epoch 49 does not.
  const epoch older = checkpoints[checkpoints.size() - 2];
  for (std::uint64_t e = older.value(); e <= 60; ++e) CHECK(s.replay_to(epoch{e}) == hashes[e]);
  CHECK_THROWS_AS(s.replay_to(epoch{older.value() - 1}), error);
  // The log holds commits after epoch 50 only: the segments before it are gone.
  std::size_t commits = 0;
  std::uint64_t first = 0;
  for (const auto& seg : segments(fs, "/db"))
    for (const auto& [off, e] : commits_in(fs.contents(seg))) {
      if (commits++ == 0) first = e;
    }
  CHECK(first <= older.value() + 1);
  CHECK(first > checkpoints[checkpoints.size() - 3].value());
}

TEST_CASE("mid-log corruption: the default refuses, naming the segment, offset and what follows; point_in_time opens and reports the loss")
{
  memory_file_system fs;
  {
    store s(fs, "/db", shape());
    for (int k = 1; k <= 10; ++k) (void)commit_one(s, k);
  }
  const auto segs = segments(fs, "/db");
  REQUIRE(segs.size() == 1);
  const auto commits = commits_in(fs.contents(segs[0]));
  REQUIRE(commits.size() == 10);
  const std::size_t bad = commits[3].first;  // epoch 4's record
  flip(fs, segs[0], bad + record_header_bytes + 2);
  const auto before = mmsb::test::store_files(fs, "/db");

  for (const auto mode : {recovery_mode::tolerate_torn_tail, recovery_mode::strict}) {
    INFO("mode " << to_string(mode));
    try {
      store s(fs, "/db", shape(), with(mode));
      FAIL("opened: " << s.recovery().describe());
    } catch (const error& e) {
      CHECK(e.code() == errc::corrupt);
      CHECK_THAT(e.what(), Catch::Contains(segs[0] + " offset " + std::to_string(bad)));
      CHECK_THAT(e.what(), Catch::Contains("checksum mismatch"));
      CHECK_THAT(e.what(), Catch::Contains("6 valid commit records follow it (up to epoch 10)"));
    }
    CHECK(mmsb::test::store_files(fs, "/db") == before);
  }
  // Opting in keeps the prefix, and says what it dropped: in the open result and the first tick.
  {
    store s(fs, "/db", shape(), with(recovery_mode::point_in_time));
    CHECK(s.current_epoch() == epoch{3});
    REQUIRE(s.recovery().damage);
    CHECK(s.recovery().damage->mid_log);
    CHECK(s.recovery().lost_records() == 6);
    CHECK(s.recovery().damage->newest_after == epoch{10});
    CHECK_THAT(s.recovery().describe(), Catch::Contains("LOST 6 acknowledged commits (up to epoch 10)"));
  }
}

TEST_CASE("the first tick after a point_in_time open over mid-log corruption reports the loss, once")
{
  memory_file_system fs;
  {
    store s(fs, "/db", shape());
    for (int k = 1; k <= 10; ++k) (void)commit_one(s, k);
  }
  const auto segs = segments(fs, "/db");
  const auto commits = commits_in(fs.contents(segs[0]));
  flip(fs, segs[0], commits[6].first + record_header_bytes + 1);  // epoch 7's record: 3 follow
  bus_options o;
  o.fs = &fs;
  o.dir = "/db";
  CHECK_THROWS_MATCHES((basic_bus<S, L>(o)), error, Catch::Predicate<error>([](const error& e) {
                         return e.code() == errc::corrupt && std::string(e.what()).find("3 valid commit records follow") != std::string::npos;
                       }, "corrupt, naming the records that follow"));
  o.store.recovery = recovery_mode::point_in_time;
  obs::registry reg;  // and in the metrics (mmsb_recovery_lost_commits_total)
  o.metrics = reg.sink();
  basic_bus<S, L> b(o);
  CHECK(b.current_epoch() == epoch{6});
  CHECK(b.store().lost_commits() == 4);
  CHECK(b.tick().lost_on_open == 4);  // epochs 7 (the damaged record) to 10
  CHECK(b.tick().lost_on_open == 0);
  CHECK(reg.snapshot()[metric_counter::recovery_lost_commits] == (MMSB_METRICS ? 4u : 0u));
}

TEST_CASE("a torn tail opens by default with nothing lost; strict refuses it")
{
  memory_file_system fs;
  {
    store s(fs, "/db", shape());
    for (int k = 1; k <= 5; ++k) (void)commit_one(s, k);
  }
  const auto segs = segments(fs, "/db");
  const std::string bytes = fs.contents(segs[0]);
  const auto commits = commits_in(bytes);
  for (std::size_t cut = commits[4].first + 1; cut < bytes.size(); cut += 7) {
    fs.set_contents(segs[0], bytes.substr(0, cut));
    {
      store s(fs, "/db", shape());
      CHECK(s.current_epoch() == epoch{4});
      REQUIRE(s.recovery().damage);
      CHECK(!s.recovery().damage->mid_log);
      CHECK(s.recovery().lost_records() == 0);
    }
    // (that open started a segment of its own; take it away for the next cut)
    for (const auto& seg : segments(fs, "/db"))
      if (seg != segs[0]) fs.remove(seg);
    fs.set_contents(segs[0], bytes.substr(0, cut));
    CHECK_THROWS_MATCHES((store(fs, "/db", shape(), with(recovery_mode::strict))), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::corrupt; }, "corrupt"));
  }
  // A duplicated last record is damage, but nothing acknowledged follows it: it opens.
  fs.set_contents(segs[0], bytes + bytes.substr(commits[4].first));
  store s(fs, "/db", shape());
  CHECK(s.current_epoch() == epoch{5});
  REQUIRE(s.recovery().damage);
  CHECK(s.recovery().lost_records() == 0);
}

TEST_CASE("a first segment whose first record is unreadable is refused in every mode when records follow; a torn creation opens")
{
  memory_file_system fs;
  {
    store s(fs, "/db", shape());
    for (int k = 1; k <= 5; ++k) (void)commit_one(s, k);
  }
  const auto segs = segments(fs, "/db");
  const std::string bytes = fs.contents(segs[0]);
  flip(fs, segs[0], record_header_bytes + 4);  // inside the shape
  const auto before = mmsb::test::store_files(fs, "/db");
  for (const auto mode : {recovery_mode::tolerate_torn_tail, recovery_mode::point_in_time, recovery_mode::strict}) {
    INFO("mode " << to_string(mode));
    try {
      store s(fs, "/db", shape(), with(mode));
      FAIL("opened: " << s.recovery().describe());
    } catch (const error& e) {
      CHECK(e.code() == errc::corrupt);
      CHECK_THAT(e.what(), Catch::Contains("log segment " + segs[0] + ": its first record is unreadable"));
      CHECK_THAT(e.what(), Catch::Contains(detail::quoted_shape(shape())));
    }
    CHECK(mmsb::test::store_files(fs, "/db") == before);
  }
  // A crash while creating the first segment: a part of its head, nothing after it.
  fs.set_contents(segs[0], bytes.substr(0, 20));
  store s(fs, "/db", shape());
  CHECK(s.current_epoch() == epoch{0});
}

TEST_CASE("cut_store_after puts a closed store back at an earlier epoch: it opens there, equal to that epoch, and goes on from it")
{
  for (const std::uint64_t segment_bytes : {std::uint64_t{64} << 20, std::uint64_t{300}})
    for (const std::uint64_t back_to : {std::uint64_t{20}, std::uint64_t{19}, std::uint64_t{14}, std::uint64_t{12}, std::uint64_t{7}}) {
      INFO("segment bytes " << segment_bytes << ", back to epoch " << back_to);
      memory_file_system fs;
      std::vector<state_hash> hashes;  // by epoch
      {
        store s(fs, "/db", shape(), with(recovery_mode::tolerate_torn_tail, segment_bytes));
        hashes.push_back(s.hash());
        for (int k = 1; k <= 20; ++k) {
          (void)commit_one(s, k);
          hashes.push_back(s.hash());
          if (k == 5 || k == 12) s.checkpoint();
        }
      }
      const auto segs_before = segments(fs, "/db").size();
      const store_cut cut = cut_store_after(fs, "/db", epoch{back_to});
      CHECK(cut.changed() == (back_to < 20));
      if (back_to < 20) {
        CHECK(!cut.cut_segment.empty());
        CHECK(cut.cut_bytes > 0);
        CHECK(fs.exists(cut.aside));
        CHECK(segments(fs, "/db").size() + cut.segments == segs_before);
        CHECK(cut.checkpoints == (back_to < 12 ? 1u : 0u));
      }
      CHECK(!cut_store_after(fs, "/db", epoch{back_to}).changed());  // a rerun finds nothing left to move
      {
        store s(fs, "/db", shape(), with(recovery_mode::strict, segment_bytes));
        CHECK(s.current_epoch() == epoch{back_to});
        CHECK(s.hash() == hashes[back_to]);
        for (std::uint64_t k = back_to + 1; k <= 20; ++k) {  // the same commits again: the same states
          (void)commit_one(s, static_cast<int>(k));
          CHECK(s.hash() == hashes[k]);
        }
      }
      store s(fs, "/db", shape(), with(recovery_mode::strict, segment_bytes));
      CHECK(s.current_epoch() == epoch{20});
      CHECK(s.hash() == hashes[20]);
    }
}
