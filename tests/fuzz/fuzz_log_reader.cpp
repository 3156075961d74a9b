// libFuzzer target: the log reader (RELIABILITY #15). The input is one to four segment files
// (split at fuzz_common.hpp's separator) in a memory_file_system; read_log runs over them in both
// recovery modes, the segment-head path (read_log_shape, read_segment_head) over each file, and
// every commit record's payload is decoded. Only mmsb::error may escape the library. Checked:
//   - strict mode throws exactly when point_in_time mode reports damage, and agrees otherwise;
//   - the report is consistent (resume point inside the segments, records counted once);
//   - a log_writer resuming from a report without mid-log corruption continues the log so that
//     a second read finds no damage and exactly one more record.
// Input byte 0: bit 0-1 first segment index, bit 2 index gaps, bit 3 re-seal checksums
// (fuzz_common.hpp), bit 4 a small record limit, bits 5-7 the `after` epoch.
#include "fuzz_common.hpp"

#include <mmsb/delta/codec.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <string>
#include <vector>

namespace {
using sr = mmsb::plus_times<std::int64_t>;
using lay = mmsb::dense<std::int64_t, 8>;
const std::string dir = "/db/log";

struct read_result {
  mmsb::recovery_report report;
  std::uint64_t handed = 0;
  bool threw = false;
  std::string what;
};

read_result read(mmsb::memory_file_system& fs, mmsb::recovery_mode mode, mmsb::epoch after, std::uint32_t limit)
{
  read_result r;
  std::vector<mmsb::delta<sr, lay>> deltas;
  try {
    r.report = mmsb::read_log(
      fs, dir, mmsb::span<const std::byte>(mmsb::fuzz::shape()), mode,
      [&](const mmsb::record_header& h, mmsb::span<const std::byte> payload) {
        ++r.handed;
        MMSB_FUZZ_CHECK(h.type == mmsb::record_type::commit || h.type == mmsb::record_type::checkpoint ||
                        h.type == mmsb::record_type::page || h.type == mmsb::record_type::structure);
        if (h.type != mmsb::record_type::commit) return;
        mmsb::span<const std::byte> structure;
        try {
          mmsb::detail::decode_commit<sr, lay>(h.epoch, payload, deltas, structure);
        } catch (const mmsb::error&) {
        }
      },
      after, limit);
  } catch (const mmsb::error& e) {
    r.threw = true;
    r.what = e.what();
  }
  return r;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size < 1) return 0;
  const std::uint8_t opts = data[0];
  auto files = mmsb::fuzz::split_files(data + 1, size - 1, 4);
  const std::uint64_t first = opts & 3u;
  const std::uint64_t step = (opts & 4u) ? 2 : 1;
  const bool reseal = (opts & 8u) != 0;
  const std::uint32_t limit = (opts & 16u) ? 256u : mmsb::default_max_record_bytes;
  const mmsb::epoch after{static_cast<std::uint64_t>(opts >> 5)};

  mmsb::memory_file_system fs;
  fs.make_dir("/db");
  fs.make_dir(dir);
  std::uint64_t total_bytes = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (reseal) mmsb::fuzz::reseal_records(files[i]);
    fs.set_contents(dir + "/" + mmsb::segment_name(first + step * i), files[i]);
    total_bytes += files[i].size();
  }

  // The segment-head path.
  try {
    (void)mmsb::read_log_shape(fs, dir, limit);
  } catch (const mmsb::error&) {
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    const mmsb::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(files[i].data()), files[i].size());
    try {
      const auto head = mmsb::detail::read_segment_head(bytes, mmsb::span<const std::byte>(mmsb::fuzz::shape()),
                                                        "segment", limit);
      (void)head;
    } catch (const mmsb::error&) {
    }
  }

  const auto pit = read(fs, mmsb::recovery_mode::point_in_time, after, limit);
  const auto strict = read(fs, mmsb::recovery_mode::strict, after, limit);
  if (pit.threw) {
    // Only a foreign log (another shape) is refused in point_in_time mode, and then in both.
    MMSB_FUZZ_CHECK(strict.threw, pit.what);
    return 0;
  }
  const auto& rep = pit.report;
  MMSB_FUZZ_CHECK(strict.threw == rep.damage.has_value(), strict.what);
  if (!strict.threw) {
    MMSB_FUZZ_CHECK(strict.report.records == rep.records);
    MMSB_FUZZ_CHECK(strict.handed == pit.handed);
  }
  MMSB_FUZZ_CHECK(rep.segments <= files.size());
  MMSB_FUZZ_CHECK(pit.handed <= rep.records);
  if (rep.damage) {
    MMSB_FUZZ_CHECK(rep.damage->fault != mmsb::record_fault::none);
    MMSB_FUZZ_CHECK(rep.damage->dropped_bytes <= total_bytes);
  }
  if (rep.segments != 0) {
    MMSB_FUZZ_CHECK(rep.end.valid);
    // The resume point lies inside the segment it names.
    for (std::size_t i = 0; i < files.size(); ++i)
      if (first + step * i == rep.end.segment) MMSB_FUZZ_CHECK(rep.end.offset <= files[i].size());
  }
  if (rep.damage && rep.damage->mid_log) return 0;  // corruption: the store refuses to guess

  // A writer continuing from the report: the next read sees one more record and no damage.
  const mmsb::epoch last = rep.end.last_commit;
  if (last.value() == ~std::uint64_t{0}) return 0;  // no epoch follows it
  const mmsb::epoch next = last.value() == 0 ? mmsb::epoch{1} : last.next();
  try {
    mmsb::log_options lo;
    lo.max_record_bytes = limit;
    lo.buffer_bytes = 4096;  // the default 256 KiB buffer would dominate each run's time
    mmsb::log_writer w(fs, dir, mmsb::span<const std::byte>(mmsb::fuzz::shape()), rep.end, lo);
    std::vector<std::byte> payload;
    mmsb::detail::begin_commit_payload(payload, 0);
    w.append(mmsb::record_type::commit, next, mmsb::txn_id{1}, payload);
    w.sync();
  } catch (const mmsb::error& e) {
    mmsb::fuzz::fail("log_writer refused to continue a recovered log", e.what());
  }
  const auto again = read(fs, mmsb::recovery_mode::point_in_time, after, limit);
  MMSB_FUZZ_CHECK(!again.threw, again.what);
  MMSB_FUZZ_CHECK(!again.report.damage, again.report.describe() + " after " + rep.describe());
  MMSB_FUZZ_CHECK(again.report.records == rep.records + 1, again.report.describe() + " after " + rep.describe());
  MMSB_FUZZ_CHECK(again.report.end.last_commit == next);
  return 0;
}
