// mapped_file and mapped_reader (include/mmsb/memory/mapped_file.hpp, mapped_reader.hpp): the
// compiled core. The file format and the reader protocol are described in mapped_file.hpp; the
// templates pass the layout's header fields and page_ops (memory/detail/mapped_core.hpp).
#include <mmsb/memory/detail/mapped_core.hpp>

#include <mmsb/config/error.hpp>

#include "detail/posix_handles.hpp"

#include "core/xxh3_wide.hpp"

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mmsb::detail::mapped {

static_assert(std::endian::native == std::endian::little,
              "mmsb: the mapped_file format is little-endian; big-endian hosts are not supported");
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "mmsb: mapped_file needs lock-free 64-bit atomics (they must work across processes)");

namespace {

using detail::unique_fd;  // src/detail/posix_handles.hpp
using detail::unique_map;

constexpr char magic[8] = {'M', 'M', 'S', 'B', 'M', 'A', 'P', '\0'};
constexpr std::uint64_t block = 4096;
constexpr std::size_t checksum_offset = 56;  // the checksum covers [0, 56)
constexpr std::size_t sequence_offset = 64;
constexpr std::uint64_t bank_header_bytes = 64;
constexpr std::uint64_t entry_bytes = 16;
constexpr std::uint64_t flag_live = 1;

void put_le(unsigned char* p, std::uint64_t v, int bytes) noexcept
{
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t get_le(const unsigned char* p, int bytes) noexcept
{
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

// 64-bit load-acquire / store-release on the shared mapping. Loads also go through a non-const
// reference because atomic_ref<const T> is C++26; a load never writes, so read-only mappings work.
std::uint64_t load(const std::byte* p) noexcept
{
  return std::atomic_ref<std::uint64_t>(*const_cast<std::uint64_t*>(reinterpret_cast<const std::uint64_t*>(p)))
    .load(std::memory_order_acquire);
}
void store(std::byte* p, std::uint64_t v) noexcept
{
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p)).store(v, std::memory_order_release);
}
void copy_out(std::byte* dst, const std::byte* shared, std::uint64_t bytes) noexcept
{
  for (std::uint64_t i = 0; i < bytes; i += 8) {
    const std::uint64_t w = load(shared + i);
    std::memcpy(dst + i, &w, 8);
  }
}
void copy_in(std::byte* shared, const std::byte* src, std::uint64_t bytes) noexcept
{
  for (std::uint64_t i = 0; i < bytes; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, src + i, 8);
    store(shared + i, w);
  }
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
bool make_geometry(std::uint64_t page_bytes, std::uint32_t capacity, geometry& g) noexcept
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

void encode_header(const header_fields& h, unsigned char* out /* block bytes */) noexcept
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

std::string who(const std::filesystem::path& path) { return "mapped file '" + path.string() + "'"; }

[[noreturn]] void fail(errc code, const std::filesystem::path& path, const std::string& what)
{
  throw error(code, who(path) + ": " + what);
}
error errno_error(const std::filesystem::path& path, const std::string& call, int err)
{
  return error(err == ENOSPC || err == EDQUOT ? errc::no_space : errc::io_error,
               who(path) + ": " + call + " failed: " + std::generic_category().message(err) + " (errno " + std::to_string(err) + ")");
}
[[noreturn]] void fail_errno(const std::filesystem::path& path, const std::string& call, int err)
{
  throw errno_error(path, call, err);
}

// Opens a regular file, reads and validates its header against Layout without writing anything.
geometry open_and_validate(const std::filesystem::path& path, int flags, const header_fields& want_h, unique_fd& fd_out)
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

unique_map map_file(const std::filesystem::path& path, int fd, std::uint64_t bytes, int prot)
{
  void* p = ::mmap(nullptr, static_cast<std::size_t>(bytes), prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) fail_errno(path, "mmap", errno);
  return {p, static_cast<std::size_t>(bytes)};
}

struct bank_state {
  std::uint64_t generation = 0, epoch = 0, live = 0, slot_high = 0, next_id = 0;
};
// Reads bank b's header and its live entries, sorted by id. Returns nullptr when the bank is
// structurally sound, else what is wrong with it. Under the seqlock the caller decides whether
// a complaint is real (stable sequence) or a race (sequence moved).
const char* read_bank(const std::byte* base, const geometry& g, std::uint32_t capacity, unsigned b, bank_state& s,
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

} // namespace

// ---- the writer ----------------------------------------------------------------------------

struct writer::state {
  struct entry {
    std::uint32_t id = 0;
    bool live = false;
    std::uint64_t checksum = 0;
  };

