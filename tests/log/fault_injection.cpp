// RELIABILITY #8: inject EIO and ENOSPC into every I/O operation class, failing the Nth call for
// every N the workflow reaches. Each failed call reports a documented error and leaves the store's
// state as it was; after the fault is gone, reopening recovers a prefix of the commits that
// contains every acknowledged one and nothing beyond the last attempted. Also: short writes.
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_txn.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace mmsb;

namespace {
using lay = dense<std::int64_t, 16>;
using store = durable_store<plus_times<std::int64_t>, lay>;
const std::vector<std::byte> shape(6, std::byte{5});

// Commit k adds k + 1 to slot k % 16 of page k % 2.
void commit_k(store& s, std::uint64_t k)
{
  auto tx = mmsb::test::begin_txn(s);
  tx.accumulate(page_id{static_cast<std::uint32_t>(k % 2)}, k % 16, static_cast<std::int64_t>(k + 1));
  (void)mmsb::test::commit_txn(s, tx);
}

state_hash model(std::uint64_t commits)
{
  std::vector<page<lay>> pages{page<lay>(page_id{0}), page<lay>(page_id{1})};
  for (std::uint64_t k = 0; k < commits; ++k) pages[k % 2].set(k % 16, pages[k % 2].get(k % 16) + static_cast<std::int64_t>(k + 1));
  state_hasher h;
  for (const auto& p : pages) hash_into(h, p);
  return h.digest();
}

struct outcome {
  std::uint64_t acknowledged = 0;  // commits that returned
  std::uint64_t attempted = 0;     // commits started
  bool failed = false;
};

// Opens a store, creates two pages, commits 12 times with a checkpoint after 6. Stops at the
// first error, after checking that the failed call changed nothing in memory.
outcome workflow(file_system& fs)
{
  outcome o;
  std::optional<store> s;
  try {
    s.emplace(fs, "/db", shape);
  } catch (const error&) {
    o.failed = true;
    return o;
  }
  try {
    if (s->current_epoch().value() == 0) {
      (void)s->create_page();
      (void)s->create_page();
    }
    for (std::uint64_t k = 0; k < 12; ++k) {
      const auto hash = s->hash();
      const auto e = s->current_epoch();
      ++o.attempted;
      try {
        commit_k(*s, k);
      } catch (const error& err) {
        REQUIRE((err.code() == errc::io_error || err.code() == errc::no_space));
        REQUIRE(s->hash() == hash);  // the failed commit changed nothing in memory
        REQUIRE(s->current_epoch() == e);
        throw;
      }
      ++o.acknowledged;
      if (k == 5) {
        const auto hash_before = s->hash();
        try {
          s->checkpoint();
        } catch (const error&) {
          REQUIRE(s->hash() == hash_before);
          throw;
        }
      }
    }
  } catch (const error&) {
    o.failed = true;
  }
  return o;
}
} // namespace

TEST_CASE("every I/O op class, failing the Nth call with EIO or ENOSPC: clean error, prefix recovery")
{
  const fs_op ops[] = {fs_op::open, fs_op::write, fs_op::sync, fs_op::truncate, fs_op::rename,
                       fs_op::remove, fs_op::sync_dir, fs_op::list, fs_op::make_dir};
  std::map<std::string, int> fired;
  for (const fs_op op : ops) {
    for (const int err : {EIO, ENOSPC}) {
      for (std::uint64_t n = 1;; ++n) {
        memory_file_system mem;
        faulty_file_system fs(mem);
        fs.fail_nth(op, n, err);
        const outcome o = workflow(fs);
        const bool injected = fs.injected() > 0;
        fs.reset();
        INFO(to_string(op) << " #" << n << " errno " << err << ": acknowledged " << o.acknowledged << " of "
                           << o.attempted << " attempted");
        if (injected) ++fired[to_string(op)];
        // Recovery once the fault is gone.
        store again(mem, "/db", shape);
        const std::uint64_t e = again.current_epoch().value();
        REQUIRE(e >= o.acknowledged);
        REQUIRE(e <= o.attempted);
        REQUIRE(again.hash() == (e == 0 ? state_hasher{}.digest() : model(e)));  // pages are durable with the first commit
        if (!injected) {
          REQUIRE(!o.failed);
          break;  // the workflow has fewer than n calls of this class
        }
      }
    }
  }
  int total = 0;
  for (const fs_op op : ops) {
    INFO(to_string(op) << " failures injected: " << fired[to_string(op)]);
    total += fired[to_string(op)];
  }
  std::printf("fault injection: %d faulted runs (EIO and ENOSPC at every reachable call of %zu op classes)\n",
              total, std::size(ops));
  CHECK(fired["write"] > 10);
  CHECK(fired["sync"] > 10);
  CHECK(fired["rename"] > 0);
  CHECK(fired["sync_dir"] > 0);
  CHECK(fired["open"] > 0);
}

TEST_CASE("short writes everywhere still give a complete, recoverable store")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  fs.short_writes(7);
  const outcome o = workflow(fs);
  CHECK(!o.failed);
  CHECK(o.acknowledged == 12);
  fs.reset();
  store again(mem, "/db", shape);
  CHECK(again.current_epoch().value() == 12);
  CHECK(again.hash() == model(12));
}
