// 03_compiler_ir on real LLVM IR: liveness of SSA values over every function of .ll files, kept
// exact on the bus while developer-like edits change the code (see main.cpp for the equations and
// docs/compiler_ir.md for the model).
//
// Values and pages. A function's SSA values (its arguments, then every instruction's result, in
// text order, plus room for definitions the edits insert) are numbered; value v is bit v % 256 of
// chunk v / 256. Liveness is a separate problem per bit, so chunk c of live_in/live_out depends
// only on chunk c of its neighbours: a function of k chunks gets k copies of its block graph, each
// over bits<256> pages. Most functions fit one chunk; Lua's luaV_execute needs 22. An edit sends
// deltas only to the chunks whose bits it changes, and propagation stays inside them.
//
//   LiveOut(B) = ∪ LiveIn(S) over successors S  ∪  PhiUses(B)      base of out(B): PhiUses(B)
//   LiveIn(B)  = Uses(B) ∪ (LiveOut(B) − Defs(B))                   base of in(B):  Uses(B)
//
// Each strongly connected set of blocks (a loop nest) is one fixed-point region per chunk.
#include "real_ir.hpp"

#include "common.hpp"
#include "llvm_ir.hpp"
#include "workload_digest.hpp"

#include <mmsb/mmsb.hpp>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace example03 {
namespace {

constexpr std::size_t vars = 256;          // bits per page
constexpr std::size_t words = vars / 64;   // words per page
constexpr std::uint32_t headroom = 8;      // values an edit may add to a function, at least
using bus_type = mmsb::basic_bus<mmsb::or_and, mmsb::bits<vars>>;
using matrix = mmsb::csr_matrix<bool>;
using chunk_words = std::array<std::uint64_t, words>;

bool test(const std::uint64_t* w, std::size_t v) { return (w[v / 64] >> (v % 64)) & 1U; }
void set(std::uint64_t* w, std::size_t v) { w[v / 64] |= std::uint64_t{1} << (v % 64); }

// One function and everything the bus holds for it. Set vectors are per block, chunks * words
// words each: block b's chunk c is words [(b * chunks + c) * words, + words).
struct fn_state {
  ir::function f;
  std::uint32_t chunks = 0;
  std::vector<std::uint64_t> use, def, phi;  // Uses, Defs, PhiUses per block
  std::vector<mmsb::page_id> in, out;        // per (block, chunk): index b * chunks + c
  std::vector<mmsb::edge_id> kill;           // out -> in of each (block, chunk), weights diag(¬def)

  [[nodiscard]] std::size_t width() const { return std::size_t{chunks} * words; }
  [[nodiscard]] std::uint32_t capacity() const { return chunks * static_cast<std::uint32_t>(vars); }

  // Uses, Defs and PhiUses of every block, from the code.
  void summarize()
  {
    const std::size_t n = f.blocks.size(), w = width();
    use.assign(n * w, 0);
    def.assign(n * w, 0);
    phi.assign(n * w, 0);
    for (std::size_t b = 0; b < n; ++b) {
      std::uint64_t* u = &use[b * w];
      std::uint64_t* d = &def[b * w];
      for (const auto& ins : f.blocks[b].code) {  // phis come first: their results are defined at the block's start
        if (ins.phi)
          for (const auto& [v, p] : ins.incoming) set(&phi[p * w], v);
        for (const auto v : ins.uses)
          if (!test(d, v)) set(u, v);
        if (ins.def != ir::no_value) set(d, ins.def);
      }
    }
  }
};

// ---- the reference: backward worklist liveness over the same sets, from scratch ---------------
struct worklist {
  std::vector<std::uint64_t> in, out, tmp;
  std::vector<std::uint32_t> work;
  std::vector<char> queued;