  state(std::filesystem::path path, unique_fd fd, unique_map map, geometry geo, std::uint32_t capacity, const page_ops& ops)
    : path_(std::move(path)), fd_(std::move(fd)), map_(std::move(map)), geo_(geo), capacity_(capacity), ops_(&ops),
      entries_(capacity), dirty_mark_(capacity, 0)
  {
    dirty_.reserve(capacity);  // reserved so that marking a page dirty never allocates or throws
    prev_dirty_.reserve(capacity);
    free_.reserve(capacity);
  }

  std::byte* at(std::uint64_t offset) const noexcept { return map_.get() + offset; }
  void* working(std::uint32_t slot) const noexcept { return at(geo_.page(0, slot)); }
  std::uint32_t slot_of(page_id id) const
  {
    const auto it = index_.find(id.value());
    if (it == index_.end()) fail(errc::unknown_page, path_, "page " + std::to_string(id.value()) + " does not exist");
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
    store(ent, e.live ? (e.id | (flag_live << 32)) : 0);
    store(ent + 8, e.live ? e.checksum : 0);
    if (e.live) copy_in(at(geo_.page(1 + bank, slot)), static_cast<const std::byte*>(working(slot)), geo_.page_bytes);
  }
  void load_from_bank();

  std::filesystem::path path_;
  unique_fd fd_;
  unique_map map_;
  geometry geo_;
  std::uint32_t capacity_ = 0;
  const page_ops* ops_;
  std::uint64_t gen_ = 0;
  mmsb::epoch epoch_{};
  std::uint64_t slot_high_ = 0, next_id_ = 0;
  std::vector<entry> entries_;                              // per slot, the writer's table
  std::unordered_map<std::uint32_t, std::uint32_t> index_;  // page id -> slot
  std::vector<std::uint32_t> free_;                         // min-heap of free slots below slot_high_
  std::vector<std::uint8_t> dirty_mark_;
  std::vector<std::uint32_t> dirty_, prev_dirty_;           // slots changed for the next / the last publish
  bool full_copy_ = true;                                   // next publish rewrites the whole target bank
  std::optional<error> failed_;
};

writer::writer(std::unique_ptr<state> s) noexcept : s_(std::move(s)) {}
writer::writer(writer&&) noexcept = default;
writer& writer::operator=(writer&&) noexcept = default;
writer::~writer() = default;

writer writer::create(const std::filesystem::path& path, header_fields h, std::uint32_t capacity, create_mode mode,
                      std::filesystem::perms permissions, const page_ops& ops)
{
  namespace m = detail::mapped;
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
  return writer(std::make_unique<state>(path, std::move(fd), std::move(map), geo, capacity, ops));
}

writer writer::open(const std::filesystem::path& path, const header_fields& fields, const page_ops& ops)
{
  namespace m = detail::mapped;
  m::unique_fd fd;
  const m::geometry geo = m::open_and_validate(path, O_RDWR, fields, fd);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) m::fail(errc::state_error, path, "is open for writing by another mapped_file");
    m::fail_errno(path, "flock", errno);
  }
  auto map = m::map_file(path, fd.get(), geo.file_bytes, PROT_READ);  // read-only until validated
  auto s = std::make_unique<state>(path, std::move(fd), std::move(map), geo, geo.capacity, ops);
  s->load_from_bank();
  return writer(std::move(s));
}

void writer::state::load_from_bank()
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
    if (detail::xxh3_wide(p, geo_.page_bytes) != e.checksum)
      m::fail(errc::corrupt, path_, "page " + std::to_string(e.id) + " (slot " + std::to_string(e.slot) + ") fails its checksum");
    if (ops_->id_of(p) != page_id{e.id})
      m::fail(errc::corrupt, path_, "slot " + std::to_string(e.slot) + " holds a page whose id is not " + std::to_string(e.id));
  }
  // Validated; from here on the file may be written.
  index_.reserve(live.size());
  for (const auto& e : live) index_.emplace(e.id, e.slot);
  if (::mprotect(map_.get(), map_.size(), PROT_READ | PROT_WRITE) != 0) m::fail_errno(path_, "mprotect", errno);
  for (const auto& e : live) {
    std::memcpy(working(e.slot), at(geo_.page(1 + bank, e.slot)), geo_.page_bytes);
    entries_[e.slot] = {e.id, true, e.checksum};
  }
  for (std::uint32_t slot = 0; slot < s.slot_high; ++slot)
    if (!entries_[slot].live) free_.push_back(slot);  // ascending: already a min-heap
  gen_ = g;
  epoch_ = mmsb::epoch{s.epoch};
  slot_high_ = s.slot_high;
  next_id_ = s.next_id;
}

page_id writer::create_page()
{
  if (s_->next_id_ > std::numeric_limits<std::uint32_t>::max()) fail(errc::out_of_range, s_->path_, "page ids are exhausted");
  return create_page(page_id{static_cast<std::uint32_t>(s_->next_id_)});
}

