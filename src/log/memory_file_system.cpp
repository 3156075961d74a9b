// memory_file_system (include/mmsb/log/memory_file_system.hpp): the in-memory file_system with
// power-loss simulation. memory_impl holds the model described in the header; the public class
// forwards to it, so the maps, sets and mutex stay out of user code.
#include <mmsb/log/memory_file_system.hpp>

#include <mmsb/config/error.hpp>

#include <algorithm>
#include <cerrno>
#include <new>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>

namespace mmsb {
namespace {

class memory_impl {
public:
  using handle = file_system::handle;

  memory_impl() { nodes_[root].dir = true; }

  handle open(const std::string& path, open_mode mode)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto [parent, name] = parent_of("open", path);
    if (name.empty()) fail("open", path, EISDIR);
    node& dir = nodes_.at(parent);
    const auto it = dir.entries.find(name);
    std::uint64_t id = 0;
    if (it == dir.entries.end()) {
      if (mode == open_mode::read) fail("open", path, ENOENT);
      // Everything that allocates comes before the file exists, so an open that runs out of
      // memory creates nothing (as posix_file_system's).
      open_file f{next_id_, path, true};
      const handle h = next_handle_;
      auto& slot = handles_[h];
      try {
        nodes_[f.id];
        link(parent, name, f.id, next_group_);
      } catch (...) {
        handles_.erase(h);
        nodes_.erase(f.id);
        throw;
      }
      slot = std::move(f);
      ++next_id_;
      ++next_group_;
      ++next_handle_;
      return h;
    } else {
      id = it->second;
      node& n = nodes_.at(id);
      if (n.dir) fail("open", path, mode == open_mode::create_new ? EEXIST : EISDIR);
      if (mode == open_mode::create_new) fail("open", path, EEXIST);
      if (mode == open_mode::truncate) {
        n.data.clear();
        n.stable = 0;
      }
    }
    const handle h = next_handle_++;
    handles_[h] = open_file{id, path, mode != open_mode::read};
    return h;
  }

