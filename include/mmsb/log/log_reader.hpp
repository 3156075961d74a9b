// Reading and recovering the transaction log. read_log() walks the segments in order and hands
// every valid record to a callback, stopping at the first damage. What it does there depends on
// the recovery mode (RocksDB's WAL recovery modes in brackets):
//
//   tolerate_torn_tail (default)  [kTolerateCorruptedTailRecords] cut a torn tail (damage with no
//                            valid record after it that is not already covered: bytes no commit
//                            call acknowledged) and report it; refuse mid-log corruption (damage
//                            followed by valid records past the covered epoch: acknowledged
//                            commits) with mmsb::error(errc::corrupt) naming the segment, the
//                            offset and how many records follow.
//   point_in_time            [kPointInTimeRecovery] keep the valid prefix whatever follows; the
//                            records dropped are counted in the report (log_damage::records_after,
//                            recovery_report::lost_records()) for the caller to surface. Opt-in.
//   strict                   [kAbsoluteConsistency] refuse any damage, a torn tail included:
//                            throw mmsb::error(errc::corrupt) naming the segment, the offset and
//                            the reason.
// (RocksDB's kSkipAnyCorruptedRecords, which skips damage and applies what follows, has no
// counterpart: it leaves holes, and recovery promises a prefix.)
//
// In every mode, files this log does not understand are refused before anything is written: a
// log written for another bus (different shape) throws errc::bad_format naming the segment and
// both shapes, and a first segment whose first record is unreadable while valid records follow
// throws errc::corrupt naming it (a crash while creating a segment leaves no valid record after
// its head, so that is a torn tail). The log treats a shape as opaque bytes: it quotes them
// (printable ASCII as is, other bytes as `\xNN`), and since the bus's descriptor is text
// (mmsb/bus/shape.hpp) that reads as words.
// Nothing is ever written: recovery reads, and the next log_writer starts a new segment.
//
// Each segment is walked in place: mapped read-only where the file system maps
// (file_system::map: posix_file_system does), else read into one buffer reused across segments
// (memory_ and faulty_file_system, so injected read faults still reach recovery). Either way
// each record's checksum is computed once, over the bytes where they lie, and the callback gets
// a view of its payload (valid only during the call). Results, damage reports and error messages
// are the same on both paths.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/log/compression.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/record.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mmsb {

// How read_log treats damage (see the top of this header): tolerate_torn_tail (the default) cuts a
// torn tail and refuses mid-log corruption, point_in_time keeps the valid prefix whatever follows
// and counts what it dropped, strict refuses any damage. Refusals are mmsb::error(errc::corrupt).
enum class recovery_mode : std::uint8_t { point_in_time, strict, tolerate_torn_tail };

// The mode's name, as the docs and messages spell it.
[[nodiscard]] constexpr const char* to_string(recovery_mode m) noexcept
{
  switch (m) {
  case recovery_mode::point_in_time: return "point_in_time";
  case recovery_mode::strict: return "strict";
  case recovery_mode::tolerate_torn_tail: return "tolerate_torn_tail";
  }
  return "unknown";
}

// Where and why a log stops being valid, as read_log reports it (in the modes that open: a torn
// tail in any, mid-log damage under point_in_time).
struct log_damage {
  std::string segment;          // path of the segment holding the first bad byte
  std::uint64_t offset = 0;     // offset of the first bad byte in that segment
  record_fault fault = record_fault::none;  // why the record there was refused
  bool mid_log = false;         // a valid record follows: corruption, not a torn tail
  std::uint64_t dropped_bytes = 0;  // bytes from the damage to the end of the log
  // Valid commit records after the damage past the epoch already covered (the last valid commit,
  // or the checkpoint's): acknowledged commits that keeping the prefix drops.
  std::uint64_t records_after = 0;
  mmsb::epoch newest_after{};   // the newest epoch among them (0 when there are none)
};

// Where one segment's commits end: its index and the epoch of the last commit at or before its
// end (the previous segment's when it holds none). Retention by checkpoints reads these.
struct segment_extent {
  std::uint64_t index = 0;       // the segment's index (its file name)
  mmsb::epoch last_commit{};     // the last commit at or before its end (0: none yet)
};

