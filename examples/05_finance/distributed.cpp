// 05_finance_mpi: the finance example's book on a bus split across MPI ranks (docs/distributed.md).
//
// The instruments are partitioned across the ranks: price page k lives on rank k × ranks / n
// (contiguous blocks). The positions, portfolios, the firm and the report are derived pages and
// live on rank 0 (an edge from a derived page on another rank is not built yet), which holds a
// ghost of every price page: the price changes routed to a price page's owner are copied there.
// The feeds are producers spread over the ranks (feed f on rank f % ranks, producer id f + 1;
// the opening desk is producer 0 on rank 0); feed f publishes instruments f, f + feeds, ...
// wherever their pages live, so most changes cross ranks.
//
// Checks, every tick: the distributed state hash equals the hash of one basic_bus fed the same
// changes (rank 0 runs it), and the risk report read on rank 0 equals the plain full recompute.
// Exit 1 on any difference. It prints, per tick, the bytes the ranks sent against the bytes of
// price that changed.
//
// usage: mpirun -np N 05_finance_mpi [--instruments N] [--positions N] [--portfolios N]
//                                    [--ticks N] [--updates N] [--feeds N] [--seed N]
#include <mmsb/dist/mpi_bus.hpp>

#include "model.hpp"
#include "options.hpp"

#include <mpi.h>

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