  std::size_t write(handle h, span<const std::byte> bytes)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const open_file& f = file_of("write", h);
    if (!f.writable) fail("write", f.path, EBADF);
    nodes_.at(f.id).data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return bytes.size();
  }

  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const std::string& data = nodes_.at(file_of("read", h).id).data;
    if (offset >= data.size()) return 0;
    const std::size_t n = std::min<std::uint64_t>(out.size(), data.size() - offset);
    std::memcpy(out.data(), data.data() + offset, n);
    return n;
  }

  std::uint64_t size(handle h)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    return nodes_.at(file_of("size", h).id).data.size();
  }

  void sync(handle h)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    node& n = nodes_.at(file_of("sync", h).id);
    n.durable.resize(n.stable);  // data[0, stable) is durable already: copy only what follows
    n.durable.append(n.data, n.stable);
    n.stable = n.data.size();
  }

  void truncate(handle h, std::uint64_t length)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const open_file& f = file_of("truncate", h);
    if (!f.writable) fail("truncate", f.path, EBADF);
    node& n = nodes_.at(f.id);
    n.data.resize(length, '\0');
    n.stable = std::min<std::uint64_t>(n.stable, length);
  }

  void close(handle h) noexcept
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (handles_.erase(h) != 0) collect();
  }

  void rename(const std::string& from, const std::string& to)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const std::string both = from + " -> " + to;
    const auto [from_parent, from_name] = parent_of("rename", from, both);
    const auto [to_parent, to_name] = parent_of("rename", to, both);
    if (from_name.empty() || to_name.empty()) fail("rename", both, EBUSY);
    const auto src = nodes_.at(from_parent).entries.find(from_name);
    if (src == nodes_.at(from_parent).entries.end()) fail("rename", both, ENOENT);
    const std::uint64_t id = src->second;
    const auto& to_entries = nodes_.at(to_parent).entries;
    if (const auto dst = to_entries.find(to_name); dst != to_entries.end()) {
      if (dst->second == id) return;  // the same node: POSIX does nothing
      const node& target = nodes_.at(dst->second);
      if (nodes_.at(id).dir && !target.dir) fail("rename", both, ENOTDIR);
      if (!nodes_.at(id).dir && target.dir) fail("rename", both, EISDIR);
      if (target.dir && !target.entries.empty()) fail("rename", both, ENOTEMPTY);
    }
    if (nodes_.at(id).dir && contains(id, to_parent)) fail("rename", both, EINVAL);
    const std::uint64_t group = next_group_++;
    unlink(from_parent, from_name, group);
    link(to_parent, to_name, id, group);
  }

  void remove(const std::string& path)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto [parent, name] = parent_of("remove", path);
    if (name.empty()) fail("remove", path, EISDIR);
    const auto& entries = nodes_.at(parent).entries;
    const auto it = entries.find(name);
    if (it == entries.end()) fail("remove", path, ENOENT);
    if (nodes_.at(it->second).dir) fail("remove", path, EISDIR);
    unlink(parent, name, next_group_++);
  }

  void sync_dir(const std::string& dir)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    node& d = nodes_.at(dir_of("sync_dir", dir));
    d.durable_entries = d.entries;
    d.pending.clear();
    collect();
  }

  std::vector<std::string> list(const std::string& dir)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto& [name, id] : nodes_.at(dir_of("list", dir)).entries) names.push_back(name);
    return names;  // std::map keeps them sorted
  }

  void make_dir(const std::string& dir)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto [parent, name] = parent_of("make_dir", dir);
    if (name.empty()) return;  // the root
    const auto& entries = nodes_.at(parent).entries;
    if (const auto it = entries.find(name); it != entries.end()) {
      if (nodes_.at(it->second).dir) return;
      fail("make_dir", dir, EEXIST);
    }
    const std::uint64_t id = next_id_++;
    nodes_[id].dir = true;
    link(parent, name, id, next_group_++);
  }

  bool exists(const std::string& path)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::uint64_t id = 0;
    return lookup(split(path), id) == 0;
  }

  // Simulated power loss; see CRASH above.
  void crash(crash_mode mode, std::uint64_t seed)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::uint64_t state = seed;
    const auto next = [&state] {  // SplitMix64: the same stream on every platform
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    };
    handles_.clear();

    std::map<std::uint64_t, bool> kept;  // group -> decision, so a rename's halves agree
    for (auto& [id, d] : nodes_) {
      if (!d.dir) continue;
      std::set<std::string> names;
      for (const auto& [name, target] : d.entries) names.insert(name);
      for (const auto& [name, target] : d.durable_entries) names.insert(name);
      for (const std::string& name : names) {
        const auto cur = d.entries.find(name), old = d.durable_entries.find(name);
        const bool in_cur = cur != d.entries.end(), in_old = old != d.durable_entries.end();
        if (in_cur && in_old && cur->second == old->second) continue;
        const auto g = d.pending.find(name);
        const std::uint64_t group = g != d.pending.end() ? g->second : next_group_++;
        auto decision = kept.find(group);
        if (decision == kept.end())
          decision = kept.emplace(group, mode == crash_mode::keep ? true : mode == crash_mode::drop ? false : (next() & 1) != 0).first;
        if (decision->second) {
          if (in_cur) d.durable_entries[name] = cur->second;
          else d.durable_entries.erase(name);
        }
      }
      d.entries = d.durable_entries;
      d.pending.clear();
    }
    // A directory reachable under two names (both halves of different renames kept) keeps the
    // first name in traversal order.
    std::set<std::uint64_t> seen_dirs;
    drop_duplicate_dir_links(root, seen_dirs);
    collect();

    for (auto& [id, f] : nodes_) {
      if (f.dir || (f.stable == f.data.size() && f.stable == f.durable.size())) continue;
      crash_mode m = mode;
      if (m == crash_mode::random) m = static_cast<crash_mode>(next() % 4);
      const std::size_t unsynced = f.data.size() - f.stable;
      if (m == crash_mode::drop) {
        f.data = f.durable;
      } else if (m == crash_mode::tear) {
        f.data.resize(f.stable + static_cast<std::size_t>(next() % (unsynced + 1)));
      } else if (m == crash_mode::garble && unsynced > 0) {
        const std::size_t length = 1 + static_cast<std::size_t>(next() % unsynced);
        f.data.resize(f.stable + length);
        const std::string before = f.data.substr(f.stable);
        const std::size_t flips = 1 + static_cast<std::size_t>(next() % std::min<std::size_t>(length, 8));
        for (std::size_t i = 0; i < flips; ++i) {
          const std::size_t at = f.stable + static_cast<std::size_t>(next() % length);
          f.data[at] = static_cast<char>(f.data[at] ^ static_cast<char>(1 + next() % 255));
        }
        if (f.data.compare(f.stable, length, before) == 0) f.data[f.stable] = static_cast<char>(f.data[f.stable] ^ 0x5a);
      }
      f.durable = f.data;
      f.stable = f.data.size();
    }
  }

  // The current content of a file (what a reader would see now). Throws io_error if missing.
  std::string contents(const std::string& path)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    return nodes_.at(file_at("contents", path)).data;
  }

  // Replaces a file's content, as if those bytes had been found on disk: current and durable.
  // Creates the file (durably) if missing; its directory must exist. For tests that corrupt files.
  void set_contents(const std::string& path, const std::string& bytes)
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto [parent, name] = parent_of("set_contents", path);
    if (name.empty()) fail("set_contents", path, EISDIR);
    node& dir = nodes_.at(parent);
    std::uint64_t id = 0;
    if (const auto it = dir.entries.find(name); it != dir.entries.end()) {
      id = it->second;
      if (nodes_.at(id).dir) fail("set_contents", path, EISDIR);
    } else {
      id = next_id_++;
      nodes_[id];
      dir.entries[name] = id;
      dir.durable_entries[name] = id;
    }
    node& f = nodes_.at(id);
    f.data = f.durable = bytes;
    f.stable = bytes.size();
  }

