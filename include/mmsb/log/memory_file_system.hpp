// memory_file_system: a file_system held in memory, with power-loss simulation. crash() turns the
// current state into what a disk would hold after losing power, so tests can check that the
// log and checkpoints recover from every sync point.
//
// MODEL. Files and directories are nodes (inodes); a directory maps names to nodes. Paths are
// '/'-separated, relative paths are taken from the root ("a/b" is "/a/b"), empty and "."
// components are ignored and ".." is lexical. A handle refers to the node, not the name, so an
// open file that is renamed or removed stays usable, as in POSIX. Every call takes one mutex.
// map() is not offered (file_system's default): readers copy through read(), so no view into a
// file outlives the mutex.
// - Each file keeps its durable content (as of its last sync()) beside its current content.
//   Writes only append, so the current content shares a prefix with the durable one: its length
//   is the durable length, lowered by any truncate() since the sync. The rest is unsynced.
// - Each directory keeps its durable entries (as of its last sync_dir()) beside its current ones.
//   A creation, rename or removal that the directory has not synced may be lost.
//
// CRASH. crash(mode, seed) keeps, for each file with unsynced content:
//   keep    all of the current content;
//   drop    the durable content (an unsynced truncate is undone too);
//   tear    the synced prefix plus a random prefix (possibly empty, possibly all) of the rest;
//   garble  the synced prefix plus a random non-empty prefix of the rest, in which 1 to 8 bytes
//           are changed (at least one byte differs; bytes before the unsynced part never change);
//   random  one of the four above, chosen per file.
// and, for each directory entry changed since its directory's last sync_dir():
//   keep    the change is kept;          drop    the change is reverted;
//   tear, garble, random   each change is kept or reverted with probability 1/2.
// A rename is one change: its two names (in one directory or two) are kept or reverted together,
// as a journaling file system does, so a renamed file keeps exactly one of its names. (A later
// change to either name is decided on its own; then a file can end up under both names, like a
// hard link.) A directory whose creation is reverted disappears with everything in it. Choices
// follow a SplitMix64 stream of seed over files and directories in creation order, so one seed
// replays one outcome. After crash() everything is durable and every handle is invalid (EBADF).
//
// Beyond file_system's contract (matching posix_file_system): handles opened for writing can
// also read; read() is short only at end of file; make_dir() of an existing directory succeeds;
// remove() of a directory fails (EISDIR). Errors read "open /t/x: No such file or directory
// (errno 2)".
//
// Compiled into libmmsb (src/log/memory_file_system.cpp).
#pragma once

#include <mmsb/core/span.hpp>
#include <mmsb/log/file_system.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mmsb {

// What survives of unsynced writes and directory changes at a simulated power loss.
enum class crash_mode : std::uint8_t { keep, drop, tear, garble, random };

// An in-memory file_system that can simulate power loss (crash()); see the top of this header.
// Safe to call from several threads (every call takes one mutex).
class memory_file_system final : public file_system {
public:
  memory_file_system();
  memory_file_system(const memory_file_system&) = delete;
  memory_file_system& operator=(const memory_file_system&) = delete;
  ~memory_file_system() override;

  handle open(const std::string& path, open_mode mode) override;
  std::size_t write(handle h, span<const std::byte> bytes) override;
  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) override;
  std::uint64_t size(handle h) override;
  void sync(handle h) override;
  void truncate(handle h, std::uint64_t length) override;
  void close(handle h) noexcept override;
  void rename(const std::string& from, const std::string& to) override;
  void remove(const std::string& path) override;
  void sync_dir(const std::string& dir) override;
  std::vector<std::string> list(const std::string& dir) override;
  void make_dir(const std::string& dir) override;
  bool exists(const std::string& path) override;

  // Simulated power loss; see CRASH above.
  void crash(crash_mode mode, std::uint64_t seed);

  // The current content of a file (what a reader would see now). Throws io_error if missing.
  std::string contents(const std::string& path);

  // Replaces a file's content, as if those bytes had been found on disk: current and durable.
  // Creates the file (durably) if missing; its directory must exist. For tests that corrupt files.
  void set_contents(const std::string& path, const std::string& bytes);

private:
  struct state;  // the nodes, the open handles and the mutex
  std::unique_ptr<state> state_;
};

} // namespace mmsb
