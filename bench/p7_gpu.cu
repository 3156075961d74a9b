// Benchmark P7 (/work/shared/BENCHMARKS.md): 1 Mi resident 4 KiB pages (dense<float, 1024>) on the
// GPU; batches of 1, 64, 4 Ki and 64 Ki pages; sum (plus_times) and min (min_plus).
//   P7/apply_<sr>_<B>/{mmsb,hand_fused,d2d_copy}  the apply of a batch already on the device
//   P7/tick_<sr>_<B>/{plain,graph,persistent}     a whole tick from pinned staging: upload + apply
//   P7/alloc/<bytes>/{mmsb,cuda_malloc_async}     alloc + free of device blocks
// A self-timed harness (CUDA events for device time, steady_clock for tick latency; medians of
// repeated runs) that writes Google Benchmark's JSON shape with --json FILE. --smoke: tiny sizes,
// one repetition. Without a GPU: "SKIP: <reason>", exit 77.
#include <mmsb/cuda.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using layout = mmsb::dense<float, 1024>;
using storage = layout::storage_type;

void check(cudaError_t e, const char* what)
{
  if (e != cudaSuccess) {
    std::fprintf(stderr, "FAIL: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

struct result {
  std::string name;
  double us;        // median time per iteration, microseconds
  int iterations;
  double bytes;     // bytes moved per iteration (0: not a bandwidth case)
  std::string note;
};
std::vector<result> results;

void report(const std::string& name, double us, int iters, double bytes = 0, std::string note = {})
{
  results.push_back({name, us, iters, bytes, note});
  if (bytes > 0)
    std::printf("%-40s %12.3f us  %8.1f GB/s  %s\n", name.c_str(), us, bytes / us / 1e3, note.c_str());
  else
    std::printf("%-40s %12.3f us  %s\n", name.c_str(), us, note.c_str());
}

double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over `reps` runs of `iters` back-to-back calls, device time by events, per call.
template <class F>
double time_device(cudaStream_t s, int reps, int iters, F&& f)
{
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  f();  // warm-up
  check(cudaStreamSynchronize(s), "warm-up");
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    cudaEventRecord(a, s);
    for (int i = 0; i < iters; ++i) f();
    cudaEventRecord(b, s);
    check(cudaEventSynchronize(b), "timed run");
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms * 1e3 / iters);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(t);
}

// Median host latency of one complete tick (submit to observed completion).
template <class F>
double time_host(int reps, F&& f)
{
  for (int i = 0; i < 3; ++i) f();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

// The contender: a hand-written fused kernel for exactly this case (float pages of 1024 slots,
// dense records, one 256-thread block per page, float4 per thread), doing the same masked apply.
template <bool Min>
__global__ void __launch_bounds__(256) hand_fused(float* __restrict__ pages, const std::uint32_t* __restrict__ idx,
                                                  const std::uint64_t* __restrict__ mask,
                                                  const std::uint64_t* __restrict__ assign,
                                                  const float* __restrict__ payload, std::uint32_t n)
{
  for (std::uint32_t r = blockIdx.x; r < n; r += gridDim.x) {
    const unsigned t = threadIdx.x;
    const unsigned shift = (t % 16) * 4;
    const unsigned m = static_cast<unsigned>(mask[r * 16 + t / 16] >> shift) & 15u;
    if (!m) continue;
    const unsigned a = static_cast<unsigned>(assign[r * 16 + t / 16] >> shift) & 15u;
    float4* x = reinterpret_cast<float4*>(pages + static_cast<std::size_t>(idx[r]) * 1024) + t;
    const float4 v = reinterpret_cast<const float4*>(payload + static_cast<std::size_t>(r) * 1024)[t];
    float4 s = *x;
    const auto op = [](float p, float q) { return Min ? (p < q ? p : q) : p + q; };
    if (m & 1u) s.x = (a & 1u) ? v.x : op(s.x, v.x);
    if (m & 2u) s.y = (a & 2u) ? v.y : op(s.y, v.y);
    if (m & 4u) s.z = (a & 4u) ? v.z : op(s.z, v.z);
    if (m & 8u) s.w = (a & 8u) ? v.w : op(s.w, v.w);
    *x = s;
  }
}

template <class S, bool Min>
void run_semiring(const char* sr, std::size_t resident, const std::vector<std::size_t>& sizes, bool smoke,
                  cudaStream_t stream)
{
  using pages_t = mmsb::gpu::device_pages<S, layout>;
  pages_t dev(resident, mmsb::gpu::cuda_runtime_backend(stream));
  std::mt19937_64 rng(7);
  // A few full-page prototype deltas (every slot masked, 1 in 8 assigned), reused across pages.
  std::vector<std::unique_ptr<mmsb::dense_delta<S, layout>>> proto;
  for (int k = 0; k < 8; ++k) {
    auto d = std::make_unique<mmsb::dense_delta<S, layout>>(mmsb::page_id{0});
    for (std::size_t i = 0; i < layout::extent; ++i)
      d->put_unchecked(i, {rng() % 8 == 0, static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 4});
    proto.push_back(std::move(d));
  }
  const int reps = smoke ? 1 : 15;
  for (const std::size_t n : sizes) {
    // Distinct pages spread over the resident set (a stride walk), ascending as a sealed batch is.
    mmsb::gpu::batch_builder<S, layout> bb;
    std::vector<std::uint32_t> idx(n);
    const std::size_t step = resident / n;
    for (std::size_t k = 0; k < n; ++k) idx[k] = static_cast<std::uint32_t>(k * step + (rng() % step));
    for (std::size_t k = 0; k < n; ++k) bb.add(idx[k], *proto[k % proto.size()]);
    const auto l = dev.stage(bb);
    dev.submit(l, true);  // upload once; the batch now sits in the device buffer
    const auto view = mmsb::gpu::batch_view<layout>::of(dev.device_batch(), l);
    const std::string tag = std::string(sr) + "_" + std::to_string(n);
    const double bytes = static_cast<double>(n) * (3.0 * sizeof(storage) + 2.0 * 16 * 8 + 4);
    const int iters = n >= 4096 ? 20 : 200;

    const double t_mmsb = time_device(stream, reps, iters, [&] {
      mmsb::gpu::apply_batch<S, layout>(dev.data(), view, stream);
    });
    const double t_hand = time_device(stream, reps, iters, [&] {
      hand_fused<Min><<<static_cast<unsigned>(n), 256, 0, stream>>>(
        reinterpret_cast<float*>(dev.data()), view.dense_page, view.mask, view.assign,
        reinterpret_cast<const float*>(view.payload), static_cast<std::uint32_t>(n));
    });
    void *src = nullptr, *dst = nullptr;
    const auto half = static_cast<std::size_t>(bytes / 2);
    check(cudaMalloc(&src, half), "cudaMalloc copy src");
    check(cudaMalloc(&dst, half), "cudaMalloc copy dst");
    cudaMemsetAsync(src, 1, half, stream);
    const double t_copy = time_device(stream, reps, iters, [&] { cudaMemcpyAsync(dst, src, half, cudaMemcpyDeviceToDevice, stream); });
    cudaFree(src);
    cudaFree(dst);
    char note[160];
    std::snprintf(note, sizeof note, "x%.3f of hand_fused, %.1f%% of d2d copy bandwidth", t_mmsb / t_hand, 100 * t_copy / t_mmsb);
    report("P7/apply_" + tag + "/mmsb", t_mmsb, iters * reps, bytes, note);
    report("P7/apply_" + tag + "/hand_fused", t_hand, iters * reps, bytes);
    report("P7/apply_" + tag + "/d2d_copy", t_copy, iters * reps, bytes, "(copies bytes/2: reads + writes = the apply's bytes)");

    // Whole ticks from pinned staging: upload + apply, observed complete on the host.
    const int treps = smoke ? 3 : (n >= 4096 ? 30 : 300);
    const double t_plain = time_host(treps, [&] { dev.submit(l, true); });
    mmsb::gpu::tick_graph<S, layout> graph(dev, l);
    const double t_graph = time_host(treps, [&] {
      graph.launch();
      check(cudaStreamSynchronize(stream), "graph tick");
    });
    report("P7/tick_" + tag + "/plain", t_plain, treps, 0, "1 memcpy + 1 kernel launch per tick");
    report("P7/tick_" + tag + "/graph", t_graph, treps, 0, "1 graph launch per tick (memcpy + kernel nodes)");
    if (n <= 4096) {
      // The persistent kernel reads the batch in place from mapped pinned staging: no launch, no copy.
      cudaStream_t ps;
      cudaStreamCreateWithFlags(&ps, cudaStreamNonBlocking);
      const auto pinned_view = mmsb::gpu::batch_view<layout>::of(dev.staging(), l);
      double t_pers = 0;
      unsigned grid = 0;
      {
        mmsb::gpu::persistent_apply<S, layout> pk(dev.data(), ps);
        grid = pk.grid();
        t_pers = time_host(treps, [&] { pk.wait(pk.submit(pinned_view)); });
        pk.stop();
      }
      check(cudaStreamSynchronize(ps), "persistent kernel");
      cudaStreamDestroy(ps);
      report("P7/tick_" + tag + "/persistent", t_pers, treps, 0,
             "0 launches per tick (" + std::to_string(grid) + " resident blocks, batch read from pinned memory)");
    }
  }
}

void run_alloc(bool smoke, cudaStream_t stream)
{
  const int count = smoke ? 64 : 4096;
  for (const std::size_t bytes : {std::size_t{4096}, std::size_t{65536}, std::size_t{1} << 20}) {
    std::vector<void*> p(static_cast<std::size_t>(count));
    mmsb::cuda_device_pool pool(stream);
    const auto pool_round = [&] {
      for (auto& q : p) q = pool.allocate(bytes);
      for (auto& q : p) pool.deallocate(q, bytes);
    };
    cudaMemPool_t mp;
    cudaDeviceGetDefaultMemPool(&mp, 0);
    std::uint64_t keep = ~std::uint64_t{0};  // keep freed memory in the pool (what a steady state wants)
    cudaMemPoolSetAttribute(mp, cudaMemPoolAttrReleaseThreshold, &keep);
    const auto async_round = [&] {
      for (auto& q : p) check(cudaMallocAsync(&q, bytes, stream), "cudaMallocAsync");
      for (auto& q : p) check(cudaFreeAsync(q, stream), "cudaFreeAsync");
    };
    const int reps = smoke ? 1 : 15;
    const double t_pool = time_host(reps, pool_round) / count;
    const double t_async = time_host(reps, async_round) / count;
    check(cudaStreamSynchronize(stream), "alloc rounds");
    const auto st = pool.pool_stats();
    char note[160];
    std::snprintf(note, sizeof note, "alloc+free pair; pool hits %llu, misses %llu, reserved %llu B",
                  static_cast<unsigned long long>(st.hits), static_cast<unsigned long long>(st.misses),
                  static_cast<unsigned long long>(st.base.reserved_bytes));
    report("P7/alloc/" + std::to_string(bytes) + "/mmsb", t_pool, reps * count, 0, note);
    report("P7/alloc/" + std::to_string(bytes) + "/cuda_malloc_async", t_async, reps * count, 0, "alloc+free pair, stream-ordered");
  }
}

void write_json(const char* path, const cudaDeviceProp& prop)
{
  std::FILE* f = std::fopen(path, "w");
  if (!f) return;
  std::fprintf(f, "{\n  \"context\": {\"executable\": \"mmsb_bench_p7_gpu\", \"device\": \"%s\", \"sm\": \"%d%d\", \"multiprocessors\": %d},\n  \"benchmarks\": [\n",
               prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  for (std::size_t k = 0; k < results.size(); ++k) {
    const auto& r = results[k];
    std::fprintf(f, "    {\"name\": \"%s\", \"run_name\": \"%s\", \"run_type\": \"iteration\", \"iterations\": %d, \"real_time\": %.4f, \"cpu_time\": %.4f, \"time_unit\": \"us\"",
                 r.name.c_str(), r.name.c_str(), r.iterations, r.us, r.us);
    if (r.bytes > 0) std::fprintf(f, ", \"bytes_per_second\": %.1f", r.bytes / (r.us * 1e-6));
    std::fprintf(f, ", \"label\": \"%s\"}%s\n", r.note.c_str(), k + 1 < results.size() ? "," : "");
  }
  std::fprintf(f, "  ]\n}\n");
  std::fclose(f);
}

} // namespace

int main(int argc, char** argv)
{
  bool smoke = false;
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) smoke = true;
    else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
  }
  const auto probe = mmsb::gpu::probe_devices();
  if (!probe.available) {
    std::printf("SKIP: no usable CUDA device (%s); P7 needs a GPU\n", probe.reason.c_str());
    return 77;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("P7 on %s (sm_%d%d, %d SMs)%s\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount, smoke ? " [smoke]" : "");
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  const std::size_t resident = smoke ? 4096 : std::size_t{1} << 20;
  const std::vector<std::size_t> sizes = smoke ? std::vector<std::size_t>{1, 64} : std::vector<std::size_t>{1, 64, 4096, 65536};
  run_semiring<mmsb::plus_times<float>, false>("sum", resident, sizes, smoke, stream);
  run_semiring<mmsb::min_plus<float>, true>("min", resident, sizes, smoke, stream);
  run_alloc(smoke, stream);
  check(cudaStreamSynchronize(stream), "end");
  if (json) write_json(json, prop);
  return 0;
}
