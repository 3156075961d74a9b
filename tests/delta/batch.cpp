// Columnar batches: the merged result depends only on the set of changes, not on how they were
// split across producer threads, the order sub-batches arrived in, or how many workers merged.
#include <mmsb/delta/batch.hpp>

#include "../support/cases.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <tuple>
#include <thread>
#include <vector>

using namespace mmsb;

namespace {

template <class S, class L>
struct change {
  page_id page;
  std::uint32_t slot;
  delta_op op;
  typename L::value_type value;
  order_key key;
};

// Changes from `producers` producers over `pages` pages: each producer issues deltas with
// increasing sequence numbers; each delta touches a few slots of one page.
template <class S, class L, class Rng>
std::vector<change<S, L>> random_changes(Rng& rng, std::uint32_t producers, std::uint32_t pages, std::size_t deltas)
{
  std::vector<change<S, L>> out;
  std::vector<std::uint64_t> seq(producers, 0);
  for (std::size_t d = 0; d < deltas; ++d) {
    const producer_id p{static_cast<std::uint32_t>(rng() % producers)};
    const order_key key{epoch{1 + rng() % 3}, p, sequence_no{seq[p.value()]++}};
    const page_id page{static_cast<std::uint32_t>(rng() % pages)};
    const std::size_t n = 1 + rng() % 8;
    std::vector<std::uint32_t> slots;
    while (slots.size() < n) {
      const auto s = static_cast<std::uint32_t>(rng() % L::extent);
      if (std::find(slots.begin(), slots.end(), s) == slots.end()) slots.push_back(s);
    }
    for (auto s : slots)
      out.push_back({page, s, rng() % 4 == 0 ? delta_op::assign : delta_op::accumulate,
                     test::exact_value<typename L::value_type>(rng), key});
  }
  return out;
}

template <class S, class L>
std::map<std::uint32_t, page<L>> apply_batch(const delta_batch<S, L>& b, std::size_t workers)
{
  std::map<std::uint32_t, page<L>> state;
  for (auto id : b.pages()) state.emplace(id.value(), page<L>(id));
  const auto cuts = b.split(workers);
  std::vector<std::thread> pool;
  std::vector<delta<S, L>> merged(b.pages().size());
  for (std::size_t w = 0; w + 1 < cuts.size(); ++w)
    pool.emplace_back([&, w] {
      for (std::size_t k = cuts[w]; k < cuts[w + 1]; ++k) merged[k] = b.merge_partition(k);
    });
  for (auto& t : pool) t.join();
  for (std::size_t k = 0; k < merged.size(); ++k) apply(state.at(b.pages()[k].value()), merged[k]);
  return state;
}

template <class L>
state_hash hash_of(const std::map<std::uint32_t, page<L>>& state)
{
  state_hasher h;
  for (const auto& [id, p] : state) hash_into(h, p);
  return h.digest();
}

} // namespace

TEMPLATE_TEST_CASE("a batch merges to the same bits however it is split, ordered or merged", "[batch][determinism]",
                   (test::combo<plus_times<float>, dense<float, 256>>),
                   (test::combo<plus_times<std::int64_t>, dense<std::int64_t, 64>>),
                   (test::combo<min_plus<float>, dense<float, 1024>>),
                   (test::combo<or_and, bits<512>>),
                   (test::combo<test::user_min_plus16, dense<std::int16_t, 100>>))
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  const auto changes = random_changes<S, L>(rng, 4, 20, 400);

  // Reference: one batch, in generation order, merged by one worker.
  delta_batch<S, L> reference;
  for (const auto& c : changes) reference.push(c.page, c.slot, c.op, c.value, c.key);
  reference.seal();
  const auto expected = hash_of(apply_batch(reference, 1));

  // The oracle: apply change by change in (page, key) order straight onto pages.
  auto sorted = changes;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  std::map<std::uint32_t, page<L>> oracle;
  for (const auto& c : sorted) {
    auto& p = oracle.try_emplace(c.page.value(), page<L>(c.page)).first->second;
    p.set(c.slot, apply_element<S>(p.get(c.slot), c.op == delta_op::assign, c.value));
  }
  CHECK(hash_of(oracle) == expected);

  for (int trial = 0; trial < 10; ++trial) {
    // Split the changes across `threads` producer threads, each filling its own batch.
    const std::size_t threads = 1 + rng() % 4;
    std::vector<std::size_t> owner(changes.size());
    for (auto& o : owner) o = rng() % threads;
    std::vector<delta_batch<S, L>> parts(threads);
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (std::size_t i = 0; i < changes.size(); ++i)
          if (owner[i] == t) parts[t].push(changes[i].page, changes[i].slot, changes[i].op, changes[i].value, changes[i].key);
      });
    for (auto& th : pool) th.join();
    // Append the sub-batches in a random order, then merge with a random number of workers.
    std::vector<std::size_t> arrival(threads);
    std::iota(arrival.begin(), arrival.end(), std::size_t{0});
    std::shuffle(arrival.begin(), arrival.end(), rng);
    delta_batch<S, L> all;
    for (auto t : arrival) all.append(parts[t]);
    all.seal();
    const std::size_t workers = 1 + rng() % 4;
    INFO("trial " << trial << ": " << threads << " producer threads, " << workers << " merge workers");
    REQUIRE(hash_of(apply_batch(all, workers)) == expected);
  }
}

