// Fallback and no-partial-commit (RELIABILITY #17), without a GPU: hybrid_pages over the
// emulated device (host memory, the kernels' own unit functions) and over faulty<> wrappers that
// fail the Nth device operation of a step, before it or after half the apply ran. After a failed
// step the recovered state must equal the pre-step state, the batch must then be applied exactly
// once on the CPU, and the final hash must equal an all-CPU oracle. With no device (or
// MMSB_FORCE_CPU=1) the real CUDA backend falls back too, and the process warns exactly once.
// On a machine with a GPU, MMSB_CUDA_FALLBACK_REAL=1 also runs the faults over the real backend.
#include <mmsb/cuda.hpp>

#include "cuda_test_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace mmsb;
using namespace mmsb::cuda_test;

namespace {

constexpr std::size_t resident = 48;

template <class S, class L, class Backend>
void routed_run(const char* name, std::size_t crossover)
{
  std::mt19937_64 rng(seed() ^ crossover);
  const auto id = ids(resident);
  gpu::hybrid_pages<S, L, Backend> store({id.data(), id.size()}, gpu::hybrid_options{crossover, 1 << 16});
  oracle<S, L> ref(resident);
  MMSB_CUDA_CHECK(store.on_gpu(), "%s: the emulated device is always there", name);
  for (std::uint64_t t = 1; t <= 40; ++t) {
    const auto b = random_batch<S, L>(rng, resident, 1 + rng() % 8, t);
    store.apply(b);
    ref.apply(b);
    if (t % 7 == 0) MMSB_CUDA_CHECK(store.hash() == ref.hash(), "%s crossover %zu: hash differs after tick %llu", name, crossover,
                                    static_cast<unsigned long long>(t));
  }
  MMSB_CUDA_CHECK(store.hash() == ref.hash(), "%s crossover %zu: final hash differs", name, crossover);
  std::printf("%-24s crossover %-3zu gpu batches %llu, cpu batches %llu, pulled %llu, pushed %llu\n", name, crossover,
              static_cast<unsigned long long>(store.stats().gpu_batches), static_cast<unsigned long long>(store.stats().cpu_batches),
              static_cast<unsigned long long>(store.stats().pages_pulled), static_cast<unsigned long long>(store.stats().pages_pushed));
}

// For every operation index n of a GPU step and both fault modes: run some mixed ticks, then fail
// the nth device operation of the next (GPU-routed) step.
template <class S, class L, class Inner>
void fault_run(const char* name)
{
  int cases = 0;
  for (int sticky = 0; sticky <= 1; ++sticky)
    for (auto mode : {gpu::fault_mode::before, gpu::fault_mode::partial})
      for (std::uint64_t nth = 1; nth <= 3; ++nth) {
        std::mt19937_64 rng(seed() + nth * 31 + static_cast<unsigned>(mode));
        const auto id = ids(resident);
        gpu::hybrid_pages<S, L, gpu::faulty<Inner>> store({id.data(), id.size()}, gpu::hybrid_options{3, 1 << 20});
        if (!store.on_gpu()) return;
        oracle<S, L> ref(resident);
        std::uint64_t t = 1;
        for (; t <= 6; ++t) {  // pages spread over all three states: current, host_newer, device_newer
          const auto b = random_batch<S, L>(rng, resident, 1 + rng() % 6, t);
          store.apply(b);
          ref.apply(b);
        }
        const state_hash before = ref.hash();
        const auto b = random_batch<S, L>(rng, resident, 8, t);  // >= crossover: a GPU step
        store.device()->backend().fail_at(nth, mode, sticky != 0);
        store.apply(b);
        ref.apply(b);
        ++cases;
        const bool injected = store.device() == nullptr;
        MMSB_CUDA_CHECK(injected, "%s: fault at op %llu did not reach the step", name, static_cast<unsigned long long>(nth));
        MMSB_CUDA_CHECK(store.recovered_hash() && *store.recovered_hash() == before,
                        "%s: state recovered after the failed step (op %llu, %s) is not the pre-step state", name,
                        static_cast<unsigned long long>(nth), mode == gpu::fault_mode::partial ? "partial" : "before");
        MMSB_CUDA_CHECK(store.hash() == ref.hash(), "%s: hash after the CPU retry differs (op %llu)", name,
                        static_cast<unsigned long long>(nth));
        for (++t; t <= 12; ++t) {  // carries on on the CPU
          const auto more = random_batch<S, L>(rng, resident, 1 + rng() % 10, t);
          store.apply(more);
          ref.apply(more);
        }
        MMSB_CUDA_CHECK(!store.on_gpu() && store.hash() == ref.hash(), "%s: final hash after fallback differs (op %llu)", name,
                        static_cast<unsigned long long>(nth));
      }
  std::printf("%-24s %d injected faults: recovered state == pre-step state, final hash == CPU oracle\n", name, cases);
}

template <class S, class L>
void forced_cpu(const char* name)
{
  std::mt19937_64 rng(seed());
  const auto id = ids(resident);
  gpu::hybrid_pages<S, L> store({id.data(), id.size()}, gpu::hybrid_options{1, 1 << 20});
  MMSB_CUDA_CHECK(!store.on_gpu(), "%s: MMSB_FORCE_CPU=1 must keep the real backend off the GPU", name);
  oracle<S, L> ref(resident);
  for (std::uint64_t t = 1; t <= 10; ++t) {
    const auto b = random_batch<S, L>(rng, resident, 1 + rng() % 8, t);
    store.apply(b);
    ref.apply(b);
  }
  MMSB_CUDA_CHECK(store.hash() == ref.hash(), "%s: CPU-only hash differs", name);
}

template <class S, class L>
void all(const char* name)
{
  routed_run<S, L, gpu::emulated_backend>(name, 1);                          // all GPU
  routed_run<S, L, gpu::emulated_backend>(name, 4);                          // mixed
  routed_run<S, L, gpu::emulated_backend>(name, gpu::crossover_router::never);  // all CPU
  fault_run<S, L, gpu::emulated_backend>(name);
}

} // namespace