  void solve(const fn_state& s)
  {
    const std::size_t n = s.f.blocks.size(), w = s.width();
    in.assign(n * w, 0);
    out.assign(n * w, 0);
    tmp.resize(w);
    work.clear();
    for (std::uint32_t b = 0; b < n; ++b) work.push_back(b);  // the last block is taken first
    queued.assign(n, 1);
    while (!work.empty()) {
      const auto b = work.back();
      work.pop_back();
      queued[b] = 0;
      std::uint64_t* o = &out[b * w];
      std::copy_n(&s.phi[b * w], w, o);
      for (const auto succ : s.f.blocks[b].succ)
        for (std::size_t k = 0; k < w; ++k) o[k] |= in[succ * w + k];
      bool changed = false;
      for (std::size_t k = 0; k < w; ++k) {
        const std::uint64_t i = s.use[b * w + k] | (o[k] & ~s.def[b * w + k]);
        changed |= i != in[b * w + k];
        in[b * w + k] = i;
      }
      if (!changed) continue;
      for (const auto p : s.f.blocks[b].pred)
        if (!queued[p]) {
          queued[p] = 1;
          work.push_back(p);
        }
    }
  }
};

// Strongly connected sets of blocks with a cycle: the loop nests (the library's Tarjan).
std::vector<std::vector<std::uint32_t>> loop_nests(const ir::function& f)
{
  return mmsb::cyclic_components(
    f.blocks.size(), [&](std::uint32_t b) { return f.blocks[b].succ.size(); }, [&](std::uint32_t b, std::size_t k) { return f.blocks[b].succ[k]; });
}

// diag(¬def) for one chunk's def words, shared between the edges with equal def chunks.
class kill_matrices {
public:
  std::shared_ptr<const matrix> get(const std::uint64_t* def)
  {
    chunk_words key{};
    std::copy_n(def, words, key.begin());
    auto& m = cache_[key];
    if (!m) {
      std::vector<mmsb::matrix_entry<bool>> e;
      for (std::uint32_t v = 0; v < vars; ++v)
        if (!test(def, v)) e.push_back({v, v, true});
      m = std::make_shared<const matrix>(matrix::from_entries(vars, vars, {e.data(), e.size()}));
    }
    return m;
  }
  [[nodiscard]] std::size_t size() const { return cache_.size(); }

private:
  std::map<chunk_words, std::shared_ptr<const matrix>> cache_;
};

// ---- edits a developer makes, each keeping every use dominated by its definition --------------
enum edit_kind : int { remove_use, add_use, delete_instruction, insert_definition, edit_kinds };
constexpr const char* edit_names[edit_kinds] = {"remove a use", "add a use", "delete an instruction", "insert a definition"};

class editor {
public:
  explicit editor(std::mt19937_64& rng) : rng_(rng) {}

