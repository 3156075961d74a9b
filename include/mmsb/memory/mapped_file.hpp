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
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mmsb {

// create(): refuse an existing path (the default), or atomically replace it.
enum class create_mode : std::uint8_t { exclusive = 0, truncate = 1 };

namespace detail::mapped {

static_assert(std::endian::native == std::endian::little,
              "mmsb: the mapped_file format is little-endian; big-endian hosts are not supported");
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "mmsb: mapped_file needs lock-free 64-bit atomics (they must work across processes)");

inline constexpr char magic[8] = {'M', 'M', 'S', 'B', 'M', 'A', 'P', '\0'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::uint64_t block = 4096;
inline constexpr std::size_t checksum_offset = 56;  // the checksum covers [0, 56)
inline constexpr std::size_t sequence_offset = 64;
inline constexpr std::uint64_t bank_header_bytes = 64;
inline constexpr std::uint64_t entry_bytes = 16;
inline constexpr std::uint64_t flag_live = 1;

inline void put_le(unsigned char* p, std::uint64_t v, int bytes) noexcept
{
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline std::uint64_t get_le(const unsigned char* p, int bytes) noexcept
{
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

// 64-bit load-acquire / store-release on the shared mapping. Loads also go through a non-const
// reference because atomic_ref<const T> is C++26; a load never writes, so read-only mappings work.
inline std::uint64_t load(const std::byte* p) noexcept
{
  return std::atomic_ref<std::uint64_t>(*const_cast<std::uint64_t*>(reinterpret_cast<const std::uint64_t*>(p)))
    .load(std::memory_order_acquire);
}
inline void store(std::byte* p, std::uint64_t v) noexcept
{
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p)).store(v, std::memory_order_release);
}
inline void copy_out(std::byte* dst, const std::byte* shared, std::uint64_t bytes) noexcept
{
  for (std::uint64_t i = 0; i < bytes; i += 8) {
    const std::uint64_t w = load(shared + i);
    std::memcpy(dst + i, &w, 8);
  }
}
inline void copy_in(std::byte* shared, const std::byte* src, std::uint64_t bytes) noexcept
{
  for (std::uint64_t i = 0; i < bytes; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, src + i, 8);
    store(shared + i, w);
  }
}

struct header_fields {
  std::uint32_t version = format_version;
  std::uint8_t kind = 0, value_class = 0;
  std::uint32_t value_bytes = 0, fields = 1;
  std::uint64_t extent = 0, page_bytes = 0;
  std::uint32_t capacity = 0;
  std::uint64_t file_bytes = 0;
};

template <class T>
constexpr std::uint8_t value_class() noexcept
{
  if constexpr (std::is_same_v<T, bool>) return 4;
  else if constexpr (std::is_floating_point_v<T>) return 1;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) return 2;
  else if constexpr (std::is_integral_v<T>) return 3;
  else return 0;
}

template <layout Layout>
constexpr header_fields layout_fields() noexcept
{
  header_fields h;
  h.kind = static_cast<std::uint8_t>(Layout::kind);
  h.value_class = value_class<typename Layout::value_type>();
  h.value_bytes = static_cast<std::uint32_t>(sizeof(typename Layout::value_type));
  if constexpr (requires { Layout::fields; }) h.fields = static_cast<std::uint32_t>(Layout::fields);
  h.extent = Layout::extent;
  h.page_bytes = sizeof(page<Layout>);
  return h;
}

// Where everything lives, derived from the page size and the capacity.
struct geometry {
  std::uint32_t capacity = 0;
  std::uint64_t page_bytes = 0, table_bytes = 0, area_bytes = 0, file_bytes = 0;
  [[nodiscard]] std::uint64_t table(unsigned bank) const noexcept { return block + bank * table_bytes; }
  [[nodiscard]] std::uint64_t entry(unsigned bank, std::uint32_t slot) const noexcept
  {
    return table(bank) + bank_header_bytes + entry_bytes * slot;
  }
  // area 0 = working pages, 1 + b = bank b's pages
  [[nodiscard]] std::uint64_t page(unsigned area, std::uint32_t slot) const noexcept
  {
    return block + 2 * table_bytes + area * area_bytes + page_bytes * slot;
  }
};