TEST_CASE("seal orders changes in key order the same as shuffled ones and ones on sparse page ids")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 64>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  auto changes = random_changes<S, L>(rng, 3, 50, 300);
  // In (key, slot) order, as the bus's drain gives them: every page's run comes out of the
  // counting sort in order (the one-pass path).
  std::stable_sort(changes.begin(), changes.end(),
                   [](const auto& a, const auto& b) { return std::tie(a.key, a.slot) < std::tie(b.key, b.slot); });
  const auto sealed = [](const std::vector<change<S, L>>& cs, std::uint32_t page_scale) {
    delta_batch<S, L> b;
    for (const auto& c : cs) b.push(page_id{c.page.value() * page_scale}, c.slot, c.op, c.value, c.key);
    b.seal();
    return b;
  };
  const auto in_order = sealed(changes, 1);
  auto shuffled = changes;  // runs out of key order: the general sort
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const auto general = sealed(shuffled, 1);
  const auto sparse = sealed(changes, 1u << 20);  // ids too sparse for a histogram: the general sort
  REQUIRE(in_order.pages().size() == general.pages().size());
  REQUIRE(in_order.pages().size() == sparse.pages().size());
  for (std::size_t k = 0; k < in_order.pages().size(); ++k) {
    INFO("partition " << k << ", page " << in_order.pages()[k].value());
    CHECK(in_order.pages()[k] == general.pages()[k]);
    CHECK(sparse.pages()[k].value() == in_order.pages()[k].value() << 20);
    const auto a = in_order.merge_partition(k), b = general.merge_partition(k), c = sparse.merge_partition(k);
    page<L> pa(in_order.pages()[k]), pb(general.pages()[k]), pc(sparse.pages()[k]);
    apply(pa, a);
    apply(pb, b);
    apply(pc, c);
    CHECK(std::equal(pa.payload_bytes().begin(), pa.payload_bytes().end(), pb.payload_bytes().begin()));
    CHECK(std::equal(pa.payload_bytes().begin(), pa.payload_bytes().end(), pc.payload_bytes().begin()));
  }
}

TEST_CASE("two changes with the same page, slot and key are refused; the batch keeps its contents")
{
  using S = plus_times<int>;
  using L = dense<int, 8>;
  delta_batch<S, L> b;
  const order_key k{epoch{1}, producer_id{2}, sequence_no{3}};
  b.push(page_id{4}, 5, delta_op::accumulate, 1, k);
  b.push(page_id{4}, 5, delta_op::accumulate, 2, k);
  try {
    b.seal();
    FAIL("ambiguous order accepted");
  } catch (const error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(std::string(e.what()) ==
          "batch: two changes to page 4 slot 5 share the order key (epoch 1, producer 2, sequence 3), so their order is undefined");
  }
  CHECK(b.size() == 2);
  CHECK(!b.sealed());
  CHECK_THROWS_AS(b.push(page_id{4}, 8, delta_op::assign, 1, k), error);
  CHECK(b.size() == 2);
}

TEST_CASE("a whole delta pushes under one key and merges back to itself")
{
  using S = min_plus<float>;
  using L = dense<float, 1024>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 11);
  for (int round = 0; round < 10; ++round) {
    const auto d = test::random_delta<S, L>(page_id{3}, rng);
    delta_batch<S, L> b;
    b.push(d, order_key{epoch{1}, producer_id{0}, sequence_no{0}});
    b.seal();
    if (d.count() == 0) { CHECK(b.pages().empty()); continue; }
    REQUIRE(b.pages().size() == 1);
    const auto back = b.merge_partition(0);
    CHECK(back.count() == d.count());
    CHECK(back.to_dense() == d.to_dense());
  }
}

