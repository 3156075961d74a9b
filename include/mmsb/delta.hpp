// Umbrella for the delta layer: encodings, apply, merge, the density-choosing delta and builder,
// columnar batches and the wire codec.
#pragma once

#include <mmsb/delta/apply.hpp>
#include <mmsb/delta/batch.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/compatible.hpp>
#include <mmsb/delta/delta.hpp>
#include <mmsb/delta/dense_delta.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/delta/fill.hpp>
#include <mmsb/delta/merge.hpp>
#include <mmsb/delta/order_key.hpp>
#include <mmsb/delta/simd.hpp>
#include <mmsb/delta/sparse_delta.hpp>
