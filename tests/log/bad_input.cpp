// RELIABILITY #18: bad inputs to the log and transaction API. Each gets the documented error,
// naming the culprit, and leaves memory and every file exactly as they were.
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_txn.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace mmsb;

namespace {
using lay = dense<std::int64_t, 16>;
using store = durable_store<plus_times<std::int64_t>, lay>;
const std::vector<std::byte> shape(6, std::byte{5});

std::map<std::string, std::string> all_files(memory_file_system& fs, const std::string& dir)
{
  std::map<std::string, std::string> out;
  if (!fs.exists(dir)) return out;
  for (const auto& name : fs.list(dir)) {
    const std::string path = dir + "/" + name;
    try {
      out[path] = fs.contents(path);
    } catch (const error&) {  // a directory
      for (auto& [k, v] : all_files(fs, path)) out[k] = v;
    }
  }
  return out;
}

struct bad_case {
  const char* what;
  errc code;
  const char* message;  // a substring the message must contain
  std::function<void(store&, memory_file_system&)> run;
};
} // namespace

TEST_CASE("bad inputs get a documented error naming the culprit; state and files unchanged")
{
  const std::vector<bad_case> cases{
    {"commit to an unknown page", errc::unknown_page, "unknown page 9",
     [](store& s, memory_file_system&) { auto tx = mmsb::test::begin_txn(s); tx.accumulate(page_id{9}, 0, 1); (void)mmsb::test::commit_txn(s, tx); }},
    {"a slot past the page", errc::out_of_range, "slot 16 is out of range",
     [](store& s, memory_file_system&) { auto tx = mmsb::test::begin_txn(s); tx.accumulate(page_id{0}, 16, 1); (void)mmsb::test::commit_txn(s, tx); }},
    {"replay before the retained log", errc::out_of_range,  // names the epoch asked for and the oldest reachable
     "replay: epoch 1 cannot be rebuilt: no valid checkpoint at or before it remains and the retained log starts at epoch 7 "
     "(the records between were truncated); the oldest epoch reachable is 6 (a checkpoint the log continues from)",
     [](store& s, memory_file_system&) { (void)s.replay_to(epoch{1}); }},
    {"replay past the end", errc::out_of_range, "past the end of the retained log",
     [](store& s, memory_file_system&) { (void)s.replay_to(epoch{1000}); }},
    {"a store over another bus's files", errc::bad_format, "written for a different bus",
     [](store&, memory_file_system& fs) { store other(fs, "/db", std::vector<std::byte>(6, std::byte{6})); }},
    {"a record over the size limit", errc::size_mismatch, "exceeds the limit",
     [](store&, memory_file_system& fs) {
       log_options o;
       o.max_record_bytes = 64;
       log_writer w(fs, "/other", shape, {}, o);
       w.append(record_type::commit, epoch{1}, txn_id{1}, std::vector<std::byte>(100));
     }},
    {"a store directory that is a file", errc::io_error, "/db/log/log-",
     [](store&, memory_file_system& fs) {
       const auto names = fs.list("/db/log");
       store other(fs, "/db/log/" + names.front(), shape);
     }},
  };
  for (const auto& c : cases) {
    memory_file_system fs;
    store s(fs, "/db", shape);
    (void)s.create_page();
    for (int k = 0; k < 6; ++k) {
      auto tx = mmsb::test::begin_txn(s);
      tx.accumulate(page_id{0}, static_cast<std::size_t>(k), k);
      (void)mmsb::test::commit_txn(s, tx);
    }
    s.checkpoint();
    auto tx = mmsb::test::begin_txn(s);
    tx.accumulate(page_id{0}, 1, 5);
    (void)mmsb::test::commit_txn(s, tx);
    const auto files = all_files(fs, "/db");
    const auto hash = s.hash();
    const auto e = s.current_epoch();
    INFO(c.what);
    try {
      c.run(s, fs);
      FAIL("accepted: " << c.what);
    } catch (const error& err) {
      CHECK(err.code() == c.code);
      CHECK_THAT(err.what(), Catch::Contains(c.message));
    }
    CHECK(s.hash() == hash);
    CHECK(s.current_epoch() == e);
    CHECK(all_files(fs, "/db") == files);
  }
}

TEST_CASE("strict and the default recovery refuse mid-log corruption; point_in_time opens and reports the loss")
{
  memory_file_system fs;
  {
    store s(fs, "/db", shape);
    (void)s.create_page();
    for (int k = 0; k < 5; ++k) {
      auto tx = mmsb::test::begin_txn(s);
      tx.accumulate(page_id{0}, 0, 1);
      (void)mmsb::test::commit_txn(s, tx);
    }
  }
  const std::string seg = "/db/log/" + fs.list("/db/log").front();
  std::string bytes = fs.contents(seg);
  bytes[bytes.size() - 200] = static_cast<char>(bytes[bytes.size() - 200] ^ 1);  // inside an earlier record (77 B each)
  fs.set_contents(seg, bytes);
  const auto before = all_files(fs, "/db");
  store_options strict;
  strict.recovery = recovery_mode::strict;
  CHECK_THROWS_WITH(store(fs, "/db", shape, strict), Catch::Contains("log corruption at /db/log/log-"));
  CHECK(all_files(fs, "/db") == before);
  CHECK_THROWS_WITH(store(fs, "/db", shape), Catch::Contains("log corruption at /db/log/log-") &&
                                               Catch::Contains("valid commit records follow it (up to epoch 5)"));
  CHECK(all_files(fs, "/db") == before);
  store_options accept;
  accept.recovery = recovery_mode::point_in_time;
  store lenient(fs, "/db", shape, accept);
  REQUIRE(lenient.recovery().damage);
  CHECK(lenient.recovery().damage->mid_log);
  CHECK(lenient.current_epoch() == epoch{2});
  CHECK(lenient.recovery().lost_records() == 2);  // epochs 4 and 5 (epoch 3's record is the damaged one)
}
