// The distributed bus under mpirun (tests/meson.build runs it at -np 1, 2 and 4, oversubscribed,
// on shared memory and loopback only). Every rank runs every check; a failure is printed by the
// rank that saw it, and the program exits non-zero on every rank when any rank failed.
//
//   determinism   under the block, hash and a random owners partition, with edges from base
//                 pages to derived ones (most across ranks: ghosts), seven producers spread over
//                 the ranks (producer i on rank i % ranks) push accumulates and assigns of
//                 non-integer doubles (so the fold order shows in the bits) with their own
//                 epochs; after every tick the distributed hash equals the hash of one basic_bus
//                 fed the same changes and edges (each rank runs that bus too), and every owned
//                 page, derived ones included, equals that bus's page bit for bit.
//   chains        derived pages feeding pages on other ranks, hops deep, a diamond, one page
//                 feeding every rank, ghosts made after ticks: the hash and every page equal one
//                 basic_bus's after every tick; the steps are at most the hops across ranks plus
//                 one, and some tick takes them all; a cycle through ranks (or a self-loop) is
//                 refused on every rank with the same message, naming it in global ids.
//   past the ring a ghost's update larger than the holder's ring is assigned in parts, with a
//                 local tick between, and still equals one bus.
//   local failure one rank's log runs out of space in a tick: the tick fails on every rank with
//                 that rank's message; so does a rank that cannot append the tick record (its
//                 state stands, and the next tick's record covers it: reopened, it is there).
//   bad input     a page outside the bus, a page owned elsewhere, a slot past the extent: clear
//                 errors, nothing queued; more changes for a rank than its ring holds: the
//                 tick refused on every rank, nothing changed; a producer id pushing from two
//                 ranks fails the tick on every rank with nothing changed; ranks built with
//                 different partitions are refused at start-up on every rank with the same
//                 message.
//   recovery      a store per rank on disk: reopened, the bus is back at its last tick bit for
//                 bit (past a global checkpoint), with its edges and ghosts, and goes on as one
//                 bus does; a rank missing the last tick record, or with a damaged global log,
//                 comes back there too; a tick no rank recorded is cut from every rank's log;
//                 stores with data and no tick record, a global log for another partition, a
//                 local checkpoint_every, a checkpoint in memory or right after edges are refused
//                 on every rank with the same message.
//   regions       a fixed-point region spanning every rank, computed on its host: after every
//                 tick equal to one bus with the same region, inputs getting better and worse;
//                 reopened, the same; bad regions and a cycle back into one refused alike.
//   --die         rank 1 exits in the middle of the run: mpirun must end the job with an error
//                 (the test is registered should_fail), never hang.
//   --crash DIR, --recover DIR   rank 1 dies inside tick 5, at its first commit of it; reopened,
//                 every rank is back at tick 4 bit for bit, its log cut (tests/dist/crash.py).
//   --stall       rank 1 stays alive but never ticks: the others end the job after the bus's
//                 collective timeout (2 s) with a message naming the call (tests/dist/stall.py).
#include <mmsb/dist/mpi_bus.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <tuple>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using S = mmsb::plus_times<double>;
using L = mmsb::dense<double, 64>;
using dbus = mmsb::dist::mpi_bus<S, L>;
using ref_bus = mmsb::basic_bus<S, L>;
using mmsb::page_id;

int rank = 0, ranks = 1, failures = 0, checks = 0;

void check(bool ok, const std::string& what)
{
  ++checks;
  if (ok) return;
  ++failures;
  std::printf("rank %d: FAILED: %s\n", rank, what.c_str());
  std::fflush(stdout);
}

template <class F>
std::string error_of(F&& f)
{
  try {
    f();
  } catch (const mmsb::error& e) {
    return e.what();
  }
  return "(no error)";
}

constexpr std::uint32_t pages = 97;  // not a multiple of any rank count
constexpr std::uint32_t producers = 7;
constexpr int ticks = 12;

// The edges: sources among pages [0, 40) (the hot pages 0..4 among them), destinations among
// [60, 97), never a source: acyclic, every source a base page. Weights non-integer.
struct edge {
  std::uint32_t src, dst;
  std::shared_ptr<const mmsb::csr_matrix<double>> a;
};
std::vector<edge> edges()
{
  std::mt19937_64 rng(4242);
  std::vector<edge> out;
  for (int k = 0; k < 24; ++k) {
    std::vector<mmsb::matrix_entry<double>> e;
    for (std::uint32_t r = 0; r < L::extent; ++r)
      for (int j = 0; j < 3; ++j) e.push_back({r, static_cast<std::uint32_t>(rng() % L::extent), static_cast<double>(rng() % 1000) / 9.0});
    std::sort(e.begin(), e.end(), [](const auto& x, const auto& y) { return std::tie(x.row, x.col) < std::tie(y.row, y.col); });
    e.erase(std::unique(e.begin(), e.end(), [](const auto& x, const auto& y) { return x.row == y.row && x.col == y.col; }), e.end());
    out.push_back({static_cast<std::uint32_t>(k < 6 ? k % 5 : rng() % 40), static_cast<std::uint32_t>(60 + rng() % 37),
                   std::make_shared<const mmsb::csr_matrix<double>>(mmsb::csr_matrix<double>::from_entries(L::extent, L::extent, {e.data(), e.size()}))});
  }
  return out;
}

