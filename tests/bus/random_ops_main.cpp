// The random-operations driver (RELIABILITY #14, #16, #20): runs random_ops.hpp's seeded
// operations on a durable bus, checks the oracle after every one, and prints the final state
// hash and a digest of every log and checkpoint file, so two builds (scripts/check-compilers)
// or two runs can be compared. scripts/soak runs it with fresh seeds.
//
//   random_ops [--seed N] [--ops N] [--dir DIR] [--once] [--sync none|group|per_commit] [--verbose]
//     --seed, --ops  default: MMSB_SEED and MMSB_OPS, else 0x5eed2026 and 2000
//     --dir DIR      on the real file system: the store goes in DIR/a/store (and DIR/b/store for the
//                    second run); DIR is created if missing and left for inspection. Default: in memory
//     --once         one run (default: two, which must write the same files byte for byte)
//     --sync         the log's durability on the real file system (default none: the bytes are the same)
//     --verbose      one line per operation on stderr
// Exit status: 0 every check passed; 1 a mismatch (the seed and the op are printed); 2 usage.
#include "random_ops.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>

using namespace mmsb::test::random_ops;

namespace {

int usage(const char* why)
{
  std::fprintf(stderr, "random_ops: %s\nusage: random_ops [--seed N] [--ops N] [--dir DIR] [--once] "
                       "[--sync none|group|per_commit] [--verbose]\n", why);
  return 2;
}

bool number(const char* s, std::uint64_t& out)
{
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s, &end, 0);
  return errno == 0 && *end == '\0' && s[0] != '-';
}

} // namespace

int main(int argc, char** argv)
{
  config cfg;
  bool once = false;
  if (const char* s = std::getenv("MMSB_SEED"); s && *s && !number(s, cfg.seed)) return usage("MMSB_SEED is not a number");
  if (const char* s = std::getenv("MMSB_OPS"); s && *s && !number(s, cfg.ops)) return usage("MMSB_OPS is not a number");
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--seed") {
      if (!number(next, cfg.seed)) return usage("--seed needs a number");
      ++i;
    } else if (a == "--ops") {
      if (!number(next, cfg.ops)) return usage("--ops needs a number");
      ++i;
    } else if (a == "--dir") {
      if (!next || !*next) return usage("--dir needs a directory");
      cfg.dir = next;
      ++i;
    } else if (a == "--sync") {
      const std::string v = next ? next : "";
      if (v == "none") cfg.sync = mmsb::durability::none;
      else if (v == "group") cfg.sync = mmsb::durability::group;
      else if (v == "per_commit") cfg.sync = mmsb::durability::per_commit;
      else return usage(("--sync: unknown policy '" + v + "'").c_str());
      ++i;
    } else if (a == "--once") {
      once = true;
    } else if (a == "--verbose") {
      cfg.verbose = true;
    } else {
      return usage(("unknown argument '" + a + "'").c_str());
    }
  }
  if (!cfg.dir.empty() && ::mkdir(cfg.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "random_ops: cannot create %s: %s\n", cfg.dir.c_str(), std::strerror(errno));
    return 2;
  }
  std::printf("random ops: seed %llu, %llu ops, %s\n", static_cast<unsigned long long>(cfg.seed),
              static_cast<unsigned long long>(cfg.ops), cfg.dir.empty() ? "in memory" : ("in " + cfg.dir).c_str());
  std::fflush(stdout);
  result r;
  try {
    if (once && !cfg.dir.empty()) {
      config c = cfg;
      c.dir = cfg.dir + "/a";
      if (::mkdir(c.dir.c_str(), 0755) != 0 && errno != EEXIST) return usage("cannot create DIR/a");
      r = run(c);
    } else {
      r = once ? run(cfg) : run_twice(cfg);
    }
  } catch (const std::exception& e) {  // setting up the directories
    r.ok = false;
    r.failure = e.what();
  }
  if (!r.ok) {
    std::printf("random ops: FAILED (seed %llu, %llu ops): %s\n", static_cast<unsigned long long>(cfg.seed),
                static_cast<unsigned long long>(cfg.ops), r.failure.c_str());
    std::printf("replay: random_ops --seed %llu --ops %llu --verbose%s\n", static_cast<unsigned long long>(cfg.seed),
                static_cast<unsigned long long>(r.failed_op + 1 < cfg.ops ? r.failed_op + 1 : cfg.ops), cfg.dir.empty() ? "" : " --dir DIR");
    return 1;
  }
  std::printf("operations:");
  for (const auto& [kind, n] : r.counts) std::printf(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(n));
  std::printf("\nfinal epoch %llu\nstate hash %016llx\n", static_cast<unsigned long long>(r.final_epoch),
              static_cast<unsigned long long>(r.final_hash));
  for (const auto& [name, bytes] : r.files)
    std::printf("file %s %zu bytes xxh3 %016llx\n", name.c_str(), bytes.size(), static_cast<unsigned long long>(xxh3(bytes)));
  std::printf("random ops: OK (%zu files%s)\n", r.files.size(), once ? "" : ", the same bytes in both runs");
  return 0;
}
