// Transient I/O errors (file_system.hpp: io_retry, retryable): EINTR and short writes are
// completed; EAGAIN, ENOSPC and EDQUOT that clear within the retry policy are retried and the
// commit lands with exactly the bytes a fault-free run writes; one that lasts is reported as the
// documented error with memory and files as before the call, and the store works again once it
// clears. fsync is never retried: a failed sync still poisons the log.
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_files.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <stdlib.h>

using namespace mmsb;

namespace {

using sr = plus_times<std::int64_t>;
using lay = dense<std::int64_t, 16>;
using store = durable_store<sr, lay>;
const std::vector<std::byte> shape(9, std::byte{7});

// A fast policy for tests: 4 calls in all, 200 us then 400 us then 800 us of backoff.
constexpr io_retry quick{4, std::chrono::microseconds{200}, std::chrono::microseconds{800}, 100};

std::vector<std::byte> bytes_of(const std::string& s)
{
  std::vector<std::byte> out;
  for (const char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::string read_back(file_system& fs, const std::string& path)
{
  const auto h = fs.open(path, open_mode::read);
  std::string out(fs.size(h), '\0');
  std::size_t at = 0;
  while (at < out.size()) at += fs.read(h, at, {reinterpret_cast<std::byte*>(out.data()) + at, out.size() - at});
  fs.close(h);
  return out;
}

// Commit k of the workload: one accumulate to each of two pages, values depending on k.
epoch commit_number(store& s, int k)
{
  std::vector<store::delta_type> tx;
  tx.push_back(delta_builder<sr, lay>(page_id{0}).accumulate(static_cast<std::size_t>(k % 16), k).build());
  tx.push_back(delta_builder<sr, lay>(page_id{1}).accumulate(static_cast<std::size_t>((3 * k) % 16), -k).build());
  return s.commit(tx);
}

// The reference: the same store, pages and commits 1..n on a fault-free file system.
struct reference {
  memory_file_system mem;
  state_hash hash{};
  std::vector<std::byte> files;
  explicit reference(int n)
  {
    store s(mem, "/db", shape);
    (void)s.create_page();
    (void)s.create_page();
    for (int k = 1; k <= n; ++k) (void)commit_number(s, k);
    hash = s.hash();
    files = test::store_files(mem, "/db");
  }
};

} // namespace

TEST_CASE("the retry policy: which errnos are transient", "[log][io_retry]")
{
  for (const int err : {EAGAIN, EWOULDBLOCK, ENOSPC, EDQUOT}) CHECK(retryable(err));
  for (const int err : {EIO, EROFS, EBADF, EFBIG, EINVAL, EINTR, EACCES, ENOENT, EEXIST}) CHECK(!retryable(err));
  const io_retry d{};
  CHECK(d.attempts == 6);
  CHECK(io_retry::none().attempts == 1);
  memory_file_system mem;
  CHECK(mem.retry_policy().attempts == d.attempts);
  faulty_file_system fs(mem);
  CHECK(fs.retry_policy().attempts == 1);  // injected faults fail the call they are armed for
}

TEST_CASE("write_all: a transient errno that clears within the policy is retried; one that lasts is reported",
          "[log][io_retry]")
{
  memory_file_system mem;
  mem.make_dir("/t");
  faulty_file_system fs(mem);
  fs.set_retry_policy(quick);
  const auto data = bytes_of("0123456789abcdefghijklmnopqrstuvwxyz");
  for (const int err : {EAGAIN, ENOSPC, EDQUOT}) {
    INFO("errno " << err);
    const std::string path = "/t/f" + std::to_string(err);
    const auto h = fs.open(path, open_mode::truncate);
    fs.reset();
    // Short writes of 5 bytes, and the 3rd to 5th write calls fail: 3 failures in a row, within
    // the 4 calls of the policy. The retry continues exactly where the failed call stopped.
    fs.short_writes(5);
    fs.fail_times(fs_op::write, 3, err, 3);
    fs.write_all(h, data);
    CHECK(fs.injected() == 3);
    CHECK(fs.count(fs_op::write) == 3 + (data.size() + 4) / 5);
    CHECK(read_back(mem, path) == "0123456789abcdefghijklmnopqrstuvwxyz");

    // A fault that lasts: the policy's 4 calls, then the documented error, nothing written.
    fs.reset();
    fs.fail_nth(fs_op::write, 1, err, true);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      fs.write_all(h, data);
      FAIL("write_all survived a lasting errno " << err);
    } catch (const fs_error& e) {
      CHECK(e.sys_errno() == err);
      CHECK(e.code() == (err == EAGAIN ? errc::io_error : errc::no_space));
      CHECK_THAT(e.what(), Catch::Contains(path));
    }
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::microseconds{200 + 400 + 800});
    CHECK(fs.count(fs_op::write) == quick.attempts);
    CHECK(read_back(mem, path).size() == data.size());
    fs.reset();
    fs.close(h);
  }
}

