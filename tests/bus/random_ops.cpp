// Seeded random operations on a durable bus against a plain oracle (RELIABILITY #14): the
// operations and the oracle are in random_ops.hpp. Every run here is done twice and must write
// the same log and checkpoint files byte for byte.
//   MMSB_SEED=N MMSB_OPS=M  the seed and length of the first case (default: a fixed seed, 2000 ops)
// Every line of random_ops_seeds.txt (the soak's failures, scripts/soak) is replayed as well.
#include "random_ops.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace mmsb::test::random_ops;

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback)
{
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

void check_run(const config& cfg)
{
  INFO("seed " << cfg.seed << ", " << cfg.ops << " ops" << (cfg.dir.empty() ? " in memory" : " on " + cfg.dir)
               << " (replay: build/tests/random_ops --seed " << cfg.seed << " --ops " << cfg.ops << " --verbose)");
  const result r = run_twice(cfg);
  INFO(r.failure);
  REQUIRE(r.ok);
  CHECK(r.final_epoch > 0);
  CHECK(!r.files.empty());
  // Every kind of operation ran (a run long enough to draw each).
  if (cfg.ops >= 1000)
    for (const char* kind : {"push slots", "push sparse delta", "push dense delta", "push combined run", "tick", "tick (zero budget)",
                             "transaction", "abort", "refused transaction", "add matrix edge", "add kernel edge", "remove edge",
                             "set weights", "checkpoint", "background checkpoint", "reopen", "audit"}) {
      INFO("operation " << kind);
      CHECK(r.counts.count(kind) == 1);
    }
}

} // namespace

TEST_CASE("random ops: the oracle after every operation; the same seed writes the same bytes", "[bus][random_ops]")
{
  config cfg;
  cfg.seed = env_or("MMSB_SEED", cfg.seed);
  cfg.ops = env_or("MMSB_OPS", 2000);
  check_run(cfg);
}

TEST_CASE("random ops: more seeds, each with its own checkpoint period, segment size and compression", "[bus][random_ops]")
{
  for (std::uint64_t seed : {11u, 12u, 13u, 14u}) {
    config cfg;
    cfg.seed = seed;
    cfg.ops = 400;
    check_run(cfg);
  }
}

TEST_CASE("random ops: on the real file system, twice into two directories", "[bus][random_ops]")
{
  char tmpl[] = "/tmp/mmsb-random-ops-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  config cfg;
  cfg.seed = 21;
  cfg.ops = 400;
  cfg.dir = tmpl;
  check_run(cfg);
  REQUIRE(std::system(("rm -rf '" + std::string(tmpl) + "'").c_str()) == 0);
}

TEST_CASE("random ops: under a memory budget that keeps most pages in a spill file, the oracle sees no difference", "[bus][random_ops][spill]")
{
  for (std::uint64_t seed : {31u, 32u}) {
    config cfg;
    cfg.seed = seed;
    cfg.ops = 1500;
    cfg.memory_limit = 4096;  // about 13 of up to 48 pages of 192 bytes at the low watermark
    const result r = run_twice(cfg);
    INFO("seed " << seed << ": " << r.failure);
    REQUIRE(r.ok);
    CHECK(r.max_spill_writes > 100);  // pages really went to the file, tick after tick
    CHECK(r.max_reloads > 100);       // and came back when touched
  }
}

TEST_CASE("random ops: every regression seed in random_ops_seeds.txt", "[bus][random_ops]")
{
  std::ifstream in(MMSB_RANDOM_OPS_SEEDS);
  REQUIRE(in.good());
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    config cfg;
    INFO("random_ops_seeds.txt line: " << line);
    REQUIRE(static_cast<bool>(fields >> cfg.seed >> cfg.ops));
    std::string where;
    if (fields >> where && where == "posix") {  // it failed on the real file system: replay it there
      char tmpl[] = "/tmp/mmsb-random-ops-XXXXXX";
      REQUIRE(::mkdtemp(tmpl) != nullptr);
      cfg.dir = tmpl;
      check_run(cfg);
      REQUIRE(std::system(("rm -rf '" + cfg.dir + "'").c_str()) == 0);
    } else {
      check_run(cfg);
    }
    ++cases;
  }
  CHECK(cases > 0);
}