// False when the sizes overflow (a corrupt header or an absurd capacity).
inline bool make_geometry(std::uint64_t page_bytes, std::uint32_t capacity, geometry& g) noexcept
{
  constexpr auto max = std::uint64_t{std::numeric_limits<std::int64_t>::max()} / 8;
  const auto round = [](std::uint64_t v) { return (v + block - 1) / block * block; };
  if (page_bytes == 0 || page_bytes % 64 != 0 || capacity == 0 || page_bytes > max / capacity) return false;
  g.capacity = capacity;
  g.page_bytes = page_bytes;
  g.table_bytes = round(bank_header_bytes + entry_bytes * capacity);
  g.area_bytes = round(page_bytes * capacity);
  g.file_bytes = block + 2 * g.table_bytes + 3 * g.area_bytes;
  return g.file_bytes <= max;
}

inline void encode_header(const header_fields& h, unsigned char* out /* block bytes */) noexcept
{
  std::memset(out, 0, block);
  std::memcpy(out, magic, 8);
  put_le(out + 8, h.version, 4);
  out[12] = h.kind;
  out[13] = h.value_class;
  put_le(out + 16, h.value_bytes, 4);
  put_le(out + 20, h.fields, 4);
  put_le(out + 24, h.extent, 8);
  put_le(out + 32, h.page_bytes, 8);
  put_le(out + 40, h.capacity, 4);
  put_le(out + 48, h.file_bytes, 8);
  put_le(out + checksum_offset, XXH3_64bits(out, checksum_offset), 8);
}

inline std::string who(const std::filesystem::path& path) { return "mapped file '" + path.string() + "'"; }

[[noreturn]] inline void fail(errc code, const std::filesystem::path& path, const std::string& what)
{
  throw error(code, who(path) + ": " + what);
}
inline error errno_error(const std::filesystem::path& path, const std::string& call, int err)
{
  return error(err == ENOSPC || err == EDQUOT ? errc::no_space : errc::io_error,
               who(path) + ": " + call + " failed: " + std::generic_category().message(err) + " (errno " + std::to_string(err) + ")");
}
[[noreturn]] inline void fail_errno(const std::filesystem::path& path, const std::string& call, int err)
{
  throw errno_error(path, call, err);
}

class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept { std::swap(fd_, o.fd_); return *this; }
  ~unique_fd() { if (fd_ >= 0) ::close(fd_); }
  [[nodiscard]] int get() const noexcept { return fd_; }
private:
  int fd_ = -1;
};

