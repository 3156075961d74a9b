// Background checkpoints (log/background_checkpoint.hpp through durable_store::begin_checkpoint):
// the file equals the state at its epoch bit for bit while later commits change the pages,
// recovery from it, a crash at every file operation of the background write, failures surfacing
// once with the path, coalescing, destruction in flight, and a concurrent stress run (TSan).
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/random.hpp"
#include "../support/store_txn.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace mmsb;

namespace {
using lay = dense<std::int64_t, 512>;  // 4 KiB pages
using store = durable_store<plus_times<std::int64_t>, lay>;
const std::vector<std::byte> shape(8, std::byte{9});

// Forwards to another file system. Calls from any thread but the owner's (the checkpoint
// thread's) are counted; the one `gate` picks blocks until release(). kill() makes every call
// fail, as if the process had died at the crash (so nothing runs on the disk after it).
class gated_file_system final : public file_system {
public:
  explicit gated_file_system(file_system& inner) : inner_(inner) {}
  // Arms the gate: (op, index of the background call from now, from 1). Only while the
  // background thread is idle.
  void arm(std::function<bool(fs_op, std::uint64_t)> g)
  {
    calls_ = 0;
    gate = std::move(g);
  }

  void wait_reached()
  {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return reached_; });
  }
  bool reached()
  {
    std::lock_guard lock(m_);
    return reached_;
  }
  void release()
  {
    {
      std::lock_guard lock(m_);
      released_ = true;
    }
    cv_.notify_all();
  }
  void kill(bool dead) { dead_ = dead; }
  std::uint64_t background_calls() const { return calls_; }

  handle open(const std::string& path, open_mode mode) override { return step(fs_op::open), inner_.open(path, mode); }
  std::size_t write(handle h, span<const std::byte> bytes) override { return step(fs_op::write), inner_.write(h, bytes); }
  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) override { return step(fs_op::read), inner_.read(h, offset, out); }
  std::uint64_t size(handle h) override { return inner_.size(h); }
  void sync(handle h) override { step(fs_op::sync), inner_.sync(h); }
  void truncate(handle h, std::uint64_t length) override { step(fs_op::truncate), inner_.truncate(h, length); }
  void close(handle h) noexcept override { inner_.close(h); }
  void rename(const std::string& from, const std::string& to) override { step(fs_op::rename), inner_.rename(from, to); }
  void remove(const std::string& path) override { step(fs_op::remove), inner_.remove(path); }
  void sync_dir(const std::string& dir) override { step(fs_op::sync_dir), inner_.sync_dir(dir); }
  std::vector<std::string> list(const std::string& dir) override { return step(fs_op::list), inner_.list(dir); }
  void make_dir(const std::string& dir) override { step(fs_op::make_dir), inner_.make_dir(dir); }
  bool exists(const std::string& path) override { return step(fs_op::list), inner_.exists(path); }

private:
  int step(fs_op op)
  {
    if (std::this_thread::get_id() != owner_) {
      const std::uint64_t n = ++calls_;
      if (gate && !reached_flag_ && gate(op, n)) {
        reached_flag_ = true;
        std::unique_lock lock(m_);
        reached_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
      }
    }
    if (dead_) throw error(errc::io_error, "gated file system: the process died");
    return 0;
  }

  std::function<bool(fs_op, std::uint64_t)> gate;
  file_system& inner_;
  std::thread::id owner_ = std::this_thread::get_id();
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<bool> dead_{false};
  bool reached_flag_ = false;  // the background thread's own
  std::mutex m_;
  std::condition_variable cv_;
  bool reached_ = false, released_ = false;
};

void create_pages(store& s, std::uint32_t n)
{
  for (std::uint32_t p = 0; p < n; ++p) (void)s.create_page();
  auto tx = test::begin_txn(s);
  for (std::uint32_t p = 0; p < n; ++p)
    for (std::size_t i = 0; i < lay::extent; i += 7) tx.accumulate(page_id{p}, i, static_cast<std::int64_t>(p * 1000 + i));
  (void)test::commit_txn(s, tx);
}

