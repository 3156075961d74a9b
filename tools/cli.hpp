// The mmsb command's shared pieces: its options, JSON text, and the commands (one .cpp per group).
//
// Exit status, for every command (docs/tool.md):
//   0  done: nothing damaged (verify, dump), the states are equal (diff), the epoch is reachable
//   1  the thing looked for was found: damage (log verify, log dump, checkpoint verify), a
//      difference (diff), an unreachable epoch (log replay --to, the dry run)
//   2  the command could not do its work: a usage error (unknown option, missing argument, bad
//      number), a bad path, files it cannot read or trust (a damaged store replay or diff
//      needs), a shape it cannot interpret. One line on stderr names the path or option.
#pragma once

#include <mmsb/log/file_system.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mmsb::tool {

// A command line the usage text does not allow: exit 2 with the message and the command's usage.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  std::vector<std::string> words;  // command words and paths, in order
  bool json = false;
  bool dump = false;
  std::optional<std::uint64_t> epoch;  // --epoch (replay, diff)
  std::optional<std::uint64_t> to;     // --to (log replay)
  std::optional<std::uint64_t> count;  // --count (top)
};

// The usage text (all commands, exit codes) and the usage line of one command.
const char* usage_text();
std::string usage_of(const std::string& command);

// A string as a JSON string literal; a value's text as a JSON value (non-finite floats quoted).
std::string json_string(const std::string& s);
std::string json_value(const std::string& text);

// dir/sub if that exists (a store directory), else dir itself (the subdirectory was given).
std::string resolve(file_system& fs, const std::string& dir, const char* sub);
// Throws mmsb::error (io_error) naming the path unless it is an existing directory.
void require_dir(const std::string& path);

// The commands; each returns its exit status and throws mmsb::error for status 2.
int log_dump(file_system& fs, const std::string& dir, bool json);
int log_verify(file_system& fs, const std::string& dir, bool json);
int log_replay(file_system& fs, const std::string& dir, std::uint64_t to, bool json);
int checkpoint_verify(file_system& fs, const std::string& dir, bool json);
int replay(file_system& fs, const std::string& dir, std::optional<std::uint64_t> epoch, bool dump, bool json);
int stat(file_system& fs, const std::string& dir, bool json);
// Live stats of the bus whose directory is dir, read from dir's stats file (obs/registry.hpp)
// once a second, `count` times (0: until interrupted). Status 2 when there is no stats file.
int top(const std::string& dir, std::uint64_t count, bool json);
int diff(file_system& fs, const std::string& left, const std::string& right, std::optional<std::uint64_t> epoch, bool json);

// One checkpoint file checked completely (shared by checkpoint verify and stat).
struct checkpoint_check {
  bool valid = false;
  std::string detail;  // "valid: N pages" or why not
  std::string shape;   // in words
};
checkpoint_check check_checkpoint(file_system& fs, const std::string& dir, std::uint64_t epoch);

} // namespace mmsb::tool