class unique_map {
public:
  unique_map() = default;
  unique_map(void* p, std::size_t n) noexcept : p_(p), n_(n) {}
  unique_map(unique_map&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  unique_map& operator=(unique_map&& o) noexcept { std::swap(p_, o.p_); std::swap(n_, o.n_); return *this; }
  ~unique_map() { if (p_) ::munmap(p_, n_); }
  [[nodiscard]] std::byte* get() const noexcept { return static_cast<std::byte*>(p_); }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
private:
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

// Opens a regular file, reads and validates its header against Layout without writing anything.
template <layout Layout>
geometry open_and_validate(const std::filesystem::path& path, int flags, unique_fd& fd_out)
{
  unique_fd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) fail_errno(path, "open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail_errno(path, "fstat", errno);
  if (!S_ISREG(st.st_mode)) fail(errc::io_error, path, "not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);

  unsigned char buf[block] = {};
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size, block));
  for (std::size_t got = 0; got < want;) {
    const auto n = ::pread(fd.get(), buf + got, want - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path, "pread", errno);
    if (n == 0) fail(errc::corrupt, path, "truncated while reading the header");
    got += static_cast<std::size_t>(n);
  }
  const auto truncated = [&](const char* needs) {
    fail(errc::corrupt, path, "truncated: " + std::to_string(size) + " bytes, too short for " + needs);
  };
  if (size < 8) truncated("the 8-byte magic");
  if (std::memcmp(buf, magic, 8) != 0) fail(errc::bad_format, path, "bad magic: not an MMSB mapped file");
  if (size < 12) truncated("the format version");
  const auto version = static_cast<std::uint32_t>(get_le(buf + 8, 4));
  if (version == 0 || version > format_version)
    fail(errc::bad_format, path, "format version " + std::to_string(version) + " is not supported (this build reads version " +
                                   std::to_string(format_version) + ")");
  if (size < block) truncated("the 4096-byte header");
  const auto stored = get_le(buf + checksum_offset, 8), computed = XXH3_64bits(buf, checksum_offset);
  if (stored != computed)
    fail(errc::corrupt, path, "header checksum mismatch (stored " + std::to_string(stored) + ", computed " +
                                std::to_string(computed) + ")");

  const header_fields want_h = layout_fields<Layout>();
  const auto check = [&](const char* field, std::uint64_t in_file, std::uint64_t expected) {
    if (in_file != expected)
      fail(errc::bad_format, path, "layout mismatch: field '" + std::string(field) + "' is " + std::to_string(in_file) +
                                     " in the file, but this mapped_file<Layout> expects " + std::to_string(expected));
  };
  check("layout kind", buf[12], want_h.kind);
  check("value class", buf[13], want_h.value_class);
  check("value bytes", get_le(buf + 16, 4), want_h.value_bytes);
  check("fields", get_le(buf + 20, 4), want_h.fields);
  check("extent", get_le(buf + 24, 8), want_h.extent);
  check("page bytes", get_le(buf + 32, 8), want_h.page_bytes);

  const auto capacity = static_cast<std::uint32_t>(get_le(buf + 40, 4));
  geometry g;
  if (!make_geometry(want_h.page_bytes, capacity, g))
    fail(errc::corrupt, path, "field 'capacity' (" + std::to_string(capacity) + ") is invalid");
  if (get_le(buf + 48, 8) != g.file_bytes)
    fail(errc::corrupt, path, "field 'file bytes' is " + std::to_string(get_le(buf + 48, 8)) + ", but capacity " +
                                std::to_string(capacity) + " implies " + std::to_string(g.file_bytes));
  if (size != g.file_bytes)
    fail(errc::corrupt, path, (size < g.file_bytes ? "truncated: " : "size mismatch: ") + std::to_string(size) +
                                " bytes, but capacity " + std::to_string(capacity) + " needs exactly " +
                                std::to_string(g.file_bytes));
  fd_out = std::move(fd);
  return g;
}

inline unique_map map_file(const std::filesystem::path& path, int fd, std::uint64_t bytes, int prot)
{
  void* p = ::mmap(nullptr, static_cast<std::size_t>(bytes), prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) fail_errno(path, "mmap", errno);
  return {p, static_cast<std::size_t>(bytes)};
}

struct bank_state {
  std::uint64_t generation = 0, epoch = 0, live = 0, slot_high = 0, next_id = 0;
};
struct live_entry {
  std::uint32_t id, slot;
  std::uint64_t checksum;
};

// Reads bank b's header and its live entries, sorted by id. Returns nullptr when the bank is
// structurally sound, else what is wrong with it. Under the seqlock the caller decides whether
// a complaint is real (stable sequence) or a race (sequence moved).
inline const char* read_bank(const std::byte* base, const geometry& g, std::uint32_t capacity, unsigned b, bank_state& s,
                             std::vector<live_entry>& out)
{
  const std::byte* h = base + g.table(b);
  s = {load(h), load(h + 8), load(h + 16), load(h + 24), load(h + 32)};
  out.clear();
  if (s.slot_high > capacity) return "slot high-water exceeds the capacity";
  if (s.live > s.slot_high) return "live page count exceeds the slot high-water";
  if (s.next_id > (std::uint64_t{1} << 32)) return "next page id is out of range";
  out.reserve(static_cast<std::size_t>(s.live));  // bounded by the capacity
  for (std::uint32_t slot = 0; slot < s.slot_high; ++slot) {
    const std::byte* e = base + g.entry(b, slot);
    const std::uint64_t w = load(e);
    const std::uint64_t flags = w >> 32;
    if (flags > flag_live) return "a page table entry has unknown flags";
    if (flags == 0) continue;
    if (out.size() == s.live) return "more live entries than the live page count";
    out.push_back({static_cast<std::uint32_t>(w), slot, load(e + 8)});
  }
  if (out.size() != s.live) return "fewer live entries than the live page count";
  std::sort(out.begin(), out.end(), [](const live_entry& x, const live_entry& y) { return x.id < y.id; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i - 1].id == out[i].id) return "a page id appears twice in the page table";
  if (!out.empty() && out.back().id >= s.next_id) return "a page id is not below the next page id";
  return nullptr;
}

} // namespace detail::mapped

// The writer. One per file at a time (an exclusive flock); move-only.
template <layout Layout>
class mapped_file {
public:
  using layout_type = Layout;
  using page_type = page<Layout>;
  static constexpr memory_space space = memory_space::mapped;
  static constexpr std::filesystem::perms default_permissions =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read |
    std::filesystem::perms::others_read;

