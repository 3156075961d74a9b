// The graph layer: the shadow page graph, incremental propagation, cycles and fixed-point
// regions, SCCs, DOT export and provenance.
#pragma once

#include <mmsb/graph/csr_matrix.hpp>
#include <mmsb/graph/dot.hpp>
#include <mmsb/graph/page_graph.hpp>
#include <mmsb/graph/propagate.hpp>
#include <mmsb/graph/provenance.hpp>
#include <mmsb/graph/region_solver.hpp>
#include <mmsb/graph/scc.hpp>
#include <mmsb/graph/topology.hpp>
#include <mmsb/graph/verify.hpp>
#include <mmsb/graph/wave.hpp>
