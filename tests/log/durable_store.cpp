// The durable store: transactions, recovery, checkpoints with log truncation under a
// non-idempotent ⊕, replay to past epochs, failed commits, the bank invariant with concurrent
// readers, and SIGKILL at random moments (RELIABILITY #5, #8, #13, #19).
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_txn.hpp"

#include "../support/random.hpp"

#include <atomic>
#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>
#include <sys/wait.h>
#include <vector>

using namespace mmsb;

namespace {
using sr = plus_times<std::int64_t>;  // + is not idempotent: applying a delta twice shows
using lay = dense<std::int64_t, 64>;
using store = durable_store<sr, lay>;
const std::vector<std::byte> shape(12, std::byte{3});
constexpr std::uint32_t accounts_pages = 4;
constexpr std::int64_t opening_balance = 1000;

// Deterministic transaction k: move an amount between two accounts (slot = account in a page).
struct transfer {
  std::uint32_t from_page, to_page;
  std::size_t from_slot, to_slot;
  std::int64_t amount;
};
transfer transfer_for(std::uint64_t seed, std::uint64_t k)
{
  std::mt19937_64 rng(seed * 1000003 + k);
  return {static_cast<std::uint32_t>(rng() % accounts_pages), static_cast<std::uint32_t>(rng() % accounts_pages),
          rng() % lay::extent, rng() % lay::extent, static_cast<std::int64_t>(rng() % 100)};
}

void open_accounts(store& s)
{
  for (std::uint32_t p = 0; p < accounts_pages; ++p) (void)s.create_page();
  auto tx = mmsb::test::begin_txn(s);
  for (std::uint32_t p = 0; p < accounts_pages; ++p)
    for (std::size_t a = 0; a < lay::extent; ++a) tx.accumulate(page_id{p}, a, opening_balance);
  (void)mmsb::test::commit_txn(s, tx);
}

void commit_transfer(store& s, const transfer& t)
{
  auto tx = mmsb::test::begin_txn(s);
  tx.accumulate(page_id{t.from_page}, t.from_slot, -t.amount).accumulate(page_id{t.to_page}, t.to_slot, t.amount);
  (void)mmsb::test::commit_txn(s, tx);
}

// The oracle: the same transfers on plain arrays.
state_hash oracle_hash(std::uint64_t seed, std::uint64_t transfers)
{
  std::vector<page<lay>> pages;
  for (std::uint32_t p = 0; p < accounts_pages; ++p) {
    pages.emplace_back(page_id{p});
    for (std::size_t a = 0; a < lay::extent; ++a) pages.back().set(a, opening_balance);
  }
  for (std::uint64_t k = 0; k < transfers; ++k) {
    const auto t = transfer_for(seed, k);
    pages[t.from_page].set(t.from_slot, pages[t.from_page].get(t.from_slot) - t.amount);
    pages[t.to_page].set(t.to_slot, pages[t.to_page].get(t.to_slot) + t.amount);
  }
  state_hasher h;
  for (const auto& p : pages) hash_into(h, p);
  return h.digest();
}

std::int64_t total(const std::vector<page<lay>>& pages)
{
  std::int64_t sum = 0;
  for (const auto& p : pages)
    for (std::size_t a = 0; a < lay::extent; ++a) sum += p.get(a);
  return sum;
}
} // namespace

TEST_CASE("commits survive a reopen with the same state and epoch")
{
  memory_file_system fs;
  state_hash before;
  {
    store s(fs, "/db", shape);
    open_accounts(s);
    for (std::uint64_t k = 0; k < 50; ++k) commit_transfer(s, transfer_for(1, k));
    before = s.hash();
    CHECK(s.current_epoch() == epoch{51});
    CHECK(before == oracle_hash(1, 50));
  }
  store again(fs, "/db", shape);
  CHECK(again.hash() == before);
  CHECK(again.current_epoch() == epoch{51});
  CHECK(!again.recovery().damage);
}

