// spill_file (memory/spill_file.hpp): the record format and its checks, on POSIX files.
#include <mmsb/memory/spill_file.hpp>

#include "core/xxh3_wide.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

namespace mmsb {
namespace {

constexpr std::uint64_t magic = 0x314c50534253'4d4dULL;  // "MMSBSPL1" little-endian
constexpr std::size_t header_bytes = 24;

struct header {
  std::uint64_t magic;
  std::uint32_t id;
  std::uint32_t zero;
  std::uint64_t epoch;
};
static_assert(sizeof(header) == header_bytes);

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

// xxh3-64 of the header seeded with xxh3-64 of the payload: covers both. (Not the other way
// round: a seeded hash of more than 240 bytes derives a 192-byte secret from its seed on every
// call.)
std::uint64_t checksum(const header& h, const void* payload, std::size_t n) noexcept
{
  return XXH3_64bits_withSeed(&h, sizeof h, detail::xxh3_wide(payload, n));
}

// Writes or reads all of iov[0, n) at offset (retrying short transfers and EINTR; iov is
// consumed); 0 or the errno.
template <class Io>
int transfer_all(Io io, int fd, iovec* v, int n, std::uint64_t offset)
{
  while (n > 0) {
    const ssize_t got = io(fd, v, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (got == 0) return EIO;  // a read past the end: the file was truncated
    auto left = static_cast<std::size_t>(got);
    offset += left;
    while (n > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --n;
    }
    if (n > 0) {
      v->iov_base = static_cast<std::byte*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }
  return 0;
}

errc write_error(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG ? errc::no_space : errc::io_error; }

// Per record in write_run's scratch: the header, then the checksum.
struct record_head {
  header h;
  std::uint64_t sum;
};
static_assert(sizeof(record_head) == 32 && alignof(record_head) == 8);

} // namespace

spill_file::spill_file(const std::string& dir, std::size_t payload_bytes, std::uint64_t max_bytes, double slack)
    : payload_bytes_(payload_bytes), record_bytes_((header_bytes + payload_bytes + 8 + 7) / 8 * 8), max_bytes_(max_bytes)
{
  if (payload_bytes == 0) throw error(errc::invalid_argument, "spill file in " + dir + ": records of 0 bytes");
  if (!(slack >= 1 && slack <= 16))
    throw error(errc::invalid_argument, "spill file in " + dir + ": a slack of " + std::to_string(slack) + " slots a record is outside [1, 16]");
  slack_percent_ = static_cast<std::size_t>(slack * 100 + 0.5);
  if (max_bytes < record_bytes_)
    throw error(errc::invalid_argument, "spill file in " + dir + ": a quota of " + std::to_string(max_bytes) +
                                          " bytes is smaller than one record (" + std::to_string(record_bytes_) + " bytes)");
  scratch_.resize(max_run * sizeof(record_head) / 8);  // before the file: a throw leaves none
  iov_.resize(max_run * 4);
  std::string tmpl = (dir.empty() ? std::string(".") : dir) + "/mmsb-spill-XXXXXX";
  fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd_ < 0)
    throw error(errc::io_error, "spill file: cannot create a file in directory " + dir + ": " + errno_text(errno));
  path_ = std::move(tmpl);
}

spill_file::~spill_file()
{
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::uint32_t spill_file::write(page_id id, mmsb::epoch e, const void* bytes)
{
  const page_record r{id, e, bytes};
  return write_run(span<const page_record>(&r, 1)).first;
}

spill_file::run spill_file::write_run(span<const page_record> pages)
{
  if (pages.empty()) throw error(errc::invalid_argument, "spill file " + path_ + ": a run of no records");
  // Where the run goes: from the cursor on, the next free slot and the free slots after it.
  // Past the last free slot: new slots at the end when none is free, or while the file is within
  // its slack and growing is the choice (costs_: new slots have cost no more than refilled ones);
  // else the cursor wraps to the start.
  std::size_t n = std::min(pages.size(), max_run);
  const std::size_t in_use = std::size_t{slots_} - free_count_;
  // The slots the quota and the slot count allow, and whether growing by this run (as far as
  // they allow) keeps the file within its slack.
  const std::uint64_t end_slots = std::min<std::uint64_t>(max_bytes_ / record_bytes_, std::numeric_limits<std::uint32_t>::max());
  const std::size_t room = slots_ < end_slots ? static_cast<std::size_t>(end_slots - slots_) : 0;
  const std::size_t grown = std::min(n, room);
  const bool within_slack = room != 0 && (in_use + grown) * slack_percent_ >= (std::size_t{slots_} + grown) * 100;
  growth_costs::choice grow{};  // asked once, at the first point where growing is an option
  bool asked = false;
  const auto grows = [&] {
    if (!asked) grow = within_slack ? costs_.choose() : growth_costs::choice{};
    asked = true;
    return grow.grow;
  };
  std::uint32_t first = slots_;
  if (free_count_ != 0) {
    std::size_t f = next_free(cursor_);
    if (f == slots_ && !grows()) f = next_free(0);  // wrap: there is a free slot
    if (f != slots_) {
      std::size_t len = 1;
      while (len < n && f + len < slots_ && (free_[(f + len) / 64] >> ((f + len) % 64) & 1)) ++len;
      if (f + len < slots_ || !grows()) n = len;  // a hole, or a free tail the file does not grow past
      first = static_cast<std::uint32_t>(f);
    }
  }
  // Growing to measure it (refills are cheaper) takes one new slot: the file does not creep.
  if (grow.grow && grow.explore) n = std::min<std::size_t>(n, std::size_t{slots_} - std::min<std::size_t>(first, slots_) + 1);
  const std::uint64_t offset = offset_of(first);
  const auto where = [&] {
    return "page " + std::to_string(pages[0].id.value()) + " to spill file " + path_ + " at offset " + std::to_string(offset);
  };
  if (first + n > end_slots) {  // new slots past the end: within the quota and the slot count
    if (first >= end_slots)
      throw error(errc::no_space, "spilling " + where() + (end_slots == std::numeric_limits<std::uint32_t>::max()
                                                               ? ": the file holds its maximum number of records"
                                                               : ": the file's quota of " + std::to_string(max_bytes_) + " bytes is full"));
    n = static_cast<std::size_t>(end_slots - first);
  }
  const std::size_t new_slots = first + n > slots_ ? first + n - slots_ : 0;
  if (new_slots != 0) free_.resize((std::size_t{slots_} + new_slots + 63) / 64);  // may throw: nothing taken yet

  static constexpr std::array<std::byte, 8> pad{};
  const std::size_t tail = record_bytes_ - header_bytes - payload_bytes_ - 8;  // the rounding: written, so no holes
  int v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const page_record& r = pages[k];
    // The record's header and checksum, made in the reused scratch (8-aligned, 32 bytes each).
    auto* head = ::new (static_cast<void*>(scratch_.data() + k * (sizeof(record_head) / 8)))
        record_head{header{magic, r.id.value(), 0, r.epoch.value()}, 0};
    head->sum = checksum(head->h, r.bytes, payload_bytes_);
    iov_[v++] = iovec{&head->h, sizeof(header)};
    iov_[v++] = iovec{const_cast<void*>(r.bytes), payload_bytes_};
    iov_[v++] = iovec{&head->sum, 8};
    if (tail != 0) iov_[v++] = iovec{const_cast<std::byte*>(pad.data()), tail};
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (const int err = transfer_all(::pwritev, fd_, iov_.data(), v, offset)) throw error(write_error(err), "spilling " + where() + ": " + errno_text(err));
  if (first >= slots_ || first + n <= slots_)  // all new or all refilled (a free tail grown past is neither)
    costs_.observe(first >= slots_, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n));
  for (std::size_t s = first; s < std::min<std::size_t>(first + n, slots_); ++s) free_[s / 64] &= ~(std::uint64_t{1} << (s % 64));
  free_count_ -= std::min<std::size_t>(first + n, slots_) - std::min<std::size_t>(first, slots_);
  slots_ = static_cast<std::uint32_t>(std::max<std::size_t>(slots_, first + n));
  cursor_ = first + n;
  writes_ += n;
  return run{first, static_cast<std::uint32_t>(n)};
}

void spill_file::read(std::uint32_t slot, page_id id, mmsb::epoch e, void* out) const
{
  const std::uint64_t offset = offset_of(slot);
  const auto where = [&] {
    return "spilled page " + std::to_string(id.value()) + " in " + path_ + " at offset " + std::to_string(offset);
  };
  if (slot >= slots_) throw error(errc::corrupt, where() + ": past the end of the file");
  header h{};
  std::uint64_t sum = 0;
  std::array<iovec, 3> iov{iovec{&h, sizeof h}, iovec{out, payload_bytes_}, iovec{&sum, 8}};
  if (const int err = transfer_all(::preadv, fd_, iov.data(), 3, offset))
    throw error(err == EIO ? errc::corrupt : errc::io_error, "reading " + where() + ": " + errno_text(err));
  reads_.fetch_add(1, std::memory_order_relaxed);
  if (h.magic != magic) throw error(errc::corrupt, where() + ": the record's magic is wrong");
  if (h.id != id.value() || h.zero != 0)
    throw error(errc::corrupt, where() + ": the record names page " + std::to_string(h.id));
  if (h.epoch != e.value())
    throw error(errc::corrupt, where() + ": the record is of epoch " + std::to_string(h.epoch) + ", not " +
                                 std::to_string(e.value()));
  if (sum != checksum(h, out, payload_bytes_)) throw error(errc::corrupt, where() + ": the checksum does not match");
}

void spill_file::release(std::uint32_t slot)
{
  free_[slot / 64] |= std::uint64_t{1} << (slot % 64);  // never allocates: sized when the slot was first used
  ++free_count_;
}

spill_file::growth_costs::choice spill_file::growth_costs::choose() noexcept
{
  if (!measured) return {true, false};
  const bool cheaper = !seen_refill || (seen_new && new_ns <= refill_ns);
  if (++choices % explore_every == 0) return {!cheaper, true};  // now and then the other way: both stay current
  return {cheaper, false};
}

void spill_file::growth_costs::observe(bool fresh, double ns_per_record) noexcept
{
  double& avg = fresh ? new_ns : refill_ns;
  bool& seen = fresh ? seen_new : seen_refill;
  avg = seen ? avg + (ns_per_record - avg) / 16 : ns_per_record;
  seen = true;
}

std::size_t spill_file::next_free(std::size_t from) const noexcept
{
  if (from >= slots_) return slots_;
  std::size_t w = from / 64;
  std::uint64_t bits = free_[w] & (~std::uint64_t{0} << (from % 64));
  while (bits == 0) {
    if (++w == free_.size()) return slots_;
    bits = free_[w];
  }
  return std::min<std::size_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)), slots_);
}

} // namespace mmsb