// Producer p's changes in tick t: the same on every rank count.
struct change {
  std::uint32_t page, slot;
  bool assign;
  double value;
};
std::vector<change> changes_of(std::uint32_t p, int t)
{
  std::mt19937_64 rng(1000003ULL * p + static_cast<std::uint64_t>(t));
  std::vector<change> out(20 + rng() % 30);
  for (auto& c : out) {
    c.page = static_cast<std::uint32_t>(rng() % pages);
    if (rng() % 3 == 0) c.page %= 5;  // hot pages: many producers on one slot, the order matters
    c.slot = static_cast<std::uint32_t>(rng() % L::extent);
    c.assign = rng() % 11 == 0;
    c.value = static_cast<double>(rng() % 2000003) / 7.0 - 1.3e5;
  }
  return out;
}
// Producer p's epoch in tick t: most follow the tick, two lag behind (their changes fold first).
mmsb::epoch epoch_of(std::uint32_t p, int t) { return mmsb::epoch{static_cast<std::uint64_t>(p % 3 == 1 ? t : t + 1)}; }

void determinism(const mmsb::dist::partition& parts)
{
  dbus b(MPI_COMM_WORLD, parts);
  ref_bus ref;
  for (std::uint32_t i = 0; i < pages; ++i) (void)ref.create_page();
  std::vector<ref_bus::producer_type> ref_producers;
  for (std::uint32_t p = 0; p < producers; ++p) ref_producers.push_back(ref.make_producer());
  std::size_t across = 0;
  for (const auto& e : edges()) {
    (void)ref.add_matrix_edge(page_id{e.src}, page_id{e.dst}, e.a);
    b.add_matrix_edge(page_id{e.src}, page_id{e.dst}, *e.a);
    across += parts.owner(page_id{e.src}) != parts.owner(page_id{e.dst}) ? 1 : 0;
  }
  check(ranks == 1 ? across == 0 : across > 5, parts.rule() + ": edges across ranks");
  std::vector<dbus::producer> mine;
  for (std::uint32_t p = 0; p < producers; ++p)
    if (static_cast<int>(p % static_cast<std::uint32_t>(ranks)) == rank) mine.push_back(b.make_producer(p));
  check(b.hash() == ref.hash(), parts.rule() + ": the empty buses' hashes");
  std::uint64_t routed = 0;
  for (int t = 0; t < ticks; ++t) {
    for (std::uint32_t p = 0; p < producers; ++p) {
      ref_producers[p].set_epoch(epoch_of(p, t));
      for (const auto& c : changes_of(p, t)) {
        if (c.assign) ref_producers[p].assign(page_id{c.page}, c.slot, c.value);
        else ref_producers[p].accumulate(page_id{c.page}, c.slot, c.value);
      }
    }
    for (auto& w : mine) {
      w.set_epoch(epoch_of(w.id(), t));
      for (const auto& c : changes_of(w.id(), t)) {
        if (c.assign) w.assign(page_id{c.page}, c.slot, c.value);
        else w.accumulate(page_id{c.page}, c.slot, c.value);
      }
    }
    (void)ref.tick();
    const auto r = b.tick();
    routed += r.changes_sent;
    check(b.hash() == ref.hash(), parts.rule() + ": the hash after tick " + std::to_string(t));
  }
  for (const page_id g : parts.owned(static_cast<std::uint32_t>(rank)))
    check(std::memcmp(b.value(g).payload_bytes().data(), ref.value(g).payload_bytes().data(), sizeof(L::storage_type)) == 0,
          parts.rule() + ": page " + std::to_string(g.value()) + " bit for bit");
  check(ranks == 1 ? routed == 0 : routed > 0, parts.rule() + ": changes crossed ranks");
}

std::shared_ptr<const mmsb::csr_matrix<double>> identity()
{
  std::vector<mmsb::matrix_entry<double>> e;
  for (std::uint32_t r = 0; r < L::extent; ++r) e.push_back({r, r, 1.0});
  return std::make_shared<const mmsb::csr_matrix<double>>(mmsb::csr_matrix<double>::from_entries(L::extent, L::extent, {e.data(), e.size()}));
}

