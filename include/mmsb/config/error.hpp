// Recoverable host errors: mmsb::errc codes and the mmsb::error exception. A message names the
// page id, size, path or cycle at fault. Nothing reachable from device code throws, and a call
// that throws leaves the state it was given as it was.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace mmsb {

// Stable numeric values: they appear in logs and may cross process boundaries.
enum class errc : int {
  ok = 0,
  invalid_argument = 1,  // malformed input: null buffer with a count, unsorted indices, ...
  unknown_page = 2,      // a page id that does not exist or was destroyed
  size_mismatch = 3,     // a delta or buffer whose size does not fit the page/layout
  out_of_range = 4,      // an element index or id beyond its bound
  cycle = 5,             // an edge that would close a cycle in the page graph
  conflict = 6,          // concurrent assigns to one element under the "report" rule
  io_error = 7,          // an operating-system I/O call failed (errno in the message)
  no_space = 8,          // disk full or quota exceeded
  corrupt = 9,           // checksum, length or epoch mismatch in a log, checkpoint or page
  bad_format = 10,       // wrong magic or an unsupported format version
  out_of_memory = 11,    // an allocator refused
  not_converged = 12,    // a fixed-point region hit its iteration bound
  device_error = 13,     // a CUDA (or other accelerator) call failed
  unsupported = 14,      // a valid request this build or backend cannot serve
  state_error = 15,      // an operation not allowed in the object's state (commit after abort)
};

// The code's short English name ("unknown page", "I/O error"), as error_category().message()
// gives it; a value outside the enum gets "unknown mmsb error". Usable in constant expressions.
[[nodiscard]] constexpr std::string_view to_string(errc e) noexcept
{
  switch (e) {
  case errc::ok: return "ok";
  case errc::invalid_argument: return "invalid argument";
  case errc::unknown_page: return "unknown page";
  case errc::size_mismatch: return "size mismatch";
  case errc::out_of_range: return "out of range";
  case errc::cycle: return "cycle";
  case errc::conflict: return "conflict";
  case errc::io_error: return "I/O error";
  case errc::no_space: return "no space";
  case errc::corrupt: return "corrupt";
  case errc::bad_format: return "bad format";
  case errc::out_of_memory: return "out of memory";
  case errc::not_converged: return "not converged";
  case errc::device_error: return "device error";
  case errc::unsupported: return "unsupported";
  case errc::state_error: return "state error";
  }
  return "unknown mmsb error";
}

namespace detail {
class error_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "mmsb"; }
  std::string message(int ev) const override { return std::string(to_string(static_cast<errc>(ev))); }
};
} // namespace detail

// The category lets mmsb::errc interoperate with std::error_code.
inline const std::error_category& error_category() noexcept
{
  static const detail::error_category_impl instance;
  return instance;
}

// Wraps e as a std::error_code in error_category(); found by ADL, so `std::error_code ec = e;` works.
inline std::error_code make_error_code(errc e) noexcept
{
  return {static_cast<int>(e), error_category()};
}

// The one exception type MMSB throws. what() is the full message ("unknown page 42: ...");
// code() says which kind of failure it was, for callers that branch on it.
class error : public std::runtime_error {
public:
  // message is what() returns verbatim; it should name the page id, size or path at fault.
  error(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}

  // The kind of failure, for callers that branch on it.
  [[nodiscard]] errc code() const noexcept { return code_; }
  // code() as a std::error_code in mmsb::error_category().
  [[nodiscard]] std::error_code error_code() const noexcept { return make_error_code(code_); }

private:
  errc code_;
};

} // namespace mmsb

// Lets an errc convert implicitly to std::error_code (through make_error_code). Kept out of the
// API reference: doxygen cannot place a specialization declared in namespace std.
/// @cond
template <>
struct std::is_error_code_enum<mmsb::errc> : std::true_type {};
/// @endcond
