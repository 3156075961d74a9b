// Shared by the libFuzzer targets (RELIABILITY #15, docs/durability.md "Fuzzing"): the bus shape
// every seed and target uses, splitting one input into several files, and re-sealing records so
// mutations get past the checksum to the code behind it.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/record.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace mmsb::fuzz {

// The shape written into every seed's segment and checkpoint records.
inline const std::vector<std::byte>& shape()
{
  static const std::vector<std::byte> s = [] {
    const std::string_view text = "fuzz:plus_times<i64>:dense<8>";
    std::vector<std::byte> v;
    for (char c : text) v.push_back(static_cast<std::byte>(c));
    return v;
  }();
  return s;
}

// Several files travel in one input, separated by this line (the seeds are built that way).
inline constexpr std::string_view file_separator = "\n--MMSB-FUZZ-FILE--\n";

inline std::vector<std::string> split_files(const std::uint8_t* data, std::size_t size, std::size_t max_files)
{
  std::vector<std::string> out;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  std::size_t at = 0;
  while (out.size() + 1 < max_files) {
    const auto next = all.find(file_separator, at);
    if (next == std::string_view::npos) break;
    out.emplace_back(all.substr(at, next - at));
    at = next + file_separator.size();
  }
  out.emplace_back(all.substr(at));
  return out;
}

inline std::string join_files(const std::vector<std::string>& files)
{
  std::string out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (i != 0) out += file_separator;
    out += files[i];
  }
  return out;
}

// Walks `bytes` record by record from the start (each header's payload length says where the next
// one begins) and rewrites every whole record's checksum, so a mutated record passes the checksum
// and reaches the checks behind it (order, segment head, payload decoding). Stops at the first
// record that does not fit.
inline void reseal_records(std::string& bytes)
{
  auto* p = reinterpret_cast<std::byte*>(bytes.data());
  std::size_t off = 0;
  while (bytes.size() - off >= record_header_bytes) {
    const std::uint64_t len = detail::load_le(p + off + 4, 4);
    if (bytes.size() - off - record_header_bytes < len) break;
    const span<const std::byte> payload(p + off + record_header_bytes, static_cast<std::size_t>(len));
    detail::store_le(p + off + 32, detail::record_checksum(p + off, payload), 8);
    off += record_header_bytes + static_cast<std::size_t>(len);
  }
}

// A broken promise: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const char* what, const std::string& detail = {})
{
  std::fprintf(stderr, "mmsb fuzz: invariant broken: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

} // namespace mmsb::fuzz

#define MMSB_FUZZ_CHECK(cond, ...)                                                                                     \
  do {                                                                                                                 \
    if (!(cond)) ::mmsb::fuzz::fail(#cond __VA_OPT__(, ) __VA_ARGS__);                                                 \
  } while (0)
