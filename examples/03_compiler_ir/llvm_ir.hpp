// The part of LLVM IR that liveness needs, read from the textual form (.ll files): functions,
// their basic blocks and control flow, and for each instruction the SSA value it defines and the
// SSA values it uses (a phi's incoming values with the predecessor they come from).
//
// What is read: the output of `clang -S -emit-llvm`, typically after `opt -passes=mem2reg`
// (tested with LLVM 14's typed pointers and LLVM 16's opaque `ptr`, at -O0 and -O2). Everything outside `define ... { ... }`
// (types, globals, declarations, attributes, metadata) is skipped. Inside a body, a local
// `%name` that is an argument or an instruction's result is an SSA value; `%name` that is a block
// label is a successor when it follows `label`; a `%name` that is neither (a type such as
// `%struct.lua_State`) is not a value. Constants, globals (`@g`) and metadata are not values.
//
// Refused with ll_error naming the file, the line and the construct (never a crash): a body that
// does not end with `}`, a block without a terminator or with instructions after it, a branch to
// a label that is not a block of the function, a value defined twice, a use of a name that is
// neither a value, a label nor a type, a phi whose incoming block is not a predecessor, quoted
// names (`%"..."`), and instructions this reader does not model (`invoke`, `callbr`,
// `landingpad`, `catchswitch`, `cleanuppad`, `catchpad`: exception handling).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ir {

// A parse failure: what() is "FILE:LINE: message".
struct ll_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t no_value = UINT32_MAX;

struct instruction {
  std::uint32_t def = no_value;      // the value it defines, or no_value
  std::vector<std::uint32_t> uses;   // values it reads (not a phi's incoming values), in order
  // A phi: (value, predecessor block) for each incoming value that is an SSA value.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> incoming;
  bool phi = false;
  std::uint32_t line = 0;  // in its file (0 for an instruction an edit inserted)
};

struct basic_block {
  std::string name;                      // the label without '%'; "entry" for an unnamed entry block
  std::vector<instruction> code;         // phis first, the terminator last
  std::vector<std::uint32_t> succ, pred; // distinct, in order of first appearance
};

struct function {
  std::string name;                // without '@'
  std::string file;                // the .ll file it came from
  std::uint32_t line = 0;          // of its `define`
  std::vector<std::string> values; // value names without '%': the arguments first, then results
  std::uint32_t arguments = 0;
  std::vector<basic_block> blocks; // blocks[0] is the entry block
};

// Reads every function defined in one .ll file. Throws ll_error, or std::runtime_error when the
// file cannot be read.
std::vector<function> read_ll(const std::string& path);

// The .ll files a path names: the file itself, or every *.ll in a directory, sorted by name.
// Throws std::runtime_error naming the path when it is neither, or a directory holds none.
std::vector<std::string> ll_files(const std::string& path);

} // namespace ir
