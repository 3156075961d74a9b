// Umbrella for the delta layer.
#pragma once

#include <mmsb/delta/element.hpp>