TEST_CASE("checkpoint and log truncation under + : every recovery path equals the oracle (no double apply)")
{
  MMSB_TEST_INFO_SEED();
  const std::uint64_t seed = test::seed();
  memory_file_system fs;
  {
    store s(fs, "/db", shape);
    open_accounts(s);
    for (std::uint64_t k = 0; k < 30; ++k) commit_transfer(s, transfer_for(seed, k));
  }
  {  // path 1: log only
    store s(fs, "/db", shape);
    REQUIRE(s.hash() == oracle_hash(seed, 30));
    s.checkpoint();
    CHECK(fs.list("/db/log").size() == 1);  // covered segments removed, a fresh one started
    for (std::uint64_t k = 30; k < 60; ++k) commit_transfer(s, transfer_for(seed, k));
  }
  {  // path 2: checkpoint + the log after it
    store s(fs, "/db", shape);
    REQUIRE(s.hash() == oracle_hash(seed, 60));
    s.checkpoint();
  }
  {  // path 3: checkpoint alone (empty log after it), then more commits and another reopen
    store s(fs, "/db", shape);
    REQUIRE(s.hash() == oracle_hash(seed, 60));
    for (std::uint64_t k = 60; k < 70; ++k) commit_transfer(s, transfer_for(seed, k));
  }
  store s(fs, "/db", shape);
  CHECK(s.hash() == oracle_hash(seed, 70));
  CHECK(s.current_epoch() == epoch{71});
}

TEST_CASE("replay reproduces any epoch the retained log covers, and says when it cannot")
{
  memory_file_system fs;
  store s(fs, "/db", shape);
  open_accounts(s);
  std::map<std::uint64_t, state_hash> at;
  for (std::uint64_t k = 0; k < 10; ++k) commit_transfer(s, transfer_for(2, k));
  s.checkpoint();  // at epoch 11; the log before it is gone
  at[11] = s.hash();
  for (std::uint64_t k = 10; k < 25; ++k) {
    commit_transfer(s, transfer_for(2, k));
    at[s.current_epoch().value()] = s.hash();
  }
  for (const auto& [e, h] : at) REQUIRE(s.replay_to(epoch{e}) == h);
  // The refusal names the epoch asked for, where the log resumes and the oldest epoch reachable.
  CHECK_THROWS_WITH(s.replay_to(epoch{5}), Catch::Contains("records between were truncated") && Catch::Contains("epoch 5 cannot be rebuilt") &&
                                             Catch::Contains("starts at epoch 12") && Catch::Contains("the oldest epoch reachable is 11"));
  CHECK_THROWS_WITH(s.replay_to(epoch{99}), Catch::Contains("past the end of the retained log"));
  // Retention by checkpoints: a second checkpoint keeps the log from the first on, so every epoch
  // since it is still reachable (the fallback if the newest checkpoint is damaged).
  s.checkpoint();  // at epoch 26
  commit_transfer(s, transfer_for(2, 99));
  at[27] = s.hash();
  CHECK(s.replay_to(epoch{11}) == at[11]);
  CHECK(s.replay_to(epoch{12}) == at[12]);
  // A third removes the first checkpoint and the log before the second.
  s.checkpoint();  // at epoch 27
  commit_transfer(s, transfer_for(2, 100));
  CHECK(s.replay_to(epoch{26}) == at[26]);
  CHECK(s.replay_to(epoch{27}) == at[27]);
  CHECK_THROWS_WITH(s.replay_to(epoch{12}),
                    Catch::Equals("replay: epoch 12 cannot be rebuilt: no valid checkpoint at or before it remains and the retained "
                                  "log starts at epoch 27 (the records between were truncated); the oldest epoch reachable is 26 (a "
                                  "checkpoint the log continues from)"));
}

TEST_CASE("replay sees the commits still in the writer's buffer under durability none and group")
{
  for (const auto d : {durability::none, durability::group}) {
    memory_file_system fs;
    store s(fs, "/db", shape, store_options{log_options{d}});  // a 256 KiB buffer: nothing reaches the file by itself
    open_accounts(s);
    std::map<std::uint64_t, state_hash> at;
    for (std::uint64_t k = 0; k < 6; ++k) {
      commit_transfer(s, transfer_for(5, k));
      at[s.current_epoch().value()] = s.hash();
    }
    for (const auto& [e, h] : at) CHECK(s.replay_to(epoch{e}) == h);
    CHECK(s.snapshot_at(s.current_epoch()).epoch == s.current_epoch());
    std::uint64_t seen = 0;
    s.for_each_commit([&](epoch, span<const store::delta_type>) { ++seen; });
    CHECK(seen == s.current_epoch().value());  // the history too
    commit_transfer(s, transfer_for(5, 6));  // commits go on after a replay wrote the buffer out
    CHECK(s.replay_to(s.current_epoch()) == s.hash());
  }
}

