// spill_file (memory/spill_file.hpp): the record format and its checks, on POSIX files.
#include <mmsb/memory/spill_file.hpp>

#include "core/xxh3_wide.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>

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

// Writes or reads all of iov at offset (retrying short transfers and EINTR); 0 or the errno.
template <class Io>
int transfer_all(Io io, int fd, std::array<iovec, 3> iov, std::uint64_t offset)
{
  iovec* v = iov.data();
  int n = 3;
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

} // namespace

spill_file::spill_file(const std::string& dir, std::size_t payload_bytes, std::uint64_t max_bytes)
    : payload_bytes_(payload_bytes), record_bytes_((header_bytes + payload_bytes + 8 + 7) / 8 * 8), max_bytes_(max_bytes)
{
  if (payload_bytes == 0) throw error(errc::invalid_argument, "spill file in " + dir + ": records of 0 bytes");
  if (max_bytes < record_bytes_)
    throw error(errc::invalid_argument, "spill file in " + dir + ": a quota of " + std::to_string(max_bytes) +
                                          " bytes is smaller than one record (" + std::to_string(record_bytes_) + " bytes)");
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
  const bool reuse = !free_.empty();
  const std::uint32_t slot = reuse ? free_.front() : slots_;
  const std::uint64_t offset = offset_of(slot);
  const auto where = [&] {
    return "page " + std::to_string(id.value()) + " to spill file " + path_ + " at offset " + std::to_string(offset);
  };
  if (!reuse) {
    if (slots_ == std::numeric_limits<std::uint32_t>::max())
      throw error(errc::no_space, "spilling " + where() + ": the file holds its maximum number of records");
    if (offset + record_bytes_ > max_bytes_)
      throw error(errc::no_space, "spilling " + where() + ": the file's quota of " + std::to_string(max_bytes_) + " bytes is full");
    free_.reserve(std::size_t{slots_} + 1);  // release() never allocates
  }
  header h{magic, id.value(), 0, e.value()};
  std::uint64_t sum = checksum(h, bytes, payload_bytes_);
  static constexpr std::array<std::byte, 8> pad{};
  const std::size_t tail = record_bytes_ - header_bytes - payload_bytes_ - 8;
  std::array<iovec, 3> iov{iovec{&h, sizeof h}, iovec{const_cast<void*>(bytes), payload_bytes_}, iovec{&sum, 8}};
  if (const int err = transfer_all(::pwritev, fd_, iov, offset))
    throw error(err == ENOSPC || err == EDQUOT || err == EFBIG ? errc::no_space : errc::io_error,
                "spilling " + where() + ": " + errno_text(err));
  if (tail != 0) {  // the rounding: written once, so the file has no holes that read as records
    std::array<iovec, 3> pad_iov{iovec{const_cast<std::byte*>(pad.data()), tail}, iovec{nullptr, 0}, iovec{nullptr, 0}};
    if (const int err = transfer_all(::pwritev, fd_, pad_iov, offset + record_bytes_ - tail))
      throw error(err == ENOSPC || err == EDQUOT || err == EFBIG ? errc::no_space : errc::io_error,
                  "spilling " + where() + ": " + errno_text(err));
  }
  if (reuse) {
    std::pop_heap(free_.begin(), free_.end(), std::greater<>{});
    free_.pop_back();
  } else {
    ++slots_;
  }
  ++writes_;
  return slot;
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
  if (const int err = transfer_all(::preadv, fd_, iov, offset))
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
  free_.push_back(slot);  // never allocates: reserved when the slot was first used
  std::push_heap(free_.begin(), free_.end(), std::greater<>{});
}

} // namespace mmsb