  // A new file with room for `capacity` pages, published at generation 0, epoch 0, empty. It is
  // built under a temporary name, fsynced and then linked (exclusive) or renamed (truncate) into
  // place, so no process ever sees a half-made file. Disk space is reserved up front.
  // `permissions` (default rw-r--r--) decide which users' processes may map it as readers.
  static mapped_file create(const std::filesystem::path& path, std::uint32_t capacity, create_mode mode = create_mode::exclusive,
                            std::filesystem::perms permissions = default_permissions);
  // An existing file. Everything (header, layout, size, the published bank and each page's
  // checksum) is validated through a read-only mapping before it is made writable; on any
  // failure nothing has been written. Throws errc::state_error if another writer holds it.
  static mapped_file open(const std::filesystem::path& path);

  mapped_file(mapped_file&&) noexcept = default;
  mapped_file& operator=(mapped_file&&) noexcept = default;
  ~mapped_file() = default;  // unmaps and closes; neither publishes nor syncs

  // A new zeroed page: the next id (one past the highest ever created), or the given one.
  page_id create_page();
  page_id create_page(page_id id);
  void destroy_page(page_id id);

  // Mutable access marks the page for the next publish(). A reference stays valid until the page
  // is destroyed, but writes through it after a publish() need another mutable access (page_at,
  // find or touch) before the next publish() to be published.
  [[nodiscard]] page_type& page_at(page_id id);
  [[nodiscard]] const page_type& page_at(page_id id) const;
  [[nodiscard]] page_type* find(page_id id);
  [[nodiscard]] const page_type* find(page_id id) const noexcept;
  void touch(page_id id) { (void)page_at(id); }
  [[nodiscard]] bool contains(page_id id) const noexcept { return index_.count(id.value()) != 0; }

  // Makes every change since the last publish visible to readers at once, as epoch `e`, which
  // must be greater than published(). Costs O(pages changed in the last two publishes).
  void publish(mmsb::epoch e);
  // msync + fsync: the published state is durable once this returns. After a failure every
  // mutating call rethrows the original error; reads keep working.
  void sync();

  [[nodiscard]] mmsb::epoch published() const noexcept { return epoch_; }
  [[nodiscard]] std::uint64_t generation() const noexcept { return gen_; }
  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::vector<page_id> ids() const;
  // Hash of the working state (what page_at shows); equals the published state right after publish().
  [[nodiscard]] state_hash hash() const;

private:
  struct entry {
    std::uint32_t id = 0;
    bool live = false;
    std::uint64_t checksum = 0;
  };

  mapped_file(std::filesystem::path path, detail::mapped::unique_fd fd, detail::mapped::unique_map map,
              detail::mapped::geometry geo, std::uint32_t capacity)
    : path_(std::move(path)), fd_(std::move(fd)), map_(std::move(map)), geo_(geo), capacity_(capacity),
      entries_(capacity), dirty_mark_(capacity, 0)
  {
    dirty_.reserve(capacity);  // reserved so that marking a page dirty never allocates or throws
    prev_dirty_.reserve(capacity);
    free_.reserve(capacity);
  }

  std::byte* at(std::uint64_t offset) const noexcept { return map_.get() + offset; }
  page_type* working(std::uint32_t slot) const noexcept
  {
    return std::launder(reinterpret_cast<page_type*>(at(geo_.page(0, slot))));
  }
  std::uint32_t slot_of(page_id id) const
  {
    const auto it = index_.find(id.value());
    if (it == index_.end())
      detail::mapped::fail(errc::unknown_page, path_, "page " + std::to_string(id.value()) + " does not exist");
    return it->second;
  }
  void check_writable() const
  {
    if (failed_) throw *failed_;
  }
  void mark_dirty(std::uint32_t slot) noexcept
  {
    if (!dirty_mark_[slot]) {
      dirty_mark_[slot] = 1;
      dirty_.push_back(slot);
    }
  }
  void copy_slot(unsigned bank, std::uint32_t slot) noexcept
  {
    const entry& e = entries_[slot];
    std::byte* ent = at(geo_.entry(bank, slot));
    detail::mapped::store(ent, e.live ? (e.id | (detail::mapped::flag_live << 32)) : 0);
    detail::mapped::store(ent + 8, e.live ? e.checksum : 0);
    if (e.live)
      detail::mapped::copy_in(at(geo_.page(1 + bank, slot)), reinterpret_cast<const std::byte*>(working(slot)), geo_.page_bytes);
  }
  void load_from_bank();

