// Checkpoints: a snapshot of every page at one epoch, in one file made of log records (so every
// page carries its own checksum), named `<dir>/ckpt-<epoch hex>.ckpt`:
//
//   segment record      the bus shape (a checkpoint of another bus is refused)
//   page record × N     epoch = the page's epoch; payload = u32 page id + the page's payload bytes
//   structure record    optional: bytes the log does not interpret (the bus's topology at e)
//   checkpoint record   epoch = the checkpoint's epoch; payload = u64 page count + u64 state hash
//
// Publishing is atomic: write `<name>.tmp`, fsync it, rename it into place, fsync the directory.
// checkpoint_file streams the file (~1 MiB at a time), so writing one needs no copy of the whole.
// Only then does the checkpoint count, and only then may the log before it be truncated. The
// newest `keep` checkpoints stay (default 2: the previous one is the fallback).
//
// Loading takes the newest checkpoint that validates completely (every record, the count and
// the state hash) and falls back to an older one otherwise; stray temp files are ignored. Loading
// never writes: damaged files are reported, not repaired.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/log/file_system.hpp>
#include <mmsb/log/kill_point.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/record.hpp>
#include <mmsb/page/page.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

// The file name of the checkpoint at epoch e: "ckpt-" + 16 lowercase hex digits + ".ckpt".
[[nodiscard]] inline std::string checkpoint_name(mmsb::epoch e)
{
  char name[40];
  std::snprintf(name, sizeof name, "ckpt-%016llx.ckpt", static_cast<unsigned long long>(e.value()));
  return name;
}