private:
  struct node {
    bool dir = false;
    std::string data, durable;  // a file's current and durable content
    std::size_t stable = 0;     // data[0, stable) == durable[0, stable)
    std::map<std::string, std::uint64_t> entries, durable_entries;  // a directory's
    std::map<std::string, std::uint64_t> pending;  // changed name -> change group, since sync_dir
  };
  struct open_file {
    std::uint64_t id;
    std::string path;
    bool writable;
  };
  static constexpr std::uint64_t root = 0;

  // "open /t/x: No such file or directory (errno 2)", as posix_file_system words it.
  [[noreturn]] static void fail(const char* op, const std::string& path, int err)
  {
    throw_fs_error(op, path, err);
  }

  static std::vector<std::string> split(const std::string& path)
  {
    std::vector<std::string> parts;
    std::size_t at = 0;
    while (at <= path.size()) {
      std::size_t end = path.find('/', at);
      if (end == std::string::npos) end = path.size();
      const std::string part = path.substr(at, end - at);
      if (part == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
      at = end + 1;
    }
    return parts;
  }

  // 0 and the node, or ENOENT / ENOTDIR.
  int lookup(const std::vector<std::string>& parts, std::uint64_t& out) const
  {
    std::uint64_t id = root;
    for (const std::string& part : parts) {
      const node& d = nodes_.at(id);
      if (!d.dir) return ENOTDIR;
      const auto it = d.entries.find(part);
      if (it == d.entries.end()) return ENOENT;
      id = it->second;
    }
    out = id;
    return 0;
  }

  // The directory that holds path, and the last name (empty for the root).
  std::pair<std::uint64_t, std::string> parent_of(const char* op, const std::string& path, const std::string& shown = {}) const
  {
    std::vector<std::string> parts = split(path);
    if (parts.empty()) return {root, std::string()};
    std::string name = std::move(parts.back());
    parts.pop_back();
    std::uint64_t id = 0;
    if (const int err = lookup(parts, id); err != 0) fail(op, shown.empty() ? path : shown, err);
    if (!nodes_.at(id).dir) fail(op, shown.empty() ? path : shown, ENOTDIR);
    return {id, std::move(name)};
  }

  std::uint64_t dir_of(const char* op, const std::string& path) const
  {
    std::uint64_t id = 0;
    if (const int err = lookup(split(path), id); err != 0) fail(op, path, err);
    if (!nodes_.at(id).dir) fail(op, path, ENOTDIR);
    return id;
  }

  std::uint64_t file_at(const char* op, const std::string& path) const
  {
    std::uint64_t id = 0;
    if (const int err = lookup(split(path), id); err != 0) fail(op, path, err);
    if (nodes_.at(id).dir) fail(op, path, EISDIR);
    return id;
  }

  const open_file& file_of(const char* op, handle h) const
  {
    const auto it = handles_.find(h);
    if (it == handles_.end()) fail(op, "<handle " + std::to_string(h) + ">", EBADF);
    return it->second;
  }

  void link(std::uint64_t dir, const std::string& name, std::uint64_t id, std::uint64_t group)
  {
    node& d = nodes_.at(dir);
    const bool existed = d.entries.contains(name);
    const std::uint64_t before = existed ? d.entries.at(name) : 0;
    d.entries[name] = id;
    try {
      d.pending[name] = group;
    } catch (...) {  // all or nothing
      if (existed) d.entries[name] = before;
      else d.entries.erase(name);
      throw;
    }
  }
  void unlink(std::uint64_t dir, const std::string& name, std::uint64_t group)
  {
    node& d = nodes_.at(dir);
    d.entries.erase(name);
    d.pending[name] = group;
  }

  // Whether node `inner` is `outer` or lies below it (current entries).
  bool contains(std::uint64_t outer, std::uint64_t inner) const
  {
    if (outer == inner) return true;
    const node& d = nodes_.at(outer);
    if (!d.dir) return false;
    for (const auto& [name, id] : d.entries)
      if (nodes_.at(id).dir && contains(id, inner)) return true;
    return false;
  }

  void drop_duplicate_dir_links(std::uint64_t dir, std::set<std::uint64_t>& seen)
  {
    seen.insert(dir);
    node& d = nodes_.at(dir);
    for (auto it = d.entries.begin(); it != d.entries.end();) {
      if (nodes_.at(it->second).dir && seen.count(it->second) != 0) {
        d.durable_entries.erase(it->first);
        it = d.entries.erase(it);
        continue;
      }
      if (nodes_.at(it->second).dir) drop_duplicate_dir_links(it->second, seen);
      ++it;
    }
  }

  // Frees nodes that no name (current or durable) and no handle reaches.
  void collect() noexcept
  {
    try {
      collect_unreachable();
    } catch (const std::bad_alloc&) {  // out of memory: the unreachable nodes wait for the next collect
    }
  }
  void collect_unreachable()
  {
    std::set<std::uint64_t> live;
    std::vector<std::uint64_t> todo{root};
    for (const auto& [h, f] : handles_) todo.push_back(f.id);
    while (!todo.empty()) {
      const std::uint64_t id = todo.back();
      todo.pop_back();
      if (!live.insert(id).second) continue;
      const node& n = nodes_.at(id);
      for (const auto& [name, child] : n.entries) todo.push_back(child);
      for (const auto& [name, child] : n.durable_entries) todo.push_back(child);
    }
    for (auto it = nodes_.begin(); it != nodes_.end();) it = live.count(it->first) != 0 ? std::next(it) : nodes_.erase(it);
  }

  std::mutex mutex_;
  std::map<std::uint64_t, node> nodes_;  // id order is creation order: crash() walks it
  std::map<handle, open_file> handles_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_group_ = 1;
  handle next_handle_ = 3;  // like descriptors: never 0, and never reused
};

} // namespace

