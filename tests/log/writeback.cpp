// posix_file_system's early writeback (file_system::start_writeback): requests run on a helper
// thread, never reach a closed handle, change nothing a reader sees, and a forked child starts
// its own helper. In the concurrency suite (run under ThreadSanitizer).
#include <mmsb/log/posix_file_system.hpp>

#include "../support/sanitizers.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mmsb;

namespace {
std::vector<std::byte> pattern(std::size_t n, unsigned seed)
{
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + seed * 7) & 0xff);
  return out;
}

// Writes `bytes` to a new file at path in two pieces, asks for writeback of each piece, closes at
// once, and reads the file back: true when it holds exactly `bytes`.
bool write_hint_close_check(posix_file_system& fs, const std::string& path, const std::vector<std::byte>& bytes)
{
  const auto h = fs.open(path, open_mode::create_new);
  const std::size_t half = bytes.size() / 2;
  fs.write_all(h, span<const std::byte>(bytes.data(), half));
  fs.start_writeback(h, 0, half);
  fs.write_all(h, span<const std::byte>(bytes.data() + half, bytes.size() - half));
  fs.start_writeback(h, half, bytes.size() - half);  // continues the queued one when still queued
  fs.close(h);                                       // drops or waits out this handle's requests
  fs.start_writeback(h, 0, bytes.size());            // closed: ignored
  const auto r = fs.open(path, open_mode::read);
  std::vector<std::byte> back(bytes.size() + 1);
  const auto got = fs.read(r, 0, span<std::byte>(back.data(), back.size()));
  fs.close(r);
  fs.remove(path);
  return got == bytes.size() && std::memcmp(back.data(), bytes.data(), bytes.size()) == 0;
}
} // namespace

TEST_CASE("posix_file_system: writeback requests from two threads while their handles close")
{
  test::temp_dir dir("mmsb-writeback");
  posix_file_system fs;
  constexpr int rounds = 150;
  int bad[2] = {0, 0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const auto bytes = pattern(std::size_t{16} << 10, static_cast<unsigned>(t * rounds + i));
        if (!write_hint_close_check(fs, dir.path + "/f" + std::to_string(t) + "-" + std::to_string(i), bytes)) ++bad[t];
      }
    });
  for (auto& th : threads) th.join();
  CHECK(bad[0] == 0);
  CHECK(bad[1] == 0);
}

TEST_CASE("posix_file_system: a file system destroyed with requests queued stops its helper, files intact")
{
  test::temp_dir dir("mmsb-writeback");
  int intact = 0;
  for (int i = 0; i < 20; ++i) {
    const auto bytes = pattern(std::size_t{64} << 10, static_cast<unsigned>(i));
    const std::string path = dir.path + "/f" + std::to_string(i);
    {
      posix_file_system fs;
      const auto h = fs.open(path, open_mode::create_new);
      fs.write_all(h, bytes);
      for (int k = 0; k < 8; ++k) fs.start_writeback(h, static_cast<std::uint64_t>(k) << 13, std::uint64_t{1} << 13);
    }  // the destructor stops the helper (a hang here fails the test by its timeout), then closes h
    posix_file_system reader;
    const auto r = reader.open(path, open_mode::read);
    std::vector<std::byte> back(bytes.size() + 1);
    const auto got = reader.read(r, 0, span<std::byte>(back.data(), back.size()));
    reader.close(r);
    intact += got == bytes.size() && std::memcmp(back.data(), bytes.data(), bytes.size()) == 0;
  }
  CHECK(intact == 20);
}

TEST_CASE("posix_file_system: a forked child starts its own writeback helper")
{
#if MMSB_TEST_TSAN
  WARN("skipped: ThreadSanitizer does not support fork() of a multithreaded process");
#else
  test::temp_dir dir("mmsb-writeback");
  posix_file_system fs;
  REQUIRE(write_hint_close_check(fs, dir.path + "/parent", pattern(std::size_t{32} << 10, 1)));  // the parent's helper runs
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      bool ok = true;
      for (int i = 0; i < 20 && ok; ++i)
        ok = write_hint_close_check(fs, dir.path + "/child" + std::to_string(i), pattern(std::size_t{32} << 10, 2 + i));
      ::_exit(ok ? 0 : 1);
    } catch (...) {
      ::_exit(2);  // never back into the test runner in the child
    }
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("the child hung on its inherited writeback helper");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(write_hint_close_check(fs, dir.path + "/parent-after", pattern(std::size_t{32} << 10, 3)));
#endif
}
