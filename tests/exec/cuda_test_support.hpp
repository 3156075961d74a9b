// Shared by the cuda_* tests (plain mains: they must exit 77 to skip, which a Catch2 main would
// not): a seeded generator, exact values, random sealed batches and a plain CPU oracle.
#pragma once

#include <mmsb/delta.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb::cuda_test {

inline int failures = 0;

inline std::uint64_t seed()
{
  static const std::uint64_t s = [] {
    const char* env = std::getenv("MMSB_TEST_SEED");
    if (!env || !*env) return std::uint64_t{0x5eed2026};
    if (std::string(env) == "random") return (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
    return std::uint64_t{std::strtoull(env, nullptr, 0)};
  }();
  return s;
}

#define MMSB_CUDA_CHECK(cond, ...)                                                                 \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      ++::mmsb::cuda_test::failures;                                                               \
      std::printf("FAIL %s:%d: %s (seed %llu; replay with MMSB_TEST_SEED=%llu): ", __FILE__, __LINE__, #cond, \
                  static_cast<unsigned long long>(::mmsb::cuda_test::seed()),                      \
                  static_cast<unsigned long long>(::mmsb::cuda_test::seed()));                     \
      std::printf(__VA_ARGS__);                                                                    \
      std::printf("\n");                                                                           \
    }                                                                                              \
  } while (0)

// Values on which + is exact for floats too (small integers and halves, signed zeros).
template <class T, class Rng>
T exact_value(Rng& rng)
{
  if constexpr (std::is_same_v<T, bool>) return (rng() & 1u) != 0;
  else if constexpr (std::is_floating_point_v<T>) {
    const auto k = static_cast<std::int64_t>(rng() % 4001) - 2000;
    if (k == 0) return (rng() & 1u) ? T(-0.0) : T(0.0);
    return static_cast<T>(k) / T(2);
  } else return static_cast<T>(static_cast<std::int64_t>(rng() % 200001) - 100000);
}

// A sealed batch over `pages` random resident pages out of ids [0, resident): per page a density
// from {1 slot, 1%, 5%, 50%, 100%}, 1-3 producers with overlapping slots, ops mixed.
template <class S, class L, class Rng>
delta_batch<S, L> random_batch(Rng& rng, std::size_t resident, std::size_t pages, std::uint64_t epoch_no)
{
  delta_batch<S, L> b;
  std::vector<std::uint32_t> chosen;
  for (std::size_t k = 0; k < pages; ++k) chosen.push_back(static_cast<std::uint32_t>(rng() % resident));
  static constexpr int per_mille[] = {0, 10, 50, 500, 1000};
  for (const auto p : chosen) {
    const int density = per_mille[rng() % 5];
    const int producers = 1 + static_cast<int>(rng() % 3);
    for (int pr = 0; pr < producers; ++pr) {
      const order_key key{epoch{epoch_no}, producer_id{static_cast<std::uint32_t>(pr)}, sequence_no{rng() % 1000000}};
      if (density == 0) {
        b.push(page_id{p}, rng() % L::extent, (rng() % 3 == 0) ? delta_op::assign : delta_op::accumulate,
               exact_value<typename L::value_type>(rng), key);
        continue;
      }
      for (std::size_t i = 0; i < L::extent; ++i)
        if (static_cast<int>(rng() % 1000) < density)
          b.push(page_id{p}, i, (rng() % 3 == 0) ? delta_op::assign : delta_op::accumulate,
                 exact_value<typename L::value_type>(rng), key);
    }
  }
  try {
    b.seal();
  } catch (const error&) {  // two changes shared a key (same page, slot, producer, sequence): redraw
    return random_batch<S, L>(rng, resident, pages, epoch_no);
  }
  return b;
}

// The oracle: every page on the host, each batch merged per page and applied by mmsb::apply.
template <class S, class L>
struct oracle {
  std::vector<page<L>> pages;
  explicit oracle(std::size_t n)
  {
    for (std::size_t k = 0; k < n; ++k) pages.emplace_back(page_id{static_cast<std::uint32_t>(k)});
  }
  void apply(const delta_batch<S, L>& b)
  {
    for (std::size_t k = 0; k < b.pages().size(); ++k) mmsb::apply(pages[b.pages()[k].value()], b.merge_partition(k));
  }
  state_hash hash() const
  {
    state_hasher h;
    for (const auto& p : pages) hash_into(h, p);
    return h.digest();
  }
};

inline std::vector<page_id> ids(std::size_t n)
{
  std::vector<page_id> v;
  for (std::size_t k = 0; k < n; ++k) v.push_back(page_id{static_cast<std::uint32_t>(k)});
  return v;
}

} // namespace mmsb::cuda_test
