// The finance example's model (examples/05_finance): the book (instruments, positions,
// portfolios, scenarios), the page graph built from it on any bus with create_page() and
// add_matrix_edge() (basic_bus here, the distributed bus in distributed.cpp), the risk report
// read back from it, and the plain full recompute every tick is checked against.
#pragma once

#include <mmsb/mmsb.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace finance {

using S = mmsb::plus_times<std::int64_t>;
constexpr std::uint32_t slots = 256;
using L = mmsb::dense<std::int64_t, slots>;
using entry = mmsb::matrix_entry<std::int64_t>;
using matrix = mmsb::csr_matrix<std::int64_t>;

constexpr std::uint32_t factors = 7;
constexpr std::uint32_t per_portfolio = 1 + factors;  // MV, then one exposure per factor
constexpr std::array<const char*, factors> factor_names{"equity", "rates", "credit", "fx", "energy", "tech", "size"};
constexpr std::int64_t min_price = 100, max_price = 60000;  // cents

struct options {
  std::uint32_t instruments = 5000;
  std::uint32_t positions = 0;  // 0: 10 per instrument
  std::uint32_t portfolios = 64;
  std::uint32_t ticks = 1000;
  std::uint32_t updates = 0;  // price updates per tick; 0: 1 % of the instruments
  std::uint32_t feeds = 2;
  std::uint32_t scenarios = 16;
  std::uint32_t audits = 5;
  std::uint64_t seed = 2026;
  std::string heatmap;  // empty: none
};

// ---- the book: what the firm holds, independent of the bus --------------------------------------
struct position {
  std::uint32_t instrument, portfolio;
  std::int64_t qty;  // negative: short
};

struct book {
  std::vector<std::int64_t> opening;                           // price per instrument, cents
  std::vector<std::array<std::int64_t, factors>> sensitivity;  // per instrument, percent
  std::vector<position> positions;                             // sorted by instrument
  std::vector<std::array<std::int64_t, factors>> shock;        // per scenario, basis points
};

