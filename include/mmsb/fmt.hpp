// Opt-in fmt formatters for MMSB vocabulary types: ids print their value (format specs of the
// underlying integer apply), errc its name, state_hash 16 hex digits. Needs fmt 9 or newer.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/core/strong_id.hpp>

#include <fmt/format.h>

// The three formatters below are kept out of the API reference (doxygen cannot place a
// specialization declared in namespace fmt); the top comment is their documentation.
/// @cond

template <class Tag, class Rep>
struct fmt::formatter<mmsb::strong_id<Tag, Rep>> : fmt::formatter<Rep> {
  template <class FormatContext>
  auto format(mmsb::strong_id<Tag, Rep> id, FormatContext& ctx) const
  {
    return fmt::formatter<Rep>::format(id.value(), ctx);
  }
};

template <>
struct fmt::formatter<mmsb::errc> : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(mmsb::errc e, FormatContext& ctx) const
  {
    const auto name = mmsb::to_string(e);
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(name.data(), name.size()), ctx);
  }
};

template <>
struct fmt::formatter<mmsb::state_hash> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class FormatContext>
  auto format(mmsb::state_hash h, FormatContext& ctx) const
  {
    return fmt::format_to(ctx.out(), "{:016x}", h.value);
  }
};

/// @endcond
