// spill_file: where pages go when the memory budget is exceeded (memory/page_table.hpp spills
// into one; docs/memory.md has the model). It is scratch space, not a source of truth: the log
// and checkpoints stay the truth, nothing is synced, and the file is removed when the spill_file
// goes (and not needed after a crash: recovery never reads it).
//
// RECORD FORMAT (every integer little-endian; one fixed-size record per slot)
//   0    magic "MMSBSPL1"                u64
//   8    page id                         u32, then u32 = 0
//   16   epoch                           u64 (the page's epoch when it was spilled)
//   24   the page's bytes                payload_bytes
//   24+n checksum                        u64: xxh3-64 of [0, 24), seeded with xxh3-64 of the page's bytes
// Records are rounded up to 8 bytes; slot s is at s * record_bytes().
//
// SLOTS. write_run writes a burst of records into adjacent slots with one call (one pwritev),
// so a burst costs the kernel one call, and each page-cache page once, not a call and one or two
// page-cache pages per record. Runs are placed as in a log: from a cursor just past the last
// run, the next free slots (a run stops at a slot in use). Past the last free slot the file
// either grows (new slots at the end) or the cursor wraps to the start and refills freed slots.
// It grows when no slot is free; else only while it stays within `slack` slots per record in
// use (so it grows to at most `slack` times the most records it held at once) and new slots
// have cost no more per record than refilled ones. Both costs are measured (the pwritev's time
// per record, a moving average), and every 16th choice goes the other way so that both stay
// current; growing that way takes one new slot, so the file does not creep toward its slack.
// Why measured (docs/memory.md has the runs): with room to spare, the pages of earlier runs that
// came back leave whole stretches free ahead of the cursor, and runs are long: on P12 (a file
// that stays in the page cache) a tick took 0.75-0.89x the time it takes with no slack. But a
// new slot is a new page-cache page to dirty; where the disk's write-back bounds the kernel (the
// capacity run, 4 GiB spilled) a new slot cost 4.8 us against 3.2 us for a freed one, and
// growing broke the maintain phase's pause. Placement never changes a value: it decides where a
// record goes, not what it holds.
//
// Errors: a record that fails its check (magic, id, epoch or checksum) is errc::corrupt naming
// the page, the file and the offset; it is never handed back as a page. A full disk (or the
// file's byte quota) is errc::no_space, and a failed write leaves nothing recorded (the page
// stays where it was).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

struct iovec;

namespace mmsb {

// A file of checksummed page records (see the top of this header). Not copyable or movable.
// write() and release() are for one thread at a time; read() may run on any number of threads
// at once, alongside each other but not alongside write() or release() of the same slot.
class spill_file {
public:
  static constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();  // no quota

  // Creates a new, empty spill file in directory `dir` (which must exist and be writable) for
  // records of payload_bytes each, growing to at most max_bytes (a quota that behaves as a full
  // disk) and to at most `slack` slots per record held (see SLOTS at the top). Throws
  // mmsb::error (io_error, naming the path and errno) when it cannot, or (invalid_argument) for
  // a zero payload, a quota smaller than one record or a slack outside [1, 16].
  spill_file(const std::string& dir, std::size_t payload_bytes, std::uint64_t max_bytes = unlimited, double slack = 1.5);
  spill_file(const spill_file&) = delete;
  spill_file& operator=(const spill_file&) = delete;
  // Closes and removes the file.
  ~spill_file();

  static constexpr std::size_t max_run = 256;  // the most records one write_run writes

  // One record to write: the page's id, its epoch and its payload_bytes bytes.
  struct page_record {
    page_id id;              // the page
    mmsb::epoch epoch;       // its epoch
    const void* bytes;       // its payload_bytes bytes
  };
  // Where write_run put its records: slots first, first + 1, ..., first + count - 1.
  struct run {
    std::uint32_t first = 0;  // the first record's slot
    std::uint32_t count = 0;  // records written (>= 1)
  };