// Commit k touches a few pages (every page, with every_page).
void commit_k(store& s, std::uint32_t pages, std::uint64_t k, bool every_page = false)
{
  auto tx = test::begin_txn(s);
  if (every_page) {
    for (std::uint32_t p = 0; p < pages; ++p) tx.accumulate(page_id{p}, k % lay::extent, static_cast<std::int64_t>(k + 1));
  } else {
    for (std::uint64_t j = 0; j < 3; ++j)
      tx.accumulate(page_id{static_cast<std::uint32_t>((k * 7 + j * 13) % pages)}, (k + j) % lay::extent, static_cast<std::int64_t>(k + 1));
  }
  (void)test::commit_txn(s, tx);
}

std::vector<page<lay>> load_pages(file_system& fs, const std::string& dir, checkpoint_load& info)
{
  std::vector<page<lay>> out;
  info = load_checkpoint(fs, dir + "/checkpoints", shape, sizeof(lay::storage_type),
                         [&](page_id id, epoch e, span<const std::byte> bytes) {
                           out.emplace_back(id, e);
                           std::memcpy(&out.back().storage(), bytes.data(), bytes.size());
                         });
  return out;
}

bool same_bits(const std::vector<page<lay>>& a, const std::vector<page<lay>>& b)
{
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].id() != b[i].id() || a[i].epoch() != b[i].epoch()) return false;
    const auto x = a[i].payload_bytes(), y = b[i].payload_bytes();
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size()) != 0) return false;
  }
  return true;
}

} // namespace

TEST_CASE("a background checkpoint equals its epoch bit for bit while commits change every page")
{
  // The gate stops the thread at its first write (about 1 MiB of pages already taken live) or
  // before it takes any page (its first call): every later page then comes from a commit's copy.
  const bool before_any = GENERATE(false, true);
  CAPTURE(before_any);
  memory_file_system mem;
  gated_file_system fs(mem);
  fs.arm([&](fs_op op, std::uint64_t n) { return before_any ? n == 1 : op == fs_op::write; });
  constexpr std::uint32_t pages = 600;  // 2.4 MiB: more than one flush
  state_hash final_hash;
  store::snapshot_type at_epoch;
  store_options small_segments;
  small_segments.log.segment_bytes = 64 << 10;  // the log rolls often: truncation has work to do
  {
    store s(fs, "/db", shape, small_segments);
    create_pages(s, pages);
    for (std::uint64_t k = 0; k < 20; ++k) commit_k(s, pages, k);
    REQUIRE(s.begin_checkpoint());
    at_epoch = s.snapshot();
    CHECK(s.checkpoint_in_flight());
    CHECK_FALSE(s.begin_checkpoint());  // coalesces into the one in flight
    fs.wait_reached();
    for (std::uint64_t k = 20; k < 30; ++k) commit_k(s, pages, k, true);  // every page changes
    (void)s.create_page();  // after the epoch: not in it
    commit_k(s, pages, 30);
    CHECK(s.checkpoint_in_flight());
    fs.release();
    s.wait_checkpoint();
    CHECK_FALSE(s.checkpoint_in_flight());
    CHECK(s.checkpoint_preserved_pages() > 0);
    if (before_any) CHECK(s.checkpoint_preserved_pages() == pages);
    checkpoint_load info;
    const auto back = load_pages(mem, "/db", info);
    REQUIRE(info.loaded);
    CHECK(info.loaded->epoch == at_epoch.epoch);
    CHECK(info.loaded->pages == pages);
    CHECK(same_bits(back, at_epoch.pages));
    // The audit of that epoch reads the same bytes.
    CHECK(same_bits(s.snapshot_at(at_epoch.epoch).pages, at_epoch.pages));
    // The segments before the one active at the epoch are gone; the commits after it stay.
    CHECK_THROWS_WITH(s.for_each_commit([](epoch, span<const store::delta_type>) {}), Catch::Contains("a checkpoint removed"));
    std::uint64_t commits_after = 0;
    s.for_each_commit([&](epoch, span<const store::delta_type>) { ++commits_after; }, at_epoch.epoch);
    CHECK(commits_after == 11);
    final_hash = s.hash();
    CHECK(s.begin_checkpoint());  // the next one starts
    s.wait_checkpoint();
  }
  store again(mem, "/db", shape, small_segments);  // recovery from the checkpoint and the log after it
  CHECK(again.hash() == final_hash);
  CHECK(again.current_epoch() == epoch{at_epoch.epoch.value() + 11});
}

