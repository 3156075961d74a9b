// The custom semiring of the cuda_custom test: unknown to the library, so it takes the generic
// path everywhere. Shared by the .cu file that instantiates the kernels and the host test.
#pragma once

#include <mmsb/config/macros.hpp>
#include <mmsb/page/dense.hpp>

#include <cstdint>

namespace user {
// Saturating min-plus over int16.
struct min_plus16 {
  using value_type = std::int16_t;
  MMSB_HD static constexpr std::int16_t add(std::int16_t a, std::int16_t b) noexcept { return a < b ? a : b; }
  MMSB_HD static constexpr std::int16_t mul(std::int16_t a, std::int16_t b) noexcept
  {
    return (a == INT16_MAX || b == INT16_MAX) ? INT16_MAX : static_cast<std::int16_t>(a + b);
  }
  MMSB_HD static constexpr std::int16_t zero() noexcept { return INT16_MAX; }
  MMSB_HD static constexpr std::int16_t one() noexcept { return 0; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
};
using layout16 = mmsb::dense<std::int16_t, 200>;
} // namespace user
