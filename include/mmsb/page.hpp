// Umbrella for the page layer: the layout concept, the dense, bits and soa layouts, and page.
#pragma once

#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>
#include <mmsb/page/soa.hpp>
