// log_writer (include/mmsb/log/log_writer.hpp): the append side of the transaction log.
#include <mmsb/log/log_writer.hpp>

#include <mmsb/log/compression.hpp>
#include <mmsb/log/kill_point.hpp>

#include <algorithm>
#include <cstdio>
#include <new>
#include <utility>

namespace mmsb {

std::string segment_name(std::uint64_t index)
{
  char name[32];
  std::snprintf(name, sizeof name, "log-%016llx.seg", static_cast<unsigned long long>(index));
  return name;
}

bool parse_segment_name(const std::string& name, std::uint64_t& index) noexcept
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

std::string parent_of(const std::string& path)
{
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

log_writer::log_writer(file_system& fs, std::string dir, span<const std::byte> shape, log_resume resume,
                       log_options options)
  : fs_(&fs), dir_(std::move(dir)), shape_(shape.begin(), shape.end()), options_(options)
{
  shape_.resize(shape.size() + segment_trailer_bytes);
  std::byte* t = shape_.data() + shape.size();
  t[0] = std::byte{resume.valid ? std::uint8_t{1} : std::uint8_t{0}};
  detail::store_le(t + 1, resume.segment, 8);
  detail::store_le(t + 9, resume.offset, 8);
  if (!fs_->exists(dir_)) {
    fs_->make_dir(dir_);
    created_dir_ = true;  // the parent's entry for dir_ must become durable too (open_segment)
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

log_writer::~log_writer()
{
  if (!poison_ && handle_ >= 0) {
    try {
      sync();
    } catch (...) {
    }
  }
  if (handle_ >= 0) fs_->close(handle_);
}

void log_writer::append(record_type type, mmsb::epoch e, txn_id txn, span<const std::byte> payload)
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
    try {
      roll();
    } catch (const std::bad_alloc&) {  // before the old segment was closed (or the writer is poisoned)
      throw error(errc::out_of_memory, "log " + dir_ + ": out of memory starting a new segment");
    }
  // Framed straight into the write buffer: one copy of the payload, checksummed where it lands.
  span<const std::byte> body = payload;
  std::uint8_t flags = 0;
  const std::size_t before = pending_bytes_;
  std::byte* at = nullptr;
  try {  // nothing changed yet if either cannot allocate
    if (options_.compress && payload.size() >= options_.compress_min_bytes && detail::compress_payload(payload, compressed_)) {
      body = span<const std::byte>(compressed_.data(), compressed_.size());
      flags = record_flag_compressed;
    }
    at = pending_space(record_header_bytes + body.size());
  } catch (const std::bad_alloc&) {
    throw error(errc::out_of_memory, "log " + dir_ + ": out of memory buffering a record of " + std::to_string(payload.size()) + " bytes");
  }
  const std::size_t record_bytes = record_header_bytes + body.size();
  detail::encode_record_into(at, type, e, txn, body, flags, static_cast<std::uint32_t>(payload.size()));
  pending_bytes_ += record_bytes;
  const bool must_write = options_.durability == durability::per_commit || pending_bytes_ >= options_.buffer_bytes;
  if (must_write) {
    try {
      flush();
    } catch (...) {
      pending_bytes_ = before;  // this record failed; the earlier buffered ones stay buffered
      throw;
    }
    MMSB_KILL_POINT("log.append.after_write");
  }
  const std::uint64_t segment_before = segment_size_, unsynced_before = unsynced_;
  const mmsb::epoch commit_before = last_commit_;
  segment_size_ += record_bytes;
  if (type == record_type::commit) last_commit_ = e;
  ++unsynced_;
  if (unsynced_ == 1) first_unsynced_ = std::chrono::steady_clock::now();
  try {
    switch (options_.durability) {
    case durability::per_commit: sync(); break;
    case durability::group:
      if (unsynced_ >= options_.group_records ||
          std::chrono::steady_clock::now() - first_unsynced_ >= options_.group_interval)
        sync();
      break;
    case durability::none: break;
    }
  } catch (const error& err) {
    if (poison_ || err.code() != errc::out_of_memory) throw;
    // The sync ran out of memory before it synced anything (sync() below): this append fails,
    // so its record must not stay, or a retry of the same commit would follow it. It is the
    // last record: still buffered, or the tail of the file.
    segment_size_ = segment_before;
    unsynced_ = unsynced_before;
    last_commit_ = commit_before;
    if (pending_bytes_ != 0) {
      pending_bytes_ -= record_bytes;
    } else {
      try {
        fs_->truncate(handle_, flushed_ - record_bytes);
        flushed_ -= record_bytes;
      } catch (...) {
        poison_ = std::current_exception();  // a record the caller was told failed stays: refuse to go on
      }
    }
    throw;
  }
  options_.metrics.add(metric_counter::log_records);
  options_.metrics.add(metric_counter::log_bytes, record_bytes);
}

void log_writer::sync()
{
  check_usable();
  if (unsynced_ == 0) return;
  std::chrono::steady_clock::time_point sync_started{};
  try {
    if (options_.metrics.on()) sync_started = std::chrono::steady_clock::now();
    flush();
    fs_->sync(handle_);
    MMSB_KILL_POINT("log.sync.after_file");
  } catch (const std::bad_alloc&) {
    // A file_system call that cannot allocate throws before it has done anything
    // (file_system.hpp), so no fsync failed and nothing was lost: the writer stays usable and
    // what is unsynced stays unsynced, for the next sync.
    throw error(errc::out_of_memory, "log " + dir_ + ": out of memory while syncing " + segment_path());
  } catch (const error& e) {
    // flush() reports running out of memory as out_of_memory, having cut the file back (or
    // poisoned the writer itself if it could not): not an fsync failure either.
    if (e.code() != errc::out_of_memory) poison_ = std::current_exception();
    throw;
  } catch (...) {
    poison_ = std::current_exception();
    throw;
  }
  if (options_.metrics.on()) {  // a sync that succeeded: counted and timed
    options_.metrics.add(metric_counter::log_syncs);
    options_.metrics.observe(metric_histogram::log_sync, std::chrono::steady_clock::now() - sync_started);
  }
  unsynced_ = 0;
}

void log_writer::check_usable() const
{
  if (!poison_) return;
  try {
    std::rethrow_exception(poison_);
  } catch (const std::bad_alloc&) {
    throw error(errc::out_of_memory, "log " + dir_ + ": the writer stopped after running out of memory mid-write; reopen the log");
  }
}

void log_writer::rethrow_as_error(std::exception_ptr failure) const
{
  try {
    std::rethrow_exception(failure);
  } catch (const std::bad_alloc&) {
    throw error(errc::out_of_memory, "log " + dir_ + ": out of memory writing " + segment_path());
  }
}

void log_writer::open_segment()
{
  const std::string path = dir_ + "/" + segment_name(next_segment_);
  if (shape_.size() > options_.max_record_bytes)
    throw error(errc::size_mismatch, "log record of " + std::to_string(shape_.size()) + " bytes exceeds the limit of " +
                                       std::to_string(options_.max_record_bytes) + " bytes");
  pending_bytes_ = 0;
  detail::encode_record_into(pending_space(record_header_bytes + shape_.size()), record_type::segment, mmsb::epoch{},
                             txn_id{}, shape_);
  pending_bytes_ = record_header_bytes + shape_.size();
  handle_ = fs_->open_retrying(path, open_mode::create_new);
  MMSB_KILL_POINT("segment.created");
  ++next_segment_;
  segment_size_ = 0;
  flushed_ = 0;
  writeback_from_ = 0;
  try {
    segment_size_ = pending_bytes_;
    flush();
  } catch (...) {
    pending_bytes_ = 0;
    // Leave no headless segment behind (best effort; recovery also tolerates one).
    fs_->close(handle_);
    handle_ = -1;
    try {
      fs_->remove(path);
    } catch (...) {
    }
    throw;
  }
  MMSB_KILL_POINT("segment.head_written");
  // The head and the segment's name are durable before any record goes in, in every durability
  // mode (two syncs per segment): a crash never tears a segment's first record, and never keeps a
  // newer segment's name while losing an older one's. So an unreadable first record is damage or
  // foreign files (refused), and a log never starts past its checkpoints. A failure leaves the
  // file (a valid head with no records reads as an empty segment) and throws; the caller poisons
  // or gives up the writer.
  fs_->sync(handle_);
  MMSB_KILL_POINT("segment.head_synced");
  fs_->sync_dir(dir_);
  MMSB_KILL_POINT("segment.dir_synced");
  if (created_dir_) {
    fs_->sync_dir(parent_of(dir_));
    MMSB_KILL_POINT("log.dir_created.parent_synced");
    created_dir_ = false;
  }
  header_bytes_ = segment_size_;
  // Only the first segment of a session carries the resume point; later ones continue it.
  shape_[shape_.size() - segment_trailer_bytes] = std::byte{0};
}

void log_writer::roll()
{
  // Every durability mode syncs the old segment before the new one starts (under none too: one
  // sync per segment, beside open_segment's two). Otherwise a power loss could keep the newer
  // segment's records and lose the older one's unsynced tail: a hole no recovery mode can open
  // past (the log would resume beyond the state).
  sync();
  fs_->close(handle_);
  MMSB_KILL_POINT("segment.roll.old_done");
  handle_ = -1;
  try {
    open_segment();
  } catch (...) {
    poison_ = std::current_exception();  // no segment to append to: reopen the log to resume
    throw;
  }
}

void log_writer::flush()
{
  if (pending_bytes_ == 0) return;
  check_usable();
  try {
    fs_->write_all(handle_, span<const std::byte>(pending_.data(), pending_bytes_));
  } catch (...) {
    const auto original = std::current_exception();
    try {
      fs_->truncate(handle_, flushed_);
    } catch (...) {
      poison_ = original;
    }
    rethrow_as_error(original);
  }
  flushed_ += pending_bytes_;
  pending_bytes_ = 0;
  // Under none and group the written bytes wait for a later sync (or the segment's roll): start
  // the device on them now, a writeback_bytes stretch at a time.
  if (options_.durability != durability::per_commit && options_.writeback_bytes != 0 && flushed_ > writeback_from_ &&
      flushed_ - writeback_from_ >= options_.writeback_bytes) {
    fs_->start_writeback(handle_, writeback_from_, flushed_ - writeback_from_);
    writeback_from_ = flushed_;
  }
}

std::byte* log_writer::pending_space(std::size_t n)
{
  if (pending_.size() - pending_bytes_ < n)  // once per session, or for a record past the buffer
    pending_.resize(std::max({pending_bytes_ + n, 2 * pending_.size(), options_.buffer_bytes + std::size_t{4096}}));
  return pending_.data() + pending_bytes_;
}
} // namespace mmsb