// Plain modulo on the raw generator: the same numbers with every standard library.
inline std::int64_t uniform(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi)
{
  return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

// Feed f's price updates in one tick (feed f publishes instruments f, f + feeds, ...).
inline std::uint32_t updates_of(const options& o, std::uint32_t f) { return o.updates / o.feeds + (f < o.updates % o.feeds ? 1 : 0); }
// Feed f's next price update, drawn from its own generator: moves that instrument's price in
// `price` and returns the instrument. The same draws in every program that runs the book.
inline std::uint32_t next_update(std::mt19937_64& rng, const options& o, std::uint32_t f, std::vector<std::int64_t>& price)
{
  const std::uint32_t own = (o.instruments - f + o.feeds - 1) / o.feeds;  // feeds <= instruments: at least one
  const std::uint32_t i = f + o.feeds * static_cast<std::uint32_t>(rng() % own);
  price[i] = std::clamp(price[i] + uniform(rng, -25, 25), min_price, max_price);
  return i;
}

inline book make_book(const options& o)
{
  std::mt19937_64 rng(o.seed);
  book b;
  for (std::uint32_t i = 0; i < o.instruments; ++i) {
    b.opening.push_back(uniform(rng, 500, 50000));
    std::array<std::int64_t, factors> s{};
    for (auto& x : s) x = rng() % 3 == 0 ? uniform(rng, -150, 150) : 0;  // sparse factor loadings
    b.sensitivity.push_back(s);
  }
  for (std::uint32_t p = 0; p < o.positions; ++p) {
    // One draw per statement: the order of draws never rests on the compiler's evaluation order.
    const auto instrument = static_cast<std::uint32_t>(rng() % o.instruments);
    const auto portfolio = static_cast<std::uint32_t>(rng() % o.portfolios);
    const auto qty = uniform(rng, -1000, 1000);
    b.positions.push_back({instrument, portfolio, qty});
  }
  std::stable_sort(b.positions.begin(), b.positions.end(), [](const position& x, const position& y) { return x.instrument < y.instrument; });
  for (std::uint32_t s = 0; s < o.scenarios; ++s) {
    std::array<std::int64_t, factors> k{};
    for (auto& x : k) x = uniform(rng, -500, 500);
    b.shock.push_back(k);
  }
  return b;
}

// ---- the risk report: what a risk manager reads, and what the audit must reproduce ---------------
struct report {
  std::int64_t mv = 0, pnl = 0;                 // cents
  std::array<std::int64_t, factors> exposure{};  // cents × percent
  std::vector<std::int64_t> stress;              // cents × percent × basis points
  bool operator==(const report&) const = default;
  [[nodiscard]] std::int64_t worst() const { return *std::min_element(stress.begin(), stress.end()); }
};

inline double dollars(std::int64_t cents) { return static_cast<double>(cents) / 100.0; }
inline double stress_dollars(std::int64_t v) { return static_cast<double>(v) / 1e8; }  // ÷ 100 (cents) ÷ 100 (%) ÷ 10⁴ (bp)

// ---- the page graph -----------------------------------------------------------------------------
struct world {
  std::vector<mmsb::page_id> prices, positions, portfolios;
  mmsb::page_id firm, risk;
  std::size_t edges = 0;
};

inline std::uint32_t pages_for(std::uint32_t n) { return (n + slots - 1) / slots; }

// Creates the pages and edges for the book on a fresh bus. The main run and every audit build the
// same world this way, so their page ids and graphs agree.
template <class Bus>
world build_world(Bus& bus, const book& b, const options& o)
{
  world w;
  const auto make = [&](std::vector<mmsb::page_id>& v, std::uint32_t n) {
    for (std::uint32_t k = 0; k < n; ++k) v.push_back(bus.create_page());
  };
  make(w.prices, pages_for(o.instruments));
  make(w.positions, pages_for(o.positions));
  make(w.portfolios, pages_for(o.portfolios * per_portfolio));
  w.firm = bus.create_page();
  w.risk = bus.create_page();
  auto& g = bus;  // topology edits go through the bus, the one write path
  const auto connect = [&](const std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<entry>>& blocks,
                           const std::vector<mmsb::page_id>& src, const std::vector<mmsb::page_id>& dst) {
    for (const auto& [key, es] : blocks) {
      g.add_matrix_edge(src[key.first], dst[key.second], matrix::from_entries(slots, slots, {es.data(), es.size()}));
      ++w.edges;
    }
  };
  // (source page, destination page) -> entries (destination slot, source slot, weight)
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<entry>> qty, roll_up, firm;
  for (std::uint32_t p = 0; p < o.positions; ++p) {
    const auto& x = b.positions[p];
    qty[{x.instrument / slots, p / slots}].push_back({p % slots, x.instrument % slots, x.qty});
    const std::uint32_t base = x.portfolio * per_portfolio;
    auto& r = roll_up[{p / slots, base / slots}];
    r.push_back({base % slots, p % slots, 1});
    for (std::uint32_t f = 0; f < factors; ++f)
      if (const auto s = b.sensitivity[x.instrument][f]; s != 0) r.push_back({(base + 1 + f) % slots, p % slots, s});
  }
  for (std::uint32_t k = 0; k < o.portfolios * per_portfolio; ++k) firm[{k / slots, 0}].push_back({k % per_portfolio, k % slots, 1});
  connect(qty, w.prices, w.positions);
  connect(roll_up, w.positions, w.portfolios);
  connect(firm, w.portfolios, {w.firm});
  std::vector<entry> r{{0, 0, 1}};  // P&L = MV − opening MV (the base)
  for (std::uint32_t s = 0; s < o.scenarios; ++s)
    for (std::uint32_t f = 0; f < factors; ++f) r.push_back({1 + s, 1 + f, b.shock[s][f]});
  g.add_matrix_edge(w.firm, w.risk, matrix::from_entries(slots, slots, {r.data(), r.size()}));
  ++w.edges;
  return w;
}

template <class Bus>
report read_report(const Bus& bus, const world& w, const options& o)
{
  report r;
  const auto& firm = bus.value(w.firm);
  const auto& risk = bus.value(w.risk);
  r.mv = firm.get(0);
  for (std::uint32_t f = 0; f < factors; ++f) r.exposure[f] = firm.get(1 + f);
  r.pnl = risk.get(0);
  for (std::uint32_t s = 0; s < o.scenarios; ++s) r.stress.push_back(risk.get(1 + s));
  return r;
}

// ---- the reference: the obvious full recompute from the prices ----------------------------------
struct reference {
  std::vector<std::int64_t> position_value, portfolio;  // portfolio: per_portfolio slots each
  report rep;
};

inline void recompute(const book& b, const options& o, const std::vector<std::int64_t>& price, std::int64_t opening_mv, reference& out)
{
  out.position_value.assign(o.positions, 0);
  out.portfolio.assign(static_cast<std::size_t>(o.portfolios) * per_portfolio, 0);
  for (std::uint32_t p = 0; p < o.positions; ++p) {
    const auto& x = b.positions[p];
    const std::int64_t v = x.qty * price[x.instrument];
    out.position_value[p] = v;
    std::int64_t* pf = &out.portfolio[static_cast<std::size_t>(x.portfolio) * per_portfolio];
    pf[0] += v;
    for (std::uint32_t f = 0; f < factors; ++f) pf[1 + f] += b.sensitivity[x.instrument][f] * v;
  }
  report& r = out.rep;
  r = report{};
  for (std::uint32_t k = 0; k < o.portfolios; ++k) {
    r.mv += out.portfolio[static_cast<std::size_t>(k) * per_portfolio];
    for (std::uint32_t f = 0; f < factors; ++f) r.exposure[f] += out.portfolio[static_cast<std::size_t>(k) * per_portfolio + 1 + f];
  }
  r.pnl = r.mv - opening_mv;
  for (std::uint32_t s = 0; s < o.scenarios; ++s) {
    std::int64_t v = 0;
    for (std::uint32_t f = 0; f < factors; ++f) v += b.shock[s][f] * r.exposure[f];
    r.stress.push_back(v);
  }
}

} // namespace finance
