// workload_digest.hpp: a 64-bit fingerprint of what an example generated from its seed (the
// program, the map, the book, the producers' change streams), printed as the "workload digest"
// line beside the state hash.
//
// Contract: every value is fed as a fixed-width 64-bit little-endian integer (floating-point
// values as their bit pattern), never as raw object bytes, so padding and layout never enter
// it: the same values in the same order give the same digest with any compiler and standard
// library. Equal digests under GCC and clang mean both builds ran the same workload; then any
// difference in the state hash comes from the library, not from the generator.
// scripts/check-compilers compares these lines across compilers.
//
// FNV-1a over the bytes: no dependency, a few MB per second is plenty for these inputs.
#pragma once

#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

namespace example {

class workload_digest {
public:
  template <class T>
    requires std::is_arithmetic_v<T> || std::is_enum_v<T>
  workload_digest& add(T v) noexcept
  {
    std::uint64_t u = 0;
    if constexpr (std::is_floating_point_v<T>) u = std::bit_cast<std::uint64_t>(static_cast<double>(v));
    else if constexpr (std::is_enum_v<T>) u = static_cast<std::uint64_t>(static_cast<std::underlying_type_t<T>>(v));
    else u = static_cast<std::uint64_t>(v);  // negative values sign-extend: still one 64-bit pattern
    for (int i = 0; i < 8; ++i) {
      h_ ^= (u >> (8 * i)) & 0xffu;
      h_ *= 0x100000001b3ull;
    }
    return *this;
  }
  // Folds in a digest computed elsewhere (say, by one producer thread), in the caller's order.
  workload_digest& add(const workload_digest& part) noexcept { return add(part.value()); }

  [[nodiscard]] std::uint64_t value() const noexcept { return h_; }
  [[nodiscard]] std::string hex() const
  {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

private:
  std::uint64_t h_ = 0xcbf29ce484222325ull;  // the FNV-1a 64-bit offset basis
};

} // namespace example