// What read_log found: how much valid log, where it ends, and the first damage if any.
struct recovery_report {
  log_resume end;                  // where the valid log ends: hand it to the next log_writer
  std::uint64_t segments = 0;  // segment files read
  std::uint64_t records = 0;       // valid records handed to the callback (segment records excluded)
  mmsb::epoch last_epoch{};  // the epoch of the last valid record (0 when there is none)
  std::optional<log_damage> damage;  // the first damage; empty when the whole log is valid
  std::vector<segment_extent> extents;  // every segment read before the damage, in order

  // Acknowledged commits the recovery dropped: the valid commits past the damage (point_in_time
  // over mid-log corruption); 0 when nothing acknowledged was lost.
  [[nodiscard]] std::uint64_t lost_records() const noexcept { return damage ? damage->records_after : 0; }
  // Acknowledged commits dropped when the state recovered is at epoch `recovered` (the last valid
  // commit, or a newer checkpoint's): every epoch after it up to the newest commit found after the
  // damage, the damaged record's own included (which lost_records() leaves out).
  [[nodiscard]] std::uint64_t lost_commits(mmsb::epoch recovered) const noexcept
  {
    const bool lost = damage && damage->records_after != 0 && damage->newest_after > recovered;
    return lost ? damage->newest_after.value() - recovered.value() : 0;
  }

  // One line for logs and messages: the counts, the last epoch, and the damage if any.
  [[nodiscard]] std::string describe() const
  {
    std::string s = std::to_string(records) + " records in " + std::to_string(segments) + " segments, last epoch " +
                    std::to_string(last_epoch.value());
    if (damage)
      s += std::string("; ") + (damage->mid_log ? "CORRUPTION" : "torn tail") + " at " + damage->segment + " offset " +
           std::to_string(damage->offset) + ": " + to_string(damage->fault) + "; dropped " +
           std::to_string(damage->dropped_bytes) + " bytes";
    if (damage && damage->records_after != 0)
      s += ", LOST " + std::to_string(damage->records_after) + " acknowledged commits (up to epoch " +
           std::to_string(damage->newest_after.value()) + ")";
    return s;
  }
};

