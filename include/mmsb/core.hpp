// Umbrella for the core layer: ids, spans, bit utilities, wrapping arithmetic, the state hash,
// the scheduler concept.
#pragma once

#include <mmsb/config.hpp>
#include <mmsb/core/arith.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/scheduler.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/core/strong_id.hpp>