  std::filesystem::path path_;
  detail::mapped::unique_fd fd_;
  detail::mapped::unique_map map_;
  detail::mapped::geometry geo_;
  std::uint32_t capacity_ = 0;
  std::uint64_t gen_ = 0;
  mmsb::epoch epoch_{};
  std::uint64_t slot_high_ = 0, next_id_ = 0;
  std::vector<entry> entries_;                          // per slot, the writer's table
  std::unordered_map<std::uint32_t, std::uint32_t> index_;  // page id -> slot
  std::vector<std::uint32_t> free_;                     // min-heap of free slots below slot_high_
  std::vector<std::uint8_t> dirty_mark_;
  std::vector<std::uint32_t> dirty_, prev_dirty_;       // slots changed for the next / the last publish
  bool full_copy_ = true;                               // next publish rewrites the whole target bank
  std::optional<error> failed_;
};

template <layout Layout>
mapped_file<Layout> mapped_file<Layout>::create(const std::filesystem::path& path, std::uint32_t capacity, create_mode mode,
                                                std::filesystem::perms permissions)
{
  namespace m = detail::mapped;
  m::header_fields h = m::layout_fields<Layout>();
  h.capacity = capacity;
  m::geometry geo;
  if (!m::make_geometry(h.page_bytes, capacity, geo))
    m::fail(errc::invalid_argument, path, "capacity " + std::to_string(capacity) + " is zero or too large");
  h.file_bytes = geo.file_bytes;
  struct stat st {};
  if (mode == create_mode::exclusive && ::lstat(path.c_str(), &st) == 0)
    m::fail(errc::io_error, path, "already exists (create_mode::truncate replaces it)");

  std::string tmp = path.string() + ".tmp-XXXXXX";
  m::unique_fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) m::fail_errno(path, "creating a temporary file beside it (mkostemp)", errno);
  struct remove_tmp {
    const std::string* name;
    ~remove_tmp() { if (name) ::unlink(name->c_str()); }
  } guard{&tmp};

  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) m::fail_errno(path, "flock", errno);
  if (::fchmod(fd.get(), static_cast<mode_t>(permissions & std::filesystem::perms::mask)) != 0) m::fail_errno(path, "fchmod", errno);
  if (const int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(geo.file_bytes)); err != 0)
    m::fail_errno(path, "reserving " + std::to_string(geo.file_bytes) + " bytes (posix_fallocate)", err);
  unsigned char head[m::block];
  m::encode_header(h, head);
  for (std::size_t done = 0; done < m::block;) {
    const auto n = ::pwrite(fd.get(), head + done, m::block - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) m::fail_errno(path, "pwrite", errno);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) m::fail_errno(path, "fsync", errno);
  if (mode == create_mode::exclusive) {
    if (::link(tmp.c_str(), path.c_str()) != 0) m::fail_errno(path, "link", errno);
  } else {
    if (::rename(tmp.c_str(), path.c_str()) != 0) m::fail_errno(path, "rename", errno);
    guard.name = nullptr;
  }
  {
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    m::unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) m::fail_errno(path, "fsync of its directory", errno);
  }
  auto map = m::map_file(path, fd.get(), geo.file_bytes, PROT_READ | PROT_WRITE);
  return mapped_file(path, std::move(fd), std::move(map), geo, capacity);
}

template <layout Layout>
mapped_file<Layout> mapped_file<Layout>::open(const std::filesystem::path& path)
{
  namespace m = detail::mapped;
  m::unique_fd fd;
  const m::geometry geo = m::open_and_validate<Layout>(path, O_RDWR, fd);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) m::fail(errc::state_error, path, "is open for writing by another mapped_file");
    m::fail_errno(path, "flock", errno);
  }
  auto map = m::map_file(path, fd.get(), geo.file_bytes, PROT_READ);  // read-only until validated
  mapped_file f(path, std::move(fd), std::move(map), geo, geo.capacity);
  f.load_from_bank();
  return f;
}

