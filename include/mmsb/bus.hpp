// The bus layer: basic_bus (the one write path), producers, transactions, options and the tick;
// the shape descriptor, and replay without the program's types (untyped_state, rebuild_state).
#pragma once

#include <mmsb/bus/bus.hpp>
#include <mmsb/bus/options.hpp>
#include <mmsb/bus/producer.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/bus/shape_info.hpp>
#include <mmsb/bus/tick.hpp>
#include <mmsb/bus/topology_log.hpp>
#include <mmsb/bus/topology_replay.hpp>
#include <mmsb/bus/transaction.hpp>
#include <mmsb/bus/untyped_replay.hpp>
#include <mmsb/bus/untyped_state.hpp>