void bad_input()
{
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  dbus b(MPI_COMM_WORLD, parts);
  auto w = b.make_producer(static_cast<std::uint32_t>(rank));
  const std::string range = error_of([&] { w.accumulate(page_id{pages + 3}, 0, 1.0); });
  check(range.find("page 100") != std::string::npos && range.find("[0, 97)") != std::string::npos, "out of range: " + range);
  const std::string slot = error_of([&] { w.accumulate(page_id{1}, L::extent, 1.0); });
  check(slot.find("slot 64") != std::string::npos, "slot: " + slot);
  if (ranks > 1) {
    const page_id elsewhere = parts.owned(static_cast<std::uint32_t>((rank + 1) % ranks)).front();
    const std::string owner = error_of([&] { (void)b.value(elsewhere); });
    check(owner.find("owned by rank " + std::to_string((rank + 1) % ranks)) != std::string::npos, "owner: " + owner);
  }
  const auto h0 = b.hash();
  (void)b.tick();  // nothing was queued by the refused pushes
  check(b.hash() == h0, "refused pushes queued nothing");
  // Producer 40 on every rank, all pushing to page 0: its owner sees it from several ranks.
  auto twin = b.make_producer(40);
  twin.accumulate(page_id{0}, 0, 2.5);
  const std::string dup = error_of([&] { (void)b.tick(); });
  if (ranks > 1) {
    check(dup.find("producer 40") != std::string::npos || dup.find("another rank") != std::string::npos, "duplicate producer: " + dup);
    check(b.hash() == h0, "a refused tick changes nothing");
  } else {
    check(dup == "(no error)", "one rank: producer 40 is unique");
  }
  // More changes for one rank than its local ring holds: refused on every rank, nothing changed.
  {
    mmsb::bus_options small;
    small.ring_capacity = 16;
    dbus tight(MPI_COMM_WORLD, parts, small);
    auto p = tight.make_producer(static_cast<std::uint32_t>(rank));
    const auto before = tight.hash();
    for (std::size_t i = 0; i < 20; ++i) p.accumulate(page_id{0}, i, 1.5);  // 20 × ranks changes to rank 0
    const std::string full = error_of([&] { (void)tight.tick(); });
    check(full.find("ring_capacity 16") != std::string::npos || full.find("another rank") != std::string::npos, "ring: " + full);
    check(tight.hash() == before, "a refused tick (ring) changes nothing");
    p.accumulate(page_id{0}, 0, 1.5);
    const std::string ok = error_of([&] { (void)tight.tick(); });
    check(ok == "(no error)" && tight.hash() != before, "the next tick within the ring goes through: " + ok);
  }
  // Ranks that disagree: rank 0 builds a hash partition, the others a block one.
  if (ranks > 1) {
    const auto odd = rank == 0 ? mmsb::dist::partition::hash(pages, static_cast<std::uint32_t>(ranks)) : parts;
    const std::string refused = error_of([&] { dbus again(MPI_COMM_WORLD, odd); });
    check(refused.find("disagree at start-up") != std::string::npos && refused.find("rank 0 has partition hash") != std::string::npos,
          "disagreement: " + refused);
    // The same message on every rank.
    const auto all = mmsb::dist::detail::allgather_text(MPI_COMM_WORLD, refused, ranks);
    for (int k = 1; k < ranks; ++k) check(all[static_cast<std::size_t>(k)] == all[0], "rank " + std::to_string(k) + "'s message equals rank 0's");
  }
  const std::string wrong_size = error_of([&] { dbus again(MPI_COMM_WORLD, mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks) + 1)); });
  check(wrong_size.find("communicator has " + std::to_string(ranks)) != std::string::npos, "ranks: " + wrong_size);
}

// The recovery workload, shared by recovery() and --crash/--recover: edges across ranks (a
// chain through every rank's pages, a fan-out), producer 0 pushing the seven producers' changes
// to pages 0..4 each tick, and one basic_bus's hash after each of 8 ticks.
struct recovery_rig {
  std::vector<edge> es = edges();
  std::vector<std::pair<std::uint32_t, std::uint32_t>> links{{0, 30}, {30, 50}, {50, 75}, {75, 96}, {30, 10}, {2, 90}, {96, 33}};
  std::vector<mmsb::state_hash> ref_hash;  // after tick t + 1

  explicit recovery_rig(std::size_t link_count)
  {
    links.resize(link_count);
    ref_bus ref;
    for (std::uint32_t i = 0; i < pages; ++i) (void)ref.create_page();
    for (std::size_t k = 0; k < links.size(); ++k) (void)ref.add_matrix_edge(page_id{links[k].first}, page_id{links[k].second}, es[k].a);
    auto p = ref.make_producer();
    for (int t = 0; t < 8; ++t) {
      push(t, p);
      (void)ref.tick();
      ref_hash.push_back(ref.hash());
    }
  }
  // Tick t's changes through producer p.
  template <class P>
  static void push(int t, P& p)
  {
    p.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
    for (std::uint32_t q = 0; q < producers; ++q)
      for (const auto& c : changes_of(q, t))
        if (c.page < 5) c.assign ? p.assign(page_id{c.page}, c.slot, c.value) : p.accumulate(page_id{c.page}, c.slot, c.value);
  }
  void add_edges(dbus& b) const
  {
    for (std::size_t k = 0; k < links.size(); ++k) b.add_matrix_edge(page_id{links[k].first}, page_id{links[k].second}, *es[k].a);
  }
  // Tick t (rank 0 pushes), then the hash against one bus's.
  void run_tick(dbus& b, int t, const std::string& what) const
  {
    auto w = b.make_producer(0);
    if (rank == 0) push(t, w);
    (void)b.tick();
    check(b.hash() == ref_hash[static_cast<std::size_t>(t)], what + ": the hash after tick " + std::to_string(t + 1));
  }
};