  // One edit of `kind` in s, or false when a few random tries found no place for it.
  bool apply(fn_state& s, edit_kind kind, example::workload_digest& digest)
  {
    auto& blocks = s.f.blocks;
    for (int attempt = 0; attempt < 16; ++attempt) {
      const auto b = static_cast<std::uint32_t>(rng_() % blocks.size());
      auto& code = blocks[b].code;
      const auto i = static_cast<std::uint32_t>(rng_() % code.size());
      auto& ins = code[i];
      switch (kind) {
      case remove_use:  // an operand becomes a constant
        if (ins.phi && !ins.incoming.empty()) {
          const auto k = rng_() % ins.incoming.size();
          ins.incoming.erase(ins.incoming.begin() + static_cast<std::ptrdiff_t>(k));
        } else if (!ins.phi && !ins.uses.empty()) {
          const auto k = rng_() % ins.uses.size();
          ins.uses.erase(ins.uses.begin() + static_cast<std::ptrdiff_t>(k));
        } else {
          continue;
        }
        break;
      case add_use: {  // an operand becomes a value that dominates it
        if (ins.phi) continue;
        const auto v = dominating_value(s.f, b, i);
        if (v == ir::no_value) continue;
        ins.uses.push_back(v);
        break;
      }
      case delete_instruction:  // a dead instruction (no result, or a result nobody uses)
        if (ins.phi || i + 1 == code.size() || (ins.def != ir::no_value && used(s.f, ins.def))) continue;
        code.erase(code.begin() + i);
        break;
      case insert_definition: {  // a new value, used in a successor only b leads to, or in b's terminator
        if (s.f.values.size() >= s.capacity()) return false;
        std::uint32_t at = 0;
        while (code[at].phi) ++at;
        at = at + static_cast<std::uint32_t>(rng_() % (code.size() - at));  // before the terminator
        ir::instruction def;
        def.def = static_cast<std::uint32_t>(s.f.values.size());
        for (int k = 0; k < 2; ++k)
          if (const auto v = dominating_value(s.f, b, at); v != ir::no_value) def.uses.push_back(v);
        s.f.values.push_back("mmsb." + std::to_string(inserted_++));
        const auto value = def.def;
        code.insert(code.begin() + at, std::move(def));
        std::uint32_t user = b;
        for (const auto succ : blocks[b].succ)
          if (blocks[succ].pred.size() == 1 && succ != b) { user = succ; break; }
        auto& ucode = blocks[user].code;
        std::size_t u = user == b ? ucode.size() - 1 : 0;
        while (ucode[u].phi) ++u;
        ucode[u].uses.push_back(value);
        digest.add(user);
        break;
      }
      default: return false;
      }
      digest.add(static_cast<int>(kind)).add(b).add(i);
      return true;
    }
    return false;
  }

private:
  // An argument, a result of the entry block (which dominates every block), or a result earlier in
  // block b itself; no_value when there is none.
  std::uint32_t dominating_value(const ir::function& f, std::uint32_t b, std::uint32_t before)
  {
    values_.clear();
    for (std::uint32_t a = 0; a < f.arguments; ++a) values_.push_back(a);
    const auto& entry = f.blocks[0].code;
    for (std::uint32_t k = 0; k < (b == 0 ? before : entry.size()); ++k)
      if (entry[k].def != ir::no_value) values_.push_back(entry[k].def);
    if (b != 0)
      for (std::uint32_t k = 0; k < before; ++k)
        if (f.blocks[b].code[k].def != ir::no_value) values_.push_back(f.blocks[b].code[k].def);
    return values_.empty() ? ir::no_value : values_[rng_() % values_.size()];
  }

  static bool used(const ir::function& f, std::uint32_t v)
  {
    for (const auto& b : f.blocks)
      for (const auto& ins : b.code) {
        if (std::find(ins.uses.begin(), ins.uses.end(), v) != ins.uses.end()) return true;
        for (const auto& [x, p] : ins.incoming)
          if (x == v) return true;
      }
    return false;
  }