template <layout Layout>
void mapped_file<Layout>::load_from_bank()
{
  namespace m = detail::mapped;
  const std::uint64_t seq = m::load(at(m::sequence_offset));
  const std::uint64_t g = seq / 2;
  const auto bank = static_cast<unsigned>(g % 2);
  m::bank_state s;
  std::vector<m::live_entry> live;
  if (const char* bad = m::read_bank(map_.get(), geo_, capacity_, bank, s, live))
    m::fail(errc::corrupt, path_, "bank " + std::to_string(bank) + ": " + bad);
  if (s.generation != g)
    m::fail(errc::corrupt, path_, "bank " + std::to_string(bank) + " holds generation " + std::to_string(s.generation) +
                                    ", but the sequence " + std::to_string(seq) + " says " + std::to_string(g));
  for (const auto& e : live) {
    const std::byte* p = at(geo_.page(1 + bank, e.slot));
    if (XXH3_64bits(p, geo_.page_bytes) != e.checksum)
      m::fail(errc::corrupt, path_, "page " + std::to_string(e.id) + " (slot " + std::to_string(e.slot) + ") fails its checksum");
    if (std::launder(reinterpret_cast<const page_type*>(p))->id() != page_id{e.id})
      m::fail(errc::corrupt, path_, "slot " + std::to_string(e.slot) + " holds a page whose id is not " + std::to_string(e.id));
  }
  // Validated; from here on the file may be written.
  index_.reserve(live.size());
  for (const auto& e : live) index_.emplace(e.id, e.slot);
  if (::mprotect(map_.get(), map_.size(), PROT_READ | PROT_WRITE) != 0) m::fail_errno(path_, "mprotect", errno);
  for (const auto& e : live) {
    std::memcpy(static_cast<void*>(working(e.slot)), at(geo_.page(1 + bank, e.slot)), geo_.page_bytes);
    entries_[e.slot] = {e.id, true, e.checksum};
  }
  for (std::uint32_t slot = 0; slot < s.slot_high; ++slot)
    if (!entries_[slot].live) free_.push_back(slot);  // ascending: already a min-heap
  gen_ = g;
  epoch_ = mmsb::epoch{s.epoch};
  slot_high_ = s.slot_high;
  next_id_ = s.next_id;
}

template <layout Layout>
page_id mapped_file<Layout>::create_page()
{
  if (next_id_ > std::numeric_limits<std::uint32_t>::max())
    detail::mapped::fail(errc::out_of_range, path_, "page ids are exhausted");
  return create_page(page_id{static_cast<std::uint32_t>(next_id_)});
}

template <layout Layout>
page_id mapped_file<Layout>::create_page(page_id id)
{
  check_writable();
  if (contains(id))
    detail::mapped::fail(errc::invalid_argument, path_, "page " + std::to_string(id.value()) + " already exists");
  if (free_.empty() && slot_high_ == capacity_)
    detail::mapped::fail(errc::out_of_memory, path_, "full: all " + std::to_string(capacity_) + " page slots are in use");
  const std::uint32_t slot = free_.empty() ? static_cast<std::uint32_t>(slot_high_) : free_.front();
  index_.emplace(id.value(), slot);  // the only step that can throw; nothing has changed before it
  if (free_.empty()) {
    ++slot_high_;
  } else {
    std::pop_heap(free_.begin(), free_.end(), std::greater<>{});
    free_.pop_back();
  }
  ::new (static_cast<void*>(working(slot))) page_type(id);
  entries_[slot] = {id.value(), true, 0};
  next_id_ = std::max<std::uint64_t>(next_id_, std::uint64_t{id.value()} + 1);
  mark_dirty(slot);
  return id;
}

template <layout Layout>
void mapped_file<Layout>::destroy_page(page_id id)
{
  check_writable();
  const std::uint32_t slot = slot_of(id);
  index_.erase(id.value());
  ::new (static_cast<void*>(working(slot))) page_type();
  entries_[slot] = {};
  free_.push_back(slot);  // within the reserved capacity: cannot throw
  std::push_heap(free_.begin(), free_.end(), std::greater<>{});
  mark_dirty(slot);
}

template <layout Layout>
auto mapped_file<Layout>::page_at(page_id id) -> page_type&
{
  check_writable();
  const std::uint32_t slot = slot_of(id);
  mark_dirty(slot);
  return *working(slot);
}

template <layout Layout>
auto mapped_file<Layout>::page_at(page_id id) const -> const page_type&
{
  return *working(slot_of(id));
}

template <layout Layout>
auto mapped_file<Layout>::find(page_id id) -> page_type*
{
  check_writable();
  const auto it = index_.find(id.value());
  if (it == index_.end()) return nullptr;
  mark_dirty(it->second);
  return working(it->second);
}