// Recovery to the last tick, a store per rank on disk: a bus with edges across ranks (derived
// chains), 3 ticks, a global checkpoint, 2 more ticks, closed; reopened, it is back at tick 5
// with the hash one bus had there, its edges (a cycle through ranks is still refused) and its
// ghosts, and goes on as one bus does. A rank whose last tick record is missing (it died before
// appending it) or whose global log is damaged comes back at the newest tick another rank
// recorded; a tick no rank recorded is cut from every rank's log (set aside) and runs again
// alike. Stores with data and no tick record anywhere, a global log for another partition, a
// local checkpoint_every, a checkpoint in memory or after an edge added since the last tick
// are refused on every rank with the same message.
void recovery()
{
  std::string dir(256, '\0');
  if (rank == 0) {
    char tmpl[] = "/tmp/mmsb-dist-recovery-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    dir = tmpl;
    dir.resize(256, '\0');
  }
  MPI_Bcast(dir.data(), 256, MPI_CHAR, 0, MPI_COMM_WORLD);
  dir = dir.c_str();
  mmsb::posix_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = dir + "/rank" + std::to_string(rank);
  o.store.log.durability = mmsb::durability::per_commit;
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  const recovery_rig rig(7);
  const auto run_tick = [&](dbus& b, int t) { rig.run_tick(b, t, "recovery"); };
  const std::string glog = mmsb::dist::global_log_path(o.dir);
  const std::size_t tick_record = 13 + 8 + 8 * static_cast<std::size_t>(ranks);
  const auto drop_last_tick_record = [&](bool here) {  // as if this rank died before appending it
    if (here) std::filesystem::resize_file(glog, std::filesystem::file_size(glog) - tick_record);
    MPI_Barrier(MPI_COMM_WORLD);
  };
  {
    dbus b(MPI_COMM_WORLD, parts, o);
    rig.add_edges(b);
    const std::string early = error_of([&] { b.checkpoint(); });
    check(early.find("tick first") != std::string::npos, "recovery: a checkpoint right after edges: " + early);
    for (int t = 0; t < 3; ++t) run_tick(b, t);
    b.checkpoint();
    for (int t = 3; t < 5; ++t) run_tick(b, t);
  }  // closed after tick 5: ticks 4 and 5 are in the logs and the global logs, in no checkpoint
  {
    dbus b(MPI_COMM_WORLD, parts, o);
    check(b.ticks() == 5, "recovery: reopened at tick " + std::to_string(b.ticks()) + ", the last one, 5");
    check(b.hash() == rig.ref_hash[4], "recovery: the hash at tick 5");
    const std::string cycle = error_of([&] { b.add_matrix_edge(page_id{96}, page_id{0}, *rig.es[12].a); });
    check(cycle.find("would close the cycle 0 -> 30 -> 50 -> 75 -> 96 -> 0") != std::string::npos, "recovery: edges restored: " + cycle);
    run_tick(b, 5);
  }
  if (ranks > 1) {  // the last rank died before appending tick 6's record; on 3 ranks or more rank 1's log is damaged too
    drop_last_tick_record(rank == ranks - 1);
    if (rank == 1 && ranks > 2) {
      std::fstream f(glog, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(3);
      f.put('X');
    }
    MPI_Barrier(MPI_COMM_WORLD);
    dbus b(MPI_COMM_WORLD, parts, o);
    check(b.ticks() == 6 && b.hash() == rig.ref_hash[5], "recovery: ranks without the last record, or with a damaged log, come back at tick 6 too");
  }
  {  // No rank recorded tick 6: every rank's log is cut back to tick 5, and tick 6 runs again.
    drop_last_tick_record(true);
    dbus b(MPI_COMM_WORLD, parts, o);
    check(b.ticks() == 5 && b.hash() == rig.ref_hash[4], "recovery: back at tick 5 when no rank recorded tick 6");
    check(std::filesystem::exists(o.dir + "/set-aside-0/"), "recovery: the log past tick 5 is set aside in " + o.dir + "/set-aside-0");
    for (int t = 5; t < 8; ++t) run_tick(b, t);
  }
  {
    dbus b(MPI_COMM_WORLD, parts, o);
    check(b.ticks() == 8 && b.hash() == rig.ref_hash[7], "recovery: reopened at tick 8 after ticks run again");
  }
  // A global log for another partition: refused, nothing touched.
  const std::string other = error_of([&] { dbus b(MPI_COMM_WORLD, mmsb::dist::partition::hash(pages, static_cast<std::uint32_t>(ranks)), o); });
  check(other.find("with partition fingerprint " + std::to_string(parts.fingerprint())) != std::string::npos,
        "recovery: another partition's log: " + other);
  // No tick record anywhere, and data in the stores: refused, nothing touched.
  std::filesystem::remove(glog);
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string none = error_of([&] { dbus b(MPI_COMM_WORLD, parts, o); });
  check(none.find("rank 0's store holds a log or checkpoints but no rank's global log (dist-log) has a tick") != std::string::npos,
        "recovery: no record: " + none);
  mmsb::bus_options every = o;
  every.dir = dir + "/every" + std::to_string(rank);
  every.checkpoint_every = 4;
  const std::string local = error_of([&] { dbus b(MPI_COMM_WORLD, parts, every); });
  check(local.find("checkpoint_every is 4") != std::string::npos, "recovery: a local checkpoint_every: " + local);
  {
    dbus memory(MPI_COMM_WORLD, parts);
    const std::string in_memory = error_of([&] { memory.checkpoint(); });
    check(in_memory.find("in memory") != std::string::npos, "recovery: a checkpoint in memory: " + in_memory);
    const auto all = mmsb::dist::detail::allgather_text(MPI_COMM_WORLD, other + "|" + none + "|" + local + "|" + in_memory, ranks);
    for (int k = 1; k < ranks; ++k) check(all[static_cast<std::size_t>(k)] == all[0], "recovery: rank " + std::to_string(k) + " says what rank 0 says");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) std::filesystem::remove_all(dir);
}

// --crash DIR / --recover DIR (tests/dist/crash.py runs both, in one directory): the first runs
// 4 ticks with edges across ranks and a global checkpoint after tick 3; in tick 5 rank 1 dies
// (SIGKILL, the kill point commit.after_apply) at its first local commit, which is in its log,
// while the others are inside tick 5 (mpirun then kills them all). The second reopens the
// stores and must be at tick 4, the last every rank finished, with one bus's hash there and
// rank 1's log cut back (set aside), then give one bus's hashes for ticks 5 to 8.
int crash_and_recover(bool crash, const std::string& dir)
{
  mmsb::posix_file_system fs;
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = dir + "/rank" + std::to_string(rank);
  o.store.log.durability = mmsb::durability::per_commit;
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  const recovery_rig rig(6);
  dbus b(MPI_COMM_WORLD, parts, o);
  int from = 0;
  if (crash) {
    rig.add_edges(b);
  } else {
    check(b.ticks() == 4, "crash: reopened at tick " + std::to_string(b.ticks()) + ", the last every rank finished, 4");
    check(b.hash() == rig.ref_hash[3], "crash: the hash at tick 4 after the crash");
    if (rank == 1) check(std::filesystem::exists(o.dir + "/set-aside-0"), "crash: rank 1's commit of tick 5 is cut from its log");
    from = 4;
  }
  for (int t = from; t < 8; ++t) {
    if (crash && t == 4 && rank == 1) {
      std::printf("rank 1: dying in tick 5 at its first commit (--crash)\n");
      std::fflush(stdout);
      ::setenv("MMSB_KILL_AT", "commit.after_apply:1", 1);
      mmsb::reload_kill_points();
    }
    rig.run_tick(b, t, "crash");
    if (crash && t == 2) b.checkpoint();
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0 && total == 0) std::printf("%s\n", crash ? "the crashing run ended without a crash" : "recovered at tick 4 after the crash; ticks 5 to 8 equal one bus's");
  return total;
}

// Chains of derived pages across ranks: edges from derived pages to pages on other ranks,
// several hops deep, a diamond, a page feeding ghosts on several ranks, and ghosts made after
// ticks (sent whole when their edge is added). After every tick the hash and every owned page
// equal one basic_bus's; the steps number the longest chain across ranks plus one; the
// boundary deltas are the encoded size of the changed slots (delta/codec.hpp), and the
// bytes sent are those plus the routed changes and the counts. A cycle (through ranks or
// within one) is refused on every rank with the same message, naming it in global ids.
void derived_chains(const mmsb::dist::partition& parts)
{
  dbus b(MPI_COMM_WORLD, parts);
  ref_bus ref;
  for (std::uint32_t i = 0; i < pages; ++i) (void)ref.create_page();
  auto ref_p = ref.make_producer();
  std::vector<std::pair<std::uint32_t, std::uint32_t>> added;
  const auto add = [&](std::uint32_t s, std::uint32_t d, const std::shared_ptr<const mmsb::csr_matrix<double>>& a) {
    (void)ref.add_matrix_edge(page_id{s}, page_id{d}, a);
    b.add_matrix_edge(page_id{s}, page_id{d}, *a);
    added.emplace_back(s, d);
  };
  // The most edges across ranks on one path: the steps a tick takes when every hop changes.
  const auto most_across = [&] {
    std::vector<std::uint32_t> at(pages, 0);
    for (std::size_t round = 0; round < added.size(); ++round)
      for (const auto& [s, d] : added)
        at[d] = std::max(at[d], at[s] + (parts.owner(page_id{s}) != parts.owner(page_id{d}) ? 1u : 0u));
    return *std::max_element(at.begin(), at.end());
  };
  const auto es = edges();
  // A chain through every rank's pages: 0 -> 30 -> 50 -> 75 -> 96 (block: ranks 0 .. last),
  // a diamond 0 -> 20, 0 -> 40, 20 -> 60, 40 -> 60, and 30 feeding pages on every rank.
  const std::uint32_t chain[] = {0, 30, 50, 75, 96};
  for (std::size_t k = 0; k + 1 < std::size(chain); ++k) add(chain[k], chain[k + 1], es[k].a);
  add(0, 20, es[5].a), add(0, 40, es[6].a), add(20, 60, es[7].a), add(40, 60, es[8].a);
  add(30, 10, es[9].a), add(30, 55, es[10].a), add(30, 90, es[11].a);
  // Cycles: through ranks (96 -> 0 closes 0 -> 30 -> 50 -> 75 -> 96) and within a page.
  const std::string cycle = error_of([&] { b.add_matrix_edge(page_id{96}, page_id{0}, *es[12].a); });
  check(cycle.find("would close the cycle 0 -> 30 -> 50 -> 75 -> 96 -> 0") != std::string::npos, parts.rule() + ": cycle: " + cycle);
  const std::string self = error_of([&] { b.add_matrix_edge(page_id{7}, page_id{7}, *es[12].a); });
  check(self.find("cycle 7 -> 7") != std::string::npos, parts.rule() + ": self-loop: " + self);
  const auto agreed = mmsb::dist::detail::allgather_text(MPI_COMM_WORLD, cycle + "|" + self, ranks);
  for (int k = 1; k < ranks; ++k) check(agreed[static_cast<std::size_t>(k)] == agreed[0], "cycle refusals: rank " + std::to_string(k) + " says what rank 0 says");

  bool deepest = false;  // some tick took every step the edges allow
  for (int t = 0; t < ticks; ++t) {
    if (t == 4) add(50, 5, es[13].a), add(96, 33, identity());  // new ghosts after ticks: sent whole
    // Producers push to the chain's head and the diamond's sources, as one producer on the reference.
    ref_p.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
    for (std::uint32_t p = 0; p < producers; ++p)
      for (const auto& c : changes_of(p, t))
        if (c.page < 5) c.assign ? ref_p.assign(page_id{c.page}, c.slot, c.value) : ref_p.accumulate(page_id{c.page}, c.slot, c.value);
    if (rank == 0) {
      auto w = b.make_producer(0);  // one producer, as on the reference: its sequence restarts with each handle, so one tick each
      w.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
      for (std::uint32_t p = 0; p < producers; ++p)
        for (const auto& c : changes_of(p, t))
          if (c.page < 5) c.assign ? w.assign(page_id{c.page}, c.slot, c.value) : w.accumulate(page_id{c.page}, c.slot, c.value);
    }
    (void)ref.tick();
    const auto r = b.tick();
    check(b.hash() == ref.hash(), parts.rule() + ": chains: the hash after tick " + std::to_string(t));
    const std::uint32_t across = most_across();
    check(r.steps >= 1 && r.steps <= across + 1, parts.rule() + ": chains: " + std::to_string(r.steps) + " steps for at most " +
                                                   std::to_string(across) + " hops across ranks");
    deepest = deepest || r.steps == across + 1;
    check(r.bytes_sent() == r.route_bytes + r.boundary_bytes + r.count_bytes + r.record_bytes, "bytes add up");
    check((r.boundary_slots == 0) == (r.boundary_bytes == 0) && (ranks > 1 || r.boundary_bytes == 0), "boundary deltas carry their slots");
  }
  for (const page_id g : parts.owned(static_cast<std::uint32_t>(rank)))
    check(std::memcmp(b.value(g).payload_bytes().data(), ref.value(g).payload_bytes().data(), sizeof(L::storage_type)) == 0,
          parts.rule() + ": chains: page " + std::to_string(g.value()) + " bit for bit");
  check(deepest, parts.rule() + ": chains: a tick took every step");
  check(ranks == 1 ? b.ghost_pages() == 0 : true, "one rank: no ghosts");
}

// Ghost updates larger than the local ring: a derived page whose every slot changes each tick
// (every row reads slot 0 of page 0), ghosted on another rank whose ring holds 16 changes. The
// holder assigns them 16 at a time, a local tick between (assigns to distinct slots: the cut
// does not change the end state), and still equals one bus.
void ghost_updates_past_the_ring()
{
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  mmsb::bus_options small;
  small.ring_capacity = 16;
  dbus b(MPI_COMM_WORLD, parts, small);
  ref_bus ref;
  for (std::uint32_t i = 0; i < pages; ++i) (void)ref.create_page();
  auto ref_p = ref.make_producer();
  std::vector<mmsb::matrix_entry<double>> e;
  for (std::uint32_t r = 0; r < L::extent; ++r) e.push_back({r, 0, 1.0 + r / 8.0});
  const auto fan = std::make_shared<const mmsb::csr_matrix<double>>(mmsb::csr_matrix<double>::from_entries(L::extent, L::extent, {e.data(), e.size()}));
  const std::uint32_t mid = ranks == 1 ? 48 : parts.owned(0).back().value(), last = pages - 1;  // rank 0's last page; the last rank's
  for (const auto& [s, d, a] : {std::tuple{0u, mid, fan}, std::tuple{mid, last, identity()}}) {
    (void)ref.add_matrix_edge(page_id{s}, page_id{d}, a);
    b.add_matrix_edge(page_id{s}, page_id{d}, *a);
  }
  std::uint32_t most = 0;
  for (int t = 0; t < 4; ++t) {
    ref_p.accumulate(page_id{0}, 0, 0.75 + t);
    if (rank == 0) b.make_producer(0).accumulate(page_id{0}, 0, 0.75 + t);
    (void)ref.tick();
    const auto r = b.tick();
    most = std::max(most, r.local_ticks);
    check(b.hash() == ref.hash(), "past the ring: the hash after tick " + std::to_string(t));
  }
  if (ranks > 1 && rank == ranks - 1) check(most >= L::extent / 16 + 1, "past the ring: " + std::to_string(most) + " local ticks in one tick");
}

// Each rank's store in memory behind a faulty file system, to inject faults into.
struct faulty_store {
  mmsb::memory_file_system mem;
  mmsb::faulty_file_system fs{mem};
  mmsb::bus_options o;
  explicit faulty_store(mmsb::durability d)
  {
    o.fs = &fs;
    o.dir = "/store";
    o.store.log.durability = d;
  }
};

// A local tick that fails on one rank (its log's disk is full) fails the distributed tick on
// every rank with that rank's message, rather than leaving the others waiting or going on.
void local_failure()
{
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  faulty_store store(mmsb::durability::per_commit);
  auto& fs = store.fs;
  dbus b(MPI_COMM_WORLD, parts, store.o);
  auto w = b.make_producer(static_cast<std::uint32_t>(rank));
  for (const page_id g : parts.owned(static_cast<std::uint32_t>(rank))) w.accumulate(g, 2, 1.25);
  (void)b.tick();
  const int victim = ranks - 1;
  if (rank == victim) fs.fail_nth(mmsb::fs_op::write, 1, ENOSPC, true);
  for (const page_id g : parts.owned(static_cast<std::uint32_t>(rank))) w.accumulate(g, 3, 2.5);
  const std::string failed = error_of([&] { (void)b.tick(); });
  check(failed.find("rank " + std::to_string(victim) + ", step 0") != std::string::npos && failed.find("No space") != std::string::npos,
        "a local failure fails the tick everywhere: " + failed);
  const auto all = mmsb::dist::detail::allgather_text(MPI_COMM_WORLD, failed, ranks);
  for (int k = 1; k < ranks; ++k) check(all[static_cast<std::size_t>(k)] == all[0], "local failure: rank " + std::to_string(k) + " says what rank 0 says");
}

// A rank that cannot append a tick record (its disk full; the local logs buffer, durability
// none, so the record is the tick's only write) fails the tick on every rank with that rank's
// message; the tick's state stands, the file is cut back, and the next tick records it all:
// reopened, the bus is at that tick.
void record_failure()
{
  const auto parts = mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks));
  faulty_store store(mmsb::durability::none);
  auto& fs = store.fs;
  const auto& o = store.o;
  const int victim = ranks - 1;
  mmsb::state_hash after3;
  {
    dbus b(MPI_COMM_WORLD, parts, o);
    auto w = b.make_producer(static_cast<std::uint32_t>(rank));
    for (int t = 0; t < 3; ++t) {
      for (const page_id g : parts.owned(static_cast<std::uint32_t>(rank))) w.accumulate(g, 2, 1.25 + t);
      if (t == 1 && rank == victim) fs.fail_nth(mmsb::fs_op::write, 1, ENOSPC);
      const std::string failed = error_of([&] { (void)b.tick(); });
      if (t != 1) {
        check(failed == "(no error)", "record failure: tick " + std::to_string(t + 1) + ": " + failed);
        continue;
      }
      check(failed.find("mpi_bus tick 2: rank " + std::to_string(victim) + " could not append it to its global log") != std::string::npos &&
              failed.find("No space") != std::string::npos,
            "record failure: a failed append fails the tick everywhere: " + failed);
      check(b.ticks() == 2, "record failure: the tick's state stands");
      const auto all = mmsb::dist::detail::allgather_text(MPI_COMM_WORLD, failed, ranks);
      for (int k = 1; k < ranks; ++k) check(all[static_cast<std::size_t>(k)] == all[0], "record failure: rank " + std::to_string(k) + " says what rank 0 says");
    }
    after3 = b.hash();
  }
  dbus b(MPI_COMM_WORLD, parts, o);
  check(b.ticks() == 3 && b.hash() == after3, "record failure: reopened at tick 3, the one recorded after the failure");
}