TEST_CASE("snapshot_at gives every page at a past epoch; for_each_commit replays the history onto another store")
{
  memory_file_system fs;
  store s(fs, "/db", shape);
  open_accounts(s);
  std::map<std::uint64_t, std::vector<page<lay>>> at;
  for (std::uint64_t k = 0; k < 20; ++k) {
    commit_transfer(s, transfer_for(5, k));
    at[s.current_epoch().value()] = s.snapshot().pages;
  }
  for (const auto& [e, pages] : at) {
    const auto snap = s.snapshot_at(epoch{e});
    REQUIRE(snap.epoch == epoch{e});
    REQUIRE(snap.pages.size() == pages.size());
    for (std::size_t i = 0; i < pages.size(); ++i) {
      REQUIRE(snap.pages[i].id() == pages[i].id());
      REQUIRE(snap.pages[i].epoch() == pages[i].epoch());
      REQUIRE(std::memcmp(&snap.pages[i].storage(), &pages[i].storage(), sizeof(lay::storage_type)) == 0);
    }
  }

  // The history, applied commit by commit to a second store with the same pages, gives the same
  // state after every commit.
  memory_file_system fs2;
  store copy(fs2, "/db", shape);
  for (std::uint32_t p = 0; p < accounts_pages; ++p) (void)copy.create_page();
  std::vector<std::pair<epoch, state_hash>> copied;  // compared with replays after: f must not call back into s
  s.for_each_commit([&](epoch e, span<const store::delta_type> ds) {
    auto ds2 = std::vector<store::delta_type>(ds.begin(), ds.end());
    REQUIRE(copy.commit(ds2, [](auto& t, span<const store::delta_type> d, epoch at_e) {
      for (const auto& x : d) { apply(t.at(x.target()), x); t.at(x.target()).set_epoch(at_e); }
    }) == e);
    copied.emplace_back(e, copy.hash());
  });
  for (const auto& [e, h] : copied) REQUIRE(h == s.replay_to(e));
  CHECK(copied.size() == s.current_epoch().value());
  CHECK(copy.hash() == s.hash());

  // From a later epoch only; and after a checkpoint removed the start, a clear refusal.
  std::uint64_t tail = 0;
  s.for_each_commit([&](epoch e, span<const store::delta_type>) { CHECK(epoch{15} < e); ++tail; }, epoch{15});
  CHECK(tail == s.current_epoch().value() - 15);
  s.checkpoint();
  commit_transfer(s, transfer_for(5, 99));
  CHECK_THROWS_WITH(s.for_each_commit([](epoch, span<const store::delta_type>) {}),
                    Catch::Contains("a checkpoint removed the commits between") && Catch::Contains("the commits after epoch 0 were asked for") &&
                      Catch::Contains("resumes at epoch 22") && Catch::Contains("the oldest epoch to start from is 21"));
  std::uint64_t after_ckpt = 0;
  s.for_each_commit([&](epoch, span<const store::delta_type>) { ++after_ckpt; }, epoch{21});
  CHECK(after_ckpt == 1);
  CHECK_THROWS_WITH(s.snapshot_at(epoch{3}), Catch::Contains("records between were truncated") && Catch::Contains("epoch 3 cannot be rebuilt") &&
                                               Catch::Contains("the oldest epoch reachable is 21"));
  CHECK(s.snapshot_at(epoch{22}).pages.size() == accounts_pages);
}

TEST_CASE("a failed commit leaves memory and files as they were; a failed fsync refuses later commits")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  store s(fs, "/db", shape);
  open_accounts(s);
  commit_transfer(s, transfer_for(3, 0));
  const auto hash = s.hash();
  const auto log_before = mem.contents("/db/log/" + mem.list("/db/log")[0]);
  for (int err : {EIO, ENOSPC}) {
    fs.fail_nth(fs_op::write, 1, err);
    try {
      commit_transfer(s, transfer_for(3, 1));
      FAIL("commit survived an I/O error");
    } catch (const error& e) {
      CHECK(e.code() == (err == ENOSPC ? errc::no_space : errc::io_error));
    }
    CHECK(s.hash() == hash);
    CHECK(s.current_epoch() == epoch{2});
    CHECK(mem.contents("/db/log/" + mem.list("/db/log")[0]) == log_before);
  }
  // The failed transaction itself is intact: retrying it commits exactly its changes.
  fs.fail_nth(fs_op::write, 1, EIO);
  auto retry = mmsb::test::begin_txn(s);
  const auto t = transfer_for(3, 1);
  retry.accumulate(page_id{t.from_page}, t.from_slot, -t.amount).accumulate(page_id{t.to_page}, t.to_slot, t.amount);
  CHECK_THROWS_AS(mmsb::test::commit_txn(s, retry), error);
  CHECK(!retry.empty());
  (void)mmsb::test::commit_txn(s, retry);  // works again
  CHECK(retry.empty());
  CHECK(s.current_epoch() == epoch{3});
  CHECK(s.hash() == oracle_hash(3, 2));

  auto tx = mmsb::test::begin_txn(s);
  tx.accumulate(page_id{77}, 0, 1);
  CHECK_THROWS_WITH(mmsb::test::commit_txn(s, tx), "commit: unknown page 77");
  CHECK(s.current_epoch() == epoch{3});

  fs.fail_nth(fs_op::sync, 1, EIO);
  std::string first;
  try {
    commit_transfer(s, transfer_for(3, 2));
  } catch (const error& e) {
    first = e.what();
  }
  REQUIRE(!first.empty());
  const auto after = s.hash();
  fs.reset();
  CHECK_THROWS_WITH(commit_transfer(s, transfer_for(3, 3)), first);
  CHECK(s.hash() == after);         // reads keep working
  CHECK(!s.snapshot().pages.empty());
}