namespace {

using namespace finance;

using dist_bus = mmsb::dist::mpi_bus<S, L>;
using one_bus = mmsb::bus<S, L>;

int rank = 0, ranks = 1;

// build_world's view of the distributed bus: its pages exist from the start (the partition
// counts them), handed out in order; edges are added on every rank (collective).
struct dist_builder {
  dist_bus& bus;
  std::uint32_t next = 0;
  mmsb::page_id create_page() { return mmsb::page_id{next++}; }
  void add_matrix_edge(mmsb::page_id src, mmsb::page_id dst, matrix a) { bus.add_matrix_edge(src, dst, std::move(a)); }
};

options parse(int argc, char** argv)
{
  options o;
  o.instruments = 2000;
  o.ticks = 100;
  o.feeds = 4;
  example::option_parser p("05_finance_mpi");
  p.number("--instruments", o.instruments, 1, 1'000'000)
    .number("--positions", o.positions, 1, 10'000'000)
    .number("--portfolios", o.portfolios, 1, 1024)
    .number("--ticks", o.ticks, 1, 1'000'000)
    .number("--updates", o.updates, 1, 1'000'000)
    .number("--feeds", o.feeds, 1, 64)
    .number("--seed", o.seed, 0);
  p.parse(argc, argv);
  if (o.feeds > o.instruments)
    p.reject("--feeds", std::to_string(o.feeds), "more feeds than instruments (" + std::to_string(o.instruments) + ")");
  if (o.positions == 0) o.positions = 10 * o.instruments;
  if (o.updates == 0) o.updates = std::max<std::uint32_t>(1, o.instruments / 100);
  return o;
}

int run(const options& o)
{
  const book b = make_book(o);
  const std::uint32_t price_pages = pages_for(o.instruments);
  const std::uint32_t pages = price_pages + pages_for(o.positions) + pages_for(o.portfolios * per_portfolio) + 2;
  std::vector<std::uint32_t> owners(pages, 0);  // derived pages on rank 0
  for (std::uint32_t k = 0; k < price_pages; ++k)
    owners[k] = static_cast<std::uint32_t>(std::uint64_t{k} * static_cast<std::uint64_t>(ranks) / price_pages);
  mmsb::bus_options opts;
  opts.ring_capacity = std::bit_ceil(2 * std::size_t{o.instruments} + 16);  // the opening batch, and its ghost copies
  dist_bus bus(MPI_COMM_WORLD, mmsb::dist::partition::from_owners(owners, static_cast<std::uint32_t>(ranks)), opts);
  dist_builder builder{bus};
  const world w = build_world(builder, b, o);

  // The single-process bus the distributed one must equal (rank 0).
  std::unique_ptr<one_bus> single;
  std::vector<one_bus::producer_type> single_feeds;
  if (rank == 0) {
    single = std::make_unique<one_bus>(opts);
    (void)build_world(*single, b, o);
    for (std::uint32_t f = 0; f <= o.feeds; ++f) single_feeds.push_back(single->make_producer(std::bit_ceil(o.instruments + std::size_t{1})));
  }
  // The desk (producer 0) and the feeds (1..feeds), each on its rank.
  std::vector<dist_bus::producer> mine;
  for (std::uint32_t f = 0; f <= o.feeds; ++f)
    if ((f == 0 ? 0 : static_cast<int>((f - 1) % static_cast<std::uint32_t>(ranks))) == rank) mine.push_back(bus.make_producer(f));
  const auto producer = [&](std::uint32_t id) -> dist_bus::producer* {
    for (auto& p : mine)
      if (p.id() == id) return &p;
    return nullptr;
  };
  const auto push = [&](std::uint32_t id, mmsb::page_id page, std::uint32_t slot, std::int64_t v, std::uint32_t tick) {
    if (auto* p = producer(id)) {
      p->set_epoch(mmsb::epoch{tick});
      p->assign(page, slot, v);
    }
    if (single) {
      single_feeds[id].set_epoch(mmsb::epoch{tick});
      single_feeds[id].assign(page, slot, v);
    }
  };

  std::uint64_t sent = 0, changed = 0, ticks = 0;
  bool ok = true;
  const auto check = [&](std::uint32_t t, const std::vector<std::int64_t>& price, std::int64_t opening_mv) {
    const auto r = bus.tick();
    if (single) (void)single->tick();
    std::uint64_t mine_sent = r.changes_sent * sizeof(dist_bus::change_type), all_sent = 0;
    MPI_Allreduce(&mine_sent, &all_sent, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    const auto h = bus.hash();
    int bad = 0;
    if (rank == 0) {
      reference ref;
      recompute(b, o, price, opening_mv, ref);
      if (h != single->hash()) {
        std::printf("MISMATCH after tick %u: the distributed state hash %016" PRIx64 " is not the single-process one %016" PRIx64 "\n", t,
                    h.value, single->hash().value);
        bad = 1;
      } else if (!(read_report(bus, w, o) == ref.rep)) {
        std::printf("MISMATCH after tick %u: the risk report differs from the full recompute\n", t);
        bad = 1;
      }
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ok = ok && bad == 0;
    return all_sent;
  };

  // Epoch 1: the opening prices and the P&L baseline, from the desk on rank 0.
  std::vector<std::int64_t> price = b.opening;
  reference ref;
  recompute(b, o, price, 0, ref);
  const std::int64_t opening_mv = ref.rep.mv;
  for (std::uint32_t i = 0; i < o.instruments; ++i) push(0, w.prices[i / slots], i % slots, price[i], 0);
  push(0, w.risk, 0, -opening_mv, 0);
  (void)check(0, price, opening_mv);

  // The feeds: every rank draws every feed's updates (the same generators), and pushes its own.
  std::vector<std::mt19937_64> feed_rng;
  for (std::uint32_t f = 0; f < o.feeds; ++f) feed_rng.emplace_back(o.seed * 1000003 + f);
  for (std::uint32_t t = 1; t <= o.ticks && ok; ++t) {
    std::uint64_t updates = 0;
    for (std::uint32_t f = 0; f < o.feeds; ++f) {
      for (std::uint32_t k = 0, n = updates_of(o, f); k < n; ++k) {
        const std::uint32_t i = next_update(feed_rng[f], o, f, price);
        push(f + 1, w.prices[i / slots], i % slots, price[i], t);
        ++updates;
      }
    }
    sent += check(t, price, opening_mv);
    changed += updates * sizeof(std::int64_t);
    ++ticks;
  }
  const auto h = bus.hash();
  if (rank == 0) {
    const report fin = read_report(bus, w, o);
    std::printf("05_finance_mpi on %d ranks: %u instruments (%u price pages over the ranks), %u positions, %u portfolios; %" PRIu64
                " ticks\n",
                ranks, o.instruments, price_pages, o.positions, o.portfolios, ticks);
    std::printf("sent %.0f bytes a tick for %.0f bytes of changed prices (%.1f x: 40-byte changes, and a copy to rank 0's ghosts "
                "from every other rank)\n",
                static_cast<double>(sent) / static_cast<double>(ticks), static_cast<double>(changed) / static_cast<double>(ticks),
                changed == 0 ? 0.0 : static_cast<double>(sent) / static_cast<double>(changed));
    std::printf("MV %.2f, P&L %+.2f, worst stress %+.2f; state hash %016" PRIx64 "\n", dollars(fin.mv), dollars(fin.pnl),
                stress_dollars(fin.worst()), h.value);
    std::printf("%s\n", ok ? "every tick equals the single-process bus and the full recompute" : "FAILED");
  }
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const int rc = example::guarded_main("05_finance_mpi", [&] { return run(parse(argc, argv)); });
  // A failure on one rank may leave the others in a collective: end the whole job rather than
  // wait in MPI_Finalize for them. (Every rank parses the same command line: --help and a bad
  // option end them all alike.)
  if (rc != 0 && ranks > 1) MPI_Abort(MPI_COMM_WORLD, rc);
  MPI_Finalize();
  return rc;
}
