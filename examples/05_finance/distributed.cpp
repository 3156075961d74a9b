// 05_finance_mpi: the finance example's book on a bus split across MPI ranks (docs/distributed.md).
//
// The instruments are partitioned across the ranks: price page k lives on rank k × ranks / n
// (contiguous blocks). Each position page lives with the price page of its first position's
// instrument (positions are sorted by instrument, so most of a position page's edges stay on its
// rank), so the positions' recompute, the bulk of the work, is spread over the ranks. The
// portfolios, the firm and the report live on rank 0, which holds ghosts of the position pages:
// after each propagation step the ranks send it the changed slots of their position pages, as
// encoded deltas. --derived-on-root puts every derived page on rank 0 instead (rank 0 then holds
// ghosts of the price pages, and does all the propagation).
// The feeds are producers spread over the ranks (feed f on rank f % ranks, producer id f + 1;
// the opening desk is producer 0 on rank 0); feed f publishes instruments f, f + feeds, ...
// wherever their pages live, so most changes cross ranks.
//
// Checks, every tick: the distributed state hash equals the hash of one basic_bus fed the same
// changes (rank 0 runs it), and the risk report read on rank 0 equals the plain full recompute.
// Exit 1 on any difference. It prints, per tick, the bytes the ranks sent (the routed price
// changes, the boundary deltas, the counts framing each exchange) against the bytes of price
// that changed and the changed boundary slots.
//
// usage: mpirun -np N 05_finance_mpi [--instruments N] [--positions N] [--portfolios N]
//                                    [--ticks N] [--updates N] [--feeds N] [--seed N]
//                                    [--derived-on-root]
#include <mmsb/dist/mpi_bus.hpp>

#include "model.hpp"
#include "options.hpp"

#include <mpi.h>

#include <algorithm>
#include <array>
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

struct dist_options : options {
  bool derived_on_root = false;
};

dist_options parse(int argc, char** argv)
{
  dist_options o;
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
    .number("--seed", o.seed, 0)
    .flag("--derived-on-root", o.derived_on_root);
  p.parse(argc, argv);
  if (o.feeds > o.instruments)
    p.reject("--feeds", std::to_string(o.feeds), "more feeds than instruments (" + std::to_string(o.instruments) + ")");
  if (o.positions == 0) o.positions = 10 * o.instruments;
  if (o.updates == 0) o.updates = std::max<std::uint32_t>(1, o.instruments / 100);
  return o;
}

// The latency (alpha, one way) and the cost per byte (beta) of one message between ranks 0 and
// 1, from ping-pongs of 8 bytes and of 256 KiB: the scaling model's constants
// (docs/distributed.md). Collective; zeros on one rank.
struct link_cost {
  double alpha_us = 0, beta_ns = 0;
};
link_cost ping_pong()
{
  link_cost c;
  if (ranks < 2) return c;
  std::vector<char> buf(256 * 1024);
  const auto one_way = [&](int bytes, int rounds) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    for (int i = 0; i < rounds; ++i) {
      if (rank == 0) {
        MPI_Send(buf.data(), bytes, MPI_CHAR, 1, 7, MPI_COMM_WORLD);
        MPI_Recv(buf.data(), bytes, MPI_CHAR, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(buf.data(), bytes, MPI_CHAR, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf.data(), bytes, MPI_CHAR, 0, 7, MPI_COMM_WORLD);
      }
    }
    return (MPI_Wtime() - t0) / (2.0 * rounds);
  };
  (void)one_way(8, 50);  // warm-up
  const double small = one_way(8, 2000), large = one_way(static_cast<int>(buf.size()), 200);
  c.alpha_us = small * 1e6;
  c.beta_ns = std::max(0.0, (large - small) / static_cast<double>(buf.size()) * 1e9);
  return c;
}

