// Umbrella for the config layer: generated configuration, host/device macros, contracts, errors.
#pragma once

#include <mmsb/config/assert.hpp>
#include <mmsb/config/config.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/config/macros.hpp>
