// 03_compiler_ir: liveness analysis of a whole program, kept exact while its code is edited.
//
// Each function is a control-flow graph of basic blocks (straight-line code, if/else diamonds,
// natural loops nested up to three deep) over 256 variables. Liveness is a backward dataflow
// problem; over the or_and semiring, with one bit per variable, it is two equations per block,
// and each block gets two bits<256> pages:
//
//   live_out(B) = ⊕ over successors S of  I ⊗ live_in(S)
//   live_in(B)  = use(B) ⊕ diag(¬def(B)) ⊗ live_out(B)
//
// use(B), the variables B reads before writing them, is the *base* of live_in(B): page data,
// changed by producers. def(B) is the *weight* of the edge live_out(B) → live_in(B), changed with
// set_weights. The pages run against the control flow, so a loop is a cycle of pages, and the
// pages of each outermost loop form one fixed-point region, whose least solution is liveness:
//
//   control flow      pages: inN = live_in(BN) with base use(BN), outN = live_out(BN)
//
//       B0                                   ┌── fixed-point region: the loop B1, B2 ──┐
//       │             in0 <─¬def0── out0 <─I─── in1 ─────────I───────> out2            │
//       ▼                                    │    ▲                       │            │
//   ┌─> B1 ──> B3                            │  ¬def1                   ¬def2          │
//   │   │                                    │    │                       ▼            │
//   │   ▼             in3 ────────I───────────> out1 <────────I─────── in2             │
//   └── B2             ▲                     └─────────────────────────────────────────┘
//                    ¬def3
//                      │
//                     out3
//
// Each edit batch inserts, deletes or rewrites a few instructions in random functions. The use
// bits that change go to the bus as deltas, the def sets that change as new edge weights, and one
// tick updates only what the edits reach. A removed use or an added def makes live bits
// disappear, the hard case for monotone propagation: outside loops the rows they reach are
// recomputed; inside a loop the region resets only the bits the loss can reach and derives them
// again (delete and re-derive).
// After every batch, every live_in/live_out bit is compared with a plain worklist solver run from
// scratch; the program exits 1 at the first difference. It times the tick against that solver
// and against recompute_all(); neither timing includes editing the code or the check.
//
// Beside its state hash it prints a workload digest, a hash of the generated program and every edit
// (see workload_digest.hpp): two builds with equal digests ran the same workload.
//
// With --ll PATH it reads real LLVM IR instead (a .ll file, or every .ll in a directory: the
// output of clang -S -emit-llvm and opt -passes=mem2reg) and runs liveness over SSA values; see
// real_ir.cpp. The main job runs it on all of Lua 5.4 (scripts/lua-ir prepares the files).
//
// usage: 03_compiler_ir [--functions N] [--blocks N] [--edits N] [--batch N] [--seed N]
//                       [--ll PATH] [--dump-live-in FILE]
#include <mmsb/mmsb.hpp>

#include "common.hpp"
#include "options.hpp"
#include "real_ir.hpp"
#include "workload_digest.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace example03;

constexpr std::size_t vars = 256;  // variables per function, one bit each
using varset = std::bitset<vars>;
using bus_type = mmsb::basic_bus<mmsb::or_and, mmsb::bits<vars>>;
using matrix = mmsb::csr_matrix<bool>;

struct options {
  std::uint32_t functions = 200;
  std::uint32_t blocks = 40;  // per function, on average
  int edits = 100;            // edit batches
  std::uint32_t batch = 4;    // instructions edited per batch
  std::uint64_t seed = 2026;
  std::string ll;             // real IR: a .ll file or a directory of them (empty: the synthetic program)
  std::string dump_live_in;   // real IR: write every block's live-in set here
};

