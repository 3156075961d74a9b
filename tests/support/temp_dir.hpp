// Test support: a fresh directory under the system's temporary directory, removed with its
// contents when the test ends, a helper that damages one byte of a file in place, and the names
// in a directory.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace mmsb::test {

// A directory `<tmp>/<prefix>-XXXXXX`, made on construction and removed (with everything in it)
// on destruction.
struct temp_dir {
  std::string path;
  explicit temp_dir(const std::string& prefix = "mmsb-test")
  {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir()
  {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

// XORs the byte at `offset` of the file with `mask` (a damage that a second call repairs).
inline void flip_byte(const std::string& path, std::uint64_t offset, unsigned char mask = 0x5a)
{
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  unsigned char b = 0;
  REQUIRE(::pread(fd, &b, 1, static_cast<off_t>(offset)) == 1);
  b ^= mask;
  REQUIRE(::pwrite(fd, &b, 1, static_cast<off_t>(offset)) == 1);
  ::close(fd);
}

// The names of the entries in a directory (none when it cannot be read).
inline std::vector<std::string> entries_in(const std::string& dir)
{
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  return names;
}

} // namespace mmsb::test
