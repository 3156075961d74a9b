// MMSB, the Memory-Mapped State Bus: the host-safe umbrella. It includes every layer but none of
// the opt-in parts (mmsb/cuda.hpp, mmsb/fmt.hpp, Kokkos and Highway headers).
#pragma once

#include <mmsb/bus.hpp>
#include <mmsb/config.hpp>
#include <mmsb/core.hpp>
#include <mmsb/delta.hpp>
#include <mmsb/exec.hpp>
#include <mmsb/graph.hpp>
#include <mmsb/log.hpp>
#include <mmsb/memory.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>