namespace detail {
// A shape for a message: printable ASCII as is (quote and backslash escaped), other bytes \xNN.
inline std::string quoted_shape(span<const std::byte> shape)
{
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (const std::byte b : shape) {
    const auto c = static_cast<unsigned char>(b);
    if (c == '\'' || c == '\\') out += '\\';
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + "'";
}

// "written for a different bus" message: the file's shape, then the one expected.
inline std::string shape_mismatch(const std::string& what, span<const std::byte> found, span<const std::byte> expected)
{
  return what + " was written for a different bus (its shape differs): the file holds " + quoted_shape(found) +
         ", this store expects " + quoted_shape(expected);
}

struct segment_head {
  bool ok = false;
  log_resume resume;
};

// A segment's first record, already checked (h, payload), against the shape: its resume point.
inline segment_head segment_head_of(const record_header& h, span<const std::byte> payload, span<const std::byte> shape,
                                    const std::string& path)
{
  segment_head out;
  if (h.type != record_type::segment || payload.size() < segment_trailer_bytes) return out;
  // A valid segment record holding another shape (of any length) is a foreign log, not damage.
  const auto found = payload.first(payload.size() - segment_trailer_bytes);
  if (!std::equal(found.begin(), found.end(), shape.begin(), shape.end()))
    throw error(errc::bad_format, shape_mismatch("log segment " + path, found, shape));
  const std::byte* t = payload.data() + shape.size();
  out.ok = true;
  out.resume.valid = t[0] == std::byte{1};
  out.resume.segment = load_le(t + 1, 8);
  out.resume.offset = load_le(t + 9, 8);
  return out;
}

// Checks a segment's first record against the shape and reads its resume point.
inline segment_head read_segment_head(span<const std::byte> bytes, span<const std::byte> shape, const std::string& path,
                                      std::uint32_t max_record_bytes)
{
  record_header h;
  span<const std::byte> payload;
  if (check_record(bytes, h, payload, max_record_bytes) != record_fault::none) return {};
  return segment_head_of(h, payload, shape, path);
}

// Counts, into d, the valid commit records of `bytes` from offset `from` on whose epoch is past
// `covered`: what keeping the prefix before the damage would drop.
inline void count_records_after(span<const std::byte> bytes, std::size_t from, mmsb::epoch covered,
                                std::uint32_t max_record_bytes, log_damage& d)
{
  for (std::size_t pos = find_next_record(bytes, from, max_record_bytes); pos < bytes.size();
       pos = find_next_record(bytes, pos, max_record_bytes)) {
    record_header h;
    span<const std::byte> payload;
    if (check_record(bytes.subspan(pos), h, payload, max_record_bytes) != record_fault::none) {
      ++pos;  // cannot happen (find_next_record found it valid); never loop
      continue;
    }
    if (h.type == record_type::commit && covered < h.epoch) {
      ++d.records_after;
      if (d.newest_after < h.epoch) d.newest_after = h.epoch;
    }
    pos += record_header_bytes + h.payload_bytes;
  }
}

inline std::vector<std::byte> read_file(file_system& fs, const std::string& path)
{
  const auto h = fs.open(path, open_mode::read);
  std::vector<std::byte> out;
  try {
    out.resize(fs.size(h));
    std::size_t got = 0;
    while (got < out.size()) {
      const std::size_t n = fs.read(h, got, span<std::byte>(out.data() + got, out.size() - got));
      if (n == 0) break;
      got += n;
    }
    out.resize(got);
  } catch (...) {
    fs.close(h);
    throw;
  }
  fs.close(h);
  return out;
}
} // namespace detail

// The shape recorded in the log's first readable segment record (for tools that inspect a log
// without knowing which bus wrote it), or nothing if no segment has a readable head.
[[nodiscard]] inline std::optional<std::vector<std::byte>> read_log_shape(file_system& fs, const std::string& dir,
                                                                           std::uint32_t max_record_bytes = default_max_record_bytes)
{
  if (!fs.exists(dir)) return std::nullopt;
  std::vector<std::uint64_t> indices;
  std::uint64_t index = 0;
  for (const auto& name : fs.list(dir))
    if (parse_segment_name(name, index)) indices.push_back(index);
  std::sort(indices.begin(), indices.end());
  for (const auto i : indices) {
    const auto bytes = detail::read_file(fs, dir + "/" + segment_name(i));
    record_header h;
    span<const std::byte> payload;
    if (check_record(bytes, h, payload, max_record_bytes) == record_fault::none && h.type == record_type::segment &&
        payload.size() >= segment_trailer_bytes)
      return std::vector<std::byte>(payload.begin(), payload.end() - segment_trailer_bytes);
  }
  return std::nullopt;
}

// Calls on_record(header, payload) for every valid commit/checkpoint record with an epoch in
// (after, ...], in log order. Records at or before `after` are checked but not handed over (they
// are covered by a checkpoint).
template <class OnRecord>
recovery_report read_log(file_system& fs, const std::string& dir, span<const std::byte> shape, recovery_mode mode,
                         OnRecord&& on_record, mmsb::epoch after = mmsb::epoch{},
                         std::uint32_t max_record_bytes = default_max_record_bytes)
{
  recovery_report report;
  std::vector<std::uint64_t> indices;
  if (fs.exists(dir)) {
    std::uint64_t index = 0;
    for (const auto& name : fs.list(dir))
      if (parse_segment_name(name, index)) indices.push_back(index);
  }
  std::sort(indices.begin(), indices.end());

  mmsb::epoch previous{};
  bool have_previous = false;
  std::vector<std::byte> raw;  // decompressed payloads
  file_view view;              // the segment: mapped where fs maps, else read into its buffer
  file_view later;             // a later segment, when damage needs a look past it
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::string path = dir + "/" + segment_name(indices[k]);
    std::size_t resume_at = 0;  // set when this segment's damage turns out to be abandoned
    view.load(fs, path);
    const span<const std::byte> bytes = view.bytes();
    ++report.segments;
    std::size_t off = 0;
    // An empty segment is one whose creation reached the disk but whose first record did not.
    record_fault fault = bytes.empty() ? record_fault::short_header : record_fault::none;
    // Each record is checked once, where it lies (in the mapping), and handed over as a view.
    while (fault == record_fault::none && off < bytes.size()) {
      record_header h;
      span<const std::byte> payload;
      fault = check_record(bytes.subspan(off), h, payload, max_record_bytes);
      if (fault == record_fault::none) {
        if (off == 0) {
          if (!detail::segment_head_of(h, payload, shape, path).ok) fault = record_fault::bad_segment;
        } else if (h.type == record_type::segment) {
          fault = record_fault::bad_segment;
        } else if (have_previous && h.type == record_type::commit && h.epoch != previous.next() &&
                   !(!(after < previous) && !(after.next() < h.epoch) && previous < h.epoch)) {  // a gap the checkpoint covers is no hole
          fault = record_fault::bad_order;
        }
      } else if (off == 0) {
        fault = record_fault::bad_segment;
      }
      if (fault == record_fault::none && (h.flags & record_flag_compressed)) {
        if (detail::decompress_payload(payload, h.raw_bytes, raw))
          payload = span<const std::byte>(raw.data(), raw.size());
        else
          fault = record_fault::bad_payload;
      }
      if (fault != record_fault::none) break;
      if (h.type != record_type::segment) {
        if (h.type == record_type::commit) {
          previous = h.epoch;
          have_previous = true;
        }
        if (after < h.epoch || h.type == record_type::checkpoint) on_record(h, payload);
        ++report.records;
        report.last_epoch = h.epoch;
      }
      off += record_header_bytes + h.payload_bytes;
    }
    report.end = log_resume{true, indices[k], off, previous};
    if (fault == record_fault::none) {
      report.extents.push_back({indices[k], previous});
      continue;
    }

    // Damage exactly where a later session's recovery said the valid log ended is a tail that
    // recovery already abandoned. That session's first segment is the first later one with a
    // valid head; segments between (creation reached the disk, the head did not) must hold no
    // valid record. Then skip to it.
    for (std::size_t j = k + 1; j < indices.size(); ++j) {
      const std::string later_path = dir + "/" + segment_name(indices[j]);
      later.load(fs, later_path);
      const auto head = detail::read_segment_head(later.bytes(), shape, later_path, max_record_bytes);
      if (head.ok && head.resume.valid && head.resume.segment == indices[k] && head.resume.offset == off) {
        resume_at = j;
        break;
      }
    }
    if (resume_at != 0) {
      k = resume_at - 1;  // the loop's ++k lands on the resuming segment
      continue;
    }

    log_damage d;
    d.segment = path;
    d.offset = off;
    d.fault = fault;
    d.dropped_bytes = bytes.size() - off;
    d.mid_log = find_next_record(bytes, off + 1, max_record_bytes) < bytes.size();
    const mmsb::epoch covered = after < previous ? previous : after;  // commits at or before it are kept anyway
    detail::count_records_after(bytes, off + 1, covered, max_record_bytes, d);
    for (std::size_t j = k + 1; j < indices.size(); ++j) {
      const std::string later_path = dir + "/" + segment_name(indices[j]);
      later.load(fs, later_path);
      d.dropped_bytes += later.bytes().size();
      if (!d.mid_log && find_next_record(later.bytes(), 0, max_record_bytes) < later.bytes().size()) d.mid_log = true;
      (void)detail::read_segment_head(later.bytes(), shape, later_path, max_record_bytes);  // a foreign head: bad_format
      detail::count_records_after(later.bytes(), 0, covered, max_record_bytes, d);
    }
    report.damage = d;
    const std::string where = path + " offset " + std::to_string(off) + ": " + to_string(fault);
    const std::string follow = std::to_string(d.records_after) + " valid commit records follow it (up to epoch " +
                               std::to_string(d.newest_after.value()) + ")";
    // A first segment whose head cannot be read, with valid records after it: not a log this
    // store understands (a crash while creating a segment leaves nothing valid after its head).
    if (k == 0 && off == 0 && d.mid_log)
      throw error(errc::corrupt, "log segment " + path + ": its first record is unreadable (" + to_string(fault) +
                                   ") yet valid records follow, so these are files this store does not understand (it "
                                   "expects a segment record of shape " + detail::quoted_shape(shape) +
                                   "); refusing to open them in any recovery mode, and nothing was written");
    if (mode == recovery_mode::strict)
      throw error(errc::corrupt, std::string("log ") + (d.mid_log ? "corruption" : "damage") + " at " + where +
                                   " (strict recovery refuses damage; " + std::to_string(d.dropped_bytes) +
                                   " bytes would be dropped" + (d.records_after ? ", and " + follow : std::string{}) + ")");
    if (mode == recovery_mode::tolerate_torn_tail && d.records_after != 0)
      throw error(errc::corrupt, "log corruption at " + where + "; " + follow +
                                   ": acknowledged commits would be lost. The default recovery (tolerate_torn_tail) "
                                   "refuses; to open with the records before the damage and drop those, pass "
                                   "recovery_mode::point_in_time (the loss is reported)");
    break;
  }
  return report;
}

} // namespace mmsb