template <layout Layout>
auto mapped_file<Layout>::find(page_id id) const noexcept -> const page_type*
{
  const auto it = index_.find(id.value());
  return it == index_.end() ? nullptr : working(it->second);
}

template <layout Layout>
void mapped_file<Layout>::publish(mmsb::epoch e)
{
  namespace m = detail::mapped;
  check_writable();
  if (!(epoch_ < e))
    m::fail(errc::invalid_argument, path_, "publish at epoch " + std::to_string(e.value()) +
                                             " does not advance the published epoch " + std::to_string(epoch_.value()));
  for (const std::uint32_t slot : dirty_)
    if (entries_[slot].live) entries_[slot].checksum = XXH3_64bits(working(slot), geo_.page_bytes);

  std::byte* seq = at(m::sequence_offset);
  const std::uint64_t next = gen_ + 1;
  const auto bank = static_cast<unsigned>(next % 2);
  m::store(seq, 2 * gen_ + 1);  // every bank store below is a release: none can pass this one
  if (full_copy_) {
    for (std::uint32_t slot = 0; slot < slot_high_; ++slot) copy_slot(bank, slot);
  } else {
    // The target bank holds generation gen_ - 1: it lacks the last publish's changes and these.
    for (const std::uint32_t slot : prev_dirty_) copy_slot(bank, slot);
    for (const std::uint32_t slot : dirty_) copy_slot(bank, slot);
  }
  std::byte* h = at(geo_.table(bank));
  m::store(h, next);
  m::store(h + 8, e.value());
  m::store(h + 16, index_.size());
  m::store(h + 24, slot_high_);
  m::store(h + 32, next_id_);
  m::store(seq, 2 * next);

  gen_ = next;
  epoch_ = e;
  full_copy_ = false;
  for (const std::uint32_t slot : dirty_) dirty_mark_[slot] = 0;
  prev_dirty_.swap(dirty_);
  dirty_.clear();
}

template <layout Layout>
void mapped_file<Layout>::sync()
{
  check_writable();
  if (::msync(map_.get(), map_.size(), MS_SYNC) != 0) failed_ = detail::mapped::errno_error(path_, "msync", errno);
  else if (::fsync(fd_.get()) != 0) failed_ = detail::mapped::errno_error(path_, "fsync", errno);
  if (failed_) throw *failed_;
}

template <layout Layout>
std::vector<page_id> mapped_file<Layout>::ids() const
{
  std::vector<page_id> out;
  out.reserve(index_.size());
  for (const auto& kv : index_) out.push_back(page_id{kv.first});
  std::sort(out.begin(), out.end());
  return out;
}

template <layout Layout>
state_hash mapped_file<Layout>::hash() const
{
  state_hasher h;
  for (const page_id id : ids()) hash_into(h, *working(index_.at(id.value())));
  return h.digest();
}

template <layout Layout>
class mapped_reader;

// A reader's private copy of one published generation: pages in ascending id order.
template <layout Layout>
class mapped_snapshot {
public:
  using page_type = page<Layout>;

  [[nodiscard]] mmsb::epoch epoch() const noexcept { return epoch_; }
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
  [[nodiscard]] const std::vector<page_type>& pages() const noexcept { return pages_; }
  // How many tries the seqlock needed for this snapshot (1 = no retry).
  [[nodiscard]] std::uint32_t attempts() const noexcept { return attempts_; }
  [[nodiscard]] const page_type* find(page_id id) const noexcept
  {
    const auto it = std::lower_bound(pages_.begin(), pages_.end(), id, [](const page_type& p, page_id x) { return p.id() < x; });
    return it != pages_.end() && it->id() == id ? &*it : nullptr;
  }
  [[nodiscard]] state_hash hash() const
  {
    state_hasher h;
    for (const auto& p : pages_) hash_into(h, p);
    return h.digest();
  }

private:
  template <layout>
  friend class mapped_reader;
  mmsb::epoch epoch_{};
  std::uint64_t generation_ = 0;
  std::uint32_t attempts_ = 0;
  std::vector<page_type> pages_;
  std::vector<detail::mapped::live_entry> entries_;  // scratch, kept to avoid reallocating
};

// The read-only side, for any number of other processes (or threads). It maps the file
// PROT_READ, never writes to it and never blocks the writer. A file replaced by
// create(truncate) is not followed: open a new reader. Each snapshot() is independent; const
// calls may run concurrently on one reader.
template <layout Layout>
class mapped_reader {
public:
  using page_type = page<Layout>;
  static constexpr std::uint32_t default_max_attempts = 100000;

