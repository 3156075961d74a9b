// Umbrella for the memory layer: the allocator concept, the host allocators, the page
// table and the memory-mapped page file.
#pragma once

#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/failing.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/host_pool.hpp>
#include <mmsb/memory/mapped_file.hpp>
#include <mmsb/memory/page_table.hpp>