  std::mt19937_64& rng_;
  std::vector<std::uint32_t> values_;
  std::uint32_t inserted_ = 0;
};

void digest_function(example::workload_digest& d, const ir::function& f)
{
  d.add(f.values.size()).add(f.arguments).add(f.blocks.size());
  for (const auto& b : f.blocks) {
    d.add(b.code.size()).add(b.succ.size());
    for (const auto s : b.succ) d.add(s);
    for (const auto& ins : b.code) {
      d.add(ins.def).add(ins.uses.size()).add(ins.incoming.size());
      for (const auto v : ins.uses) d.add(v);
      for (const auto& [v, p] : ins.incoming) d.add(v).add(p);
    }
  }
}

// Every live_in and live_out chunk on the bus against the reference; prints the first difference.
bool check(const bus_type& bus, const fn_state& s, const worklist& ref, int batch, std::size_t& bits)
{
  const std::size_t w = s.width();
  for (std::size_t b = 0; b < s.f.blocks.size(); ++b)
    for (std::uint32_t c = 0; c < s.chunks; ++c)
      for (const auto& [name, page, want] : {std::tuple{"live_in", s.in[b * s.chunks + c], &ref.in[b * w + c * words]},
                                             std::tuple{"live_out", s.out[b * s.chunks + c], &ref.out[b * w + c * words]}}) {
        chunk_words got{};
        std::memcpy(got.data(), bus.value(page).payload_bytes().data(), sizeof got);
        bits += vars;
        for (std::size_t k = 0; k < words; ++k)
          if (got[k] != want[k]) {
            const auto bit = static_cast<std::size_t>(__builtin_ctzll(got[k] ^ want[k]));
            const std::size_t v = c * vars + k * 64 + bit;
            std::printf("MISMATCH after edit batch %d: @%s (%s), block %s, %s, value %%%s: expected %d, got %d\n", batch,
                        s.f.name.c_str(), s.f.file.c_str(), s.f.blocks[b].name.c_str(), name,
                        v < s.f.values.size() ? s.f.values[v].c_str() : "?", int((want[k] >> bit) & 1U), int((got[k] >> bit) & 1U));
            return false;
          }
      }
  return true;
}

void dump_live_in(const bus_type& bus, const std::vector<fn_state>& fns, const std::string& path)
{
  std::ofstream out(path);
  if (!out) throw std::runtime_error("--dump-live-in " + path + ": cannot open for writing");
  std::vector<std::string> names;
  for (const auto& s : fns)
    for (std::size_t b = 0; b < s.f.blocks.size(); ++b) {
      names.clear();
      for (std::uint32_t c = 0; c < s.chunks; ++c) {
        chunk_words got{};
        std::memcpy(got.data(), bus.value(s.in[b * s.chunks + c]).payload_bytes().data(), sizeof got);
        for (std::size_t v = 0; v < vars; ++v)
          if (test(got.data(), v)) names.push_back(s.f.values[c * vars + v]);
      }
      std::sort(names.begin(), names.end());
      out << s.f.name << '\t' << s.f.blocks[b].name << '\t';
      for (std::size_t k = 0; k < names.size(); ++k) out << (k ? " " : "") << names[k];
      out << '\n';
    }
  out.flush();
  if (!out) throw std::runtime_error("--dump-live-in " + path + ": write failed");
}

} // namespace

