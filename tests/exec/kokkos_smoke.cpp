// The Kokkos the set-up built has the OpenMP and Serial backends, initializes, and reduces
// integers to the same result on both (the basis of the Kokkos scheduler's determinism).
#define CATCH_CONFIG_RUNNER
#include <mmsb/config/config.hpp>

#include <Kokkos_Core.hpp>
#include <catch2/catch.hpp>

#include <cstdint>

static_assert(MMSB_ENABLE_KOKKOS == 1);
#if !defined(KOKKOS_ENABLE_OPENMP) || !defined(KOKKOS_ENABLE_SERIAL)
#  error "mmsb: the Kokkos found lacks the OpenMP or Serial backend; run scripts/setup.sh"
#endif

template <class Space>
std::int64_t sum_of_squares(std::int64_t n)
{
  std::int64_t total = 0;
  Kokkos::parallel_reduce(
    "sum_of_squares", Kokkos::RangePolicy<Space>(0, n),
    KOKKOS_LAMBDA(std::int64_t i, std::int64_t & acc) { acc += i * i; }, total);
  Space().fence();
  return total;
}

TEST_CASE("OpenMP and Serial execution spaces agree")
{
  constexpr std::int64_t n = 100000;
  const std::int64_t expected = (n - 1) * n * (2 * n - 1) / 6;
  CHECK(sum_of_squares<Kokkos::Serial>(n) == expected);
  CHECK(sum_of_squares<Kokkos::OpenMP>(n) == expected);
  CHECK(Kokkos::OpenMP().concurrency() >= 1);
}

int main(int argc, char** argv)
{
  Kokkos::ScopeGuard kokkos(argc, argv);
  return Catch::Session().run(argc, argv);
}