  // Writes one record (the page's id, epoch and payload_bytes bytes) and returns its slot. Throws
  // mmsb::error (no_space, io_error: naming the page, the path and errno) with no slot taken.
  [[nodiscard]] std::uint32_t write(page_id id, mmsb::epoch e, const void* bytes);
  // Writes the records of the first `count` pages of `pages` (1 <= count <= max_run) into adjacent
  // slots with one call: the free slots from the cursor on, or new slots at the end (see SLOTS at
  // the top). count is what that run holds. Throws as write(), naming the first page, with no
  // slot taken; an empty `pages` is invalid_argument.
  [[nodiscard]] run write_run(span<const page_record> pages);
  // Reads the record in `slot` into out (payload_bytes bytes) after checking that it is the
  // record of page `id` at epoch `e`, whole. Throws mmsb::error (corrupt: naming the page, the
  // path and the offset; io_error) and leaves out unspecified.
  void read(std::uint32_t slot, page_id id, mmsb::epoch e, void* out) const;
  // Frees a slot for reuse.
  void release(std::uint32_t slot);
  // Whether growing within the slack waits for new slots to cost no more than refilled ones
  // (true, the default; see SLOTS at the top) or happens whenever the slack allows (false:
  // placement that depends on the calls alone, not on their timing).
  void grow_by_cost(bool on) noexcept { costs_.measured = on; }

  // The file's path.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // Bytes of one record.
  [[nodiscard]] std::size_t record_bytes() const noexcept { return record_bytes_; }
  // Slots holding a page now.
  [[nodiscard]] std::size_t slots_in_use() const noexcept { return slots_ - free_count_; }
  // Slots ever used: every slot returned so far is below this.
  [[nodiscard]] std::uint32_t slot_bound() const noexcept { return slots_; }
  // The file's size in bytes.
  [[nodiscard]] std::uint64_t file_bytes() const noexcept { return std::uint64_t{slots_} * record_bytes_; }
  // Records written so far.
  [[nodiscard]] std::uint64_t writes() const noexcept { return writes_; }
  // Records read so far.
  [[nodiscard]] std::uint64_t reads() const noexcept { return reads_.load(std::memory_order_relaxed); }

  // The byte offset of slot s in the file (for tests that damage a record on purpose).
  [[nodiscard]] std::uint64_t offset_of(std::uint32_t s) const noexcept { return std::uint64_t{s} * record_bytes_; }

private:
  // What new and refilled slots cost, per record, and the choice between them (see SLOTS).
  struct growth_costs {
    static constexpr std::uint32_t explore_every = 16;
    // Whether to grow rather than wrap, and whether that is the exploring way (not the cheaper).
    struct choice {
      bool grow = false;     // grow (true) or wrap and refill (false)
      bool explore = false;  // the exploring way, not the cheaper one
    };
    bool measured = true;              // false: always grow within the slack
    bool seen_new = false, seen_refill = false;
    double new_ns = 0, refill_ns = 0;  // moving averages (1/16 per run) of ns per record
    std::uint32_t choices = 0;
    // The cheaper so far (growing until a refill is measured), and every explore_every-th time
    // the other.
    choice choose() noexcept;
    // A run of new (fresh) or refilled slots took ns_per_record a record.
    void observe(bool fresh, double ns_per_record) noexcept;
  };

  // The first free slot at or after `from`; slots_ when none.
  [[nodiscard]] std::size_t next_free(std::size_t from) const noexcept;

  std::string path_;
  int fd_ = -1;
  std::size_t payload_bytes_;
  std::size_t record_bytes_;
  std::uint64_t max_bytes_;
  std::uint32_t slots_ = 0;             // slots ever used: the file holds slots_ records
  std::vector<std::uint64_t> free_;     // bit s: slot s is free (covers slots_; release() never allocates)
  std::size_t free_count_ = 0;          // free slots below slots_
  std::size_t slack_percent_ = 150;     // the slack, in slots per 100 records in use
  growth_costs costs_;
  std::size_t cursor_ = 0;              // where the next run's search starts: past the last run
  std::vector<std::uint64_t> scratch_;  // write_run's headers and checksums, reused
  std::vector<struct ::iovec> iov_;     // write_run's vectors, reused
  std::uint64_t writes_ = 0;
  mutable std::atomic<std::uint64_t> reads_{0};
};

} // namespace mmsb
