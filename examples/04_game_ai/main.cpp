// 04_game_ai: a game world on the bus. Thousands of agents move from several producer threads,
// a distance field to the targets is kept up to date by min_plus propagation, ticks run at 60 Hz
// under a budget, and the whole match is replayed from the log bit for bit.
//
// The grid is cut into 16 x 16 tiles, one field page each: a cell's value is the number of steps
// to the nearest target, and min_plus's zero (the largest int32) means unreachable. A tile's value
// is its base (0 on a target, unreachable elsewhere) ⊕ A ⊗ the values of itself and its four
// neighbour tiles, where A has a weight-1 entry (⊗ is +) for every pair of adjacent open cells.
// The tiles feed each other in cycles, so they are one fixed-point region, whose least solution
// is exactly the BFS distance field:
//
//                              ┌───────── one fixed-point region (min_plus) ──────────┐
//   world writer ─ring─┐       │  [tile 0,0] <──> [tile 0,1] <──> [tile 0,2]  ...     │
//   (setup, captures)  ├──────>│      ^                ^                ^             │
//                      │       │      v                v                v             │
//                      │       │  [tile 1,0] <──> [tile 1,1] <──> [tile 1,2]  ...     │
//                      │       │  (every tile also feeds itself: moves inside a tile) │
//                      │       └──────────────────────────────────────────────────────┘
//   mover 0 ───ring────┤
//   ...                ├──────> [agent page 0] [agent page 1] ...   slot = agent, value = cell
//   mover T-1 ─ring────┘                                            (no edges)
//
// After each tick the owner copies the field and the agents' cells into plain vectors; next
// tick, T threads move their slices of agents one step downhill on that copy (one move in eight
// is random) and push `assign`s. An agent standing on a target captures it: the target respawns
// elsewhere, a change of field bases: the region resets the old target's basin and derives it
// again. Checks: the field equals a plain BFS from the targets after every tick (the BFS is timed
// too, beside propagate), and a second bus fed the first one's log (for_each_commit) has the same
// state hash at every tick. Exit 1 on a mismatch.
// The final map is written as a PNG (when built with libpng) or else a PPM.
//
// Beside its state hash it prints a workload digest, a hash of the map, the first targets and the
// agents' starting cells (see workload_digest.hpp): two builds with equal digests ran the same
// workload.
//
// usage: 04_game_ai [--size N] [--agents N] [--ticks N] [--threads N] [--seed N] [--budget-ms X]
//                   [--no-pace] [--map PATH] [--heatmap PATH]
// --heatmap PATH writes the pages' write and read counts per window of ticks as a PNG and a CSV
// (examples/heatmap.hpp, docs/observability.md).
#include <mmsb/mmsb.hpp>

#include "heatmap.hpp"
#include "options.hpp"
#include "workload_digest.hpp"

#ifdef MMSB_EXAMPLE_PNG
#include <png.h>
#endif

#include <algorithm>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using semiring = mmsb::min_plus<std::int32_t>;
using layout = mmsb::dense<std::int32_t, 256>;
using game_bus = mmsb::bus<semiring, layout>;
using clock_type = std::chrono::steady_clock;

