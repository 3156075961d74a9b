// Compiler-independent names for element types and semirings, for durable files (the shape
// descriptor in mmsb/bus/shape.hpp) and messages. Never derived from typeid, whose bytes differ
// between compilers.
//
//   `element_name_v<T>`      "bool", "i8".."i64", "u8".."u64" (by signedness and width, so
//                            `long` and `long long` of 64 bits are both "i64"), "f32", "f64";
//                            empty for any other type
//   `semiring_name_v<S>`     the name a semiring gives itself (see mmsb/semiring/concept.hpp);
//                            the built-ins are "plus_times<f32>", "min_plus<i64>", "or_and", ...
//   `has_semiring_name<S>`   it gives one
//   `joined_name<Parts...>`  a static string_view of several static string_views, end to end
//                            (how a template such as min_plus<T> spells its name at compile time)
#pragma once

#include <mmsb/semiring/concept.hpp>

#include <cstddef>
#include <limits>
#include <string_view>
#include <type_traits>

namespace mmsb {

namespace detail {
template <std::size_t N>
struct name_chars {
  char chars[N + 1]{};
};

template <const std::string_view&... Parts>
inline constexpr auto joined_chars = [] {
  name_chars<(Parts.size() + ... + 0)> out{};
  std::size_t i = 0;
  for (const std::string_view part : {std::string_view{}, Parts...})
    for (const char c : part) out.chars[i++] = c;
  return out;
}();

template <class T>
constexpr std::string_view element_name() noexcept
{
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>) return "bool";
  else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    if constexpr (sizeof(U) == 1) return "i8";
    else if constexpr (sizeof(U) == 2) return "i16";
    else if constexpr (sizeof(U) == 4) return "i32";
    else if constexpr (sizeof(U) == 8) return "i64";
    else return {};
  } else if constexpr (std::is_integral_v<U>) {
    if constexpr (sizeof(U) == 1) return "u8";
    else if constexpr (sizeof(U) == 2) return "u16";
    else if constexpr (sizeof(U) == 4) return "u32";
    else if constexpr (sizeof(U) == 8) return "u64";
    else return {};
  } else if constexpr (std::is_floating_point_v<U> && std::numeric_limits<U>::is_iec559) {
    // IEEE binary32 / binary64 by their significand width, not by the C++ type's spelling.
    if constexpr (std::numeric_limits<U>::digits == 24 && sizeof(U) == 4) return "f32";
    else if constexpr (std::numeric_limits<U>::digits == 53 && sizeof(U) == 8) return "f64";
    else return {};
  } else {
    return {};
  }
}

inline constexpr std::string_view name_open = "<";
inline constexpr std::string_view name_close = ">";
} // namespace detail

// Several static string_views end to end, as one static string_view (compile time; the storage
// lives as long as the program).
template <const std::string_view&... Parts>
inline constexpr std::string_view joined_name{detail::joined_chars<Parts...>.chars, (Parts.size() + ... + 0)};

// The compiler-independent name of element type T ("i32", "f64", "bool", ...); empty for any
// other type.
template <class T>
inline constexpr std::string_view element_name_v = detail::element_name<T>();

// "word<element>", e.g. instantiation_name<min_plus_word, float> == "min_plus<f32>"; used by the
// built-in semiring templates (empty when T has no element name).
template <const std::string_view& Word, class T>
inline constexpr std::string_view instantiation_name =
    element_name_v<T>.empty() ? std::string_view{} : joined_name<Word, detail::name_open, element_name_v<T>, detail::name_close>;

// The semiring's own name, from semiring_traits<S>::name (the member opt-in forwards S::name);
// empty when it gives none.
template <class S>
inline constexpr std::string_view semiring_name_v = [] {
  if constexpr (requires { std::string_view(semiring_traits<S>::name); }) return std::string_view(semiring_traits<S>::name);
  else return std::string_view{};
}();

template <class S>
concept has_semiring_name = !semiring_name_v<S>.empty();

} // namespace mmsb
