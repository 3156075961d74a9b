// A custom semiring on the GPU through the same templates (kernels instantiated in
// cuda_custom.cu, as in a user's project), checked bit for bit against the CPU. Skips (77)
// without a GPU.
#include <mmsb/cuda.hpp>

#include "cuda_custom_semiring.hpp"
#include "cuda_test_support.hpp"

#include <cstdio>
#include <random>

int main()
{
  using namespace mmsb;
  using namespace mmsb::cuda_test;
  using user::layout16;
  static_assert(semiring<user::min_plus16>);
  const auto probe = gpu::probe_devices();
  if (!probe.available) {
    std::printf("SKIP: no usable CUDA device (%s); the custom-semiring kernels were compiled but not run\n", probe.reason.c_str());
    return 77;
  }
  constexpr std::size_t resident = 64;
  std::mt19937_64 rng(seed());
  gpu::device_pages<user::min_plus16, layout16> dev(resident);
  oracle<user::min_plus16, layout16> ref(resident);
  for (std::uint64_t t = 1; t <= 25; ++t) {
    const auto b = random_batch<user::min_plus16, layout16>(rng, resident, 1 + rng() % 20, t);
    std::vector<delta<user::min_plus16, layout16>> ds;
    gpu::batch_builder<user::min_plus16, layout16> bb;
    for (std::size_t k = 0; k < b.pages().size(); ++k) ds.push_back(b.merge_partition(k));
    for (std::size_t k = 0; k < ds.size(); ++k) bb.add(b.pages()[k].value(), ds[k]);
    dev.apply(bb);
    ref.apply(b);
  }
  const auto id = ids(resident);
  const bool ok = dev.hash({id.data(), id.size()}) == ref.hash();
  MMSB_CUDA_CHECK(ok, "custom semiring: device state differs from the CPU");
  std::printf("%s\n", ok ? "PASS: custom semiring min_plus16 on dense<int16, 200>: hash equals the CPU" : "FAIL");
  return failures ? 1 : 0;
}
