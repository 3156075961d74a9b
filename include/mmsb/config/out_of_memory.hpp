// out_of_memory_as_error: the one place a std::bad_alloc becomes the mmsb::error a public
// operation promises. A public entry point that documents only mmsb::error runs its body through
// it; the body's own exception safety decides what state the failure leaves (as before the call,
// for every operation of the bus and the store).
#pragma once

#include <mmsb/config/error.hpp>

#include <new>
#include <string>
#include <utility>

namespace mmsb {

// Returns f(); a std::bad_alloc out of it is rethrown as mmsb::error(errc::out_of_memory)
// "out of memory in <what>" (`what` names the operation, e.g. "bus tick"). If even that message
// cannot be allocated, the std::bad_alloc from building it propagates.
template <class F>
decltype(auto) out_of_memory_as_error(const char* what, F&& f)
{
  try {
    return std::forward<F>(f)();
  } catch (const std::bad_alloc&) {
    throw error(errc::out_of_memory, std::string("out of memory in ") + what);
  }
}

} // namespace mmsb