options parse(int argc, char** argv)
{
  options o;
  example::option_parser p("03_compiler_ir");
  p.number("--functions", o.functions, 1, 100'000)
    .number("--blocks", o.blocks, 4, 10'000)  // per function, on average
    .number("--edits", o.edits, 0, 1'000'000)
    .number("--batch", o.batch, 1, 1000)
    .number("--seed", o.seed, 0)
    .text("--ll", o.ll)
    .text("--dump-live-in", o.dump_live_in, "FILE");
  p.parse(argc, argv);
  const auto given = [&](const char* name) {
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == name || std::string(argv[i]).rfind(std::string(name) + "=", 0) == 0) return true;
    return false;
  };
  if (!o.ll.empty()) {
    for (const char* synthetic_only : {"--functions", "--blocks"})
      if (given(synthetic_only)) p.reject(synthetic_only, "", "shapes the synthetic program; it has no meaning with --ll");
    return o;
  }
  if (!o.dump_live_in.empty()) p.reject("--dump-live-in", o.dump_live_in, "needs --ll (the synthetic program's values have no names)");
  if (o.edits == 0) p.reject("--edits", "0", "at least 1 for the synthetic program (0 only with --ll)");
  // Each block is two pages and a few edges: bound the program, not just its two factors.
  constexpr std::uint64_t max_blocks = 1'000'000;
  if (std::uint64_t{o.functions} * o.blocks > max_blocks)
    p.reject("--blocks", std::to_string(o.blocks),
             "with --functions " + std::to_string(o.functions) + " that is " + std::to_string(std::uint64_t{o.functions} * o.blocks) +
               " blocks; at most " + std::to_string(max_blocks) + " in all");
  return o;
}

// ---- the IR -----------------------------------------------------------------------------------
struct instr {
  std::uint16_t def, lhs, rhs;  // def = lhs op rhs
};

struct ir_function {
  std::vector<std::vector<instr>> code;  // per block
  std::vector<std::vector<std::uint32_t>> succ, pred;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> loops;  // outermost loops: blocks [first, last]
  std::vector<varset> use, def;          // per block, as the bus has them
  std::vector<mmsb::page_id> in, out;    // per block: live_in, live_out
  std::vector<mmsb::edge_id> kill;       // per block: live_out -> live_in, weights diag(¬def)
};

// Variables are local to a stretch of code, as temporaries are: block b touches 4b .. 4b+47.
std::uint16_t variable(std::uint32_t b, std::mt19937_64& rng)
{
  return static_cast<std::uint16_t>((4 * b + rng() % 48) % vars);
}

instr random_instr(std::uint32_t b, std::mt19937_64& rng)
{
  const auto d = variable(b, rng), l = variable(b, rng);
  return {d, l, variable(b, rng)};
}

void summarize(const std::vector<instr>& code, varset& use, varset& def)
{
  use.reset();
  def.reset();
  for (const auto& i : code) {
    if (!def[i.lhs]) use.set(i.lhs);
    if (!def[i.rhs]) use.set(i.rhs);
    def.set(i.def);
  }
}

// Structured control flow, emitted in block order. A loop's blocks are contiguous, so each
// outermost loop is one strongly connected set of blocks [header, last body block].
class cfg_builder {
public:
  cfg_builder(ir_function& f, std::mt19937_64& rng) : f_(f), rng_(rng) {}

  void build(std::uint32_t blocks)
  {
    const auto body = sequence(block(), blocks - 2, 0);  // after the entry block
    edge(body, block());                                 // the exit block
    f_.pred.resize(f_.succ.size());
    for (std::uint32_t b = 0; b < f_.succ.size(); ++b) {
      for (const auto s : f_.succ[b]) f_.pred[s].push_back(b);
      summarize(f_.code[b], f_.use[b], f_.def[b]);
    }
  }

private:
  std::uint32_t block()
  {
    const auto b = static_cast<std::uint32_t>(f_.succ.size());
    f_.succ.emplace_back();
    f_.code.emplace_back();
    for (auto n = 1 + rng_() % 6; n > 0; --n) f_.code.back().push_back(random_instr(b, rng_));
    f_.use.emplace_back();
    f_.def.emplace_back();
    return b;
  }
  void edge(std::uint32_t from, std::uint32_t to) { f_.succ[from].push_back(to); }

  // At most n blocks entered from `from`, inside `depth` loops; returns the block control leaves by.
  std::uint32_t sequence(std::uint32_t from, std::uint32_t n, int depth)
  {
    const auto start = f_.succ.size();
    std::uint32_t cur = from;
    while (f_.succ.size() - start < n) {
      const auto room = static_cast<std::uint32_t>(n - (f_.succ.size() - start));
      const auto kind = rng_() % 8;
      if (kind < 2 && depth < 3 && room >= 3) {  // while loop: header, body, back edge, exit
        const auto header = block();
        edge(cur, header);
        const auto latch = sequence(header, 1 + rng_() % (room - 2), depth + 1);
        edge(latch, header);
        if (depth == 0) f_.loops.emplace_back(header, latch);
        cur = block();
        edge(header, cur);
      } else if (kind < 4 && room >= 4) {  // if/else diamond, or if-then when the else is empty
        const auto then_end = sequence(cur, 1 + rng_() % ((room - 2) / 2), depth);
        const auto else_end = rng_() % 4 == 0 ? cur : sequence(cur, 1 + rng_() % ((room - 2) / 2), depth);
        const auto join = block();
        edge(then_end, join);
        edge(else_end, join);
        cur = join;
      } else {
        const auto b = block();
        edge(cur, b);
        cur = b;
      }
    }
    return cur;
  }

  ir_function& f_;
  std::mt19937_64& rng_;
};

// One edit in block b: insert an instruction, delete one, or rewrite one of its operands.
void edit(ir_function& f, std::uint32_t b, std::mt19937_64& rng)
{
  auto& code = f.code[b];
  switch (code.empty() ? 0 : rng() % 3) {
  case 0: {
    // Two draws, so two statements: as arguments of one call their order would be the compiler's
    // choice (GCC drew the instruction first, clang the position). This is GCC's order.
    const instr i = random_instr(b, rng);
    const auto at = static_cast<std::ptrdiff_t>(rng() % (code.size() + 1));
    code.insert(code.begin() + at, i);
    break;
  }
  case 1: code.erase(code.begin() + static_cast<std::ptrdiff_t>(rng() % code.size())); break;
  default: {
    auto& i = code[rng() % code.size()];
    const auto v = variable(b, rng);
    (rng() % 3 == 0 ? i.def : rng() % 2 ? i.lhs : i.rhs) = v;
  }
  }
}

// The workload digest: a block's code, or a whole function (its blocks' code, successors, loops).
void digest_block(example::workload_digest& d, const ir_function& f, std::uint32_t b)
{
  d.add(f.code[b].size());
  for (const auto& i : f.code[b]) d.add(i.def).add(i.lhs).add(i.rhs);
}

void digest_function(example::workload_digest& d, const ir_function& f)
{
  d.add(f.code.size());
  for (std::uint32_t b = 0; b < f.code.size(); ++b) {
    digest_block(d, f, b);
    d.add(f.succ[b].size());
    for (const auto s : f.succ[b]) d.add(s);
  }
  d.add(f.loops.size());
  for (const auto& [first, last] : f.loops) d.add(first).add(last);
}

// ---- the reference: textbook backward worklist liveness, from scratch -------------------------
struct worklist_solver {
  std::vector<std::vector<varset>> in, out;  // per function, per block
  std::vector<std::uint32_t> work;
  std::vector<bool> queued;

  void solve(const std::vector<ir_function>& fs)
  {
    in.resize(fs.size());
    out.resize(fs.size());
    for (std::size_t k = 0; k < fs.size(); ++k) {
      const ir_function& f = fs[k];
      const std::size_t n = f.succ.size();
      in[k].assign(n, varset{});
      out[k].assign(n, varset{});
      work.clear();
      for (std::uint32_t b = 0; b < n; ++b) work.push_back(b);  // the last block is taken first
      queued.assign(n, true);
      while (!work.empty()) {
        const auto b = work.back();
        work.pop_back();
        queued[b] = false;
        varset o;
        for (const auto s : f.succ[b]) o |= in[k][s];
        out[k][b] = o;
        const varset i = f.use[b] | (o & ~f.def[b]);
        if (i == in[k][b]) continue;
        in[k][b] = i;
        for (const auto p : f.pred[b])
          if (!queued[p]) {
            queued[p] = true;
            work.push_back(p);
          }
      }
    }
  }
};

// diag(¬def): the weights of live_out(B) -> live_in(B). With def empty, the identity.
matrix kill_matrix(const varset& def)
{
  std::vector<mmsb::matrix_entry<bool>> e;
  for (std::uint32_t v = 0; v < vars; ++v)
    if (!def[v]) e.push_back({v, v, true});
  return matrix::from_entries(vars, vars, {e.data(), e.size()});
}

// Every live bit the bus holds against the reference; prints the first difference.
bool check(const bus_type& bus, const std::vector<ir_function>& fs, const worklist_solver& ref, int batch, std::size_t& bits_checked)
{
  for (std::size_t fi = 0; fi < fs.size(); ++fi)
    for (std::uint32_t b = 0; b < fs[fi].code.size(); ++b)
      for (const auto& [name, page, want] : {std::tuple{"live_in", fs[fi].in[b], &ref.in[fi][b]},
                                             std::tuple{"live_out", fs[fi].out[b], &ref.out[fi][b]}})
        for (std::uint32_t v = 0; v < vars; ++v, ++bits_checked)
          if (bus.value(page).get(v) != (*want)[v]) {
            std::printf("MISMATCH after edit batch %d: function %zu, block %u, %s, variable %u: expected %d, got %d\n", batch,
                        fi, b, name, v, int{(*want)[v]}, int{bus.value(page).get(v)});
            return false;
          }
  return true;
}

int run(const options& o)
{
  std::mt19937_64 rng(o.seed);

  // 1. The program: functions of o.blocks / 2 .. 3 o.blocks / 2 blocks.
  std::vector<ir_function> fs(o.functions);
  for (auto& f : fs) cfg_builder(f, rng).build(o.blocks / 2 + static_cast<std::uint32_t>(rng() % (o.blocks + 1)));
  // The workload: this program, then every edit (function, block, the block's code after it).
  example::workload_digest digest;
  for (const auto& f : fs) digest_function(digest, f);

  // 2. Its liveness equations on a bus. Regions come before edges: only inside one may edges
  //    close a cycle.
  bus_type bus;
  auto& g = bus;  // topology edits go through the bus, the one write path
  auto producer = bus.make_producer();
  // This thread is the ring's only producer and its only drainer, so a full ring would wait
  // forever: when it is full, tick (or give the producer a ring that holds the whole load).
  const auto send = [&](mmsb::page_id p, std::size_t v, bool bit) {
    while (!producer.try_put(p, v, mmsb::delta_op::assign, bit)) bus.tick();
  };
  const auto identity = std::make_shared<const matrix>(kill_matrix(varset{}));
  std::size_t blocks = 0, edges = 0, regions = 0;
  for (auto& f : fs) {
    const std::size_t n = f.code.size();
    blocks += n;
    regions += f.loops.size();
    for (std::size_t b = 0; b < n; ++b) {
      f.in.push_back(bus.create_page());
      f.out.push_back(bus.create_page());
    }
    for (const auto& [first, last] : f.loops) {
      std::vector<mmsb::page_id> members;
      for (auto b = first; b <= last; ++b) members.insert(members.end(), {f.in[b], f.out[b]});
      // A live bit moves one page per round, so the least solution needs at most |members| rounds.
      g.add_fixed_point_region({members.data(), members.size()}, static_cast<std::uint32_t>(members.size() + 1));
    }
    for (std::size_t b = 0; b < n; ++b) {
      f.kill.push_back(g.add_matrix_edge(f.out[b], f.in[b], kill_matrix(f.def[b])));
      for (const auto s : f.succ[b]) g.add_matrix_edge(f.in[s], f.out[b], identity);
      edges += 1 + f.succ[b].size();
      for (std::size_t v = 0; v < vars; ++v)
        if (f.use[b][v]) send(f.in[b], v, true);
    }
  }
  bus.tick();
  std::printf("compiler_ir: %u functions, %zu blocks, %zu fixed-point regions; %d edit batches of %u instructions; seed %" PRIu64 "\n\n",
              o.functions, blocks, regions, o.edits, o.batch, o.seed);

  // 3. Edit batches: the incremental tick (timed), the worklist from scratch (timed), the check.
  worklist_solver ref;
  std::vector<double> t_worklist, t_recompute;
  tick_timings timings;
  std::size_t use_set = 0, use_cleared = 0, def_set = 0, def_cleared = 0, bits_checked = 0;
  const int progress_every = std::max(1, o.edits / 10);
  for (int batch = 1; batch <= o.edits; ++batch) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> touched;  // (function, block)
    for (std::uint32_t k = 0; k < o.batch; ++k) {
      const auto fi = static_cast<std::uint32_t>(rng() % fs.size());
      const auto b = static_cast<std::uint32_t>(rng() % fs[fi].code.size());
      edit(fs[fi], b, rng);
      digest.add(fi).add(b);
      digest_block(digest, fs[fi], b);
      touched.emplace_back(fi, b);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());

    std::vector<std::tuple<mmsb::page_id, std::uint32_t, bool>> use_bits;  // live_in page, variable, bit
    std::vector<std::pair<mmsb::edge_id, varset>> defs;                    // kill edge, new def set
    for (const auto& [fi, b] : touched) {
      ir_function& f = fs[fi];
      varset use, def;
      summarize(f.code[b], use, def);
      for (std::uint32_t v = 0; v < vars; ++v)
        if (use[v] != f.use[b][v]) use_bits.emplace_back(f.in[b], v, use[v]);
      if (def != f.def[b]) defs.emplace_back(f.kill[b], def);
      use_set += (use & ~f.use[b]).count();
      use_cleared += (f.use[b] & ~use).count();
      def_set += (def & ~f.def[b]).count();
      def_cleared += (f.def[b] & ~def).count();
      f.use[b] = use;
      f.def[b] = def;
    }

    auto t0 = clock_type::now();
    for (const auto& [page, v, bit] : use_bits) send(page, v, bit);
    for (const auto& [e, def] : defs) g.set_weights(e, kill_matrix(def));
    const auto t_sent = clock_type::now();
    const mmsb::tick_report r = bus.tick();
    timings.record(t0, t_sent, r);

    t0 = clock_type::now();
    ref.solve(fs);
    t_worklist.push_back(micros(clock_type::now() - t0));

    if (!check(bus, fs, ref, batch, bits_checked)) return 1;

    if (batch % progress_every == 0 || batch == o.edits) {
      t0 = clock_type::now();
      g.recompute_all();  // the bus's own full re-analysis: same values, every page recomputed
      t_recompute.push_back(micros(clock_type::now() - t0));
      std::printf("batch %4d/%d: incremental tick %8.1f us, worklist from scratch %8.1f us, recompute_all %9.1f us\n", batch,
                  o.edits, timings.total.back(), t_worklist.back(), t_recompute.back());
    }
  }

  const double tick = median(timings.total), worklist = median(t_worklist), recompute = median(t_recompute);
  const auto row = [](const char* name, const std::string& value) { std::printf("%-36s %s\n", name, value.c_str()); };
  std::printf("\n");
  row("functions", std::to_string(o.functions));
  row("blocks", std::to_string(blocks));
  row("pages (bits<256>)", std::to_string(2 * blocks));
  row("edges", std::to_string(edges));
  row("fixed-point regions", std::to_string(regions));
  row("edit batches", std::to_string(o.edits) + " x " + std::to_string(o.batch) + " instructions");
  row("use bits set / cleared", std::to_string(use_set) + " / " + std::to_string(use_cleared));
  row("def bits set / cleared", std::to_string(def_set) + " / " + std::to_string(def_cleared));
  row("live bits checked", std::to_string(bits_checked));
  row("incremental tick, median", format("%.1f us", tick));
  row("  of which, medians in us", timings.phases());
  row("worklist from scratch, median", format("%.1f us", worklist));
  row("recompute_all, median", format("%.1f us", recompute));
  row("speedup over worklist from scratch", format("%.2fx", worklist / tick));
  row("speedup over recompute_all", format("%.1fx", recompute / tick));
  row("liveness check", "exact after every edit batch");
  row("workload digest", digest.hex());
  row("state hash", format("%016" PRIx64, bus.hash().value));
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  return example::guarded_main("03_compiler_ir", [&] {
    const options o = parse(argc, argv);
    if (o.ll.empty()) return run(o);
    return run_real_ir({o.ll, o.edits, o.batch, o.seed, o.dump_live_in});
  });
}
