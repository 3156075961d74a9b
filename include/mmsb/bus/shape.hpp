// The durable shape descriptor: the bytes a store writes into every log segment and checkpoint
// so that files written for another semiring or layout are refused. They are defined here, by
// us, as canonical ASCII text, never from typeid (whose bytes differ between compilers: a GCC
// build and a Clang build of one program must open each other's files):
//
//   mmsb-shape/1 semiring=min_plus<f32> flags=idempotent,commutative,selective,exact
//                layout=dense element=f32/4 extent=1024 page=4096
//
// (one line, fields separated by one space, no trailing newline). In order:
//   mmsb-shape/1   the descriptor format and its version (a change to these rules bumps it)
//   semiring=      `semiring_name_v<S>` (mmsb/semiring/name.hpp): printable ASCII, no space or '='
//   flags=         the semiring's traits that are true, in this order: idempotent, commutative,
//                  inverse, selective, exact, bitwise; `none` when none is
//   layout=        dense | bits | soa/F (F fields of extent/F records each)
//   element=       NAME/SIZE: the slot type's element_name_v ("f32", "i64", "bool", ...), or
//                  value(<semiring name>) for a type without one; SIZE is its size in bytes
//   extent=        slots per page
//   page=          bytes of one page's storage (what a checkpoint holds per page)
//
// shape_descriptor<S, L>() gives the bytes; describe_shape(bytes) renders any shape in words for
// messages and tools: this format, older ones ("legacy shape 'mmsb-bus/...'", the typeid-based
// shape of earlier builds, which no build opens any more) and unknown bytes (printable text
// quoted, other bytes as `\xNN`). A semiring without a name is refused at compile time.
#pragma once

#include <mmsb/core/span.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/semiring/concept.hpp>
#include <mmsb/semiring/name.hpp>

#include <charconv>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace mmsb {

// The descriptor's first word: its format and version ("mmsb-shape/1").
inline constexpr std::string_view shape_format = "mmsb-shape/1";

