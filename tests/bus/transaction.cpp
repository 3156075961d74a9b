// transaction<S, L>: changes collected per page, folded in call order, one delta per page in
// ascending page order, nothing changed by a refused change.
#include <mmsb/bus/transaction.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

using namespace mmsb;

TEST_CASE("transaction: one delta per page, ascending, folded in call order", "[bus][transaction]")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  transaction<S, L> tx;
  CHECK(tx.empty());
  tx.accumulate(page_id{5}, 1, 2).accumulate(page_id{2}, 0, 7).accumulate(page_id{5}, 1, 3).assign(page_id{2}, 0, 4).accumulate(page_id{2}, 0, 1);
  CHECK(tx.pages() == 2);
  const auto ds = tx.deltas();
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].target() == page_id{2});
  CHECK(ds[1].target() == page_id{5});
  page<L> p2(page_id{2}), p5(page_id{5});
  p2.set(0, 100);
  p5.set(1, 100);
  apply(p2, ds[0]);
  apply(p5, ds[1]);
  CHECK(p2.get(0) == 5);    // 100 + 7, then := 4, then + 1
  CHECK(p5.get(1) == 105);  // 100 + 2 + 3
  CHECK(tx.deltas().size() == 2);  // reading them leaves the transaction as it was
  tx.clear();
  CHECK(tx.empty());
}

TEST_CASE("transaction: a slot past the extent is refused, naming page and slot; the rest stays", "[bus][transaction]")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  transaction<S, L> tx;
  tx.accumulate(page_id{1}, 3, 1);
  CHECK_THROWS_WITH(tx.accumulate(page_id{1}, 8, 1), Catch::Contains("page 1") && Catch::Contains("8"));
  REQUIRE(tx.pages() == 1);
  page<L> p(page_id{1});
  apply(p, tx.deltas()[0]);
  CHECK(p.get(3) == 1);
}