// Parses a checkpoint file name into e; false (e untouched) for any other name.
[[nodiscard]] inline bool parse_checkpoint_name(const std::string& name, mmsb::epoch& e) noexcept
{
  if (name.size() != 26 || name.compare(0, 5, "ckpt-") != 0 || name.compare(21, 5, ".ckpt") != 0) return false;
  std::uint64_t v = 0;
  for (std::size_t i = 5; i < 21; ++i) {
    const char c = name[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v * 16 + static_cast<std::uint64_t>(d);
  }
  e = mmsb::epoch{v};
  return true;
}

// Streams one checkpoint into `<dir>/<name>.tmp` and publishes it, in steps a background
// writer can take apart (durable_store writes the file off the tick and publishes under a lock
// that audits also take):
//   add(page)     pages in ascending id order; buffered, written out every ~1 MiB (and the
//                 device started on each MiB: file_system::start_writeback)
//   finish()      the optional structure record and the end record; fsync; close. The temp file
//                 is complete and durable, but does not count yet.
//   publish(keep) rename into place, fsync the directory (the checkpoint counts from here), then
//                 remove all but the newest `keep` checkpoints.
// Any step throws mmsb::error on failure; destroying an unpublished writer closes and removes
// the temp file (best effort), so the previous checkpoints are untouched.
class checkpoint_file {
public:
  checkpoint_file(file_system& fs, std::string dir, span<const std::byte> shape, mmsb::epoch e)
    : fs_(&fs), dir_(std::move(dir)), final_path_(dir_ + "/" + checkpoint_name(e)), tmp_(final_path_ + ".tmp"), epoch_(e)
  {
    if (!fs_->exists(dir_)) {
      // The directory's own entry must survive a power loss too, or a crash after the log was
      // truncated would lose the checkpoint with its directory.
      fs_->make_dir(dir_);
      const auto slash = dir_.find_last_of('/');
      fs_->sync_dir(slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : dir_.substr(0, slash));
      MMSB_KILL_POINT("checkpoint.dir_created");
    }
    buf_.reserve(flush_bytes + (std::size_t{1} << 16));
    encode_record(buf_, record_type::segment, mmsb::epoch{}, txn_id{}, shape);
    handle_ = fs_->open_retrying(tmp_, open_mode::truncate);
    MMSB_KILL_POINT("checkpoint.tmp_created");
  }
  checkpoint_file(const checkpoint_file&) = delete;
  checkpoint_file& operator=(const checkpoint_file&) = delete;
  ~checkpoint_file()
  {
    if (handle_ >= 0) fs_->close(handle_);
    if (!published_) {
      try { fs_->remove(tmp_); } catch (...) {}
    }
  }

  // Adds p's record (its epoch, id and payload bytes) to the file and to the state hash; pages must
  // come in ascending id order. Throws mmsb::error when a flush fails.
  template <class Layout>
  void add(const page<Layout>& p)
  {
    const auto bytes = p.payload_bytes();
    payload_.resize(4 + bytes.size());
    detail::store_le(payload_.data(), p.id().value(), 4);
    std::memcpy(payload_.data() + 4, bytes.data(), bytes.size());
    encode_record(buf_, record_type::page, p.epoch(), txn_id{}, payload_);
    hash_into(hasher_, p);
    ++count_;
    if (buf_.size() < flush_bytes) return;
    flush();
    MMSB_KILL_POINT("checkpoint.add.flushed");
  }

  // Writes the structure record (if not empty) and the end record (page count, state hash), syncs
  // and closes the temp file. Throws mmsb::error on failure; the checkpoint does not count yet.
  void finish(span<const std::byte> structure = {})
  {
    if (!structure.empty()) encode_record(buf_, record_type::structure, epoch_, txn_id{}, structure);
    std::byte tail[16];
    detail::store_le(tail, count_, 8);
    detail::store_le(tail + 8, hasher_.digest().value, 8);
    encode_record(buf_, record_type::checkpoint, epoch_, txn_id{}, span<const std::byte>(tail, 16));
    flush(false);  // the sync right after writes it
    MMSB_KILL_POINT("checkpoint.finish.written");
    fs_->sync(handle_);
    MMSB_KILL_POINT("checkpoint.finish.synced");
    const auto h = handle_;
    handle_ = -1;
    fs_->close(h);
  }

  void publish(std::size_t keep = 2)
  {
    fs_->rename(tmp_, final_path_);
    published_ = true;  // the temp name is gone either way once rename returned
    MMSB_KILL_POINT("checkpoint.publish.renamed");
    fs_->sync_dir(dir_);  // durable from here on
    MMSB_KILL_POINT("checkpoint.publish.dir_synced");
    std::vector<mmsb::epoch> all;
    for (const auto& name : fs_->list(dir_)) {
      mmsb::epoch ce;
      if (parse_checkpoint_name(name, ce)) all.push_back(ce);
    }
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i + keep < all.size(); ++i) {
      fs_->remove(dir_ + "/" + checkpoint_name(all[i]));
      MMSB_KILL_POINT("checkpoint.publish.old_removed");
    }
    if (all.size() > keep) fs_->sync_dir(dir_);
    if (all.size() > keep) MMSB_KILL_POINT("checkpoint.publish.pruned");
  }

  // Where the checkpoint is published: `<dir>/ckpt-<epoch hex>.ckpt`.
  [[nodiscard]] const std::string& path() const noexcept { return final_path_; }
  // The pages added so far.
  [[nodiscard]] std::uint64_t pages() const noexcept { return count_; }

private:
  static constexpr std::size_t flush_bytes = std::size_t{1} << 20;
  // Writes the buffer out; with `hint`, asks the device to start on it, so finish()'s sync finds
  // most of the file there already.
  void flush(bool hint = true)
  {
    fs_->write_all(handle_, buf_);
    if (hint) fs_->start_writeback(handle_, written_, buf_.size());
    written_ += buf_.size();
    buf_.clear();
  }

  file_system* fs_;
  std::string dir_, final_path_, tmp_;
  mmsb::epoch epoch_;
  file_system::handle handle_ = -1;
  bool published_ = false;
  std::vector<std::byte> buf_, payload_;
  state_hasher hasher_;
  std::uint64_t count_ = 0;
  std::uint64_t written_ = 0;  // bytes of the temp file written so far
};

// Writes and publishes a checkpoint of `pages` (a range of page<Layout>, in ascending id order)
// at epoch e, with `structure` (if not empty) as its structure record. Throws mmsb::error on any
// failure; then the previous checkpoints are untouched and the temp file is removed (best
// effort). Afterwards all but the newest `keep` are removed.
template <class Layout, class Pages>
void write_checkpoint(file_system& fs, const std::string& dir, span<const std::byte> shape, mmsb::epoch e,
                      const Pages& pages, std::size_t keep = 2, span<const std::byte> structure = {})
{
  checkpoint_file file(fs, dir, shape, e);
  for (const page<Layout>& p : pages) file.add(p);
  file.finish(structure);
  file.publish(keep);
}

// A checkpoint that validated: which file, its epoch, page count and state hash.
struct checkpoint_info {
  std::string path;  // the checkpoint file
  mmsb::epoch epoch{};  // the epoch it snapshots
  std::uint64_t pages = 0;  // the number of pages it holds
  state_hash hash{};  // the state hash of those pages (ids and payloads)
};