TEST_CASE("bank invariant: with aborts and concurrent readers every snapshot sums exactly")
{
  memory_file_system fs;
  store s(fs, "/db", shape, store_options{log_options{durability::none}});
  open_accounts(s);
  const std::int64_t expected = opening_balance * static_cast<std::int64_t>(accounts_pages * lay::extent);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> snapshots{0}, violations{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      std::uint64_t last = 0;
      while (!done.load()) {
        const auto snap = s.snapshot();
        if (total(snap.pages) != expected || snap.epoch.value() < last) violations.fetch_add(1);
        last = snap.epoch.value();
        snapshots.fetch_add(1);
      }
    });
  std::mt19937_64 rng(4);
  for (std::uint64_t k = 0; k < 3000; ++k) {
    const auto t = transfer_for(4, k);
    auto tx = mmsb::test::begin_txn(s);
    tx.accumulate(page_id{t.from_page}, t.from_slot, -t.amount);
    if (rng() % 5 == 0) {  // a transaction abandoned half way: nothing of it may show
      tx.clear();
      continue;
    }
    tx.accumulate(page_id{t.to_page}, t.to_slot, t.amount);
    (void)mmsb::test::commit_txn(s, tx);
  }
  done = true;
  for (auto& r : readers) r.join();
  CHECK(snapshots.load() > 0);
  CHECK(violations.load() == 0);
  std::vector<page<lay>> all = s.snapshot().pages;
  CHECK(total(all) == expected);
}

TEST_CASE("SIGKILL at random moments: recovery gives a prefix with every acknowledged commit")
{
  MMSB_TEST_INFO_SEED();
  const std::uint64_t seed = test::seed();
  const char* env = std::getenv("MMSB_KILL_RUNS");
  const int runs = env ? std::atoi(env) : 200;
  char dir_template[] = "/tmp/mmsb-kill-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = std::string(dir_template) + "/db";
  posix_file_system fs;
  std::mt19937_64 rng(seed);
  std::uint64_t last_acked = 0;
  int violations = 0;
  for (int run = 0; run < runs; ++run) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the writer: commit transfers; report each acknowledged epoch
      close(fds[0]);
      try {
        store s(fs, dir, shape);
        if (s.current_epoch().value() == 0) open_accounts(s);
        for (;;) {
          const std::uint64_t k = s.current_epoch().value() - 1;
          commit_transfer(s, transfer_for(seed, k));
          const std::uint64_t acked = s.current_epoch().value();
          if (write(fds[1], &acked, sizeof acked) != sizeof acked) _exit(3);
        }
      } catch (...) {
        _exit(2);
      }
    }
    close(fds[1]);
    usleep(static_cast<useconds_t>(500 + rng() % 4000));
    kill(pid, SIGKILL);
    std::uint64_t acked = 0;
    for (std::uint64_t v; read(fds[0], &v, sizeof v) == sizeof v;) acked = v;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE((WIFSIGNALED(status) || acked == 0));  // it died by the kill, not by an error
    if (acked > last_acked) last_acked = acked;

    store s(fs, dir, shape);  // recovery
    const std::uint64_t e = s.current_epoch().value();
    INFO("run " << run << ": recovered epoch " << e << ", last acknowledged " << last_acked);
    if (e < last_acked) ++violations;                                     // lost an acknowledged commit
    if (e >= 1 && s.hash() != oracle_hash(seed, e - 1)) ++violations;    // not exactly a prefix
    REQUIRE(violations == 0);
    last_acked = e;  // what recovery kept is what the next run continues from
    if (run % 50 == 49) s.checkpoint();
  }
  CHECK(violations == 0);
  std::system((std::string("rm -rf ") + dir_template).c_str());
}
