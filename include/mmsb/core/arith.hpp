// Overflow-defined integer arithmetic: wrapping add/sub/mul (two's complement, no UB), used by
// the built-in semirings so that integer results are exact and identical on every backend.
#pragma once

#include <mmsb/config/macros.hpp>

#include <type_traits>

namespace mmsb::detail {

// Promote narrow types to `unsigned` so that unsigned short * unsigned short cannot overflow int.
template <class T>
using wrap_rep_t = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <class T>
[[nodiscard]] MMSB_HD constexpr T wrap_add(T a, T b) noexcept
{
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<wrap_rep_t<T>>(a) + static_cast<wrap_rep_t<T>>(b));
  else
    return a + b;
}

template <class T>
[[nodiscard]] MMSB_HD constexpr T wrap_sub(T a, T b) noexcept
{
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<wrap_rep_t<T>>(a) - static_cast<wrap_rep_t<T>>(b));
  else
    return a - b;
}

template <class T>
[[nodiscard]] MMSB_HD constexpr T wrap_mul(T a, T b) noexcept
{
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<wrap_rep_t<T>>(a) * static_cast<wrap_rep_t<T>>(b));
  else
    return a * b;
}

} // namespace mmsb::detail
