// Umbrella for the memory layer: the allocator concept, the host allocators, the page
// table, the memory-mapped page file, and the memory budget with its spill file.
#pragma once

#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/budget.hpp>
#include <mmsb/memory/failing.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/memory/host_pool.hpp>
#include <mmsb/memory/mapped_file.hpp>
#include <mmsb/memory/page_table.hpp>
#include <mmsb/memory/spill_file.hpp>
