// 03_compiler_ir's real-IR mode: liveness over the SSA values of every function in .ll files
// (real_ir.cpp), checked against a worklist solver after every edit batch.
#pragma once

#include <cstdint>
#include <string>

namespace example03 {

struct real_ir_options {
  std::string path;          // a .ll file or a directory of them
  int edits = 100;           // edit batches (0: analyse only)
  std::uint32_t batch = 4;   // edits per batch
  std::uint64_t seed = 2026;
  std::string dump_live_in;  // where to write every block's live-in set, or empty
};

// Runs the analysis, the edits and the checks; 0 when every check held, 1 at the first mismatch.
// Throws ir::ll_error (file, line, construct) for IR it cannot read, std::runtime_error for a path.
int run_real_ir(const real_ir_options& o);

} // namespace example03