struct memory_file_system::state : memory_impl {};

memory_file_system::memory_file_system() : state_(std::make_unique<state>()) {}
memory_file_system::~memory_file_system() = default;

auto memory_file_system::open(const std::string& path, open_mode mode) -> handle { return state_->open(path, mode); }
std::size_t memory_file_system::write(handle h, span<const std::byte> bytes) { return state_->write(h, bytes); }
std::size_t memory_file_system::read(handle h, std::uint64_t offset, span<std::byte> out) { return state_->read(h, offset, out); }
std::uint64_t memory_file_system::size(handle h) { return state_->size(h); }
void memory_file_system::sync(handle h) { state_->sync(h); }
void memory_file_system::truncate(handle h, std::uint64_t length) { state_->truncate(h, length); }
void memory_file_system::close(handle h) noexcept { state_->close(h); }
void memory_file_system::rename(const std::string& from, const std::string& to) { state_->rename(from, to); }
void memory_file_system::remove(const std::string& path) { state_->remove(path); }
void memory_file_system::sync_dir(const std::string& dir) { state_->sync_dir(dir); }
std::vector<std::string> memory_file_system::list(const std::string& dir) { return state_->list(dir); }
void memory_file_system::make_dir(const std::string& dir) { state_->make_dir(dir); }
bool memory_file_system::exists(const std::string& path) { return state_->exists(path); }
void memory_file_system::crash(crash_mode mode, std::uint64_t seed) { state_->crash(mode, seed); }
std::string memory_file_system::contents(const std::string& path) { return state_->contents(path); }
void memory_file_system::set_contents(const std::string& path, const std::string& bytes) { state_->set_contents(path, bytes); }

} // namespace mmsb