int main()
{
  // Count the warnings this process prints: stderr goes to a file for the run.
  char path[] = "/tmp/mmsb_cuda_fallback_XXXXXX";
  const int fd = mkstemp(path);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(fd, 2);

  std::printf("seed %llu\n", static_cast<unsigned long long>(seed()));
  all<plus_times<float>, dense<float, 1024>>("plus_times<float>");
  all<plus_times<std::int64_t>, dense<std::int64_t, 1024>>("plus_times<int64>");
  all<min_plus<float>, dense<float, 1024>>("min_plus<float>");
  all<max_min<std::int32_t>, dense<std::int32_t, 1024>>("max_min<int32>");
  all<or_and, bits<32768>>("or_and bits<32768>");
  all<plus_times<double>, dense<double, 100>>("plus_times<double,100>");

  // The real backend: here without a device (or forced off) it must fall back, quietly after the
  // first warning. With a GPU and MMSB_CUDA_FALLBACK_REAL=1, faults over the real backend as well.
  const auto probe = gpu::probe_devices();
  if (probe.available && std::getenv("MMSB_CUDA_FALLBACK_REAL")) {
    fault_run<plus_times<float>, dense<float, 1024>, gpu::cuda_runtime_backend>("real plus_times<float>");
    fault_run<min_plus<std::int32_t>, dense<std::int32_t, 1024>, gpu::cuda_runtime_backend>("real min_plus<int32>");
  }
  setenv("MMSB_FORCE_CPU", "1", 1);
  forced_cpu<plus_times<float>, dense<float, 1024>>("forced plus_times<float>");
  forced_cpu<or_and, bits<32768>>("forced or_and");

  std::fflush(stderr);
  dup2(saved, 2);
  std::ifstream in(path);
  std::stringstream all_err;
  all_err << in.rdbuf();
  unlink(path);
  const std::string err = all_err.str();
  std::size_t warnings = 0;
  for (std::size_t at = 0; (at = err.find("mmsb: warning", at)) != std::string::npos; ++at) ++warnings;
  std::fputs(err.c_str(), stderr);
  std::printf("fallback events %u, warnings printed %zu\n", gpu::fallback_events(), warnings);
  MMSB_CUDA_CHECK(gpu::fallback_events() >= 3 && warnings == 1, "expected exactly one warning for %u fallbacks, saw %zu",
                  gpu::fallback_events(), warnings);
  std::printf("%s\n", failures ? "FAIL" : "PASS: every fallback recovered the pre-step state and matched the CPU oracle");
  return failures ? 1 : 0;
}
