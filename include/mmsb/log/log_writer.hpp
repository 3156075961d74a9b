// log_writer: the append side of the transaction log. Records go into segment files
// `<dir>/log-<16 hex digits>.seg`, each opening with a segment record; segments are never
// modified once a later one exists, so recovery never has to repair anything.
//
// Durability is a policy: sync after every commit, group commit (after N records or T time,
// whichever comes first), or none. Records are collected in a buffer and written in batches
// (when it holds buffer_bytes, and at every sync, segment roll and close), so under group and
// none a process crash can lose the records since the last write, not only a power loss.
// append() returns only after the policy's sync, so in per_commit mode an acknowledged record
// survives a crash. Segments are synced in order: a newer segment is never synced while an older
// one still has unsynced records, so recovery never finds a hole.
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
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/compression.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/record.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <exception>
#include <string>
#include <vector>

namespace mmsb {

enum class durability : std::uint8_t { none, group, per_commit };

struct log_options {
  mmsb::durability durability = durability::per_commit;
  std::uint32_t group_records = 64;                          // group commit: sync after this many
  std::chrono::microseconds group_interval{1000};           // ... or this long after the first unsynced
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;    // start a new segment past this size
  std::uint32_t max_record_bytes = default_max_record_bytes;
  std::size_t buffer_bytes = std::size_t{256} << 10;         // records are written in batches this large
  bool compress = false;                                    // zstd-compress payloads that shrink
  std::uint32_t compress_min_bytes = 256;                   // ... and are at least this large
};

[[nodiscard]] inline std::string segment_name(std::uint64_t index)
{
  char name[32];
  std::snprintf(name, sizeof name, "log-%016llx.seg", static_cast<unsigned long long>(index));
  return name;
}

// Parses a segment file name; returns false for anything else in the directory.
[[nodiscard]] inline bool parse_segment_name(const std::string& name, std::uint64_t& index) noexcept
{
  if (name.size() != 24 || name.compare(0, 4, "log-") != 0 || name.compare(20, 4, ".seg") != 0) return false;
  index = 0;
  for (std::size_t i = 4; i < 20; ++i) {
    const char c = name[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    index = index * 16 + static_cast<std::uint64_t>(v);
  }
  return true;
}

// Where the valid log ended when this writer started (from recovery): the segment record of the
// writer's first segment records it, so a later recovery knows the bytes past it in that segment
// were abandoned by an earlier recovery (a torn tail), not corrupted afterwards.
struct log_resume {
  bool valid = false;
  std::uint64_t segment = 0;  // index of the last segment recovery read
  std::uint64_t offset = 0;   // end of its last valid record
  mmsb::epoch last_commit{};  // epoch of the last valid commit (0: none); the next must follow it
};

// The segment record's payload: the caller's shape, then the resume point (u8 valid, u64 segment,
// u64 offset, little-endian).
inline constexpr std::size_t segment_trailer_bytes = 17;

[[nodiscard]] inline std::string parent_of(const std::string& path)
{
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

class log_writer {
public:
  // Opens the log in dir (created if missing; its parent must exist) and starts a new segment after the highest existing
  // one. `shape` identifies what the log holds (the bus's semiring and layout); it is written into
  // every segment record so a reader can refuse a foreign log.
  log_writer(file_system& fs, std::string dir, span<const std::byte> shape, log_resume resume = {},
             log_options options = {})
    : fs_(&fs), dir_(std::move(dir)), shape_(shape.begin(), shape.end()), options_(options)
  {
    shape_.resize(shape.size() + segment_trailer_bytes);
    std::byte* t = shape_.data() + shape.size();
    t[0] = std::byte{resume.valid ? std::uint8_t{1} : std::uint8_t{0}};
    detail::store_le(t + 1, resume.segment, 8);
    detail::store_le(t + 9, resume.offset, 8);
    if (!fs_->exists(dir_)) {
      fs_->make_dir(dir_);
      sync_parent_ = true;
      created_dir_ = true;  // the parent's entry for dir_ must become durable too
    }
    last_commit_ = resume.last_commit;
    std::uint64_t index = 0, next = 0;
    for (const auto& name : fs_->list(dir_))
      if (parse_segment_name(name, index) && index + 1 > next) next = index + 1;
    next_segment_ = next;
    try {
      open_segment();
    } catch (...) {
      if (handle_ >= 0) fs_->close(handle_);
      handle_ = -1;
      throw;
    }
  }
  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;
  // Best effort: syncs what group or none durability left unsynced. Call sync() before
  // destruction to learn about a failure; a destructor can only swallow it.
  ~log_writer()
  {
    if (!poison_ && handle_ >= 0) {
      try {
        sync();
      } catch (...) {
      }
    }
    for (const auto h : older_unsynced_) fs_->close(h);
    if (handle_ >= 0) fs_->close(handle_);
  }

  // Appends one record and applies the durability policy. Returns when the record is as durable
  // as the policy promises. Throws mmsb::error; see the header comment for what state follows.
  //
  // Refused with mmsb::error(invalid_argument), before anything is written: a segment record (the
  // writer writes those itself) and a commit whose epoch does not follow the last commit's.
  void append(record_type type, mmsb::epoch e, txn_id txn, span<const std::byte> payload)
  {
    check_usable();
    if (type == record_type::segment)
      throw error(errc::invalid_argument, "log " + dir_ + ": segment records are written by the log itself");
    if (type == record_type::commit && last_commit_.value() != 0 && e != last_commit_.next())
      throw error(errc::invalid_argument, "log " + dir_ + ": commit at epoch " + std::to_string(e.value()) +
                                            " does not follow the last commit at epoch " +
                                            std::to_string(last_commit_.value()));
    if (payload.size() > options_.max_record_bytes)  // refuse before rolling or writing anything
      throw error(errc::size_mismatch, "log record of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                         std::to_string(options_.max_record_bytes) + " bytes");
    if (segment_size_ + record_header_bytes + payload.size() > options_.segment_bytes && segment_size_ > header_bytes_)
      roll();
    const std::size_t before = pending_.size();
    if (options_.compress && payload.size() >= options_.compress_min_bytes &&
        detail::compress_payload(payload, compressed_)) {
      encode_record(pending_, type, e, txn, compressed_, record_flag_compressed, static_cast<std::uint32_t>(payload.size()),
                    options_.max_record_bytes);
    } else {
      encode_record(pending_, type, e, txn, payload, 0, 0, options_.max_record_bytes);
    }
    const std::size_t record_bytes = pending_.size() - before;
    const bool must_write = options_.durability == durability::per_commit || pending_.size() >= options_.buffer_bytes;
    if (must_write) {
      try {
        flush();
      } catch (...) {
        pending_.resize(before);  // this record failed; the earlier buffered ones stay buffered
        throw;
      }
    }
    segment_size_ += record_bytes;
    if (type == record_type::commit) last_commit_ = e;
    ++unsynced_;
    if (unsynced_ == 1) first_unsynced_ = std::chrono::steady_clock::now();
    switch (options_.durability) {
    case durability::per_commit: sync(); break;
    case durability::group:
      if (unsynced_ >= options_.group_records ||
          std::chrono::steady_clock::now() - first_unsynced_ >= options_.group_interval)
        sync();
      break;
    case durability::none: break;
    }
  }

  // Makes every appended record durable. A failure poisons the writer.
  void sync()
  {
    check_usable();
    if (unsynced_ == 0 && !sync_parent_ && older_unsynced_.empty()) return;
    try {
      flush();
      for (const auto h : older_unsynced_) {  // older segments first: never a hole after a crash
        fs_->sync(h);
        fs_->close(h);
      }
      older_unsynced_.clear();
      fs_->sync(handle_);
      if (sync_parent_) {
        fs_->sync_dir(dir_);
        if (created_dir_) fs_->sync_dir(parent_of(dir_));
        sync_parent_ = false;
        created_dir_ = false;
      }
    } catch (...) {
      poison_ = std::current_exception();
      throw;
    }
    unsynced_ = 0;
  }

  [[nodiscard]] bool poisoned() const noexcept { return poison_ != nullptr; }
  [[nodiscard]] mmsb::epoch last_commit() const noexcept { return last_commit_; }
  [[nodiscard]] std::uint64_t unsynced() const noexcept { return unsynced_; }
  [[nodiscard]] const std::string& directory() const noexcept { return dir_; }
  [[nodiscard]] std::string segment_path() const { return dir_ + "/" + segment_name(next_segment_ - 1); }

private:
  void check_usable() const
  {
    if (poison_) std::rethrow_exception(poison_);
  }

  void open_segment()
  {
    const std::string path = dir_ + "/" + segment_name(next_segment_);
    pending_.clear();
    encode_record(pending_, record_type::segment, mmsb::epoch{}, txn_id{}, shape_, 0, 0, options_.max_record_bytes);
    handle_ = fs_->open(path, open_mode::create_new);
    ++next_segment_;
    segment_size_ = 0;
    flushed_ = 0;
    sync_parent_ = true;  // the new name must reach the directory before records in it count
    try {
      segment_size_ = pending_.size();
      flush();
    } catch (...) {
      pending_.clear();
      // Leave no headless segment behind (best effort; recovery also tolerates one).
      fs_->close(handle_);
      handle_ = -1;
      try {
        fs_->remove(path);
      } catch (...) {
      }
      throw;
    }
    header_bytes_ = segment_size_;
    // Only the first segment of a session carries the resume point; later ones continue it.
    shape_[shape_.size() - segment_trailer_bytes] = std::byte{0};
  }

  void roll()
  {
    if (options_.durability == durability::none) {
      flush();  // the old segment is complete on disk; it is synced before any newer one
      older_unsynced_.push_back(handle_);
    } else {
      sync();  // everything in the old segment is durable before the new one starts
      fs_->close(handle_);
    }
    handle_ = -1;
    try {
      open_segment();
    } catch (...) {
      poison_ = std::current_exception();  // no segment to append to: reopen the log to resume
      throw;
    }
  }

  // Writes the buffered records. On failure, cuts the segment back to what was written before
  // (a record boundary), so no torn record is ever followed by a valid one, and keeps the buffer;
  // poisons the writer if it cannot cut back.
  void flush()
  {
    if (pending_.empty()) return;
    try {
      fs_->write_all(handle_, pending_);
    } catch (...) {
      const auto original = std::current_exception();
      try {
        fs_->truncate(handle_, flushed_);
      } catch (...) {
        poison_ = original;
      }
      std::rethrow_exception(original);
    }
    flushed_ += pending_.size();
    pending_.clear();
  }

  file_system* fs_;
  std::string dir_;
  std::vector<std::byte> shape_;
  log_options options_;
  file_system::handle handle_ = -1;
  std::uint64_t next_segment_ = 0;
  std::uint64_t segment_size_ = 0;
  std::uint64_t header_bytes_ = 0;
  std::uint64_t unsynced_ = 0;
  bool sync_parent_ = false;
  bool created_dir_ = false;
  mmsb::epoch last_commit_{};
  std::chrono::steady_clock::time_point first_unsynced_{};
  std::vector<std::byte> pending_;       // encoded records not yet written
  std::uint64_t flushed_ = 0;            // bytes of the active segment written to the file
  std::vector<file_system::handle> older_unsynced_;  // rolled segments still to sync (durability none)
  std::vector<std::byte> compressed_;
  std::exception_ptr poison_;
};

} // namespace mmsb
