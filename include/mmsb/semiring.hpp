// Umbrella for the semiring layer.
#pragma once

#include <mmsb/semiring/builtins.hpp>
#include <mmsb/semiring/check_laws.hpp>
#include <mmsb/semiring/concept.hpp>
#include <mmsb/semiring/name.hpp>
