// log_writer: the append side of the transaction log. Records go into segment files
// `<dir>/log-<16 hex digits>.seg`, each opening with a segment record; segments are never
// modified once a later one exists, so recovery never has to repair anything.
//
// Durability is a policy: sync after every commit, group commit (after N records or T time,
// whichever comes first), or none. Records are collected in a buffer and written in batches
// (when it holds buffer_bytes, and at every sync, segment roll and close), so under group and
// none a process crash can lose the records since the last write, not only a power loss.
// append() returns only after the policy's sync, so in per_commit mode an acknowledged record
// survives a crash. A segment roll syncs the old segment in every mode (under none too), and a new
// segment's head and name are synced before any record goes in: a newer segment never survives a
// power loss that an older one's records did not, so recovery never finds a hole.
//
// Commit records carry consecutive epochs (each commit is the next epoch), which lets recovery
// detect a reordered, duplicated or missing record; the first commit in the log may start
// anywhere (after a checkpoint truncated the log before it).
//
// Failures: a write that fails (EIO, ENOSPC, a short write that cannot finish) truncates the
// active segment back to its last complete record and rethrows; the writer then works again
// once the cause is gone. If that truncate fails too, or a sync fails, the writer is poisoned:
// every later append or sync rethrows the original error (a failed fsync may have lost data the
// kernel already reported as written, so nothing after it can be trusted). Reads are unaffected.
// Running out of memory is not a sync failure: a file_system call that cannot allocate fails
// before it does anything, so append, sync and flush report it as mmsb::error(out_of_memory),
// cut back the record being appended, and the writer stays usable (except when only the
// directory entry of a new segment was left to sync: the record is durable and cannot be taken
// back, so the writer is poisoned and reopening decides).
//
// Compiled into libmmsb (src/log/log_writer.cpp).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/metrics.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/record.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace mmsb {

// When appended records are synced: never by append (none), after group_records records or
// group_interval (group), or before every append returns (per_commit). In every mode a new
// segment's head record and name are synced when it is created (two syncs per segment), and
// under none a rolled segment is synced before any newer one.
enum class durability : std::uint8_t { none, group, per_commit };

// How a log_writer syncs, batches, rolls segments and compresses.
struct log_options {
  mmsb::durability durability = durability::per_commit;  // the sync policy; per_commit by default
  std::uint32_t group_records = 64;                          // group commit: sync after this many
  std::chrono::microseconds group_interval{1000};           // ... or this long after the first unsynced
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;    // start a new segment past this size
  std::uint32_t max_record_bytes = default_max_record_bytes;  // records with a longer payload are refused (mmsb::error, size_mismatch)
  std::size_t buffer_bytes = std::size_t{256} << 10;         // records are written in batches this large
  // Under none and group: after each this many bytes written to a segment, the file system is
  // asked to start writing them to the device (file_system::start_writeback), so a sync or a
  // segment roll waits for little (a roll's sync of a whole 64 MiB segment stalled the append
  // that rolled for ~35 ms on a VM disk). posix_file_system runs the request on a helper thread,
  // not the appending one; 0: never. Durability is unchanged.
  std::uint64_t writeback_bytes = std::uint64_t{4} << 20;
  bool compress = false;                                    // zstd-compress payloads that shrink
  std::uint32_t compress_min_bytes = 256;                   // ... and are at least this large
  metrics_sink metrics{};  // records appended (mmsb_log_records, _bytes) and syncs (mmsb_log_syncs, mmsb_log_sync_seconds); off by default
};

// "log-<16 hex digits>.seg" for segment `index`.
[[nodiscard]] std::string segment_name(std::uint64_t index);

// Parses a segment file name; returns false for anything else in the directory.
[[nodiscard]] bool parse_segment_name(const std::string& name, std::uint64_t& index) noexcept;

// Where the valid log ended when this writer started (from recovery): the segment record of the
// writer's first segment records it, so a later recovery knows the bytes past it in that segment
// were abandoned by an earlier recovery (a torn tail), not corrupted afterwards.
struct log_resume {
  bool valid = false;  // false: recovery found no log to continue (a fresh start)
  std::uint64_t segment = 0;  // index of the last segment recovery read
  std::uint64_t offset = 0;   // end of its last valid record
  mmsb::epoch last_commit{};  // epoch of the last valid commit (0: none); the next must follow it
};

