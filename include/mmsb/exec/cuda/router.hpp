// crossover_router: where one batch runs. Batches that touch fewer than `min_gpu_pages` pages go
// to the CPU (no PCIe round trip, no launch); larger ones to the GPU. The crossover is set by the
// user or derived from costs measured at start-up (hybrid_pages does that), never per element.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

namespace mmsb::gpu {

// The routing rule: a batch of `pages` pages runs on the GPU when pages >= min_gpu_pages.
struct crossover_router {
  // A min_gpu_pages no batch reaches: everything on the CPU.
  static constexpr std::size_t never = std::numeric_limits<std::size_t>::max();

  std::size_t min_gpu_pages = 1;  // 1: everything on the GPU; never: everything on the CPU

  // Whether a batch touching `pages` pages goes to the GPU.
  [[nodiscard]] constexpr bool to_gpu(std::size_t pages) const noexcept { return pages >= min_gpu_pages; }

  // The smallest page count n for which a GPU step (gpu_fixed_ns + n * gpu_ns_per_page) beats the
  // CPU (n * cpu_ns_per_page). never if the GPU never wins.
  [[nodiscard]] static crossover_router from_costs(double cpu_ns_per_page, double gpu_fixed_ns,
                                                   double gpu_ns_per_page) noexcept
  {
    const double gain = cpu_ns_per_page - gpu_ns_per_page;
    if (!(gain > 0)) return {never};
    const double n = std::floor(gpu_fixed_ns / gain) + 1;
    return {n < 1 ? std::size_t{1} : static_cast<std::size_t>(n)};
  }
};

} // namespace mmsb::gpu
