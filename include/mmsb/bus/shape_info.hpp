// shape_info: a durable shape descriptor (mmsb/bus/shape.hpp) read back into its fields, for
// code that opens a store without knowing its C++ types (the mmsb tool, untyped_state.hpp).
//
//   parse_shape(bytes, where)   the fields of an "mmsb-shape/1 ..." descriptor. Throws
//                               mmsb::error (bad_format), naming `where` and the shape in words
//                               (describe_shape), for bytes of another format, a legacy shape or
//                               a descriptor with a missing or malformed field.
//
// Parsing checks only the descriptor's own rules; whether the semiring is one a runtime replay
// can interpret is untyped_state.hpp's question.
#pragma once

#include <mmsb/bus/shape.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/page/layout.hpp>

#include <charconv>
#include <cstdint>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace mmsb {

// The fields of a descriptor, as shape.hpp's top comment defines them.
struct shape_info {
  std::string text;               // the descriptor as stored
  std::string semiring;           // semiring=, e.g. "min_plus<f32>"
  std::string flags;              // flags=, e.g. "idempotent,commutative,selective,exact" or "none"
  layout_kind layout = layout_kind::dense;  // layout=: dense, bits or soa
  std::size_t fields = 1;         // soa/F: F; 1 otherwise
  std::string element;            // element= name, e.g. "f32", "bool", "value(my_semiring)"
  std::size_t element_bytes = 0;  // element= size in bytes
  std::size_t extent = 0;         // slots per page
  std::size_t page_bytes = 0;     // bytes of one page's storage (the checkpoint's page payload)

  // The layout= word as the descriptor spells it: "dense", "bits" or "soa/F".
  [[nodiscard]] std::string layout_word() const
  {
    switch (layout) {
    case layout_kind::bits: return "bits";
    case layout_kind::soa: return "soa/" + std::to_string(fields);
    case layout_kind::dense: break;
    }
    return "dense";
  }
};

// Parses a stored descriptor (mmsb-shape/1) into its fields. Throws mmsb::error (bad_format)
// naming `where` (the file it came from) and the field at fault for any other bytes.
[[nodiscard]] inline shape_info parse_shape(span<const std::byte> bytes, const std::string& where)
{
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto bad = [&](const std::string& why) {
    return error(errc::bad_format, where + ": " + why + ": " + describe_shape(bytes));
  };
  if (text.rfind(std::string(shape_format) + " ", 0) != 0) throw bad("not an " + std::string(shape_format) + " descriptor");
  // Every number is at most 2^32 - 1, as in any shape a program can have (extents and sizes are
  // 32-bit on the wire), so products of two of them cannot overflow a 64-bit size_t.
  const auto number = [&](std::string_view t, const char* field) {
    std::uint64_t v = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc{} || r.ptr != t.data() + t.size() || v == 0 || v > 0xffffffffu)
      throw bad(std::string("field ") + field + " is not a number from 1 to 4294967295");
    return static_cast<std::size_t>(v);
  };
  shape_info s;
  s.text = text;
  s.semiring = std::string(detail::shape_field(text, "semiring"));
  s.flags = std::string(detail::shape_field(text, "flags"));
  const std::string_view lay = detail::shape_field(text, "layout"), element = detail::shape_field(text, "element");
  if (s.semiring.empty() || s.flags.empty()) throw bad("no semiring= or flags= field");
  if (lay == "dense") s.layout = layout_kind::dense;
  else if (lay == "bits") s.layout = layout_kind::bits;
  else if (lay.rfind("soa/", 0) == 0) {
    s.layout = layout_kind::soa;
    s.fields = number(lay.substr(4), "layout=soa/");
  } else throw bad("unknown layout '" + std::string(lay) + "'");
  const auto slash = element.rfind('/');
  if (slash == std::string_view::npos || slash == 0) throw bad("field element= is not NAME/SIZE");
  s.element = std::string(element.substr(0, slash));
  s.element_bytes = number(element.substr(slash + 1), "element= size");
  s.extent = number(detail::shape_field(text, "extent"), "extent=");
  s.page_bytes = number(detail::shape_field(text, "page"), "page=");
  return s;
}

} // namespace mmsb