TEMPLATE_TEST_CASE("merge_partition: the small-partition fold equals a delta_builder, encoding included", "[batch]",
                   (std::pair<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 256>>),
                   (std::pair<mmsb::min_plus<float>, mmsb::dense<float, 1024>>),
                   (std::pair<mmsb::or_and, mmsb::bits<2048>>))
{
  using S = typename TestType::first_type;
  using L = typename TestType::second_type;
  using T = typename L::value_type;
  std::mt19937_64 rng(mmsb::test::seed());
  for (int trial = 0; trial < 300; ++trial) {
    MMSB_TEST_INFO_SEED();
    INFO("trial " << trial);
    // From 1 change to well past the small-partition limit, few slots so that slots repeat.
    const std::size_t n = 1 + rng() % (trial % 3 == 0 ? 200 : 40);
    const std::size_t slots = 1 + rng() % 24;
    mmsb::delta_batch<S, L> batch;
    mmsb::delta_builder<S, L> want(mmsb::page_id{3});
    std::vector<std::tuple<mmsb::order_key, std::uint32_t, mmsb::delta_op, T>> changes;
    for (std::size_t i = 0; i < n; ++i) {
      const auto key = mmsb::order_key{mmsb::epoch{rng() % 3}, mmsb::producer_id{static_cast<std::uint32_t>(rng() % 3)}, mmsb::sequence_no{i}};
      const auto slot = static_cast<std::uint32_t>((rng() % slots) * 7 % L::extent);
      const auto op = rng() % 4 == 0 ? mmsb::delta_op::assign : mmsb::delta_op::accumulate;
      const T v = static_cast<T>(rng() % 100);
      changes.emplace_back(key, slot, op, v);
      batch.push(mmsb::page_id{3}, slot, op, v, key);
    }
    std::sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) {
      return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
    });
    for (const auto& [key, slot, op, v] : changes) want.put(slot, op, v);
    batch.seal();
    REQUIRE(batch.pages().size() == 1);
    const auto got = batch.merge_partition(0);
    const auto ref = want.build();
    CHECK(got.encoding() == ref.encoding());
    CHECK(got.count() == ref.count());
    CHECK(got.to_dense() == ref.to_dense());
  }
}

TEST_CASE("runs: a batch sealed, pushed to and sealed again merges as if sealed once; runs split by other pages rejoin")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 64>;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 5);
  const auto changes = random_changes<S, L>(rng, 3, 30, 400);
  delta_batch<S, L> once, twice;
  for (const auto& c : changes) once.push(c.page, c.slot, c.op, c.value, c.key);
  once.seal();
  const std::size_t half = changes.size() / 2;
  for (std::size_t i = 0; i < half; ++i) twice.push(changes[i].page, changes[i].slot, changes[i].op, changes[i].value, changes[i].key);
  twice.seal();
  for (std::size_t i = half; i < changes.size(); ++i) twice.push(changes[i].page, changes[i].slot, changes[i].op, changes[i].value, changes[i].key);
  CHECK(!twice.sealed());
  twice.seal();
  REQUIRE(twice.size() == once.size());
  CHECK(hash_of(apply_batch(twice, 3)) == hash_of(apply_batch(once, 1)));

  // One key, its slots interleaved with another page's and out of order: page 1's three changes
  // form two runs under one key ([5], [3, 9]) and page 2's two ([1], [0]); sealing sorts each
  // page's into one run, and a repeat of a sealed change is refused.
  delta_batch<S, L> b;
  const order_key k{epoch{1}, producer_id{0}, sequence_no{7}};
  b.push(page_id{1}, 5, delta_op::accumulate, 50, k);
  b.push(page_id{2}, 1, delta_op::accumulate, 10, k);
  b.push(page_id{1}, 3, delta_op::assign, 30, k);
  b.push(page_id{1}, 9, delta_op::accumulate, 90, k);
  b.push(page_id{2}, 0, delta_op::accumulate, 20, k);
  b.seal();
  REQUIRE(b.pages().size() == 2);
  const auto p1 = b.merge_partition(0).to_dense();
  CHECK(p1.count() == 3);
  CHECK(p1.value(3) == 30);
  CHECK(p1.is_assign(3));
  CHECK(p1.value(5) == 50);
  CHECK(p1.value(9) == 90);
  CHECK(b.merge_partition(1).count() == 2);
  b.push(page_id{1}, 9, delta_op::accumulate, 1, k);  // same page, slot and key as a sealed change
  CHECK_THROWS_WITH(b.seal(), "batch: two changes to page 1 slot 9 share the order key (epoch 1, producer 0, sequence 7), so their order is undefined");
  CHECK(b.size() == 6);
  CHECK(!b.sealed());
  CHECK(b.pages().size() == 2);  // as the last successful seal left them
}