page_id writer::create_page(page_id id)
{
  state& s = *s_;
  s.check_writable();
  if (contains(id)) fail(errc::invalid_argument, s.path_, "page " + std::to_string(id.value()) + " already exists");
  if (s.free_.empty() && s.slot_high_ == s.capacity_)
    fail(errc::out_of_memory, s.path_, "full: all " + std::to_string(s.capacity_) + " page slots are in use");
  const std::uint32_t slot = s.free_.empty() ? static_cast<std::uint32_t>(s.slot_high_) : s.free_.front();
  s.index_.emplace(id.value(), slot);  // the only step that can throw; nothing has changed before it
  if (s.free_.empty()) {
    ++s.slot_high_;
  } else {
    std::pop_heap(s.free_.begin(), s.free_.end(), std::greater<>{});
    s.free_.pop_back();
  }
  s.ops_->make(s.working(slot), id);
  s.entries_[slot] = {id.value(), true, 0};
  s.next_id_ = std::max<std::uint64_t>(s.next_id_, std::uint64_t{id.value()} + 1);
  s.mark_dirty(slot);
  return id;
}

void writer::destroy_page(page_id id)
{
  state& s = *s_;
  s.check_writable();
  const std::uint32_t slot = s.slot_of(id);
  s.index_.erase(id.value());
  s.ops_->clear(s.working(slot));
  s.entries_[slot] = {};
  s.free_.push_back(slot);  // within the reserved capacity: cannot throw
  std::push_heap(s.free_.begin(), s.free_.end(), std::greater<>{});
  s.mark_dirty(slot);
}

void* writer::page_at(page_id id)
{
  s_->check_writable();
  const std::uint32_t slot = s_->slot_of(id);
  s_->mark_dirty(slot);
  return s_->working(slot);
}

const void* writer::page_at(page_id id) const { return s_->working(s_->slot_of(id)); }

void* writer::find(page_id id)
{
  s_->check_writable();
  const auto it = s_->index_.find(id.value());
  if (it == s_->index_.end()) return nullptr;
  s_->mark_dirty(it->second);
  return s_->working(it->second);
}

const void* writer::find(page_id id) const noexcept
{
  const auto it = s_->index_.find(id.value());
  return it == s_->index_.end() ? nullptr : s_->working(it->second);
}

bool writer::contains(page_id id) const noexcept { return s_->index_.count(id.value()) != 0; }

void writer::publish(mmsb::epoch e)
{
  state& s = *s_;
  s.check_writable();
  if (!(s.epoch_ < e))
    fail(errc::invalid_argument, s.path_, "publish at epoch " + std::to_string(e.value()) +
                                            " does not advance the published epoch " + std::to_string(s.epoch_.value()));
  for (const std::uint32_t slot : s.dirty_)
    if (s.entries_[slot].live) s.entries_[slot].checksum = detail::xxh3_wide(s.working(slot), s.geo_.page_bytes);

  std::byte* seq = s.at(sequence_offset);
  const std::uint64_t next = s.gen_ + 1;
  const auto bank = static_cast<unsigned>(next % 2);
  store(seq, 2 * s.gen_ + 1);  // every bank store below is a release: none can pass this one
  if (s.full_copy_) {
    for (std::uint32_t slot = 0; slot < s.slot_high_; ++slot) s.copy_slot(bank, slot);
  } else {
    // The target bank holds generation gen_ - 1: it lacks the last publish's changes and these.
    for (const std::uint32_t slot : s.prev_dirty_) s.copy_slot(bank, slot);
    for (const std::uint32_t slot : s.dirty_) s.copy_slot(bank, slot);
  }
  std::byte* h = s.at(s.geo_.table(bank));
  store(h, next);
  store(h + 8, e.value());
  store(h + 16, s.index_.size());
  store(h + 24, s.slot_high_);
  store(h + 32, s.next_id_);
  store(seq, 2 * next);

  s.gen_ = next;
  s.epoch_ = e;
  s.full_copy_ = false;
  for (const std::uint32_t slot : s.dirty_) s.dirty_mark_[slot] = 0;
  s.prev_dirty_.swap(s.dirty_);
  s.dirty_.clear();
}

void writer::sync()
{
  state& s = *s_;
  s.check_writable();
  if (::msync(s.map_.get(), s.map_.size(), MS_SYNC) != 0) s.failed_ = errno_error(s.path_, "msync", errno);
  else if (::fsync(s.fd_.get()) != 0) s.failed_ = errno_error(s.path_, "fsync", errno);
  if (s.failed_) throw *s.failed_;
}