namespace detail {
// A word of the descriptor: non-empty printable ASCII without space or '=' (which separate
// fields), so the text parses back unambiguously.
constexpr bool is_shape_word(std::string_view s) noexcept
{
  if (s.empty()) return false;
  for (const char c : s)
    if (c <= ' ' || c > '~' || c == '=') return false;
  return true;
}

// Printable ASCII as is (quotes and backslashes escaped), any other byte as \xNN.
inline std::string quote_shape_bytes(span<const std::byte> bytes)
{
  std::string out = "'";
  for (const std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + "'";
}

inline std::string_view shape_field(std::string_view text, std::string_view key)
{
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(' ', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view field = text.substr(at, end - at);
    if (field.size() > key.size() && field.substr(0, key.size()) == key && field[key.size()] == '=')
      return field.substr(key.size() + 1);
    at = end + 1;
  }
  return {};
}
} // namespace detail

// Refuses, with an `mmsb:` message naming the fix, a Semiring/Layout pair that cannot name
// itself in a file. The bus calls it (through shape_descriptor) for every store it opens.
template <class Semiring, class Layout>
constexpr bool require_shape() noexcept
{
  static_assert(require_semiring<Semiring>());
  static_assert(layout<Layout>, "mmsb: shape_descriptor<Semiring, Layout>: Layout must model mmsb::layout");
  static_assert(std::is_same_v<typename Layout::value_type, semiring_value_t<Semiring>>,
                "mmsb: shape_descriptor<Semiring, Layout>: the layout's value_type must be the semiring's value_type");
  static_assert(has_semiring_name<Semiring>,
                "mmsb: the semiring has no name for the store's durable shape; give it one: "
                "`static constexpr std::string_view name = \"my_semiring\";` as a member, or in its "
                "mmsb::semiring_traits specialization (printable ASCII, no spaces or '=')");
  static_assert(!has_semiring_name<Semiring> || detail::is_shape_word(semiring_name_v<Semiring>),
                "mmsb: a semiring's name must be printable ASCII without spaces or '=' (it is written into "
                "the store's files)");
  return true;
}

// The descriptor text of a store of Semiring over Layout (see the top of this header).
template <class Semiring, class Layout>
[[nodiscard]] std::string shape_text()
{
  static_assert(require_shape<Semiring, Layout>());
  using value_type = typename Layout::value_type;
  std::string s(shape_format);
  s += " semiring=";
  s += semiring_name_v<Semiring>;

  std::string flags;
  const auto flag = [&](bool on, const char* word) {
    if (!on) return;
    if (!flags.empty()) flags += ',';
    flags += word;
  };
  flag(idempotent_add_v<Semiring>, "idempotent");
  flag(commutative_add_v<Semiring>, "commutative");
  flag(has_inverse_v<Semiring>, "inverse");
  flag(selective_add_v<Semiring>, "selective");
  flag(exact_add_v<Semiring>, "exact");
  flag(bitwise_v<Semiring>, "bitwise");
  s += " flags=" + (flags.empty() ? std::string("none") : flags);

  s += " layout=";
  switch (Layout::kind) {
  case layout_kind::dense: s += "dense"; break;
  case layout_kind::bits: s += "bits"; break;
  case layout_kind::soa:
    s += "soa/";
    if constexpr (requires { Layout::fields; }) s += std::to_string(std::size_t{Layout::fields});
    else s += "1";
    break;
  }

  s += " element=";
  if constexpr (!element_name_v<value_type>.empty()) s += element_name_v<value_type>;
  else s += "value(" + std::string(semiring_name_v<Semiring>) + ")";
  s += "/" + std::to_string(sizeof(value_type));
  s += " extent=" + std::to_string(std::size_t{Layout::extent});
  s += " page=" + std::to_string(sizeof(typename Layout::storage_type));
  return s;
}

// The shape bytes to hand to durable_store (and hence to every log segment and checkpoint).
template <class Semiring, class Layout>
[[nodiscard]] std::vector<std::byte> shape_descriptor()
{
  const std::string s = shape_text<Semiring, Layout>();
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

// Any shape bytes in words, for messages and tools, e.g.
//   "min_plus<f32> (idempotent, commutative, selective, exact) over dense pages of 1024 f32
//    (4 bytes each; 4096 bytes per page) [mmsb-shape/1]"
[[nodiscard]] inline std::string describe_shape(span<const std::byte> bytes)
{
  if (bytes.empty()) return "an empty shape";
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  bool printable = true;
  for (const char c : text) printable = printable && c >= ' ' && c <= '~';
  const std::string quoted = detail::quote_shape_bytes(bytes);
  if (printable && text.rfind("mmsb-bus/", 0) == 0)
    return "legacy shape " + quoted + " (compiler-specific, from before " + std::string(shape_format) + ")";
  if (!printable || text.rfind("mmsb-shape/", 0) != 0) return "unknown shape " + quoted;
  if (text.rfind(std::string(shape_format) + " ", 0) != 0) return "shape of another descriptor format " + quoted;

  const auto sr = detail::shape_field(text, "semiring"), flags = detail::shape_field(text, "flags");
  const auto lay = detail::shape_field(text, "layout"), element = detail::shape_field(text, "element");
  const auto extent = detail::shape_field(text, "extent"), page = detail::shape_field(text, "page");
  const auto slash = element.rfind('/');
  if (sr.empty() || flags.empty() || lay.empty() || slash == std::string_view::npos || extent.empty() || page.empty())
    return "malformed shape " + quoted;

  std::string out(sr);
  if (flags != "none") {
    std::string f(flags);
    for (std::size_t i = 0; (i = f.find(',', i)) != std::string::npos; i += 2) f.replace(i, 1, ", ");
    out += " (" + f + ")";
  }
  const std::string what(element.substr(0, slash)), size(element.substr(slash + 1));
  if (lay.rfind("soa/", 0) == 0) {
    std::size_t n = 0, f = 0;
    const auto number = [](std::string_view t, std::size_t& v) {
      const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
      return r.ec == std::errc{} && r.ptr == t.data() + t.size();
    };
    if (!number(extent, n) || !number(lay.substr(4), f) || f == 0) return "malformed shape " + quoted;
    out += " over soa pages of " + std::to_string(f) + " fields x " + std::to_string(n / f) + " records of " + what;
  }
  else if (lay == "bits")
    out += " over bits pages of " + std::string(extent) + " packed " + what;
  else
    out += " over " + std::string(lay) + " pages of " + std::string(extent) + " " + what;
  out += lay == "bits" ? " (" : " (" + size + " bytes each; ";
  out += std::string(page) + " bytes per page) [" + std::string(shape_format) + "]";
  return out;
}

} // namespace mmsb
