// mapped_file<Layout>: pages in a memory-mapped file that outlives the process and is published
// to other processes one whole epoch at a time. mapped_reader<Layout>: the read-only side.
//
// FILE FORMAT (version 1; every integer little-endian; offsets in bytes)
//   0      magic "MMSBMAP\0"                 8 bytes
//   8      format version                    u32 = 1
//   12     layout kind, value class          u8, u8 (class: 1 float, 2 signed, 3 unsigned, 4 bool, 0 other)
//   14     reserved                          u16 = 0
//   16     value bytes                       u32 (sizeof(Layout::value_type))
//   20     fields                            u32 (soa field count, else 1)
//   24     extent                            u64 (slots per page)
//   32     page bytes                        u64 (sizeof(page<Layout>), a multiple of 64)
//   40     capacity                          u32 (page slots, fixed at creation), then u32 = 0
//   48     file bytes                        u64 (the exact file size capacity implies)
//   56     header checksum                   u64 = XXH3_64bits(bytes [0, 56))
//   64     sequence                          u64, mutable, not covered by the checksum
//   4096   bank 0 table, then bank 1 table   each T = round4096(64 + 16 * capacity) bytes
//   4096 + 2T                                working pages, then bank 0 pages, then bank 1 pages,
//                                            each area A = round4096(capacity * page bytes)
// A bank table is a bank header of u64 words (generation, epoch, live pages, slot high-water,
// next page id, 3 x 0) followed by one 16-byte entry per slot: u64 (page id | flags << 32; flags 1
// = live, 0 = free) and u64 XXH3_64bits of the live page's bytes. Slot s of an area is the page at
// area + s * page bytes. The working area belongs to the writer; readers never look at it.
//
// READER PROTOCOL (the contract for other processes; a two-bank seqlock, "latch")
//   The writer owns generation g = sequence / 2; bank g % 2 holds the complete published state of
//   generation g and is never written while sequence <= 2g + 2. publish() of g + 1 stores
//   sequence = 2g + 1, writes bank (g + 1) % 2 with 64-bit store-release operations, then stores
//   sequence = 2g + 2 (release). A reader:
//     1. s1 = load_acquire(sequence); g = s1 / 2 (odd s1 is fine: the writer is in the other bank)
//     2. copies bank g % 2 (header, live entries, live pages) with 64-bit load-acquire operations
//     3. s2 = load_acquire(sequence)
//     4. if s2 > 2g + 2 the writer may have overwritten what was copied: discard it, go to 1.
//        Otherwise the copy is exactly generation g: check bank generation == g, then checksums.
//   Why it holds: if a load in step 2 reads a word that publish g + 2 wrote, that store-release
//   came after the store of 2g + 3, so step 3 (after the load-acquire) sees s2 >= 2g + 3. Every
//   access is a lock-free 64-bit atomic (address-free, so it works across processes; on x86 these
//   are plain moves) and the protocol is data-race-free in the C++ memory model, with no fences,
//   so ThreadSanitizer understands it. A reader
//   never waits for the writer and never writes to the file; it fails only when the writer
//   publishes twice during one copy, and mapped_reader retries that a bounded number of times,
//   then throws mmsb::error(errc::conflict). A writer that dies mid-publish leaves sequence odd;
//   readers keep reading bank g, and the next writer's open() resumes from it.
//
// DURABILITY. publish() makes changes visible, sync() (msync + fsync) makes the published state
// durable. open() always restarts from the newest published bank: unpublished changes are dropped.
//
// The templates here are thin: the work is compiled into libmmsb (src/memory/mapped_file.cpp)
// through detail::mapped::writer and reader (memory/detail/mapped_core.hpp).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/detail/mapped_core.hpp>
#include <mmsb/memory/mapped_reader.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <new>
#include <utility>
#include <vector>

namespace mmsb {

// The writer. One per file at a time (an exclusive flock); move-only.
template <layout Layout>
class mapped_file {
public:
  using layout_type = Layout;                                   // the pages' layout
  using page_type = page<Layout>;                               // the page object in each slot
  static constexpr memory_space space = memory_space::mapped;  // pages live in the mapped file
  // rw-r--r--: the owner writes, every user's processes may map it as readers.
  static constexpr std::filesystem::perms default_permissions =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read |
    std::filesystem::perms::others_read;