TEST_CASE("write_all: EINTR is retried at once under any policy; EIO is never retried", "[log][io_retry]")
{
  memory_file_system mem;
  mem.make_dir("/t");
  faulty_file_system fs(mem);  // io_retry::none()
  const auto h = fs.open("/t/f", open_mode::truncate);
  fs.fail_times(fs_op::write, 1, EINTR, 7);
  fs.write_all(h, bytes_of("hello"));
  CHECK(fs.count(fs_op::write) == 8);
  CHECK(read_back(mem, "/t/f") == "hello");

  // EINTR forever is reported after eintr_limit calls, not spun on.
  fs.reset();
  fs.fail_nth(fs_op::write, 1, EINTR, true);
  try {
    fs.write_all(h, bytes_of("x"));
    FAIL("write_all survived endless EINTR");
  } catch (const fs_error& e) {
    CHECK(e.sys_errno() == EINTR);
  }
  CHECK(fs.count(fs_op::write) == io_retry::none().eintr_limit);

  fs.reset();
  fs.set_retry_policy(quick);
  fs.fail_times(fs_op::write, 1, EIO, 1);
  CHECK_THROWS_AS(fs.write_all(h, bytes_of("y")), fs_error);
  CHECK(fs.count(fs_op::write) == 1);
  CHECK(read_back(mem, "/t/f") == "hello");
  fs.reset();
  fs.close(h);
}

TEST_CASE("open_retrying: a transient ENOSPC or EAGAIN on open is retried", "[log][io_retry]")
{
  memory_file_system mem;
  mem.make_dir("/t");
  faulty_file_system fs(mem);
  fs.set_retry_policy(quick);
  fs.fail_times(fs_op::open, 1, ENOSPC, 2);
  const auto h = fs.open_retrying("/t/a", open_mode::create_new);
  CHECK(fs.count(fs_op::open) == 3);
  fs.close(h);
  fs.reset();
  fs.fail_nth(fs_op::open, 1, EAGAIN, true);
  CHECK_THROWS_AS(fs.open_retrying("/t/b", open_mode::create_new), fs_error);
  CHECK(fs.count(fs_op::open) == quick.attempts);
  CHECK(!mem.exists("/t/b"));
}

TEST_CASE("durable_store: a transient write or open error within the policy commits with the right bytes",
          "[log][io_retry]")
{
  const reference ref(6);
  for (const int err : {EAGAIN, ENOSPC, EDQUOT}) {
    for (const fs_op op : {fs_op::write, fs_op::open}) {
      INFO("errno " << err << " on " << to_string(op));
      memory_file_system mem;
      faulty_file_system fs(mem);
      fs.set_retry_policy(quick);
      {
        // Opening the store opens its first segment: a transient fault there is retried too.
        fs.fail_times(op, 1, err, 3);
        store s(fs, "/db", shape);
        CHECK(fs.injected() == 3u);
        (void)s.create_page();
        (void)s.create_page();
        for (int k = 1; k <= 6; ++k) {
          // Every commit's writes meet 3 failures in a row, then succeed.
          fs.reset();
          fs.set_retry_policy(quick);
          if (op == fs_op::write) fs.short_writes(11);  // and each write is short
          fs.fail_times(op, 1, err, 3);
          if (k == 4) {
            s.checkpoint();  // rolls the log (a new segment: open) and writes the checkpoint
            fs.fail_times(op, 1, err, 3);
          }
          CHECK(commit_number(s, k) == epoch{static_cast<std::uint64_t>(k)});
        }
        CHECK(s.hash() != state_hash{});
        fs.reset();
      }
      // The same files (checkpoint aside: the reference took none) and the same state on reopen.
      store again(mem, "/db", shape);
      CHECK(again.current_epoch() == epoch{6});
      CHECK(again.hash() == ref.hash);
    }
  }
}

