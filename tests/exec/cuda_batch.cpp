// The device batch path on a real GPU, bit for bit against the CPU: device_pages applying seeded
// random sealed batches (dense records and sparse entries, one upload and one launch each) for
// the stock semiring x layout combinations, the per-page merge kernel against the CPU merge, a
// captured tick graph, the persistent kernel, and hybrid_pages with a measured crossover. Without
// a usable GPU: prints "SKIP: <reason>" and exits 77.
#include <mmsb/cuda.hpp>

#include "cuda_test_support.hpp"

#include <cuda_runtime.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <vector>

using namespace mmsb;
using namespace mmsb::cuda_test;

namespace {

constexpr std::size_t resident = 200;

template <class S, class L>
bool same_as_oracle(gpu::device_pages<S, L>& dev, const oracle<S, L>& ref)
{
  std::unique_ptr<typename L::storage_type[]> got(new typename L::storage_type[resident]);
  dev.download(0, got.get(), resident);
  std::size_t bad = 0;
  for (std::size_t k = 0; k < resident; ++k)
    bad += std::memcmp(&got[k], &ref.pages[k].storage(), sizeof(typename L::storage_type)) != 0;
  const auto id = ids(resident);
  return bad == 0 && dev.hash({id.data(), id.size()}) == ref.hash();
}

template <class S, class L>
void apply_case(const char* name)
{
  std::mt19937_64 rng(seed() ^ 0xa11);
  gpu::device_pages<S, L> dev(resident);
  oracle<S, L> ref(resident);
  std::size_t dense = 0, sparse = 0;
  for (std::uint64_t t = 1; t <= 30; ++t) {
    const auto b = random_batch<S, L>(rng, resident, 1 + rng() % 64, t);
    std::vector<delta<S, L>> ds;
    gpu::batch_builder<S, L> bb;
    for (std::size_t k = 0; k < b.pages().size(); ++k) ds.push_back(b.merge_partition(k));
    for (std::size_t k = 0; k < ds.size(); ++k) bb.add(b.pages()[k].value(), ds[k]);
    dense += bb.layout().dense;
    sparse += bb.layout().sparse;
    dev.apply(bb);
    ref.apply(b);
  }
  const bool ok = same_as_oracle(dev, ref);
  MMSB_CUDA_CHECK(ok, "%s: device pages differ from the CPU after 30 batches", name);
  std::printf("%-22s apply: 30 batches, %zu dense records, %zu sparse entries: %s\n", name, dense, sparse,
              ok ? "bit-identical, hash equal" : "MISMATCH");
}

template <class S, class L>
void merge_case(const char* name)
{
  using storage = typename L::storage_type;
  std::mt19937_64 rng(seed() ^ 0x3e6);
  constexpr std::size_t pages = 40;
  std::vector<std::unique_ptr<dense_delta<S, L>>> recs;
  std::vector<std::uint32_t> seg{0};
  std::vector<std::unique_ptr<dense_delta<S, L>>> expect;
  gpu::batch_builder<S, L> in;
  for (std::size_t p = 0; p < pages; ++p) {
    const std::size_t k = 1 + rng() % 4;
    std::unique_ptr<dense_delta<S, L>> m;
    for (std::size_t j = 0; j < k; ++j) {
      auto d = std::make_unique<dense_delta<S, L>>(page_id{static_cast<std::uint32_t>(p)});
      const int density = static_cast<int>(rng() % 1000);
      for (std::size_t i = 0; i < L::extent; ++i)
        if (static_cast<int>(rng() % 1000) < density) d->put(i, rng() % 3 == 0, exact_value<typename L::value_type>(rng));
      if (!m) m = std::make_unique<dense_delta<S, L>>(*d);
      else merge_into(*m, *d);
      in.add(static_cast<std::uint32_t>(p), *d);
      recs.push_back(std::move(d));
    }
    seg.push_back(static_cast<std::uint32_t>(recs.size()));
    expect.push_back(std::move(m));
  }
  const auto l = in.layout();
  std::vector<unsigned char> host(l.bytes);
  in.write(host.data());
  constexpr std::size_t words = words_for(L::extent);
  unsigned char* d_in = nullptr;
  std::uint32_t* d_seg = nullptr;
  word_t *d_mask = nullptr, *d_assign = nullptr;
  storage* d_payload = nullptr;
  cudaMalloc(&d_in, l.bytes);
  cudaMalloc(&d_seg, seg.size() * 4);
  cudaMalloc(&d_mask, pages * words * 8);
  cudaMalloc(&d_assign, pages * words * 8);
  cudaMalloc(&d_payload, pages * sizeof(storage));
  cudaMemcpy(d_in, host.data(), l.bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(d_seg, seg.data(), seg.size() * 4, cudaMemcpyHostToDevice);
  gpu::merge_batch<S, L>(gpu::batch_view<L>::of(d_in, l), d_seg, pages, {d_mask, d_assign, d_payload}, nullptr);
  std::vector<word_t> mask(pages * words), assign(pages * words);
  std::unique_ptr<storage[]> payload(new storage[pages]);
  cudaMemcpy(mask.data(), d_mask, mask.size() * 8, cudaMemcpyDeviceToHost);
  cudaMemcpy(assign.data(), d_assign, assign.size() * 8, cudaMemcpyDeviceToHost);
  const cudaError_t err = cudaMemcpy(payload.get(), d_payload, pages * sizeof(storage), cudaMemcpyDeviceToHost);
  MMSB_CUDA_CHECK(err == cudaSuccess, "%s: merge: %s", name, cudaGetErrorString(err));
  std::size_t bad = 0;
  for (std::size_t p = 0; p < pages; ++p) {
    bad += std::memcmp(&mask[p * words], expect[p]->mask_words(), words * 8) != 0;
    bad += std::memcmp(&assign[p * words], expect[p]->assign_words(), words * 8) != 0;
    bad += std::memcmp(&payload[p], &expect[p]->payload(), sizeof(storage)) != 0;
  }
  cudaFree(d_in); cudaFree(d_seg); cudaFree(d_mask); cudaFree(d_assign); cudaFree(d_payload);
  MMSB_CUDA_CHECK(bad == 0, "%s: merge kernel differs from merge_into on %zu arrays", name, bad);
  std::printf("%-22s merge: %zu records into %zu pages: %s\n", name, recs.size(), pages, bad ? "MISMATCH" : "bit-identical");
}

// A fixed-shape batch replayed through a captured graph, then more through the persistent kernel.
template <class S, class L>
void graph_and_persistent(const char* name)
{
  std::mt19937_64 rng(seed() ^ 0x9a9);
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  {
    gpu::device_pages<S, L> dev(resident, gpu::cuda_runtime_backend(stream));
    oracle<S, L> ref(resident);
    const auto b = random_batch<S, L>(rng, resident, 32, 1);
    std::vector<delta<S, L>> ds;
    gpu::batch_builder<S, L> bb;
    for (std::size_t k = 0; k < b.pages().size(); ++k) ds.push_back(b.merge_partition(k));
    for (std::size_t k = 0; k < ds.size(); ++k) bb.add(b.pages()[k].value(), ds[k]);
    const auto shape = dev.stage(bb);
    gpu::tick_graph<S, L> g(dev, shape);
    for (int r = 0; r < 5; ++r) {
      g.launch();
      ref.apply(b);
    }
    cudaStreamSynchronize(stream);
    const bool graph_ok = same_as_oracle(dev, ref);
    MMSB_CUDA_CHECK(graph_ok, "%s: graph replay differs from the CPU", name);

    // Persistent: batches read in place from the mapped pinned staging, one at a time.
    dev.reserve(std::size_t{8} << 20);
    cudaStream_t pstream = nullptr;
    cudaStreamCreateWithFlags(&pstream, cudaStreamNonBlocking);
    std::uint64_t ticks = 0;
    {
      gpu::persistent_apply<S, L> pk(dev.data(), pstream);
      for (std::uint64_t t = 2; t <= 21; ++t) {
        const auto nb = random_batch<S, L>(rng, resident, 1 + rng() % 48, t);
        std::vector<delta<S, L>> nds;
        gpu::batch_builder<S, L> nbb;
        for (std::size_t k = 0; k < nb.pages().size(); ++k) nds.push_back(nb.merge_partition(k));
        for (std::size_t k = 0; k < nds.size(); ++k) nbb.add(nb.pages()[k].value(), nds[k]);
        const auto l = dev.stage(nbb);
        pk.wait(pk.submit(gpu::batch_view<L>::of(dev.staging(), l)));
        ref.apply(nb);
        ++ticks;
      }
      pk.stop();
    }
    const cudaError_t err = cudaStreamSynchronize(pstream);
    MMSB_CUDA_CHECK(err == cudaSuccess, "%s: persistent kernel: %s", name, cudaGetErrorString(err));
    const bool pers_ok = same_as_oracle(dev, ref);
    MMSB_CUDA_CHECK(pers_ok, "%s: persistent kernel differs from the CPU", name);
    std::printf("%-22s graph: 5 replays %s; persistent: %llu commands %s\n", name, graph_ok ? "bit-identical" : "MISMATCH",
                static_cast<unsigned long long>(ticks), pers_ok ? "bit-identical" : "MISMATCH");
    cudaStreamDestroy(pstream);
  }
  cudaStreamDestroy(stream);
}

template <class S, class L>
void hybrid_case(const char* name, std::optional<std::size_t> crossover)
{
  std::mt19937_64 rng(seed() ^ 0x4b1);
  const auto id = ids(resident);
  gpu::hybrid_pages<S, L> store({id.data(), id.size()}, gpu::hybrid_options{crossover, 1 << 20});
  oracle<S, L> ref(resident);
  for (std::uint64_t t = 1; t <= 30; ++t) {
    const auto b = random_batch<S, L>(rng, resident, 1 + rng() % 100, t);
    store.apply(b);
    ref.apply(b);
  }
  const bool ok = store.on_gpu() && store.hash() == ref.hash();
  MMSB_CUDA_CHECK(ok, "%s: hybrid store differs from the CPU (on_gpu %d)", name, store.on_gpu());
  std::printf("%-22s hybrid: crossover %zu pages; %llu GPU / %llu CPU batches: %s\n", name,
              store.router().min_gpu_pages, static_cast<unsigned long long>(store.stats().gpu_batches),
              static_cast<unsigned long long>(store.stats().cpu_batches), ok ? "hash equal" : "MISMATCH");
}

template <class S, class L>
void all(const char* name)
{
  apply_case<S, L>(name);
  merge_case<S, L>(name);
}

} // namespace

int main()
{
  const auto probe = gpu::probe_devices();
  if (!probe.available) {
    std::printf("SKIP: no usable CUDA device (%s); the batch kernels were compiled but not run\n", probe.reason.c_str());
    return 77;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device 0: %s (sm_%d%d); seed %llu\n", prop.name, prop.major, prop.minor,
              static_cast<unsigned long long>(seed()));
  all<plus_times<float>, dense<float, 1024>>("plus_times<float>");
  all<plus_times<double>, dense<double, 1024>>("plus_times<double>");
  all<plus_times<std::int32_t>, dense<std::int32_t, 1024>>("plus_times<int32>");
  all<plus_times<std::int64_t>, dense<std::int64_t, 1024>>("plus_times<int64>");
  all<min_plus<float>, dense<float, 1024>>("min_plus<float>");
  all<min_plus<std::int32_t>, dense<std::int32_t, 1024>>("min_plus<int32>");
  all<min_plus<std::int64_t>, dense<std::int64_t, 1024>>("min_plus<int64>");
  all<max_plus<double>, dense<double, 1024>>("max_plus<double>");
  all<max_plus<float>, dense<float, 1024>>("max_plus<float>");
  all<max_min<float>, dense<float, 1024>>("max_min<float>");
  all<max_min<std::int32_t>, dense<std::int32_t, 1024>>("max_min<int32>");
  all<or_and, bits<32768>>("or_and bits<32768>");
  graph_and_persistent<plus_times<float>, dense<float, 1024>>("plus_times<float>");
  graph_and_persistent<min_plus<std::int64_t>, dense<std::int64_t, 1024>>("min_plus<int64>");
  graph_and_persistent<or_and, bits<32768>>("or_and bits<32768>");
  hybrid_case<plus_times<float>, dense<float, 1024>>("plus_times<float>", std::nullopt);
  hybrid_case<plus_times<float>, dense<float, 1024>>("plus_times<float>", 20);
  hybrid_case<min_plus<std::int32_t>, dense<std::int32_t, 1024>>("min_plus<int32>", 1);
  std::printf("%s\n", failures ? "FAIL: GPU results differ from the CPU" : "PASS: GPU results are bit-identical to the CPU");
  return failures ? 1 : 0;
}