  // Validates the header against Layout (as mapped_file::open does); throws mmsb::error.
  explicit mapped_reader(const std::filesystem::path& path) : path_(path)
  {
    geo_ = detail::mapped::open_and_validate<Layout>(path, O_RDONLY, fd_);
    map_ = detail::mapped::map_file(path, fd_.get(), geo_.file_bytes, PROT_READ);
    capacity_ = geo_.capacity;
  }

  // Copies the newest published generation into `into` (reusing its buffers), retrying under the
  // seqlock. Throws errc::conflict after max_attempts torn copies, errc::corrupt when a stable
  // copy is inconsistent or fails a checksum.
  void snapshot(mapped_snapshot<Layout>& into, std::uint32_t max_attempts = default_max_attempts) const;
  [[nodiscard]] mapped_snapshot<Layout> snapshot(std::uint32_t max_attempts = default_max_attempts) const
  {
    mapped_snapshot<Layout> s;
    snapshot(s, max_attempts);
    return s;
  }
  // The newest published epoch, read under the same protocol.
  [[nodiscard]] mmsb::epoch published() const;

  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
  [[nodiscard]] const std::byte* at(std::uint64_t offset) const noexcept { return map_.get() + offset; }

  std::filesystem::path path_;
  detail::mapped::unique_fd fd_;
  detail::mapped::unique_map map_;
  detail::mapped::geometry geo_;
  std::uint32_t capacity_ = 0;
};

template <layout Layout>
void mapped_reader<Layout>::snapshot(mapped_snapshot<Layout>& into, std::uint32_t max_attempts) const
{
  namespace m = detail::mapped;
  const std::byte* seq = at(m::sequence_offset);
  m::bank_state s;
  for (std::uint32_t attempt = 1; attempt <= max_attempts; ++attempt) {
    if (attempt > 2) std::this_thread::yield();
    const std::uint64_t s1 = m::load(seq);
    const std::uint64_t g = s1 / 2;
    const auto bank = static_cast<unsigned>(g % 2);
    const char* bad = m::read_bank(map_.get(), geo_, capacity_, bank, s, into.entries_);
    if (!bad && s.generation != g) bad = "bank generation does not match the sequence";
    if (!bad) {
      into.pages_.resize(into.entries_.size());  // allocates outside the shared mapping only
      for (std::size_t i = 0; i < into.entries_.size(); ++i)
        m::copy_out(reinterpret_cast<std::byte*>(&into.pages_[i]), at(geo_.page(1 + bank, into.entries_[i].slot)), geo_.page_bytes);
    }
    if (m::load(seq) > 2 * g + 2) continue;  // the writer reached this bank during the copy

    if (bad) m::fail(errc::corrupt, path_, "bank " + std::to_string(bank) + ": " + bad);
    for (std::size_t i = 0; i < into.entries_.size(); ++i) {
      const auto& e = into.entries_[i];
      if (XXH3_64bits(&into.pages_[i], geo_.page_bytes) != e.checksum)
        m::fail(errc::corrupt, path_, "page " + std::to_string(e.id) + " (slot " + std::to_string(e.slot) + ") fails its checksum");
      if (into.pages_[i].id() != page_id{e.id})
        m::fail(errc::corrupt, path_, "slot " + std::to_string(e.slot) + " holds a page whose id is not " + std::to_string(e.id));
    }
    into.epoch_ = mmsb::epoch{s.epoch};
    into.generation_ = g;
    into.attempts_ = attempt;
    return;
  }
  m::fail(errc::conflict, path_, "no consistent snapshot in " + std::to_string(max_attempts) +
                                   " attempts: the writer republished the bank being copied every time");
}

template <layout Layout>
mmsb::epoch mapped_reader<Layout>::published() const
{
  namespace m = detail::mapped;
  const std::byte* seq = at(m::sequence_offset);
  for (std::uint32_t attempt = 1; attempt <= default_max_attempts; ++attempt) {
    const std::uint64_t s1 = m::load(seq);
    const std::byte* h = at(geo_.table(static_cast<unsigned>((s1 / 2) % 2)));
    const std::uint64_t e = m::load(h + 8);
    if (m::load(seq) <= 2 * (s1 / 2) + 2) return mmsb::epoch{e};
  }
  m::fail(errc::conflict, path_, "could not read the published epoch: the writer never paused");
}

} // namespace mmsb