TEST_CASE("a crash at any file operation of a background checkpoint recovers every commit")
{
  constexpr std::uint32_t pages = 5;
  for (const auto mode : {crash_mode::keep, crash_mode::drop, crash_mode::tear, crash_mode::garble}) {
    bool finished = false;
    for (std::uint64_t at = 1; !finished && at < 100; ++at) {
      CAPTURE(static_cast<int>(mode), at);
      memory_file_system mem;
      state_hash expect;
      epoch expect_epoch;
      {
        gated_file_system fs(mem);
        store s(fs, "/db", shape);
        create_pages(s, pages);
        for (std::uint64_t k = 0; k < 6; ++k) commit_k(s, pages, k);
        s.checkpoint();  // an older checkpoint and log to fall back on
        fs.arm([&](fs_op, std::uint64_t n) { return n == at; });
        for (std::uint64_t k = 6; k < 12; ++k) commit_k(s, pages, k);
        REQUIRE(s.begin_checkpoint());
        for (std::uint64_t k = 12; k < 15; ++k) commit_k(s, pages, k);  // may run before the gate
        // Wait until the thread reaches call `at` or finishes.
        while (!fs.reached() && s.checkpoint_in_flight()) std::this_thread::yield();
        finished = !fs.reached();
        for (std::uint64_t k = 15; k < 18; ++k) commit_k(s, pages, k);
        expect = s.hash();
        expect_epoch = s.current_epoch();
        mem.crash(mode, at);  // power loss: every commit was synced (per_commit)
        fs.kill(true);        // ... and nothing runs on the disk after it
        fs.release();
        if (finished) CHECK_NOTHROW(s.wait_checkpoint());
        else CHECK_THROWS(s.wait_checkpoint());
      }  // the store goes with its writes failing; it must not hang or throw
      store again(mem, "/db", shape);
      CHECK(again.hash() == expect);
      CHECK(again.current_epoch() == expect_epoch);
    }
    CHECK(finished);  // every call of the background write was a crash point
  }
}

TEST_CASE("a failed background write surfaces once, naming the checkpoint; recovery is unaffected")
{
  const fs_op op = GENERATE(fs_op::open, fs_op::write, fs_op::sync, fs_op::rename, fs_op::sync_dir);
  CAPTURE(static_cast<int>(op));
  memory_file_system mem;
  faulty_file_system faulty(mem);
  constexpr std::uint32_t pages = 4;
  state_hash expect;
  {
    gated_file_system fs(faulty);
    store s(fs, "/db", shape);
    create_pages(s, pages);
    for (std::uint64_t k = 0; k < 5; ++k) commit_k(s, pages, k);
    s.checkpoint();
    fs.arm([&](fs_op, std::uint64_t n) { return n == 1; });  // hold the thread before its first call
    for (std::uint64_t k = 5; k < 10; ++k) commit_k(s, pages, k);
    REQUIRE(s.begin_checkpoint());
    fs.wait_reached();
    faulty.fail_nth(op, 1, EIO);  // the thread's next call of op (the owner does no I/O until it is done)
    fs.release();
    while (s.checkpoint_in_flight()) std::this_thread::yield();
    try {
      (void)s.begin_checkpoint();  // the next checkpoint call reports it, starting nothing
      FAIL("no error");
    } catch (const error& e) {
      CHECK(e.code() == errc::io_error);
      CHECK_THAT(e.what(), Catch::Contains("background checkpoint at epoch 11") && Catch::Contains("/db/checkpoints/" + checkpoint_name(epoch{11})));
    }
    CHECK_FALSE(s.checkpoint_in_flight());
    CHECK_NOTHROW(s.wait_checkpoint());  // once
    // Unpublished (a failed directory fsync comes after the rename: the file is there, not durable).
    if (op != fs_op::sync_dir) CHECK_FALSE(mem.exists("/db/checkpoints/" + checkpoint_name(epoch{11})));
    CHECK(mem.exists("/db/checkpoints/" + checkpoint_name(epoch{6})));  // the previous one stays
    for (std::uint64_t k = 10; k < 13; ++k) commit_k(s, pages, k);  // the store works on
    expect = s.hash();
  }
  store again(mem, "/db", shape);
  CHECK(again.hash() == expect);
  CHECK(again.current_epoch() == epoch{14});
  CHECK(again.begin_checkpoint());
  again.wait_checkpoint();
  CHECK(mem.exists("/db/checkpoints/" + checkpoint_name(epoch{14})));
}

