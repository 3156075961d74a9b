// Test support: a store's files as one byte string, to check that two runs wrote the same log.
#pragma once

#include <mmsb/log/file_system.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace mmsb::test {

// Every file of a store's log and checkpoint directories: name, then bytes, in name order.
inline std::vector<std::byte> store_files(file_system& fs, const std::string& store)
{
  std::vector<std::byte> out;
  for (const std::string& dir : {store + "/log", store + "/checkpoints"}) {
    if (!fs.exists(dir)) continue;
    auto names = fs.list(dir);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      for (const char c : name) out.push_back(static_cast<std::byte>(c));
      const auto h = fs.open(dir + "/" + name, open_mode::read);
      std::vector<std::byte> bytes(fs.size(h));
      std::size_t at = 0;
      while (at < bytes.size()) at += fs.read(h, at, {bytes.data() + at, bytes.size() - at});
      fs.close(h);
      out.insert(out.end(), bytes.begin(), bytes.end());
    }
  }
  return out;
}

} // namespace mmsb::test
