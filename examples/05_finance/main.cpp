// 05_finance: incremental portfolio risk, exact to the cent, with an audit replay.
//
// A firm holds positions in instruments, grouped into portfolios. Prices stream in as deltas
// from market-data feed threads; every tick the bus updates position values, portfolio and
// firm-wide factor exposures, P&L and stress scenarios by propagating only the price changes
// (plus_times over int64 has an exact inverse, so the page graph pushes differences:
// Δvalue = qty × Δprice, no recomputation). Everything is integer (cents, percent, basis
// points), so "exact" means bit-identical to a full recompute, and it is checked every tick.
//
//   feeds ─rings─> [price pages]        slot = instrument, value = price in cents
//                        │  qty                (matrix: position row ← instrument column)
//                        v
//                  [position pages]     slot = position, value = qty × price
//                        │  1, sensitivity     (each position feeds its portfolio's MV and
//                        v                      its 7 factor exposures)
//                  [portfolio pages]    slot = portfolio × (MV, exposure 1..7)
//                        │  1
//                        v
//                  [firm page]          MV, exposure 1..7
//                        │  1, shock           (base of slot 0 = −opening MV)
//                        v
//                  [report page]        P&L, stress scenario 1..S
//
// Checks: after every tick, every derived value equals a plain recompute from the prices the
// feeds sent (exit 1 on any difference). At the end, an audit rebuilds past epochs from the
// log alone (durable_store::snapshot_at) on a fresh bus and must reproduce the risk report
// recorded at that epoch, bit for bit.
//
// Beside its state hash it prints a workload digest, a hash of the book and every price update the
// feeds sent (see workload_digest.hpp): two builds with equal digests ran the same workload.
//
// usage: 05_finance [--instruments N] [--positions N] [--portfolios N] [--ticks N]
//                   [--updates N] [--feeds N] [--audits N] [--seed N] [--heatmap PATH]
// --heatmap PATH writes the pages' write and read counts per window of ticks as a PNG and a CSV
// (examples/heatmap.hpp, docs/observability.md).
#include <mmsb/mmsb.hpp>

#include "heatmap.hpp"
#include "model.hpp"
#include "options.hpp"
#include "workload_digest.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace finance;

using bus_type = mmsb::bus<S, L>;
using clock_type = std::chrono::steady_clock;

options parse(int argc, char** argv)
{
  options o;
  example::option_parser p("05_finance");
  p.number("--instruments", o.instruments, 1, 1'000'000)
    .number("--positions", o.positions, 1, 10'000'000)  // default: 10 per instrument
    .number("--portfolios", o.portfolios, 1, 1024)
    .number("--ticks", o.ticks, 1, 1'000'000)
    .number("--updates", o.updates, 1, 1'000'000)      // per tick; default: 1 % of the instruments
    .number("--feeds", o.feeds, 1, 64)                 // threads
    .number("--scenarios", o.scenarios, 1, slots - 1)
    .number("--audits", o.audits, 0, 1000)
    .number("--seed", o.seed, 0)
    .text("--heatmap", o.heatmap);
  p.parse(argc, argv);
  example::check_heatmap_path(p, o.heatmap);
  // Feed f publishes instruments f, f + feeds, ...: each feed needs one at least.
  if (o.feeds > o.instruments)
    p.reject("--feeds", std::to_string(o.feeds), "more feeds than instruments (" + std::to_string(o.instruments) + ")");
  if (o.positions == 0) o.positions = 10 * o.instruments;
  if (o.updates == 0) o.updates = std::max<std::uint32_t>(1, o.instruments / 100);
  return o;
}

// The book as generated: prices, loadings, positions (sorted) and scenario shocks.
void digest_book(example::workload_digest& d, const book& b)
{
  d.add(b.opening.size());
  for (const auto x : b.opening) d.add(x);
  for (const auto& s : b.sensitivity)
    for (const auto x : s) d.add(x);
  d.add(b.positions.size());
  for (const auto& p : b.positions) d.add(p.instrument).add(p.portfolio).add(p.qty);
  d.add(b.shock.size());
  for (const auto& k : b.shock)
    for (const auto x : k) d.add(x);
}

// Every derived value on the bus against the reference; prints the first difference.
bool matches(const bus_type& bus, const world& w, const options& o, const reference& ref, std::uint32_t tick)
{
  const auto differ = [&](const char* what, std::size_t index, std::int64_t want, std::int64_t got) {
    std::printf("MISMATCH after tick %u: %s %zu is %" PRId64 ", the full recompute gives %" PRId64 "\n", tick, what, index, got, want);
    return false;
  };
  for (std::uint32_t p = 0; p < o.positions; ++p)
    if (const auto got = bus.value(w.positions[p / slots]).get(p % slots); got != ref.position_value[p])
      return differ("position", p, ref.position_value[p], got);
  for (std::size_t k = 0; k < ref.portfolio.size(); ++k)
    if (const auto got = bus.value(w.portfolios[k / slots]).get(k % slots); got != ref.portfolio[k])
      return differ("portfolio slot", k, ref.portfolio[k], got);
  const report got = read_report(bus, w, o);
  if (got.mv != ref.rep.mv) return differ("firm MV", 0, ref.rep.mv, got.mv);
  if (got.pnl != ref.rep.pnl) return differ("P&L", 0, ref.rep.pnl, got.pnl);
  for (std::uint32_t f = 0; f < factors; ++f)
    if (got.exposure[f] != ref.rep.exposure[f]) return differ("firm exposure", f, ref.rep.exposure[f], got.exposure[f]);
  for (std::uint32_t s = 0; s < o.scenarios; ++s)
    if (got.stress[s] != ref.rep.stress[s]) return differ("stress scenario", s, ref.rep.stress[s], got.stress[s]);
  return true;
}

