// dist/global_log.hpp without MPI: the global log reads back what was appended, up to its last
// tick record, regions in their place among the ghosts (compaction too); edits after it, a torn
// tail, a damaged record, a region record of the wrong size and a tick record for another rank
// count end the read there; a damaged head is refused naming the file; a failed append cuts the
// file back to its last tick record and keeps the edits for the next one. Reopening a bus
// across ranks from it: tests/dist/mpi_bus.cpp (recovery) and tests/dist/crash.py.
#include <mmsb/dist/global_log.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

using namespace mmsb;
using namespace mmsb::dist;

namespace {

using pairs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

global_log_state decode(const std::vector<std::byte>& b) { return decode_global_log(span<const std::byte>(b.data(), b.size()), "test"); }

// A log of 3 ranks: ghost (5, 1), edge 5 -> 40, tick 1; edge 40 -> 70, tick 2; an edge 70 -> 90 after it.
std::vector<std::byte> sample(std::vector<std::size_t>& ends)
{
  std::vector<std::byte> b;
  put_global_log_head(b, 0xabcdef, 3);
  ends.push_back(b.size());
  put_global_pair(b, global_record::ghost, 5, 1);
  put_global_pair(b, global_record::edge, 5, 40);
  const std::uint64_t e1[3] = {1, 2, 3}, e2[3] = {4, 5, 6};
  put_global_tick(b, 1, span<const std::uint64_t>(e1, 3));
  ends.push_back(b.size());
  put_global_pair(b, global_record::edge, 40, 70);
  put_global_tick(b, 2, span<const std::uint64_t>(e2, 3));
  ends.push_back(b.size());
  put_global_pair(b, global_record::edge, 70, 90);
  return b;
}

} // namespace

TEST_CASE("the global log reads back up to its last tick record; what follows it is not part of any tick")
{
  std::vector<std::size_t> ends;
  const auto b = sample(ends);
  const auto s = decode(b);
  CHECK(s.fingerprint == 0xabcdef);
  CHECK(s.ranks == 3);
  REQUIRE(s.has_tick);
  CHECK(s.tick == 2);
  CHECK(s.epochs == std::vector<std::uint64_t>{4, 5, 6});
  CHECK(s.ghosts == pairs{{5, 1}});
  CHECK(s.edges == pairs{{5, 40}, {40, 70}});  // 70 -> 90 came after the last tick
  CHECK(s.bytes == ends[2]);
  // Compaction writes the same state in fewer records.
  const auto compact = encode_global_log(s);
  const auto again = decode(compact);
  CHECK(again.tick == 2);
  CHECK(again.epochs == s.epochs);
  CHECK(again.edges == s.edges);
  CHECK(again.ghosts == s.ghosts);
  CHECK(again.bytes == compact.size());
  // A head alone: no tick.
  const auto head = decode(std::vector<std::byte>(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(ends[0])));
  CHECK(!head.has_tick);
  CHECK(head.bytes == global_log_head_bytes);
}

TEST_CASE("regions keep their place among the ghosts, through compaction too")
{
  std::vector<std::byte> b;
  put_global_log_head(b, 9, 4);
  put_global_pair(b, global_record::ghost, 5, 1);
  const std::uint32_t members[3] = {3, 13, 23};
  put_global_region(b, 2, 50, span<const std::uint32_t>(members, 3));
  put_global_pair(b, global_record::ghost, 23, 0);
  put_global_pair(b, global_record::edge, 3, 13);
  const std::uint64_t e[4] = {1, 1, 2, 1};
  put_global_tick(b, 1, span<const std::uint64_t>(e, 4));
  const std::uint32_t later[1] = {30};
  put_global_region(b, 3, 10, span<const std::uint32_t>(later, 1));  // after the last tick: not part of it
  const auto s = decode(b);
  REQUIRE(s.regions.size() == 1);
  CHECK(s.regions[0].host == 2);
  CHECK(s.regions[0].max_iterations == 50);
  CHECK(s.regions[0].members == std::vector<std::uint32_t>{3, 13, 23});
  CHECK(s.regions[0].after_ghosts == 1);
  CHECK(s.ghosts == pairs{{5, 1}, {23, 0}});
  const auto again = decode(encode_global_log(s));
  REQUIRE(again.regions.size() == 1);
  CHECK(again.regions[0].after_ghosts == 1);
  CHECK(again.regions[0].members == s.regions[0].members);
  CHECK(again.ghosts == s.ghosts);
  CHECK(again.edges == s.edges);
  auto bad = b;  // a region whose count says more pages than it holds ends the read there
  bad.resize(s.bytes);
  std::vector<std::byte> body(12 + 4, std::byte{0});
  body[8] = std::byte{2};
  mmsb::dist::detail::put_record(bad, global_record::region, span<const std::byte>(body.data(), body.size()));
  const std::uint64_t e2[4] = {2, 2, 2, 2};
  put_global_tick(bad, 2, span<const std::uint64_t>(e2, 4));
  CHECK(decode(bad).tick == 1);
}

