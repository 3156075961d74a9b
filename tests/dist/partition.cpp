// dist/partition.hpp without MPI: the rules give every page one owner and dense local ids in
// global order, the same on every build, and bad tables are refused naming the page. The bus
// across ranks: tests/dist/mpi_bus.cpp under mpirun.
#include <mmsb/dist/partition.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace mmsb;
using mmsb::dist::partition;

namespace {

// Every page once, each rank's pages ascending with local ids 0, 1, ...
void check_consistent(const partition& p)
{
  std::vector<int> seen(p.pages(), 0);
  for (std::uint32_t r = 0; r < p.ranks(); ++r) {
    const auto& ids = p.owned(r);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      REQUIRE(p.owner(ids[i]) == r);
      REQUIRE(p.local(ids[i]) == page_id{static_cast<std::uint32_t>(i)});
      if (i > 0) REQUIRE(ids[i - 1] < ids[i]);
      ++seen[ids[i].value()];
    }
  }
  for (int s : seen) REQUIRE(s == 1);
}

} // namespace

TEST_CASE("partition: block gives contiguous ranges, the first ranks one page more", "[dist]")
{
  const auto p = partition::block(10, 4);  // 3, 3, 2, 2
  check_consistent(p);
  CHECK(p.owned(0).size() == 3);
  CHECK(p.owned(1).size() == 3);
  CHECK(p.owned(2).size() == 2);
  CHECK(p.owned(3).size() == 2);
  CHECK(p.owner(page_id{2}) == 0);
  CHECK(p.owner(page_id{3}) == 1);
  CHECK(p.owner(page_id{9}) == 3);
  CHECK(p.local(page_id{9}) == page_id{1});
  CHECK(p.rule() == "block");
  const auto few = partition::block(2, 4);  // ranks with no pages
  check_consistent(few);
  CHECK(few.owned(3).empty());
}

TEST_CASE("partition: hash scatters neighbours and is the same on every build", "[dist]")
{
  const auto p = partition::hash(1000, 3);
  check_consistent(p);
  int changes = 0;
  for (std::uint32_t g = 1; g < 1000; ++g) changes += p.owner(page_id{g}) != p.owner(page_id{g - 1}) ? 1 : 0;
  CHECK(changes > 500);
  for (std::uint32_t r = 0; r < 3; ++r) CHECK(p.owned(r).size() > 250);
  // A fixed mix, not std::hash: these owners are part of the contract across builds and ranks.
  CHECK(p.owner(page_id{0}) == partition::hash(1000, 3).owner(page_id{0}));
  CHECK(p.fingerprint() == partition::hash(1000, 3).fingerprint());
  CHECK(p.fingerprint() != partition::block(1000, 3).fingerprint());
  CHECK(p.fingerprint() != partition::hash(1000, 4).fingerprint());
  CHECK(p.fingerprint() != partition::hash(999, 3).fingerprint());
}

TEST_CASE("partition: a table of owners; bad input is refused naming the page or the range", "[dist]")
{
  const auto p = partition::from_owners({2, 0, 2, 1, 0}, 3);
  check_consistent(p);
  CHECK(p.owned(2) == std::vector<page_id>{page_id{0}, page_id{2}});
  CHECK(p.local(page_id{2}) == page_id{1});
  CHECK_THROWS_WITH(partition::from_owners({0, 3}, 3), Catch::Contains("page 1") && Catch::Contains("rank 3"));
  CHECK_THROWS_WITH(partition::block(4, 0), Catch::Contains("0 ranks"));
  CHECK_THROWS_WITH(p.checked_owner(page_id{5}), Catch::Contains("page 5") && Catch::Contains("[0, 5)") && Catch::Contains("3 ranks"));
  CHECK(p.checked_owner(page_id{4}) == 0);
}
