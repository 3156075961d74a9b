// Umbrella for the memory layer: the allocator concept and the host allocators.
#pragma once

#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/failing.hpp>
#include <mmsb/memory/host_heap.hpp>