mmsb::epoch writer::published() const noexcept { return s_->epoch_; }
std::uint64_t writer::generation() const noexcept { return s_->gen_; }
std::size_t writer::size() const noexcept { return s_->index_.size(); }
std::uint32_t writer::capacity() const noexcept { return s_->capacity_; }
const std::filesystem::path& writer::path() const noexcept { return s_->path_; }

std::vector<page_id> writer::ids() const
{
  std::vector<page_id> out;
  out.reserve(s_->index_.size());
  for (const auto& kv : s_->index_) out.push_back(page_id{kv.first});
  std::sort(out.begin(), out.end());
  return out;
}

state_hash writer::hash() const
{
  state_hasher h;
  for (const page_id id : ids()) s_->ops_->hash(h, s_->working(s_->index_.at(id.value())));
  return h.digest();
}

// ---- the reader ----------------------------------------------------------------------------

struct reader::state {
  [[nodiscard]] const std::byte* at(std::uint64_t offset) const noexcept { return map_.get() + offset; }

  std::filesystem::path path_;
  unique_fd fd_;
  unique_map map_;
  geometry geo_;
  std::uint32_t capacity_ = 0;
};

reader::reader(const std::filesystem::path& path, const header_fields& fields) : s_(std::make_unique<state>())
{
  s_->path_ = path;
  s_->geo_ = open_and_validate(path, O_RDONLY, fields, s_->fd_);
  s_->map_ = map_file(path, s_->fd_.get(), s_->geo_.file_bytes, PROT_READ);
  s_->capacity_ = s_->geo_.capacity;
}
reader::reader(reader&&) noexcept = default;
reader& reader::operator=(reader&&) noexcept = default;
reader::~reader() = default;

std::uint32_t reader::capacity() const noexcept { return s_->capacity_; }
const std::filesystem::path& reader::path() const noexcept { return s_->path_; }

reader::copy_result reader::snapshot(std::vector<live_entry>& entries, void* (*resize)(void* ctx, std::size_t n), void* ctx,
                                     page_id (*id_of)(const void*) noexcept, std::uint32_t max_attempts) const
{
  const state& r = *s_;
  const std::byte* seq = r.at(sequence_offset);
  bank_state s;
  for (std::uint32_t attempt = 1; attempt <= max_attempts; ++attempt) {
    if (attempt > 2) std::this_thread::yield();
    const std::uint64_t s1 = load(seq);
    const std::uint64_t g = s1 / 2;
    const auto bank = static_cast<unsigned>(g % 2);
    const char* bad = read_bank(r.map_.get(), r.geo_, r.capacity_, bank, s, entries);
    std::byte* pages = nullptr;
    if (!bad && s.generation != g) bad = "bank generation does not match the sequence";
    if (!bad) {
      pages = static_cast<std::byte*>(resize(ctx, entries.size()));  // allocates outside the shared mapping only
      for (std::size_t i = 0; i < entries.size(); ++i)
        copy_out(pages + i * r.geo_.page_bytes, r.at(r.geo_.page(1 + bank, entries[i].slot)), r.geo_.page_bytes);
    }
    if (load(seq) > 2 * g + 2) continue;  // the writer reached this bank during the copy

    if (bad) fail(errc::corrupt, r.path_, "bank " + std::to_string(bank) + ": " + bad);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      const std::byte* p = pages + i * r.geo_.page_bytes;
      if (detail::xxh3_wide(p, r.geo_.page_bytes) != e.checksum)
        fail(errc::corrupt, r.path_, "page " + std::to_string(e.id) + " (slot " + std::to_string(e.slot) + ") fails its checksum");
      if (id_of(p) != page_id{e.id})
        fail(errc::corrupt, r.path_, "slot " + std::to_string(e.slot) + " holds a page whose id is not " + std::to_string(e.id));
    }
    return {mmsb::epoch{s.epoch}, g, attempt};
  }
  fail(errc::conflict, r.path_, "no consistent snapshot in " + std::to_string(max_attempts) +
                                  " attempts: the writer republished the bank being copied every time");
}

mmsb::epoch reader::published(std::uint32_t max_attempts) const
{
  const std::byte* seq = s_->at(sequence_offset);
  for (std::uint32_t attempt = 1; attempt <= max_attempts; ++attempt) {
    const std::uint64_t s1 = load(seq);
    const std::byte* h = s_->at(s_->geo_.table(static_cast<unsigned>((s1 / 2) % 2)));
    const std::uint64_t e = load(h + 8);
    if (load(seq) <= 2 * (s1 / 2) + 2) return mmsb::epoch{e};
  }
  fail(errc::conflict, s_->path_, "could not read the published epoch: the writer never paused");
}

} // namespace mmsb::detail::mapped