int run_real_ir(const real_ir_options& o)
{
  // 1. The program: every function of every .ll file.
  std::vector<fn_state> fns;
  const auto files = ir::ll_files(o.path);
  std::size_t instructions = 0, blocks = 0, values = 0;
  for (const auto& file : files)
    for (auto& f : ir::read_ll(file)) {
      fn_state s;
      s.chunks = static_cast<std::uint32_t>((f.values.size() + headroom + vars - 1) / vars);
      s.f = std::move(f);
      s.summarize();
      blocks += s.f.blocks.size();
      values += s.f.values.size();
      for (const auto& b : s.f.blocks) instructions += b.code.size();
      fns.push_back(std::move(s));
    }
  if (fns.empty()) throw std::runtime_error(o.path + ": no function is defined there");
  example::workload_digest digest;
  for (const auto& s : fns) digest_function(digest, s.f);
  const auto widest = std::max_element(fns.begin(), fns.end(), [](const fn_state& a, const fn_state& b) { return a.f.values.size() < b.f.values.size(); });

  // 2. The equations on a bus: pages, then each loop nest's region per chunk, then the edges.
  bus_type bus;
  auto producer = bus.make_producer();
  const auto send = [&](mmsb::page_id p, std::size_t v, bool bit) {
    while (!producer.try_put(p, v, mmsb::delta_op::assign, bit)) bus.tick();  // this thread also drains
  };
  const auto send_set = [&](mmsb::page_id p, const std::uint64_t* bits) {
    for (std::size_t v = 0; v < vars; ++v)
      if (test(bits, v)) send(p, v, true);
  };
  kill_matrices kills;
  const auto identity = kills.get(chunk_words{}.data());
  std::size_t pages = 0, edges = 0, regions = 0;
  for (auto& s : fns) {
    const std::size_t n = s.f.blocks.size(), w = s.width();
    for (std::size_t k = 0; k < n * s.chunks; ++k) {
      s.in.push_back(bus.create_page());
      s.out.push_back(bus.create_page());
    }
    pages += 2 * n * s.chunks;
    for (const auto& nest : loop_nests(s.f))
      for (std::uint32_t c = 0; c < s.chunks; ++c) {
        std::vector<mmsb::page_id> members;
        for (const auto b : nest) members.insert(members.end(), {s.in[b * s.chunks + c], s.out[b * s.chunks + c]});
        // A live bit moves one page per round, so the least solution needs at most |members| rounds.
        bus.add_fixed_point_region({members.data(), members.size()}, static_cast<std::uint32_t>(members.size() + 1));
        ++regions;
      }
    for (std::size_t b = 0; b < n; ++b)
      for (std::uint32_t c = 0; c < s.chunks; ++c) {
        const std::size_t k = b * s.chunks + c, at = b * w + c * words;
        s.kill.push_back(bus.add_matrix_edge(s.out[k], s.in[k], kills.get(&s.def[at])));
        for (const auto succ : s.f.blocks[b].succ) bus.add_matrix_edge(s.in[succ * s.chunks + c], s.out[k], identity);
        edges += 1 + s.f.blocks[b].succ.size();
        send_set(s.in[k], &s.use[at]);
        send_set(s.out[k], &s.phi[at]);
      }
  }
  bus.tick();
  std::printf("compiler_ir: %zu .ll files from %s: %zu functions, %zu blocks, %zu instructions, %zu SSA values; widest @%s with %zu values "
              "(%u pages of bits<256> per set)\n",
              files.size(), o.path.c_str(), fns.size(), blocks, instructions, values, widest->f.name.c_str(), widest->f.values.size(),
              widest->chunks);
  std::printf("bus: %zu pages, %zu edges (%zu distinct kill matrices), %zu fixed-point regions; %d edit batches of %u edits; seed %" PRIu64
              "\n\n",
              pages, edges, kills.size(), regions, o.edits, o.batch, o.seed);

  // 3. Edit batches: the incremental tick, the worklist over the whole program and over the edited
  //    functions only (each timed), then the check of every page against the whole-program result.
  std::mt19937_64 rng(o.seed);
  editor ed(rng);
  std::vector<worklist> ref(fns.size());
  std::vector<double> t_program, t_edited;
  tick_timings timings;
  std::array<std::size_t, edit_kinds> done{};
  std::size_t bits_checked = 0, deltas = 0, weight_changes = 0;
  for (std::size_t k = 0; k < fns.size(); ++k) ref[k].solve(fns[k]);
  for (std::size_t k = 0; k < fns.size(); ++k)
    if (!check(bus, fns[k], ref[k], 0, bits_checked)) return 1;
  const int progress_every = std::max(1, o.edits / 10);
  std::vector<std::uint64_t> old_use, old_def, old_phi;
  std::vector<std::tuple<mmsb::page_id, std::size_t, bool>> changed_bits;          // page, bit, new value
  std::vector<std::pair<mmsb::edge_id, std::shared_ptr<const matrix>>> changed_weights;
  for (int batch = 1; batch <= o.edits; ++batch) {
    std::vector<std::uint32_t> edited;
    for (std::uint32_t k = 0; k < o.batch; ++k) {
      const auto fi = static_cast<std::uint32_t>(rng() % fns.size());
      const auto kind = static_cast<edit_kind>(rng() % edit_kinds);
      digest.add(fi);
      if (ed.apply(fns[fi], kind, digest)) {
        ++done[kind];
        edited.push_back(fi);
      }
    }
    std::sort(edited.begin(), edited.end());
    edited.erase(std::unique(edited.begin(), edited.end()), edited.end());

    // What changed, found before the clock starts: bits of Uses and PhiUses, and Defs chunks.
    changed_bits.clear();
    changed_weights.clear();
    for (const auto fi : edited) {
      fn_state& s = fns[fi];
      old_use.swap(s.use);
      old_def.swap(s.def);
      old_phi.swap(s.phi);
      s.summarize();
      const std::size_t w = s.width();
      for (std::size_t b = 0; b < s.f.blocks.size(); ++b)
        for (std::uint32_t c = 0; c < s.chunks; ++c) {
          const std::size_t k = b * s.chunks + c, at = b * w + c * words;
          for (std::size_t v = 0; v < vars; ++v) {
            if (test(&old_use[at], v) != test(&s.use[at], v)) changed_bits.emplace_back(s.in[k], v, test(&s.use[at], v));
            if (test(&old_phi[at], v) != test(&s.phi[at], v)) changed_bits.emplace_back(s.out[k], v, test(&s.phi[at], v));
          }
          if (!std::equal(&old_def[at], &old_def[at] + words, &s.def[at])) changed_weights.emplace_back(s.kill[k], kills.get(&s.def[at]));
        }
    }
    deltas += changed_bits.size();
    weight_changes += changed_weights.size();

    auto t0 = clock_type::now();
    for (const auto& [page, v, bit] : changed_bits) send(page, v, bit);
    for (const auto& [e, m] : changed_weights) bus.set_weights(e, *m);
    const auto t_sent = clock_type::now();
    const mmsb::tick_report r = bus.tick();
    timings.record(t0, t_sent, r);

    t0 = clock_type::now();
    for (const auto fi : edited) ref[fi].solve(fns[fi]);
    t_edited.push_back(micros(clock_type::now() - t0));

    t0 = clock_type::now();
    for (std::size_t k = 0; k < fns.size(); ++k) ref[k].solve(fns[k]);
    t_program.push_back(micros(clock_type::now() - t0));

    for (std::size_t k = 0; k < fns.size(); ++k)
      if (!check(bus, fns[k], ref[k], batch, bits_checked)) return 1;
    if (batch % progress_every == 0 || batch == o.edits)
      std::printf("batch %4d/%d: incremental tick %9.1f us, worklist: whole program %9.1f us, edited functions only %9.1f us\n", batch,
                  o.edits, timings.total.back(), t_program.back(), t_edited.back());
  }
  if (!o.dump_live_in.empty()) dump_live_in(bus, fns, o.dump_live_in);

  const auto row = [](const char* name, const std::string& value) { std::printf("%-40s %s\n", name, value.c_str()); };
  std::printf("\n");
  row("functions / blocks / instructions", std::to_string(fns.size()) + " / " + std::to_string(blocks) + " / " + std::to_string(instructions));
  row("pages (bits<256>) / edges / regions", std::to_string(pages) + " / " + std::to_string(edges) + " / " + std::to_string(regions));
  for (int k = 0; k < edit_kinds; ++k) row(("edits: " + std::string(edit_names[k])).c_str(), std::to_string(done[k]));
  row("use/phi bits changed, kill weights reset", std::to_string(deltas) + ", " + std::to_string(weight_changes));
  row("live bits checked", std::to_string(bits_checked));
  if (!timings.total.empty()) {
    const double tick = median(timings.total), program = median(t_program), edited = median(t_edited);
    row("incremental tick, median", format("%.1f us", tick));
    row("  of which, medians in us", timings.phases());
    row("worklist, whole program, median", format("%.1f us", program));
    row("worklist, edited functions only, median", format("%.1f us", edited));
    row("tick speedup over whole program", format("%.2fx", program / tick));
    row("tick speedup over edited functions", format("%.2fx", edited / tick));
    row("liveness check", "exact after every edit batch");
  } else {
    row("liveness check", "exact (no edits)");
  }
  if (!o.dump_live_in.empty()) row("live-in sets written to", o.dump_live_in);
  row("workload digest", digest.hex());
  row("state hash", format("%016" PRIx64, bus.hash().value));
  return 0;
}

} // namespace example03
