// mmsb::span: libcu++'s cuda::std::span, so that the same views work in host and device code.
#pragma once

#include <cuda/std/span>

namespace mmsb {
using ::cuda::std::dynamic_extent;
using ::cuda::std::span;
} // namespace mmsb