TEST_CASE("a torn tail, a damaged record or a tick record for another rank count ends the read at the tick before")
{
  std::vector<std::size_t> ends;
  const auto b = sample(ends);
  for (std::size_t cut = ends[1]; cut < ends[2]; cut += 3) {  // tick 2's records, torn anywhere
    const auto s = decode(std::vector<std::byte>(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(cut)));
    CHECK(s.tick == 1);
    CHECK(s.bytes == ends[1]);
    CHECK(s.edges == pairs{{5, 40}});
  }
  for (std::size_t at = ends[1]; at < ends[2]; ++at) {  // any byte of tick 2's records flipped
    auto d = b;
    d[at] ^= std::byte{0x20};
    const auto s = decode(d);
    CHECK(s.tick == 1);
    CHECK(s.epochs == std::vector<std::uint64_t>{1, 2, 3});
  }
  std::vector<std::byte> other;
  put_global_log_head(other, 1, 2);
  const std::uint64_t three[3] = {1, 2, 3};
  put_global_tick(other, 1, span<const std::uint64_t>(three, 3));  // three epochs in a log of two ranks
  CHECK(!decode(other).has_tick);
}

TEST_CASE("a damaged or missing head is refused with corrupt, naming the file")
{
  std::vector<std::size_t> ends;
  const auto b = sample(ends);
  for (const std::size_t at : {std::size_t{0}, std::size_t{9}, std::size_t{17}, std::size_t{25}}) {
    auto d = b;
    d[at] ^= std::byte{1};
    try {
      (void)decode_global_log(span<const std::byte>(d.data(), d.size()), "/r0/dist-log");
      FAIL("a damaged head at byte " << at << " was read");
    } catch (const error& e) {
      CHECK(e.code() == errc::corrupt);
      CHECK_THAT(e.what(), Catch::Contains("global log /r0/dist-log: no valid head"));
    }
  }
  CHECK_THROWS_AS(decode(std::vector<std::byte>(b.begin(), b.begin() + 10)), error);
  memory_file_system fs;
  fs.make_dir("/r0");
  CHECK(!read_global_log(fs, "/r0"));
  fs.set_contents("/r0/dist-log", "MMSBDLG1 not a head");
  CHECK_THROWS_AS(read_global_log(fs, "/r0"), error);
}

TEST_CASE("the writer appends edits with the next tick record; a failed append cuts the file back and keeps them")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  fs.make_dir("/r0");
  std::vector<std::byte> head;
  put_global_log_head(head, 7, 2);
  global_log_writer w;
  w.reset(fs, "/r0", span<const std::byte>(head.data(), head.size()), true);
  w.add(global_record::ghost, 3, 1);
  w.add(global_record::edge, 3, 60);
  const std::uint64_t e1[2] = {1, 1}, e2[2] = {2, 3};
  w.append_tick(1, span<const std::uint64_t>(e1, 2));
  const std::string after_one = mem.contents("/r0/dist-log");
  w.add(global_record::edge, 60, 80);
  fs.fail_nth(fs_op::write, 1, ENOSPC);
  CHECK_THROWS_AS(w.append_tick(2, span<const std::uint64_t>(e2, 2)), error);
  CHECK(mem.contents("/r0/dist-log") == after_one);  // cut back to tick 1's record
  w.append_tick(2, span<const std::uint64_t>(e2, 2));  // the edit kept for it
  const auto r = read_global_log(fs, "/r0");
  REQUIRE(r);
  CHECK(r->first.tick == 2);
  CHECK(r->first.epochs == std::vector<std::uint64_t>{2, 3});
  CHECK(r->first.edges == pairs{{3, 60}, {60, 80}});
  CHECK(r->first.ghosts == pairs{{3, 1}});
  CHECK(r->second.size() == r->first.bytes);
  // reset() replaces the file whole (compaction, restore): the old bytes are gone, edits pending dropped.
  w.add(global_record::edge, 80, 90);
  const auto compact = encode_global_log(r->first);
  w.reset(fs, "/r0", span<const std::byte>(compact.data(), compact.size()), false);
  CHECK(mem.contents("/r0/dist-log") == std::string(reinterpret_cast<const char*>(compact.data()), compact.size()));
  CHECK(!mem.exists("/r0/dist-log.tmp"));
}