constexpr int tile = 16;                        // a field page is a 16 x 16 tile
constexpr std::int32_t unreachable = semiring::zero();
constexpr auto frame = std::chrono::nanoseconds{1'000'000'000 / 60};
constexpr int ticks_per_second = 60;
#ifdef MMSB_EXAMPLE_PNG
constexpr const char* default_map = "game_ai_map.png";
#else
constexpr const char* default_map = "game_ai_map.ppm";
#endif

struct options {
  int size = 128;
  int agents = 10'000;
  int ticks = 600;
  int threads = 4;
  std::uint64_t seed = 2026;
  double budget_ms = 4.0;
  bool pace = true;
  std::string map = default_map;
  std::string heatmap;  // empty: none
};

options parse(int argc, char** argv)
{
  options o;
  example::option_parser p("04_game_ai");
  p.number("--size", o.size, tile, 512)  // cells per side, a multiple of 16 (checked below)
    .number("--agents", o.agents, 1, 1'000'000)
    .number("--ticks", o.ticks, 1, 1'000'000)
    .number("--threads", o.threads, 1, 64)
    .number("--seed", o.seed, 0)
    .real("--budget-ms", o.budget_ms, 0, 999'999)
    .flag("--no-pace", o.pace, false)
    .text("--map", o.map)
    .text("--heatmap", o.heatmap);
  p.parse(argc, argv);
  if (o.size % tile != 0)
    p.reject("--size", std::to_string(o.size), "not a multiple of " + std::to_string(tile) + " (a field page is a 16 x 16 tile)");
  // The map is written at the end: a directory that is not there is refused now, not after the run.
  const auto dir = std::filesystem::path(o.map).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    p.reject("--map", o.map, "no directory " + dir.string() + " to write it in");
  example::check_heatmap_path(p, o.heatmap);
  return o;
}

// The map and where each cell lives on the bus: cell c = y * n + x is slot (y % 16) * 16 + x % 16
// of field page (y / 16) * (n / 16) + x / 16.
struct world {
  int n;
  std::vector<char> wall;

  [[nodiscard]] int cells() const { return n * n; }
  [[nodiscard]] int tile_of(int c) const { return (c / n / tile) * (n / tile) + c % n / tile; }
  [[nodiscard]] int slot_of(int c) const { return (c / n % tile) * tile + c % n % tile; }
  // The open cells next to c (no wrap-around), up, right, down, left.
  int neighbours(int c, int (&out)[4]) const
  {
    const int x = c % n, y = c / n;
    int k = 0;
    for (const int d : {y > 0 ? c - n : -1, x + 1 < n ? c + 1 : -1, y + 1 < n ? c + n : -1, x > 0 ? c - 1 : -1})
      if (d >= 0 && !wall[static_cast<std::size_t>(d)]) out[k++] = d;
    return k;
  }
};

// Walls of length 2..11 at random places. mt19937_64 with plain modulo: std::uniform_*_distribution
// differs between standard libraries, and the map must not.
world make_world(int n, std::mt19937_64& rng)
{
  world w{n, std::vector<char>(static_cast<std::size_t>(n) * n, 0)};
  for (int k = 0; k < w.cells() / 40; ++k) {
    int c = static_cast<int>(rng() % static_cast<std::uint64_t>(w.cells()));
    const bool across = rng() % 2 == 0;
    for (int len = 2 + static_cast<int>(rng() % 10); len > 0 && c < w.cells(); --len, c += across ? 1 : n) {
      w.wall[static_cast<std::size_t>(c)] = 1;
      if (across && c % n == n - 1) break;
    }
  }
  return w;
}

int open_cell(const world& w, std::mt19937_64& rng)
{
  for (;;)
    if (const int c = static_cast<int>(rng() % static_cast<std::uint64_t>(w.cells())); !w.wall[static_cast<std::size_t>(c)]) return c;
}

struct bus_pages {
  std::vector<mmsb::page_id> field;   // one per tile
  std::vector<mmsb::page_id> agents;  // 256 agents each
};

// The pages, edges and region of a game bus; the match and its replay both build theirs here.
bus_pages build(game_bus& bus, const world& w, int agents)
{
  bus_pages p;
  for (int t = 0; t < w.cells() / (tile * tile); ++t) p.field.push_back(bus.create_page());
  for (int a = 0; a < agents; a += static_cast<int>(layout::extent)) p.agents.push_back(bus.create_page());
  // The region first: the edges close cycles (a tile feeds itself). A BFS needs at most one round
  // per cell.
  bus.add_fixed_point_region({p.field.data(), p.field.size()}, static_cast<std::uint32_t>(w.cells()));
  // One weight-1 entry per ordered pair of adjacent open cells, grouped by (source, destination) tile.
  std::map<std::pair<int, int>, std::vector<mmsb::matrix_entry<std::int32_t>>> edges;
  for (int c = 0; c < w.cells(); ++c) {
    if (w.wall[static_cast<std::size_t>(c)]) continue;
    int nb[4];
    const int k = w.neighbours(c, nb);
    for (int i = 0; i < k; ++i)
      edges[{w.tile_of(nb[i]), w.tile_of(c)}].push_back(
        {static_cast<std::uint32_t>(w.slot_of(c)), static_cast<std::uint32_t>(w.slot_of(nb[i])), 1});
  }
  for (const auto& [pair, entries] : edges)
    bus.add_matrix_edge(p.field[static_cast<std::size_t>(pair.first)], p.field[static_cast<std::size_t>(pair.second)],
                                mmsb::csr_matrix<std::int32_t>::from_entries(layout::extent, layout::extent,
                                                                             {entries.data(), entries.size()}));
  return p;
}

std::uint64_t mix(std::uint64_t x)  // splitmix64's finalizer: per-agent noise without shared state
{
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Where an agent at c steps: downhill on the field, or (one move in eight, and wherever no target
// is reachable) to a random open neighbour. It reads only the tick-start copy, so it is the same
// on any thread.
int step(const world& w, const std::vector<std::int32_t>& dist, int c, std::uint64_t noise)
{
  int nb[4];
  const int k = w.neighbours(c, nb);
  if (k == 0) return c;
  if (noise % 8 == 0 || dist[static_cast<std::size_t>(c)] == unreachable) return nb[(noise >> 3) % static_cast<unsigned>(k)];
  int best = c;
  for (int i = 0; i < k; ++i) {
    const int d = nb[(static_cast<unsigned>(i) + (noise >> 8)) % static_cast<unsigned>(k)];  // ties: a random side
    if (dist[static_cast<std::size_t>(d)] < dist[static_cast<std::size_t>(best)]) best = d;
  }
  return best;
}

// The reference: a plain multi-source BFS from the targets.
std::vector<std::int32_t> bfs(const world& w, const std::vector<int>& targets)
{
  std::vector<std::int32_t> d(static_cast<std::size_t>(w.cells()), unreachable);
  std::vector<int> queue(targets);
  for (const int t : targets) d[static_cast<std::size_t>(t)] = 0;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    int nb[4];
    const int c = queue[head];
    const int k = w.neighbours(c, nb);
    for (int i = 0; i < k; ++i)
      if (d[static_cast<std::size_t>(nb[i])] == unreachable) {
        d[static_cast<std::size_t>(nb[i])] = d[static_cast<std::size_t>(c)] + 1;
        queue.push_back(nb[i]);
      }
  }
  return d;
}

// Obstacles dark, the field from purple (near a target) to pale yellow (far), agents white,
// targets green; small grids are scaled up.
bool write_map(const std::string& path, const world& w, const std::vector<std::int32_t>& dist,
               const std::vector<int>& pos, const std::vector<int>& targets)
{
  struct rgb { unsigned char r, g, b; };
  const int s = std::max(1, 512 / w.n), px = w.n * s;
  std::vector<rgb> img(static_cast<std::size_t>(px) * px);
  const auto box = [&](int x0, int y0, int x1, int y1, rgb colour) {  // pixels [x0, x1) x [y0, y1), clipped
    for (int y = std::max(0, y0); y < std::min(px, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(px, x1); ++x) img[static_cast<std::size_t>(y) * px + x] = colour;
  };
  const auto fill = [&](int c, int inset, rgb colour) {
    box(c % w.n * s + inset, c / w.n * s + inset, (c % w.n + 1) * s - inset, (c / w.n + 1) * s - inset, colour);
  };
  std::int32_t far = 1;
  for (const auto d : dist)
    if (d != unreachable) far = std::max(far, d);
  constexpr rgb ramp[] = {{70, 30, 110}, {200, 70, 80}, {250, 220, 130}};
  for (int c = 0; c < w.cells(); ++c) {
    const auto d = dist[static_cast<std::size_t>(c)];
    if (w.wall[static_cast<std::size_t>(c)]) fill(c, 0, {22, 22, 26});
    else if (d == unreachable) fill(c, 0, {90, 90, 90});
    else {
      const double t = 2.0 * d / far;
      const int i = std::min(1, static_cast<int>(t));
      const auto lerp = [&](unsigned char a, unsigned char b) { return static_cast<unsigned char>(a + (t - i) * (b - a)); };
      fill(c, 0, {lerp(ramp[i].r, ramp[i + 1].r), lerp(ramp[i].g, ramp[i + 1].g), lerp(ramp[i].b, ramp[i + 1].b)});
    }
  }
  for (const int c : pos) fill(c, s / 4, {255, 255, 255});
  for (const int c : targets) {  // a green cell in a green ring
    constexpr rgb green{40, 240, 80};
    const int x = c % w.n * s - s, y = c / w.n * s - s, e = 3 * s, t = std::max(1, s / 4);
    box(x, y, x + e, y + t, green);
    box(x, y + e - t, x + e, y + e, green);
    box(x, y, x + t, y + e, green);
    box(x + e - t, y, x + e, y + e, green);
    fill(c, 0, green);
  }
#ifdef MMSB_EXAMPLE_PNG
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(px);
  png.height = static_cast<png_uint_32>(px);
  png.format = PNG_FORMAT_RGB;
  if (png_image_write_to_file(&png, path.c_str(), 0, img.data(), 0, nullptr)) return true;
  std::fprintf(stderr, "%s: %s\n", path.c_str(), png.message);
  return false;
#else
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  std::fprintf(f, "P6\n%d %d\n255\n", px, px);
  const bool ok = std::fwrite(img.data(), sizeof(rgb), img.size(), f) == img.size();
  return std::fclose(f) == 0 && ok;
#endif
}

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Nearest rank, as tick_stats does.
double percentile(std::vector<double> v, double q)
{
  if (v.empty()) return 0;
  const auto rank = static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + rank, v.end());
  return v[static_cast<std::size_t>(rank)];
}

// What the history check needs of one tick.
struct record {
  int tick;
  mmsb::epoch epoch;
  std::uint64_t state;  // bus.hash(): every value, the field included
  std::uint64_t bases;  // bus.store().hash(): what the log holds
  bool complete;        // propagation finished, so the field is a function of the bases
};

int run(const options& o)
{
  std::mt19937_64 rng(o.seed);
  const world w = make_world(o.size, rng);
  const auto cells = static_cast<std::size_t>(w.cells());
  const auto agents = static_cast<std::size_t>(o.agents);

  // A ring must hold a tick's changes from its producer: the setup writes every cell and agent,
  // a mover one change per agent of its slice.
  const std::size_t whole_world = std::bit_ceil(cells + agents);
  mmsb::heat_recorder heat(std::max(1, o.ticks / 256));  // about 256 windows
  mmsb::bus_options bus_opts;
  if (!o.heatmap.empty()) bus_opts.heat = mmsb::heat_sink(&heat);
  game_bus bus(bus_opts);
  const bus_pages pages = build(bus, w, o.agents);
  const auto field_at = [&](int c) -> std::pair<mmsb::page_id, std::size_t> {
    return {pages.field[static_cast<std::size_t>(w.tile_of(c))], static_cast<std::size_t>(w.slot_of(c))};
  };
  const auto agent_at = [&](std::size_t a) -> std::pair<mmsb::page_id, std::size_t> {
    return {pages.agents[a / layout::extent], a % layout::extent};
  };
  auto world_writer = bus.make_producer(whole_world);  // setup and targets, from the owner thread
  std::vector<game_bus::producer_type> movers;
  for (int k = 0; k < o.threads; ++k) movers.push_back(bus.make_producer(std::bit_ceil(agents / static_cast<std::size_t>(o.threads) + 1)));

  // The owner's copies, refreshed after every tick: all that the mover threads read.
  std::vector<std::int32_t> dist(cells);
  std::vector<int> pos(agents);
  const auto copy_state = [&] {
    for (int c = 0; c < w.cells(); ++c) {
      const auto [page, slot] = field_at(c);
      dist[static_cast<std::size_t>(c)] = bus.value(page).get(slot);
    }
    for (std::size_t a = 0; a < agents; ++a) {
      const auto [page, slot] = agent_at(a);
      pos[a] = bus.value(page).get(slot);
    }
  };
  std::vector<record> history;
  const auto remember = [&](int t, const mmsb::tick_report& r) {
    history.push_back({t, r.epoch, bus.hash().value, bus.store().hash().value, r.propagation_complete});
  };
  std::vector<int> targets;
  std::vector<char> is_target(cells, 0);
  int field_checks = 0;
  std::vector<double> bfs_ms;  // the reference's own time: a plain BFS of the whole field
  const auto check_field = [&](int t) {
    const auto b0 = clock_type::now();
    const auto want = bfs(w, targets);
    bfs_ms.push_back(ms(clock_type::now() - b0));
    for (std::size_t c = 0; c < cells; ++c)
      if (want[c] != dist[c]) {
        std::printf("FIELD MISMATCH after tick %d: cell (%zu, %zu) is %" PRId32 ", BFS says %" PRId32 "\n", t,
                    c % static_cast<std::size_t>(w.n), c / static_cast<std::size_t>(w.n), dist[c], want[c]);
        return false;
      }
    ++field_checks;
    return true;
  };

  // Setup, tick 0: every cell's base (0 on a target; the others stay at min_plus's zero(),
  // unreachable, where every page starts) and every agent's cell.
  while (targets.size() < std::max<std::size_t>(1, cells / 512))
    if (const int c = open_cell(w, rng); !is_target[static_cast<std::size_t>(c)]) {
      targets.push_back(c);
      is_target[static_cast<std::size_t>(c)] = 1;
    }
  for (const int c : targets) {
    const auto [page, slot] = field_at(c);
    world_writer.assign(page, slot, 0);
  }
  std::vector<int> start(agents);
  for (std::size_t a = 0; a < agents; ++a) {
    start[a] = open_cell(w, rng);
    const auto [page, slot] = agent_at(a);
    world_writer.assign(page, slot, start[a]);
  }
  // The workload digest: what the seed generated, the walls, the first targets and where the
  // agents start. (What follows, moves and respawns, depends on the field the bus computes.)
  example::workload_digest digest;
  digest.add(w.n);
  for (const char x : w.wall) digest.add(x);
  digest.add(targets.size());
  for (const int c : targets) digest.add(c);
  for (const int c : start) digest.add(c);
  const auto setup = bus.tick();
  remember(0, setup);
  copy_state();
  if (!check_field(0)) return 1;

  // The match.
  const mmsb::tick_budget budget{
    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double, std::milli>(o.budget_ms))};
  std::vector<double> tick_ms, produce_ms;
  std::size_t changes = 0, captures = 0, over_frame = 0, incomplete = 0;
  auto next_frame = clock_type::now();
  for (int t = 1; t <= o.ticks; ++t) {
    const auto t0 = clock_type::now();
    std::vector<std::thread> threads;
    for (int k = 0; k < o.threads; ++k)
      threads.emplace_back([&, k] {
        auto& p = movers[static_cast<std::size_t>(k)];
        p.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t)});
        const auto share = [&](int i) { return agents * static_cast<std::size_t>(i) / static_cast<std::size_t>(o.threads); };
        for (std::size_t a = share(k); a < share(k + 1); ++a) {
          const int to = step(w, dist, pos[a], mix(mix(o.seed ^ static_cast<std::uint64_t>(t)) ^ a));
          if (to == pos[a]) continue;
          const auto [page, slot] = agent_at(a);
          p.assign(page, slot, to);
        }
      });
    for (auto& th : threads) th.join();
    const auto t1 = clock_type::now();
    const auto r = bus.tick(budget);
    copy_state();
    const auto t2 = clock_type::now();  // a tick's time: produce, tick, copy out
    produce_ms.push_back(ms(t1 - t0));
    tick_ms.push_back(ms(t2 - t0));
    over_frame += t2 - t0 > frame;
    changes += r.changes;
    incomplete += !r.propagation_complete;
    remember(t, r);
    if (r.propagation_complete && !check_field(t)) return 1;

    // Captures: a target with an agent on it respawns elsewhere; the bases change next tick.
    if (t < o.ticks) {
      std::vector<char> occupied(cells, 0);
      for (const int c : pos) occupied[static_cast<std::size_t>(c)] = 1;
      world_writer.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
      for (int& target : targets) {
        if (!occupied[static_cast<std::size_t>(target)]) continue;
        int c = open_cell(w, rng);
        while (is_target[static_cast<std::size_t>(c)]) c = open_cell(w, rng);
        const auto [old_page, old_slot] = field_at(target);
        const auto [new_page, new_slot] = field_at(c);
        world_writer.assign(old_page, old_slot, unreachable);
        world_writer.assign(new_page, new_slot, 0);
        is_target[static_cast<std::size_t>(target)] = 0;
        is_target[static_cast<std::size_t>(c)] = 1;
        target = c;
        ++captures;
      }
    }
    if (t % ticks_per_second == 0) {
      double sum = 0;
      std::size_t reached = 0;
      for (const int c : pos)
        if (const auto d = dist[static_cast<std::size_t>(c)]; d != unreachable) sum += d, ++reached;
      std::printf("tick %5d  captures %6zu  mean distance %5.2f  tick p99 %6.2f ms\n", t, captures,
                  reached ? sum / static_cast<double>(reached) : 0.0, percentile(tick_ms, 0.99));
    }
    if (o.pace) {
      next_frame = std::max(next_frame + frame, clock_type::now());  // running late: no catching up
      std::this_thread::sleep_until(next_frame);
    }
  }

  // Replay: a second bus, fed the first one's log commit by commit, must match at every tick. A
  // tick without changes made no commit, so each epoch is matched with its last tick. Where that
  // tick's propagation was cut short by the budget, its field depended on timing: only the bases
  // are compared there (the field is, at the next complete tick).
  game_bus replay;
  (void)build(replay, w, o.agents);
  auto feed = replay.make_producer(whole_world);
  std::map<std::uint64_t, record> by_epoch;
  for (const auto& h : history) by_epoch[h.epoch.value()] = h;
  std::size_t same_state = 0, same_bases = 0, mismatches = 0;
  bus.store().for_each_commit([&](mmsb::epoch e, mmsb::span<const game_bus::delta_type> ds) {
    feed.set_epoch(e);
    for (const auto& d : ds) feed.push(d);
    (void)replay.tick();
    const record& want = by_epoch.at(e.value());
    const std::uint64_t got = want.complete ? replay.hash().value : replay.store().hash().value;
    const std::uint64_t expected = want.complete ? want.state : want.bases;
    if (got == expected) ++(want.complete ? same_state : same_bases);
    else if (++mismatches == 1)
      std::printf("REPLAY MISMATCH at tick %d (epoch %" PRIu64 "): %s hash %016" PRIx64 ", recorded %016" PRIx64 "\n",
                  want.tick, e.value(), want.complete ? "state" : "bases", got, expected);
  });
  if (same_state + same_bases + mismatches != by_epoch.size()) {
    std::printf("REPLAY MISMATCH: %zu commits replayed, %zu epochs recorded\n", same_state + same_bases + mismatches,
                by_epoch.size());
    ++mismatches;
  }

  const bool map_ok = write_map(o.map, w, dist, pos, targets);
  const bool heat_ok = o.heatmap.empty() || example::write_heatmap(heat, o.heatmap);

  const auto& st = bus.stats();
  std::printf("\n%-12s %9s %9s\n", "phase", "p50 ms", "p99 ms");
  std::printf("%-12s %9.3f %9.3f\n", "produce", percentile(produce_ms, 0.5), percentile(produce_ms, 0.99));
  for (std::size_t p = 0; p < mmsb::tick_phase_count; ++p) {
    const auto ph = static_cast<mmsb::tick_phase>(p);
    std::printf("%-12s %9.3f %9.3f\n", mmsb::phase_name(ph), ms(st.p50(ph)), ms(st.p99(ph)));
  }
  std::printf("%-12s %9.3f %9.3f\n\n", "whole tick", percentile(tick_ms, 0.5), percentile(tick_ms, 0.99));

  const auto walls = static_cast<std::size_t>(std::count(w.wall.begin(), w.wall.end(), 1));
  const auto row = [](const char* name, const std::string& value) { std::printf("%-24s %s\n", name, value.c_str()); };
  char buf[96];
  std::snprintf(buf, sizeof buf, "%d x %d (%zu field pages)", w.n, w.n, pages.field.size());
  row("grid", buf);
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * static_cast<double>(walls) / static_cast<double>(cells));
  row("obstacles", buf);
  row("agents", std::to_string(o.agents) + " (" + std::to_string(pages.agents.size()) + " pages)");
  row("threads", std::to_string(o.threads));
  row("ticks", std::to_string(o.ticks) + (o.pace ? " at 60 Hz" : " (not paced)") + ", after 1 setup tick");
  row("targets", std::to_string(targets.size()));
  row("captures", std::to_string(captures));
  row("changes", std::to_string(changes) + " (setup: " + std::to_string(setup.changes) + ")");
  std::snprintf(buf, sizeof buf, "%.2f / %.2f", percentile(tick_ms, 0.5), percentile(tick_ms, 0.99));
  row("tick p50 / p99 (ms)", buf);
  row("over budget (16.7 ms)", std::to_string(over_frame));
  std::snprintf(buf, sizeof buf, "%zu (propagation budget %.2f ms)", incomplete, o.budget_ms);
  row("propagation incomplete", buf);
  row("replay", mismatches ? std::to_string(mismatches) + " MISMATCHES"
                           : std::to_string(same_state + same_bases) + " ticks bit-identical (" + std::to_string(same_state) +
                               " full state, " + std::to_string(same_bases) + " bases only)");
  row("field check", "exact (" + std::to_string(field_checks) + " ticks against BFS)");
  std::snprintf(buf, sizeof buf, "%.3f / %.3f (propagate / BFS %.1fx)", percentile(bfs_ms, 0.5), percentile(bfs_ms, 0.99),
                ms(st.p50(mmsb::tick_phase::propagate)) / percentile(bfs_ms, 0.5));
  row("BFS p50 / p99 (ms)", buf);
  row("workload digest", digest.hex());
  std::snprintf(buf, sizeof buf, "%016" PRIx64, bus.hash().value);
  row("state hash", buf);
  row("map", map_ok ? o.map : "NOT WRITTEN: " + o.map);
  return mismatches == 0 && map_ok && heat_ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
  return example::guarded_main("04_game_ai", [&] { return run(parse(argc, argv)); });
}