// What load_checkpoint found: the checkpoint it loaded (if any), the newer ones it rejected, and
// the loaded one's structure record.
struct checkpoint_load {
  std::optional<checkpoint_info> loaded;  // none: no valid checkpoint (start from empty state)
  std::vector<std::string> rejected;      // newer checkpoints that failed validation, and why
  std::vector<std::byte> structure;       // the loaded checkpoint's structure record (empty: none)
};

// Finds the newest checkpoint in dir (at or before at_most) that validates completely and calls
// on_page(page_id, epoch, payload bytes) for each of its pages, in file order. A damaged
// checkpoint is validated before any page is handed over, so a fallback never mixes two files.
// Only checkpoints at or before `at_most` are considered (for replay to a past epoch).
template <class OnPage>
checkpoint_load load_checkpoint(file_system& fs, const std::string& dir, span<const std::byte> shape,
                                std::size_t page_payload_bytes, OnPage&& on_page,
                                mmsb::epoch at_most = mmsb::epoch{~std::uint64_t{0}})
{
  checkpoint_load out;
  if (!fs.exists(dir)) return out;
  std::vector<mmsb::epoch> all;
  for (const auto& name : fs.list(dir)) {
    mmsb::epoch e;
    if (parse_checkpoint_name(name, e) && !(at_most < e)) all.push_back(e);
  }
  std::sort(all.rbegin(), all.rend());
  for (const auto e : all) {
    const std::string path = dir + "/" + checkpoint_name(e);
    const auto bytes = detail::read_file(fs, path);
    std::string why;
    std::vector<std::size_t> page_offsets;
    std::size_t structure_offset = 0;  // 0: none
    checkpoint_info info{path, e, 0, {}};
    std::size_t off = 0;
    state_hasher hasher;
    bool ended = false;
    while (why.empty() && off < bytes.size() && !ended) {
      record_header h;
      span<const std::byte> payload;
      const auto fault = check_record(span<const std::byte>(bytes.data() + off, bytes.size() - off), h, payload);
      if (fault != record_fault::none) {
        why = std::string(to_string(fault)) + " at offset " + std::to_string(off);
        break;
      }
      if (off == 0) {
        if (h.type != record_type::segment) why = "no header record";
        else if (!std::equal(payload.begin(), payload.end(), shape.begin(), shape.end()))
          throw error(errc::bad_format, detail::shape_mismatch("checkpoint " + path, payload, shape));
      } else if (h.type == record_type::page) {
        if (payload.size() != 4 + page_payload_bytes)
          why = "page record of " + std::to_string(payload.size()) + " bytes at offset " + std::to_string(off) +
                ", expected " + std::to_string(4 + page_payload_bytes);
        else {
          const page_id id{static_cast<std::uint32_t>(detail::load_le(payload.data(), 4))};
          try {
            hasher.add(id, payload.subspan(4));  // also refuses ids out of ascending order
          } catch (const error& err) {
            why = err.what();
          }
          page_offsets.push_back(off);
          ++info.pages;
        }
      } else if (h.type == record_type::structure && structure_offset == 0) {
        structure_offset = off;
      } else if (h.type == record_type::checkpoint && payload.size() == 16) {
        if (h.epoch != e) why = "end record for epoch " + std::to_string(h.epoch.value()) + " in the file for epoch " + std::to_string(e.value());
        else if (detail::load_le(payload.data(), 8) != info.pages) why = "page count mismatch";
        else if (detail::load_le(payload.data() + 8, 8) != hasher.digest().value) why = "state hash mismatch";
        info.hash = hasher.digest();
        ended = true;
      } else {
        why = "unexpected record at offset " + std::to_string(off);
      }
      off += record_header_bytes + h.payload_bytes;
    }
    if (why.empty() && !ended) why = "no end record (truncated)";
    if (why.empty() && off != bytes.size()) why = "bytes after the end record";
    if (!why.empty()) {
      out.rejected.push_back(path + ": " + why);
      continue;
    }
    for (const auto po : page_offsets) {
      record_header h;
      span<const std::byte> payload;
      (void)check_record(span<const std::byte>(bytes.data() + po, bytes.size() - po), h, payload);
      on_page(page_id{static_cast<std::uint32_t>(detail::load_le(payload.data(), 4))}, h.epoch, payload.subspan(4));
    }
    if (structure_offset != 0) {
      record_header h;
      span<const std::byte> payload;
      (void)check_record(span<const std::byte>(bytes.data() + structure_offset, bytes.size() - structure_offset), h, payload);
      out.structure.assign(payload.begin(), payload.end());
    }
    out.loaded = info;
    return out;
  }
  return out;
}

} // namespace mmsb