// A fixed-point region spanning every rank (min, +: shortest paths through a cycle 3 -> 13 -> 23
// -> 33 -> 3 with a chord through 36, fed from base pages 0 and 25 and feeding pages 10, 39 and
// 30), on disk: after every tick the hash and every owned page equal one basic_bus's with the
// same region and edges, while the inputs get better and worse (assigns), which the region
// solves by delete and re-derive on its host; reopened, the bus is back with its region and
// goes on alike. A region over a page with edges, a page listed twice, changes queued, and an
// edge closing a cycle through a region and back are refused on every rank with the same
// message.
void region_across_ranks()
{
  using RS = mmsb::min_plus<double>;
  using RL = mmsb::dense<double, 8>;
  using rbus = mmsb::dist::mpi_bus<RS, RL>;
  using rref = mmsb::basic_bus<RS, RL>;
  constexpr std::uint32_t n = 40;
  const auto parts = mmsb::dist::partition::block(n, static_cast<std::uint32_t>(ranks));
  const auto matrix = [](double w, std::uint32_t shift) {
    std::vector<mmsb::matrix_entry<double>> e;
    for (std::uint32_t r = 0; r < RL::extent; ++r) e.push_back({r, static_cast<std::uint32_t>((r + shift) % RL::extent), w});
    std::sort(e.begin(), e.end(), [](const auto& x, const auto& y) { return std::tie(x.row, x.col) < std::tie(y.row, y.col); });
    return mmsb::csr_matrix<double>::from_entries(RL::extent, RL::extent, {e.data(), e.size()});
  };
  const std::vector<page_id> members{page_id{3}, page_id{13}, page_id{23}, page_id{33}, page_id{36}};
  const std::vector<std::tuple<std::uint32_t, std::uint32_t, double, std::uint32_t>> links{
    {3, 13, 1.5, 0}, {13, 23, 0.25, 1}, {23, 33, 2.0, 0}, {33, 3, 0.5, 3}, {23, 36, 0.75, 2}, {36, 13, 1.0, 0},
    {0, 3, 0.125, 0}, {25, 23, 3.0, 5}, {33, 10, 0.0, 1}, {36, 39, 1.25, 0}, {10, 30, 0.5, 4}};
  mmsb::memory_file_system mem;
  mmsb::bus_options o;
  o.fs = &mem;
  o.dir = "/store";
  o.store.log.durability = mmsb::durability::per_commit;
  rref ref;
  for (std::uint32_t i = 0; i < n; ++i) (void)ref.create_page();
  (void)ref.add_fixed_point_region(mmsb::span<const page_id>(members.data(), members.size()));
  for (const auto& [s, d, w, k] : links) (void)ref.add_matrix_edge(page_id{s}, page_id{d}, matrix(w, k));
  auto ref_p = ref.make_producer();
  std::vector<mmsb::state_hash> ref_hash;
  const auto push = [&](auto& p, int t, bool mine) {  // tick t's changes: better and worse inputs
    p.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t + 1)});
    if (!mine) return;
    for (std::uint32_t i = 0; i < RL::extent; ++i) {
      p.assign(page_id{0}, i, static_cast<double>((t * 7 + i * 3) % 11));
      if ((t + i) % 3 == 0) p.assign(page_id{25}, i, static_cast<double>((t * 5 + i) % 13) / 4.0);
    }
    p.assign(page_id{13}, static_cast<std::size_t>(t) % RL::extent, t % 2 == 0 ? 0.5 : 40.0);  // a member's own value, up and down
  };
  const auto equal_to_ref = [&](rbus& b, const std::string& what) {
    check(b.hash() == ref.hash(), what + ": the hash equals one bus's");
    for (const page_id g : parts.owned(static_cast<std::uint32_t>(rank)))
      check(std::memcmp(&b.value(g).storage(), &ref.value(g).storage(), sizeof(RL::storage_type)) == 0,
            what + ": page " + std::to_string(g.value()) + " equals one bus's");
  };
  std::string refusals;
  {
    rbus b(MPI_COMM_WORLD, parts, o);
    const std::uint32_t host = b.add_fixed_point_region(mmsb::span<const page_id>(members.data(), members.size()));
    check(host == (ranks == 1 ? 0u : ranks == 2 ? 1u : 3u), "region: hosted on rank " + std::to_string(host));
    for (const auto& [s, d, w, k] : links) b.add_matrix_edge(page_id{s}, page_id{d}, matrix(w, k));
    for (int t = 0; t < 6; ++t) {
      push(ref_p, t, true);
      (void)ref.tick();
      auto p = b.make_producer(0);
      push(p, t, rank == ranks - 1);  // pushed on the last rank, whoever owns or hosts the pages
      (void)b.tick();
      equal_to_ref(b, "region tick " + std::to_string(t + 1));
    }
    const auto finite = [&](std::uint32_t g) {
      int k = 0;
      for (std::size_t i = 0; i < RL::extent; ++i) k += RL::load(ref.value(page_id{g}).storage(), i) < 1e300 ? 1 : 0;
      return k;
    };
    check(finite(13) == static_cast<int>(RL::extent) && finite(30) == static_cast<int>(RL::extent),
          "region: the region's paths reach page 13 and through it page 30 in every slot");
    const page_id twice[2] = {page_id{5}, page_id{5}}, edged[1] = {page_id{10}}, free2[2] = {page_id{6}, page_id{7}};
    refusals += error_of([&] { (void)b.add_fixed_point_region(mmsb::span<const page_id>(twice, 2)); }) + "|";
    refusals += error_of([&] { (void)b.add_fixed_point_region(mmsb::span<const page_id>(edged, 1)); }) + "|";
    refusals += error_of([&] { b.add_matrix_edge(page_id{30}, page_id{13}, matrix(1.0, 0)); }) + "|";
    if (rank == 0) b.make_producer(9).assign(page_id{5}, 0, 1.0);
    refusals += error_of([&] { (void)b.add_fixed_point_region(mmsb::span<const page_id>(free2, 2)); });
    ref_p.set_epoch(mmsb::epoch{7});
    ref_p.assign(page_id{5}, 0, 1.0);
    (void)ref.tick();
    (void)b.tick();
    equal_to_ref(b, "region after the refusals");
  }
  check(refusals.find("page 5 is listed twice") != std::string::npos, "region: a page twice: " + refusals);
  check(refusals.find("page 10 has edges already") != std::string::npos, "region: a page with edges: " + refusals);
  check(refusals.find("would close the cycle 13 -> 33 -> 10 -> 30 -> 13") != std::string::npos, "region: a cycle back into it: " + refusals);
  check(refusals.find("has changes queued; tick before declaring a fixed-point region") != std::string::npos, "region: changes queued: " + refusals);
  const auto all = mmsb::dist::detail::allgather_text(MPI_COMM_WORLD, refusals, ranks);
  for (int k = 1; k < ranks; ++k) check(all[static_cast<std::size_t>(k)] == all[0], "region: rank " + std::to_string(k) + " says what rank 0 says");
  rbus b(MPI_COMM_WORLD, parts, o);  // reopened: the region, its mirrors and edges are back
  check(b.ticks() == 7, "region: reopened at tick " + std::to_string(b.ticks()));
  equal_to_ref(b, "region reopened");
  for (int t = 7; t < 10; ++t) {
    push(ref_p, t, true);
    (void)ref.tick();
    auto p = b.make_producer(0);
    push(p, t, rank == 0);
    (void)b.tick();
    equal_to_ref(b, "region after reopening, tick " + std::to_string(t + 1));
  }
}

} // namespace