// ---- timing -------------------------------------------------------------------------------------
template <class F>
double micros(F&& f)
{
  const auto t = clock_type::now();
  f();
  return std::chrono::duration<double, std::micro>(clock_type::now() - t).count();
}

double median(std::vector<double> v)
{
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// The audit: a fresh bus with the same world, loaded with every page's base at epoch e as read
// back from the log, propagated once. Its report must equal the one recorded at e.
report audit(const bus_type& live, const book& b, const options& o, mmsb::epoch e)
{
  bus_type bus;
  const world w = build_world(bus, b, o);
  auto loader = bus.make_producer(std::bit_ceil(std::size_t{slots} * bus.store().pages().size()));
  for (const auto& p : live.store().snapshot_at(e).pages) {
    mmsb::delta_builder<S, L> d(p.id());
    for (std::size_t k = 0; k < slots; ++k)
      if (p.get(k) != 0) d.assign(k, p.get(k));
    loader.push(d.build());
  }
  (void)bus.tick();
  return read_report(bus, w, o);
}

int run(const options& o)
{
  const book b = make_book(o);

  mmsb::heat_recorder heat(std::max<std::uint32_t>(1, o.ticks / 256));  // about 256 windows
  bus_type bus(mmsb::bus_options{.ring_capacity = std::bit_ceil(std::max<std::size_t>(1024, 2 * o.updates)),  // a tick's feed
                                 .heat = o.heatmap.empty() ? mmsb::heat_sink{} : mmsb::heat_sink(&heat)});
  world w;
  const double build_ms = micros([&] { w = build_world(bus, b, o); }) / 1000;
  std::printf("%u instruments, %u positions, %u portfolios, %u scenarios: %zu pages, %zu edges (built in %.1f ms)\n",
              o.instruments, o.positions, o.portfolios, o.scenarios, bus.store().pages().size(), w.edges, build_ms);

  // Epoch 1: opening prices, and the P&L baseline (base of the report's slot 0 = −opening MV).
  std::vector<std::int64_t> price = b.opening;
  reference ref;
  recompute(b, o, price, 0, ref);
  const std::int64_t opening_mv = ref.rep.mv;
  {
    auto desk = bus.make_producer(std::bit_ceil(o.instruments + std::size_t{1}));  // holds the whole opening batch
    for (std::uint32_t i = 0; i < o.instruments; ++i) desk.assign(w.prices[i / slots], i % slots, price[i]);
    desk.assign(w.risk, 0, -opening_mv);
    (void)bus.tick();
  }
  recompute(b, o, price, opening_mv, ref);
  if (!matches(bus, w, o, ref, 0)) return 1;
  std::map<std::uint64_t, report> recorded{{bus.current_epoch().value(), read_report(bus, w, o)}};

  // The feeds: feed f publishes the instruments i with i % feeds == f, each from its own thread,
  // with its own generator and its own view of its prices, so the stream does not depend on timing.
  std::vector<bus_type::producer_type> feeds;
  std::vector<std::mt19937_64> feed_rng;
  std::vector<example::workload_digest> feed_digest(o.feeds);  // each feed's updates, written by that feed only
  for (std::uint32_t f = 0; f < o.feeds; ++f) {
    feeds.push_back(bus.make_producer());
    feed_rng.emplace_back(o.seed * 1000003 + f);
  }
  const auto publish = [&](std::uint32_t f, std::uint32_t tick) {
    auto& rng = feed_rng[f];
    feeds[f].set_epoch(mmsb::epoch{tick});
    for (std::uint32_t k = 0, n = updates_of(o, f); k < n; ++k) {
      const std::uint32_t i = next_update(rng, o, f, price);  // only feed f writes price[i]
      feed_digest[f].add(tick).add(i).add(price[i]);
      feeds[f].assign(w.prices[i / slots], i % slots, price[i]);
    }
  };

  std::vector<double> tick_us, full_us, recompute_all_us;
  std::uint64_t changes = 0;
  std::int64_t worst_seen = 0;
  for (std::uint32_t t = 1; t <= o.ticks; ++t) {
    std::vector<std::thread> threads;
    for (std::uint32_t f = 0; f < o.feeds; ++f) threads.emplace_back(publish, f, t);
    for (auto& th : threads) th.join();

    mmsb::tick_report r;
    tick_us.push_back(micros([&] { r = bus.tick(); }));
    changes += r.changes;
    full_us.push_back(micros([&] { recompute(b, o, price, opening_mv, ref); }));
    if (!matches(bus, w, o, ref, t)) return 1;
    if (t % 10 == 0) {  // the library's own full recompute, for the comparison; it must agree too
      recompute_all_us.push_back(micros([&] { bus.recompute_all(); }));
      if (!matches(bus, w, o, ref, t)) return 1;
    }
    const report rep = read_report(bus, w, o);
    worst_seen = std::min(worst_seen, rep.worst());
    recorded.emplace(r.epoch.value(), rep);
    if (t % std::max<std::uint32_t>(1, o.ticks / 10) == 0)
      std::printf("tick %5u  MV %16.2f  P&L %+13.2f  worst stress %+15.2f  tick p50 %7.1f us\n", t, dollars(rep.mv),
                  dollars(rep.pnl), stress_dollars(rep.worst()), median(tick_us));
  }

  // The audit: past epochs rebuilt from the log alone.
  std::mt19937_64 pick(o.seed ^ 0xa0d17);
  std::vector<std::uint64_t> epochs{recorded.begin()->first, recorded.rbegin()->first};
  while (epochs.size() < std::min<std::size_t>(o.audits, recorded.size()))
    epochs.push_back(std::next(recorded.begin(), static_cast<std::ptrdiff_t>(pick() % recorded.size()))->first);
  epochs.resize(std::min<std::size_t>(epochs.size(), o.audits));
  for (const auto e : epochs) {
    const report again = audit(bus, b, o, mmsb::epoch{e});
    if (!(again == recorded.at(e))) {
      std::printf("AUDIT MISMATCH at epoch %" PRIu64 ": replayed MV %" PRId64 " P&L %" PRId64 ", recorded MV %" PRId64 " P&L %" PRId64 "\n", e,
                  again.mv, again.pnl, recorded.at(e).mv, recorded.at(e).pnl);
      return 1;
    }
  }

  const report fin = read_report(bus, w, o);
  const double inc = median(tick_us), full = median(full_us), all = median(recompute_all_us);
  std::printf("\nfirm report at epoch %" PRIu64 "\n", bus.current_epoch().value());
  std::printf("  %-26s %18.2f\n", "market value ($)", dollars(fin.mv));
  std::printf("  %-26s %+18.2f\n", "P&L since open ($)", dollars(fin.pnl));
  for (std::uint32_t f = 0; f < factors; ++f)
    std::printf("  exposure %-17s %+18.2f\n", (std::string(factor_names[f]) + " ($)").c_str(), static_cast<double>(fin.exposure[f]) / 1e4);
  std::printf("  %-26s %+18.2f\n\n", "worst stress scenario ($)", stress_dollars(fin.worst()));

  std::printf("%-34s %14s\n", "instruments / positions", (std::to_string(o.instruments) + " / " + std::to_string(o.positions)).c_str());
  std::printf("%-34s %14s\n", "portfolios / scenarios", (std::to_string(o.portfolios) + " / " + std::to_string(o.scenarios)).c_str());
  std::printf("%-34s %14s\n", "pages / edges", (std::to_string(bus.store().pages().size()) + " / " + std::to_string(w.edges)).c_str());
  std::printf("%-34s %14u\n", "ticks", o.ticks);
  std::printf("%-34s %14" PRIu64 "\n", "price updates", changes);
  std::printf("%-34s %14.1f\n", "incremental tick, median (us)", inc);
  std::string phases;
  for (std::size_t k = 0; k < 4; ++k) {
    const auto ph = static_cast<mmsb::tick_phase>(k);
    phases += std::string(k ? " " : "") + mmsb::phase_name(ph) + " " +
              std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(bus.stats().p50(ph)).count());
  }
  std::printf("%-34s %s\n", "  phases, median (us)", phases.c_str());
  std::printf("%-34s %14.1f\n", "full recompute, plain, median (us)", full);
  std::printf("%-34s %14.1f\n", "graph recompute_all, median (us)", all);
  std::printf("%-34s %13.1fx\n", "speedup vs plain full recompute", inc > 0 ? full / inc : 0.0);
  std::printf("%-34s %13.1fx\n", "speedup vs recompute_all", inc > 0 ? all / inc : 0.0);
  std::printf("%-34s %14s\n", "check vs full recompute", "exact, every tick");
  std::printf("%-34s %14s\n", "audit replay", (std::to_string(epochs.size()) + " epochs exact").c_str());
  std::printf("%-34s %14.2f\n", "worst stress seen ($)", stress_dollars(worst_seen));
  example::workload_digest digest;
  digest_book(digest, b);
  for (const auto& d : feed_digest) digest.add(d);
  std::printf("%-34s %16s\n", "workload digest", digest.hex().c_str());
  std::printf("%-34s %16" PRIx64 "\n", "state hash", bus.hash().value);
  if (!o.heatmap.empty() && !example::write_heatmap(heat, o.heatmap)) return 1;
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  return example::guarded_main("05_finance", [&] { return run(parse(argc, argv)); });
}