int run(const dist_options& o)
{
  const book b = make_book(o);
  const std::uint32_t price_pages = pages_for(o.instruments);
  const std::uint32_t pages = price_pages + pages_for(o.positions) + pages_for(o.portfolios * per_portfolio) + 2;
  std::vector<std::uint32_t> owners(pages, 0);  // portfolios, the firm and the report on rank 0
  for (std::uint32_t k = 0; k < price_pages; ++k)
    owners[k] = static_cast<std::uint32_t>(std::uint64_t{k} * static_cast<std::uint64_t>(ranks) / price_pages);
  if (!o.derived_on_root)
    for (std::uint32_t k = 0; k < pages_for(o.positions); ++k) owners[price_pages + k] = owners[b.positions[std::size_t{k} * slots].instrument / slots];
  mmsb::bus_options opts;
  opts.ring_capacity = std::bit_ceil(std::size_t{o.instruments} + 16);  // the opening batch
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

  // Per tick, summed over the ranks: bytes routed, boundary bytes, count bytes, boundary slots, steps, changes routed.
  std::array<std::uint64_t, 6> sent{};
  std::array<std::int64_t, 4> timing{};  // summed over the feed ticks: tick, most local work, rank 0's local work (ns); collectives
  std::uint64_t changed = 0, ticks = 0;
  bool ok = true;
  const auto check = [&](std::uint32_t t, const std::vector<std::int64_t>& price, std::int64_t opening_mv) {
    MPI_Barrier(MPI_COMM_WORLD);  // rank 0's checks of the last tick are done: the tick's time is the tick's own
    const auto r = bus.tick();
    if (single) (void)single->tick();
    const std::array<std::uint64_t, 6> mine_sent{r.route_bytes, r.boundary_bytes, r.count_bytes, r.boundary_slots, r.steps, r.changes_sent};
    std::array<std::uint64_t, 6> all_sent{};
    MPI_Allreduce(mine_sent.data(), all_sent.data(), 6, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    // Time (ns): the tick's wall time and its local work (outside MPI), the most over the ranks,
    // and rank 0's local work; and the collectives this rank made.
    const std::array<std::int64_t, 3> mine_time{r.total.count(), (r.total - r.exchange).count(), rank == 0 ? (r.total - r.exchange).count() : 0};
    std::array<std::int64_t, 3> most{};
    MPI_Allreduce(mine_time.data(), most.data(), 3, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (t > 0) {
      for (std::size_t k = 0; k < 3; ++k) timing[k] += most[k];
      timing[3] += r.collectives;
    }
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
    const auto all_sent = check(t, price, opening_mv);
    for (std::size_t k = 0; k < sent.size(); ++k) sent[k] += all_sent[k];
    changed += updates * sizeof(std::int64_t);
    ++ticks;
  }
  const auto link = ping_pong();
  const auto h = bus.hash();
  if (rank == 0) {
    const report fin = read_report(bus, w, o);
    std::printf("05_finance_mpi on %d ranks: %u instruments (%u price pages over the ranks), %u positions, %u portfolios; %" PRIu64
                " ticks\n",
                ranks, o.instruments, price_pages, o.positions, o.portfolios, ticks);
    const auto per_tick = [&](std::uint64_t v) { return static_cast<double>(v) / static_cast<double>(ticks); };
    const std::uint64_t total = sent[0] + sent[1] + sent[2];
    std::printf("%s; %.1f steps a tick\n",
                o.derived_on_root ? "every derived page on rank 0 (--derived-on-root)" : "positions with their prices, the roll-up on rank 0",
                per_tick(sent[4]) / ranks);
    std::printf("sent %.0f bytes a tick for %.0f bytes of changed prices: %.0f of routed price changes (%.1f bytes each), %.0f of "
                "boundary deltas carrying %.0f changed slots (%.1f bytes a slot, encoded), %.0f of counts\n",
                per_tick(total), per_tick(changed), per_tick(sent[0]),
                sent[5] == 0 ? 0.0 : static_cast<double>(sent[0]) / static_cast<double>(sent[5]), per_tick(sent[1]), per_tick(sent[3]),
                sent[3] == 0 ? 0.0 : static_cast<double>(sent[1]) / static_cast<double>(sent[3]), per_tick(sent[2]));
    const auto us = [&](std::int64_t ns) { return static_cast<double>(ns) / 1e3 / static_cast<double>(ticks); };
    std::printf("tick %.1f us (the slowest rank's wall time); local work %.1f us on the busiest rank, %.1f us on rank 0; %.1f "
                "collectives a tick\n",
                us(timing[0]), us(timing[1]), us(timing[2]), static_cast<double>(timing[3]) / static_cast<double>(ticks));
    if (ranks > 1)
      std::printf("link (ranks 0 and 1, ping-pong): alpha %.2f us a message, beta %.3f ns a byte\n", link.alpha_us, link.beta_ns);
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