  // A new file with room for `capacity` pages, published at generation 0, epoch 0, empty. It is
  // built under a temporary name, fsynced and then linked (exclusive) or renamed (truncate) into
  // place, so no process ever sees a half-made file. Disk space is reserved up front.
  // `permissions` (default rw-r--r--) decide which users' processes may map it as readers.
  static mapped_file create(const std::filesystem::path& path, std::uint32_t capacity, create_mode mode = create_mode::exclusive,
                            std::filesystem::perms permissions = default_permissions)
  {
    return mapped_file(detail::mapped::writer::create(path, detail::mapped::layout_fields<Layout>(), capacity, mode, permissions,
                                                      detail::mapped::ops_for<Layout>));
  }
  // An existing file. Everything (header, layout, size, the published bank and each page's
  // checksum) is validated through a read-only mapping before it is made writable; on any
  // failure nothing has been written. Throws errc::state_error if another writer holds it.
  static mapped_file open(const std::filesystem::path& path)
  {
    return mapped_file(detail::mapped::writer::open(path, detail::mapped::layout_fields<Layout>(), detail::mapped::ops_for<Layout>));
  }

  // Takes over the file, its mapping and its lock; the moved-from object must only be destroyed.
  mapped_file(mapped_file&&) noexcept = default;
  // Closes this file (as the destructor does) and takes over the other's.
  mapped_file& operator=(mapped_file&&) noexcept = default;
  ~mapped_file() = default;  // unmaps and closes; neither publishes nor syncs

  // A new zeroed page: the next id (one past the highest ever created), or the given one.
  // Throws mmsb::error naming the path: out_of_memory when every slot is in use, out_of_range
  // when ids are exhausted; nothing changes then.
  page_id create_page() { return w_.create_page(); }
  // A new zeroed page with exactly this id (for replay). Throws invalid_argument if it exists,
  // out_of_memory if every slot is in use; nothing changes then.
  page_id create_page(page_id id) { return w_.create_page(id); }
  // Frees the page's slot (readers see it gone at the next publish). Throws unknown_page.
  void destroy_page(page_id id) { w_.destroy_page(id); }

  // Mutable access marks the page for the next publish(). A reference stays valid until the page
  // is destroyed, but writes through it after a publish() need another mutable access (page_at,
  // find or touch) before the next publish() to be published.
  [[nodiscard]] page_type& page_at(page_id id) { return *cast(w_.page_at(id)); }
  // The working page, read-only (marks nothing). Throws unknown_page naming the id and path.
  [[nodiscard]] const page_type& page_at(page_id id) const { return *cast(w_.page_at(id)); }
  // Like page_at (marks the page for the next publish), but nullptr when the id is not live.
  [[nodiscard]] page_type* find(page_id id) { return cast(w_.find(id)); }
  // The working page read-only, or nullptr when the id is not live.
  [[nodiscard]] const page_type* find(page_id id) const noexcept { return cast(w_.find(id)); }
  // Marks the page for the next publish() (after writes through an older reference).
  // Throws unknown_page.
  void touch(page_id id) { (void)page_at(id); }
  // Whether the id names a live page.
  [[nodiscard]] bool contains(page_id id) const noexcept { return w_.contains(id); }

  // Makes every change since the last publish visible to readers at once, as epoch `e`, which
  // must be greater than published(). Costs O(pages changed in the last two publishes).
  void publish(mmsb::epoch e) { w_.publish(e); }
  // msync + fsync: the published state is durable once this returns. After a failure every
  // mutating call rethrows the original error; reads keep working.
  void sync() { w_.sync(); }

  // The epoch of the newest published state (0 for a new file).
  [[nodiscard]] mmsb::epoch published() const noexcept { return w_.published(); }
  // The number of publishes the file has seen (0 for a new file): readers' snapshot generation.
  [[nodiscard]] std::uint64_t generation() const noexcept { return w_.generation(); }
  // Number of live pages in the working state.
  [[nodiscard]] std::size_t size() const noexcept { return w_.size(); }
  // Page slots, fixed at create().
  [[nodiscard]] std::uint32_t capacity() const noexcept { return w_.capacity(); }
  // The file's path, as given to create() or open().
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return w_.path(); }
  // The live page ids of the working state, ascending.
  [[nodiscard]] std::vector<page_id> ids() const { return w_.ids(); }
  // Hash of the working state (what page_at shows); equals the published state right after publish().
  [[nodiscard]] state_hash hash() const { return w_.hash(); }

private:
  explicit mapped_file(detail::mapped::writer w) noexcept : w_(std::move(w)) {}
  static page_type* cast(void* p) noexcept { return p ? std::launder(static_cast<page_type*>(p)) : nullptr; }
  static const page_type* cast(const void* p) noexcept
  {
    return p ? std::launder(static_cast<const page_type*>(p)) : nullptr;
  }

  detail::mapped::writer w_;
};

} // namespace mmsb