int main(int argc, char** argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const bool die = argc > 1 && std::string(argv[1]) == "--die";
  if (argc > 2 && (std::string(argv[1]) == "--crash" || std::string(argv[1]) == "--recover")) {
    int total = 1;
    try {
      total = crash_and_recover(std::string(argv[1]) == "--crash", argv[2]);
    } catch (const std::exception& e) {
      std::printf("rank %d: FAILED: %s\n", rank, e.what());
    }
    MPI_Finalize();
    return total == 0 ? 0 : 1;
  }
  if (argc > 1 && std::string(argv[1]) == "--stall") {
    // Rank 1 stays away from the tick (alive, not dead); the others give up after 2 s and end
    // the job with a message (tests/dist/stall.py checks it, and that it took seconds, not a hang).
    mmsb::dist::dist_options d;
    d.collective_timeout = std::chrono::seconds(2);
    dbus b(MPI_COMM_WORLD, mmsb::dist::partition::block(pages, static_cast<std::uint32_t>(ranks)), {}, d);
    if (rank == 1) ::sleep(120);
    (void)b.tick();
    std::printf("rank %d: the tick returned without rank 1\n", rank);
    MPI_Finalize();
    return 0;
  }
  try {
    const auto n = static_cast<std::uint32_t>(ranks);
    determinism(mmsb::dist::partition::block(pages, n));
    if (die && rank == 1) {
      std::printf("rank 1: exiting on purpose (--die)\n");
      std::fflush(stdout);
      std::_Exit(3);
    }
    determinism(mmsb::dist::partition::hash(pages, n));
    std::mt19937 rng(77);
    std::vector<std::uint32_t> owners(pages);
    for (auto& o : owners) o = static_cast<std::uint32_t>(rng() % n);
    determinism(mmsb::dist::partition::from_owners(owners, n));
    bad_input();
    derived_chains(mmsb::dist::partition::block(pages, n));
    derived_chains(mmsb::dist::partition::hash(pages, n));
    ghost_updates_past_the_ring();
    local_failure();
    record_failure();
    recovery();
    region_across_ranks();
  } catch (const std::exception& e) {
    check(false, std::string("unexpected exception: ") + e.what());
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("mpi_bus on %d ranks: %d checks on rank 0, %d failed on all ranks\n", ranks, checks, total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