TEST_CASE("destroying a store with a checkpoint in flight finishes it cleanly")
{
  memory_file_system mem;
  constexpr std::uint32_t pages = 300;
  state_hash expect;
  {
    store s(mem, "/db", shape);
    create_pages(s, pages);
    for (std::uint64_t k = 0; k < 10; ++k) commit_k(s, pages, k);
    REQUIRE(s.begin_checkpoint());
    for (std::uint64_t k = 10; k < 20; ++k) commit_k(s, pages, k, true);
    expect = s.hash();
  }
  checkpoint_load info;
  (void)load_pages(mem, "/db", info);
  REQUIRE(info.loaded);
  CHECK(info.loaded->epoch == epoch{11});
  store again(mem, "/db", shape);
  CHECK(again.hash() == expect);
}

TEST_CASE("commits, background checkpoints and audits from another thread run together")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  memory_file_system mem;
  constexpr std::uint32_t pages = 24;
  state_hash expect;
  {
    store s(mem, "/db", shape);
    create_pages(s, pages);
    std::mutex m;
    std::map<std::uint64_t, state_hash> hash_at;  // recorded by the committing thread
    hash_at[s.current_epoch().value()] = s.hash();
    std::atomic<bool> done{false}, mismatch{false};
    std::atomic<std::uint64_t> audits{0};
    std::thread auditor([&] {
      while (!done.load()) {
        const epoch e = s.current_epoch();
        try {
          const state_hash h = s.replay_to(e);
          std::lock_guard lock(m);
          const auto it = hash_at.find(e.value());
          if (it == hash_at.end()) continue;  // not recorded yet
          if (it->second != h) mismatch = true;
          ++audits;
        } catch (const error& x) {
          if (x.code() != errc::out_of_range) mismatch = true;
        }
        try {
          s.for_each_commit([](epoch, span<const store::delta_type>) {}, e);
        } catch (const error& x) {
          if (x.code() != errc::out_of_range) mismatch = true;
        }
      }
    });
    std::uint64_t started = 0;
    for (std::uint64_t k = 0; k < 400; ++k) {
      commit_k(s, pages, k, rng() % 8 == 0);
      {
        std::lock_guard lock(m);
        hash_at[s.current_epoch().value()] = s.hash();
      }
      if (rng() % 10 == 0) started += s.begin_checkpoint();
    }
    s.wait_checkpoint();
    done = true;
    auditor.join();
    CHECK_FALSE(mismatch.load());
    CHECK(started > 0);
    CHECK(audits.load() > 0);
    expect = s.hash();
    checkpoint_load info;
    (void)load_pages(mem, "/db", info);
    REQUIRE(info.loaded);
    {
      std::lock_guard lock(m);
      CHECK(info.loaded->hash == hash_at.at(info.loaded->epoch.value()));
    }
    s.checkpoint();  // blocking, after the background ones
  }
  store again(mem, "/db", shape);
  CHECK(again.hash() == expect);
}