TEST_CASE("durable_store: a transient write error within the policy leaves byte-identical files", "[log][io_retry]")
{
  const reference ref(5);
  memory_file_system mem;
  faulty_file_system fs(mem);
  fs.set_retry_policy(quick);
  {
    store s(fs, "/db", shape);
    (void)s.create_page();
    (void)s.create_page();
    for (int k = 1; k <= 5; ++k) {
      fs.reset();
      fs.short_writes(13);
      fs.fail_times(fs_op::write, 2, k % 2 ? ENOSPC : EAGAIN, 3);  // after a short write: mid-record
      (void)commit_number(s, k);
      CHECK(fs.injected() == 3);
    }
    CHECK(s.hash() == ref.hash);
  }
  CHECK(test::store_files(mem, "/db") == ref.files);
}

TEST_CASE("durable_store: a lasting ENOSPC is reported with memory and files as before; commits resume once it clears",
          "[log][io_retry]")
{
  const reference ref(4);
  for (const int err : {ENOSPC, EAGAIN}) {
    INFO("errno " << err);
    memory_file_system mem;
    faulty_file_system fs(mem);
    fs.set_retry_policy(quick);
    {
      store s(fs, "/db", shape);
      (void)s.create_page();
      (void)s.create_page();
      for (int k = 1; k <= 2; ++k) (void)commit_number(s, k);
      const auto hash = s.hash();
      const auto files = test::store_files(mem, "/db");
      // Part of the record reaches the file (short writes), then the disk stays full: the torn
      // tail is cut back, so the file holds exactly the acknowledged commits.
      fs.reset();
      fs.short_writes(9);
      fs.fail_nth(fs_op::write, 3, err, true);
      try {
        (void)commit_number(s, 3);
        FAIL("commit survived a lasting errno " << err);
      } catch (const error& e) {
        CHECK(e.code() == (err == ENOSPC ? errc::no_space : errc::io_error));
        CHECK_THAT(e.what(), Catch::Contains("/db/log/"));
      }
      CHECK(fs.count(fs_op::write) == 2 + quick.attempts);
      CHECK(s.hash() == hash);
      CHECK(s.current_epoch() == epoch{2});
      CHECK(test::store_files(mem, "/db") == files);
      // The same commit, once the space is back, and the next.
      fs.reset();
      CHECK(commit_number(s, 3) == epoch{3});
      CHECK(commit_number(s, 4) == epoch{4});
      CHECK(s.hash() == ref.hash);
    }
    store again(mem, "/db", shape);
    CHECK(again.current_epoch() == epoch{4});
    CHECK(again.hash() == ref.hash);
  }
}

TEST_CASE("a failed sync is never retried: the log is poisoned with the original error", "[log][io_retry]")
{
  memory_file_system mem;
  faulty_file_system fs(mem);
  fs.set_retry_policy(quick);
  store s(fs, "/db", shape);
  (void)s.create_page();
  (void)s.create_page();
  (void)commit_number(s, 1);
  const auto hash = s.hash();
  fs.reset();
  fs.fail_times(fs_op::sync, 1, EAGAIN, 1);  // would clear at once: still not retried
  CHECK_THROWS_WITH(commit_number(s, 2), Catch::Contains("sync") && Catch::Contains("[injected]"));
  CHECK(fs.count(fs_op::sync) == 1);
  CHECK(s.hash() == hash);
  fs.reset();
  // Poisoned: the next commit rethrows the original error without touching the file system.
  CHECK_THROWS_WITH(commit_number(s, 2), Catch::Contains("sync") && Catch::Contains("[injected]"));
  CHECK(fs.count(fs_op::write) == 0);
  CHECK(fs.count(fs_op::sync) == 0);
  CHECK(s.hash() == hash);
}

TEST_CASE("posix_file_system under injected transient faults: the real files hold the right bytes", "[log][io_retry]")
{
  std::string tmpl = (std::filesystem::temp_directory_path() / "mmsb-io-retry-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const reference ref(3);
  {
    posix_file_system posix;
    faulty_file_system fs(posix);
    fs.set_retry_policy(quick);
    {
      store s(fs, tmpl + "/db", shape);
      (void)s.create_page();
      (void)s.create_page();
      for (int k = 1; k <= 3; ++k) {
        fs.reset();
        fs.short_writes(17);
        fs.fail_times(fs_op::write, 2, ENOSPC, 2);
        (void)commit_number(s, k);
      }
    }
    store again(posix, tmpl + "/db", shape);
    CHECK(again.hash() == ref.hash);
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}
