// mmsb::span: libcu++'s cuda::std::span, so that the same views work in host and device code.
#pragma once

#include <mmsb/config/macros.hpp>  // before libcu++: see the note on extended types

#include <cuda/std/span>

namespace mmsb {
using ::cuda::std::dynamic_extent;
using ::cuda::std::span;
} // namespace mmsb