// The segment record's payload: the caller's shape, then the resume point (u8 valid, u64 segment,
// u64 offset, little-endian).
inline constexpr std::size_t segment_trailer_bytes = 17;

// The directory that holds path ("." for a bare name).
[[nodiscard]] std::string parent_of(const std::string& path);

// The append side of the log (see the top of this header). Owns its active segment's handle; not
// thread-safe (the durable store serializes its calls).
class log_writer {
public:
  // Opens the log in dir (created if missing; its parent must exist) and starts a new segment after the highest existing
  // one. `shape` identifies what the log holds (the bus's semiring and layout); it is written into
  // every segment record so a reader can refuse a foreign log.
  log_writer(file_system& fs, std::string dir, span<const std::byte> shape, log_resume resume = {},
             log_options options = {});
  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;
  // Best effort: syncs what group or none durability left unsynced. Call sync() before
  // destruction to learn about a failure; a destructor can only swallow it.
  ~log_writer();

  // Appends one record and applies the durability policy. Returns when the record is as durable
  // as the policy promises. Throws mmsb::error; see the header comment for what state follows.
  //
  // Refused with mmsb::error(invalid_argument), before anything is written: a segment record (the
  // writer writes those itself) and a commit whose epoch does not follow the last commit's.
  void append(record_type type, mmsb::epoch e, txn_id txn, span<const std::byte> payload);

  // Makes every appended record durable. A failure poisons the writer.
  void sync();

  // Writes the buffered records to the file without syncing, so that a reader of the files (a
  // replay) sees every record appended so far; durability is unchanged (a crash may still lose
  // what is not synced). On failure, cuts the segment back to what was written before (a record
  // boundary) and keeps the buffer, so no torn record is followed by a valid one; poisons the
  // writer if it cannot cut back. Throws mmsb::error.
  void flush();

  // True after a failed sync or a failed cut-back: every later append and sync rethrows.
  [[nodiscard]] bool poisoned() const noexcept { return poison_ != nullptr; }
  // The epoch of the last commit appended (or recovered, from the resume point); 0 when none.
  [[nodiscard]] mmsb::epoch last_commit() const noexcept { return last_commit_; }
  // Records appended since the last sync.
  [[nodiscard]] std::uint64_t unsynced() const noexcept { return unsynced_; }
  // The log's directory.
  [[nodiscard]] const std::string& directory() const noexcept { return dir_; }
  // The path of the active segment file.
  [[nodiscard]] std::string segment_path() const { return dir_ + "/" + segment_name(next_segment_ - 1); }

private:
  void check_usable() const;
  // Rethrows failure, a std::bad_alloc as mmsb::error(out_of_memory) naming the segment.
  [[noreturn]] void rethrow_as_error(std::exception_ptr failure) const;

  void open_segment();

  void roll();

  file_system* fs_;
  std::string dir_;
  std::vector<std::byte> shape_;
  log_options options_;
  file_system::handle handle_ = -1;
  std::uint64_t next_segment_ = 0;
  std::uint64_t segment_size_ = 0;
  std::uint64_t header_bytes_ = 0;
  std::uint64_t unsynced_ = 0;
  bool created_dir_ = false;
  mmsb::epoch last_commit_{};
  std::chrono::steady_clock::time_point first_unsynced_{};
  // Room for n more bytes at the end of the buffered records (grows the buffer, geometrically,
  // only when they do not fit); throws std::bad_alloc with nothing changed.
  std::byte* pending_space(std::size_t n);

  std::vector<std::byte> pending_;       // the write buffer: [0, pending_bytes_) holds encoded records not yet written
  std::size_t pending_bytes_ = 0;
  std::uint64_t flushed_ = 0;            // bytes of the active segment written to the file
  std::uint64_t writeback_from_ = 0;     // where the next start_writeback of the active segment begins
  std::vector<std::byte> compressed_;
  std::exception_ptr poison_;
};

} // namespace mmsb
