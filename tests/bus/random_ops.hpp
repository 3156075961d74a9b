// Seeded random operations on a durable bus, checked against a plain oracle after every operation
// (RELIABILITY #14). Shared by the Catch2 test (tests/bus/random_ops.cpp) and the standalone
// driver (tests/bus/random_ops_main.cpp) that scripts/soak and scripts/check-compilers run.
//
// One run, from a seed: producer deltas (several producers, their own epochs, sparse and dense,
// slot by slot and in combined runs, some to pages that do not exist), ticks (unbounded and on a
// zero budget until propagation completes), transactions (committed, aborted, refused), new pages
// (at zero or an initial value), topology edits (matrix edges with and without a row mask, kernel
// edges by name, removals, new weights, refused cycles and refused kernels), blocking and
// background checkpoints (and the tick's own, every `checkpoint_every` ticks), close-and-reopen,
// and audits of earlier epochs (store replay_to and snapshot_at, bus hash_at).
//
// The oracle is a vector of pages folding the same changes in commit order with its own wrapping
// + and ×, and a from-scratch evaluation of every derived page from the live edge list:
//   value(v) = base(v) + Σ over matrix edges u → v of A·value(u);  value(v) = f(values) for a kernel.
// After every operation: the epoch, the store's hash (bases) and the bus's hash (values) equal the
// oracle's; the graph verifies whenever no edit waits for propagation. What the oracle predicts
// also covers the bus's refusals (a cycle, a kernel into a page with edges, an unknown page) and
// what a reopen loses (pages and edits made since the last commit, queued producer changes).
//
// Determinism: nothing here depends on timing. The tick's checkpoint and begin_checkpoint() are
// only asked for with no checkpoint in flight (wait_checkpoint() first), so two runs of one seed
// write the same files byte for byte; run_twice() checks it.
#pragma once

#include <mmsb/bus.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace mmsb::test::random_ops {

using S = plus_times<std::int64_t>;  // non-idempotent: a delta applied twice shows
using L = dense<std::int64_t, 16>;
using B = basic_bus<S, L>;
using value = std::int64_t;
constexpr std::size_t extent = L::extent;
using row = std::array<value, extent>;

// What a run does; every field but seed and ops is drawn from the seed unless set.
struct config {
  std::uint64_t seed = 0x5eed2026;
  std::uint64_t ops = 2000;
  std::string dir;             // a directory on the real file system (posix); empty: in memory
  durability sync = durability::none;  // the log's policy on posix (memory: per_commit, free)
  bool verbose = false;        // one line per operation to stderr
  // A memory budget in bytes (bus_options::memory) so small that most pages live in a spill file
  // in /tmp; 0: none. Spilling changes nothing the oracle sees.
  std::uint64_t memory_limit = 0;
};

// What a run leaves: the verdict and what the driver prints.
struct result {
  bool ok = true;
  std::string failure;                           // the first mismatch, naming the op and what differed
  std::uint64_t failed_op = 0;                   // its index (0-based)
  std::uint64_t final_epoch = 0;
  std::uint64_t final_hash = 0;                  // bus hash after the last op
  std::map<std::string, std::uint64_t> counts;   // operations by kind
  // Under config::memory_limit: the most pages one bus wrote to its spill file and brought back
  // (check() reads every page after every operation, so each spilled page comes back at once).
  std::uint64_t max_spill_writes = 0;
  std::uint64_t max_reloads = 0;
  std::map<std::string, std::vector<std::byte>> files;  // log/ and checkpoints/ files by relative name
};

// A failed check: thrown inside run(), caught there and turned into result::failure.
struct mismatch {
  std::string what;
};

inline value wadd(value a, value b) { return static_cast<value>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b)); }
inline value wmul(value a, value b) { return static_cast<value>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b)); }

// The kernels a kernel edge may name (the oracle evaluates its own copies).
inline B::kernel_table kernels()
{
  B::kernel_table k;
  k["shift"] = [](span<const page<L>* const> in, page<L>& out) {
    for (std::size_t i = 0; i < extent; ++i) out.set(i, in[0]->get((i + 1) % extent));
  };
  k["sum"] = [](span<const page<L>* const> in, page<L>& out) {
    for (std::size_t i = 0; i < extent; ++i) {
      value s = 0;
      for (const auto* p : in) s = wadd(s, p->get(i));
      out.set(i, s);
    }
  };
  return k;
}

struct model_edge {
  bool matrix = true;
  std::vector<std::uint32_t> srcs;               // one for a matrix edge
  std::uint32_t dst = 0;
  std::vector<matrix_entry<value>> entries;      // after the row mask
  std::string kernel;
  bool live = true;
};

// The plain oracle.
struct model {
  std::vector<row> base;                 // every page, the ones created since the last commit included
  std::size_t committed_pages = 0;
  std::vector<model_edge> edges;         // by edge id, removed ones included
  std::vector<model_edge> committed;     // edges as of the last commit (what a reopen restores)
  std::vector<model_edge> propagated;    // the topology the bus's values reflect
  bool edits_pending = false;            // edits not logged yet
  std::uint64_t epoch = 0;
  std::uint64_t latest_checkpoint = 0;   // the epoch of the newest checkpoint asked for
  bool any_checkpoint = false;

  struct change {
    std::uint32_t page, slot;
    delta_op op;
    value v;
    std::uint64_t pepoch, producer, seq, sub;
  };
  std::vector<change> queued;            // producer changes the next tick drains

  static std::vector<row> values_of(const std::vector<row>& base, const std::vector<model_edge>& edges)
  {
    const std::size_t n = base.size();
    std::vector<std::vector<const model_edge*>> in(n);
    for (const auto& e : edges)
      if (e.live && e.dst < n) in[e.dst].push_back(&e);
    std::vector<row> val(n);
    std::vector<int> state(n, 0);  // 0 new, 1 in progress, 2 done
    const auto eval = [&](auto&& self, std::uint32_t v) -> void {
      if (state[v] == 2) return;
      if (state[v] == 1) throw mismatch{"oracle: a cycle through page " + std::to_string(v) + " in its own edge list"};
      state[v] = 1;
      for (const auto* e : in[v])
        for (const auto s : e->srcs) self(self, s);
      row r = base[v];
      for (const auto* e : in[v]) {
        if (e->matrix) {
          const row& x = val[e->srcs[0]];
          for (const auto& en : e->entries) r[en.row] = wadd(r[en.row], wmul(en.value, x[en.col]));
        } else if (e->kernel == "shift") {
          for (std::size_t i = 0; i < extent; ++i) r[i] = val[e->srcs[0]][(i + 1) % extent];
        } else {
          for (std::size_t i = 0; i < extent; ++i) {
            value s = 0;
            for (const auto src : e->srcs) s = wadd(s, val[src][i]);
            r[i] = s;
          }
        }
      }
      val[v] = r;
      state[v] = 2;
    };
    for (std::uint32_t v = 0; v < n; ++v) eval(eval, v);
    return val;
  }

  static std::uint64_t hash_of(const std::vector<row>& rows, std::size_t count)
  {
    state_hasher h;
    for (std::uint32_t i = 0; i < count; ++i) {
      page<L> p(page_id{i});
      for (std::size_t k = 0; k < extent; ++k) p.set(k, rows[i][k]);
      h.add(page_id{i}, p.payload_bytes());
    }
    return h.digest().value;
  }

  // Whether `to` can be reached from `from` along live edges (a new edge to -> ... would close a cycle).
  bool reaches(std::uint32_t from, std::uint32_t to) const
  {
    std::vector<char> seen(base.size(), 0);
    std::vector<std::uint32_t> stack{from};
    while (!stack.empty()) {
      const auto v = stack.back();
      stack.pop_back();
      if (v == to) return true;
      if (seen[v]) continue;
      seen[v] = 1;
      for (const auto& e : edges)
        if (e.live && std::find(e.srcs.begin(), e.srcs.end(), v) != e.srcs.end()) stack.push_back(e.dst);
    }
    return false;
  }
  bool has_live_in(std::uint32_t v, bool kernels_only) const
  {
    for (const auto& e : edges)
      if (e.live && e.dst == v && (!kernels_only || !e.matrix)) return true;
    return false;
  }

  // A commit happened (tick, transaction, checkpoint's pending edits): everything is committed.
  void committed_now()
  {
    ++epoch;
    committed_pages = base.size();
    committed = edges;
    propagated = edges;
    edits_pending = false;
  }
};

// Every file of the store's log/ and checkpoints/ directories, by "log/NAME" or "checkpoints/NAME".
inline std::map<std::string, std::vector<std::byte>> files_of(file_system& fs, const std::string& store)
{
  std::map<std::string, std::vector<std::byte>> out;
  for (const std::string sub : {"log", "checkpoints"}) {
    const std::string dir = store + "/" + sub;
    if (!fs.exists(dir)) continue;
    for (const auto& name : fs.list(dir)) {
      const auto h = fs.open(dir + "/" + name, open_mode::read);
      std::vector<std::byte> bytes(fs.size(h));
      std::size_t at = 0;
      while (at < bytes.size()) {
        const auto n = fs.read(h, at, {bytes.data() + at, bytes.size() - at});
        if (n == 0) break;
        at += n;
      }
      fs.close(h);
      out[sub + "/" + name] = std::move(bytes);
    }
  }
  return out;
}

inline std::uint64_t xxh3(const std::vector<std::byte>& b) { return XXH3_64bits(b.data(), b.size()); }

// One run; never throws for a mismatch (result::ok, failure). `fs` holds the store in cfg.dir + "/store"
// (or "/store" in memory).
class runner {
public:
  runner(const config& cfg, file_system& fs, std::string store_dir)
    : cfg_(cfg), fs_(fs), dir_(std::move(store_dir)), rng_(cfg.seed)
  {
    // Per-run parameters, drawn first so that they depend on the seed alone.
    opts_.fs = &fs_;
    opts_.dir = dir_;
    opts_.ring_capacity = 4096;
    const std::uint64_t seg[] = {2048, 16384, std::uint64_t{1} << 20};
    opts_.store.log.segment_bytes = seg[rng_() % 3];
    opts_.store.log.compress = rng_() % 3 == 0;
    opts_.store.log.compress_min_bytes = 64;
    opts_.store.log.durability = cfg.dir.empty() ? durability::per_commit : cfg.sync;
    opts_.checkpoint_every = rng_() % 2 ? 0 : 3 + rng_() % 15;
    if (cfg.memory_limit != 0) {
      opts_.memory.limit_bytes = cfg.memory_limit;
      opts_.memory.tick_pages = 2;
      opts_.memory.spill_dir = "/tmp";
    }
  }

  result go()
  {
    result r;
    std::uint64_t op = 0;
    try {
      open();
      check("open");
      for (; op < cfg_.ops; ++op) {
        op_ = op;
        const std::string kind = step();
        ++r.counts[kind];
        if (cfg_.verbose) std::fprintf(stderr, "op %llu: %s, epoch %llu\n", static_cast<unsigned long long>(op), kind.c_str(),
                                       static_cast<unsigned long long>(m_.epoch));
        check(kind);
        if (const spill_file* f = bus_->store().spill()) r.max_spill_writes = std::max(r.max_spill_writes, f->writes());
        r.max_reloads = std::max<std::uint64_t>(r.max_reloads, bus_->store().pages().reloads());
      }
      bus_->wait_checkpoint();
      r.final_epoch = bus_->current_epoch().value();
      r.final_hash = bus_->hash().value;
      close();
      r.files = files_of(fs_, dir_);
    } catch (const mismatch& e) {
      r.ok = false;
      r.failed_op = op;
      r.failure = "op " + std::to_string(op) + " (" + last_ + "): " + e.what;
    } catch (const std::exception& e) {
      r.ok = false;
      r.failed_op = op;
      r.failure = "op " + std::to_string(op) + " (" + last_ + "): unexpected exception: " + e.what();
    }
    try {
      close();
    } catch (...) {
    }
    return r;
  }

private:
  std::uint64_t pick(std::uint64_t n) { return rng_() % n; }
  value any_value() { return static_cast<value>(pick(41)) - 20; }

  void open()
  {
    bus_ = std::make_unique<B>(opts_, kernels());
    const auto n = 1 + pick(4);
    for (std::size_t i = 0; i < n; ++i) prods_.push_back({bus_->make_producer(), 0, 0, 0});
  }
  void close()
  {
    prods_.clear();
    bus_.reset();  // waits for a background checkpoint in flight
  }

  struct prod {
    B::producer_type p;
    std::uint64_t epoch, seq, items;  // items queued since the last tick
  };

  std::uint32_t any_page()
  {
    return static_cast<std::uint32_t>(pick(m_.base.size() + (m_.base.size() < 2 ? 2 : 0)));
  }

  // ---- the operations ----------------------------------------------------------------------
  std::string step()
  {
    const auto w = static_cast<int>(pick(100));
    if (m_.base.size() < 3 || (w < 4 && m_.base.size() < 48)) return create_page();
    if (w < 24) return push();
    if (w < 26) return set_producer_epoch();
    if (w < 38) return tick();
    if (w < 50) return transaction();
    if (w < 52) return abort();
    if (w < 54) return refused_transaction();
    if (w < 62) return add_matrix_edge();
    if (w < 66) return add_kernel_edge();
    if (w < 70) return remove_edge();
    if (w < 74) return set_weights();
    if (w < 77) return checkpoint(false);
    if (w < 80) return checkpoint(true);
    if (w < 84) return reopen();
    return audit();
  }

  std::string create_page()
  {
    last_ = "create_page";
    page_id id;
    row r{};
    if (pick(3) == 0) {
      const value init = any_value();
      r.fill(init);
      id = bus_->create_page(init);
    } else {
      id = bus_->create_page();
    }
    expect(id.value() == m_.base.size(), "create_page returned page " + std::to_string(id.value()) + ", the oracle expects " +
                                            std::to_string(m_.base.size()));
    m_.base.push_back(r);
    return "create_page";
  }

  std::string push()
  {
    last_ = "push";
    auto& pr = prods_[pick(prods_.size())];
    const auto pid = pr.p.id().value();
    if (pr.items > 3000) return tick();  // keep every ring below its capacity between ticks
    const auto kind = pick(4);
    if (kind == 0) {  // slot by slot, now and then to a page that does not exist
      const auto n = 1 + pick(12);
      for (std::uint64_t k = 0; k < n; ++k) {
        const std::uint32_t pg = pick(20) == 0 ? static_cast<std::uint32_t>(m_.base.size() + pick(3)) : any_page();
        const auto slot = static_cast<std::uint32_t>(pick(extent));
        const auto op = pick(4) == 0 ? delta_op::assign : delta_op::accumulate;
        const value v = any_value();
        pr.p.put(page_id{pg}, slot, op, v);
        m_.queued.push_back({pg, slot, op, v, pr.epoch, pid, pr.seq++, 0});
        ++pr.items;
      }
      return "push slots";
    }
    // Whole deltas: sparse (a few slots) or dense (most of the page), one at a time or a run to one
    // page that the producer combines.
    const bool dense_one = kind == 1;
    const auto deltas = kind == 3 ? 2 + pick(3) : std::uint64_t{1};
    const std::uint32_t pg = any_page();
    std::vector<delta<S, L>> ds;
    std::vector<std::vector<model::change>> cs;
    std::vector<bool> touched(extent, false);
    for (std::uint64_t d = 0; d < deltas; ++d) {
      delta_builder<S, L> b(page_id{pg});
      std::vector<model::change> c;
      const auto n = dense_one ? extent - pick(3) : 1 + pick(4);
      std::vector<std::uint32_t> slots(extent);
      for (std::uint32_t i = 0; i < extent; ++i) slots[i] = i;
      std::shuffle(slots.begin(), slots.end(), rng_);
      for (std::size_t k = 0; k < n; ++k) {
        const auto op = pick(4) == 0 ? delta_op::assign : delta_op::accumulate;
        const value v = any_value();
        b.put(slots[k], op, v);
        c.push_back({pg, slots[k], op, v, pr.epoch, pid, 0, d});
        touched[slots[k]] = true;
      }
      ds.push_back(b.build(pick(2) ? delta_encoding::sparse : delta_encoding::dense));
      cs.push_back(std::move(c));
    }
    const std::uint64_t seq = pr.seq++;
    for (auto& c : cs)
      for (auto& ch : c) {
        ch.seq = seq;
        m_.queued.push_back(ch);
      }
    pr.items += static_cast<std::uint64_t>(std::count(touched.begin(), touched.end(), true));
    if (deltas == 1) {
      pr.p.push(ds[0]);
      return dense_one ? "push dense delta" : "push sparse delta";
    }
    pr.p.push(span<const delta<S, L>>{ds.data(), ds.size()});
    return "push combined run";
  }

  std::string set_producer_epoch()
  {
    last_ = "set_epoch";
    auto& pr = prods_[pick(prods_.size())];
    pr.epoch += pick(4);
    pr.p.set_epoch(epoch{pr.epoch});
    return "producer epoch";
  }

  // The oracle's side of a tick's drain and commit; returns whether it commits.
  bool drain(std::uint64_t& rejected)
  {
    auto q = std::move(m_.queued);
    m_.queued.clear();
    std::stable_sort(q.begin(), q.end(), [](const model::change& a, const model::change& b) {
      return std::tie(a.page, a.pepoch, a.producer, a.seq, a.sub, a.slot) < std::tie(b.page, b.pepoch, b.producer, b.seq, b.sub, b.slot);
    });
    bool any = false;
    rejected = 0;
    for (const auto& c : q) {
      if (c.page >= m_.base.size()) {
        ++rejected;
        continue;
      }
      value& x = m_.base[c.page][c.slot];
      x = c.op == delta_op::assign ? c.v : wadd(x, c.v);
      any = true;
    }
    for (auto& p : prods_) p.items = 0;
    return any || m_.edits_pending;
  }

  std::string tick()
  {
    last_ = "tick";
    checkpoint_due_wait();
    std::uint64_t rejected = 0;
    const bool commits = drain(rejected);
    const bool budgeted = pick(4) == 0;
    auto rep = budgeted ? bus_->tick(tick_budget{std::chrono::nanoseconds{0}}) : bus_->tick();
    std::uint64_t rejected_seen = rep.rejected;
    if (commits) m_.committed_now();
    tick_checkpoint();
    while (!rep.propagation_complete) {
      checkpoint_due_wait();
      rep = bus_->tick(tick_budget{std::chrono::nanoseconds{0}});
      rejected_seen += rep.rejected;
      tick_checkpoint();
    }
    m_.propagated = m_.edges;
    expect(rejected_seen == rejected, "the tick rejected " + std::to_string(rejected_seen) + " changes to unknown pages, the oracle " +
                                        std::to_string(rejected));
    for (auto& p : prods_) {
      const auto errs = p.p.take_errors();
      for (const auto& e : errs)
        expect(std::string(e.what()).find("page") != std::string::npos, std::string("a rejected change's error names no page: ") + e.what());
    }
    if (commits) record();
    return budgeted ? "tick (zero budget)" : "tick";
  }
  // Before a tick that asks for its own checkpoint: none may be in flight, or the request would
  // coalesce into it (then the files would depend on timing). Other ticks do not wait.
  void checkpoint_due_wait()
  {
    if (opts_.checkpoint_every != 0 && ticks_since_checkpoint_ + 1 >= opts_.checkpoint_every) bus_->wait_checkpoint();
  }
  void tick_checkpoint()
  {
    if (opts_.checkpoint_every != 0 && ++ticks_since_checkpoint_ >= opts_.checkpoint_every) {
      ticks_since_checkpoint_ = 0;
      note_checkpoint();
    }
  }
  void note_checkpoint()
  {
    m_.latest_checkpoint = m_.epoch;
    m_.any_checkpoint = true;
  }

  // A random transaction's changes, applied to a copy of the oracle's bases in call order.
  B::transaction_type fill(std::vector<row>& after, bool with_unknown)
  {
    auto tx = bus_->begin();
    after = m_.base;
    const auto pages = 1 + pick(4);
    for (std::uint64_t k = 0; k < pages; ++k) {
      const std::uint32_t pg = any_page() % static_cast<std::uint32_t>(m_.base.size());
      const auto n = pick(3) == 0 ? extent : 1 + pick(4);
      for (std::size_t i = 0; i < n; ++i) {
        const auto slot = pick(extent);
        const value v = any_value();
        if (pick(4) == 0) {
          tx.assign(page_id{pg}, slot, v);
          after[pg][slot] = v;
        } else {
          tx.accumulate(page_id{pg}, slot, v);
          after[pg][slot] = wadd(after[pg][slot], v);
        }
      }
    }
    if (with_unknown) tx.accumulate(page_id{static_cast<std::uint32_t>(m_.base.size() + pick(5))}, pick(extent), 1);
    return tx;
  }

  std::string transaction()
  {
    last_ = "commit";
    std::vector<row> after;
    auto tx = fill(after, false);
    const epoch e = bus_->commit(tx);
    m_.base = std::move(after);
    m_.committed_now();
    expect(e.value() == m_.epoch, "commit returned epoch " + std::to_string(e.value()) + ", the oracle expects " + std::to_string(m_.epoch));
    expect(tx.empty(), "a committed transaction is not empty");
    record();
    return "transaction";
  }

  std::string abort()
  {
    last_ = "abort";
    std::vector<row> after;
    auto tx = fill(after, false);
    bus_->abort(tx);
    expect(tx.empty(), "an aborted transaction is not empty");
    const epoch e = bus_->commit(tx);  // empty: commits nothing (unless edits wait)
    if (m_.edits_pending) {
      m_.committed_now();
      record();
    }
    expect(e.value() == m_.epoch, "an empty commit returned epoch " + std::to_string(e.value()) + ", the oracle expects " +
                                    std::to_string(m_.epoch));
    return "abort";
  }

  std::string refused_transaction()
  {
    last_ = "refused commit";
    std::vector<row> after;
    auto tx = fill(after, true);
    const auto pages = tx.pages();
    try {
      (void)bus_->commit(tx);
      throw mismatch{"a transaction naming an unknown page was committed"};
    } catch (const error& e) {
      expect(e.code() == errc::unknown_page, std::string("a transaction naming an unknown page failed with: ") + e.what());
    }
    expect(tx.pages() == pages, "a refused transaction lost changes");
    bus_->abort(tx);
    return "refused transaction";
  }

  B::matrix_type random_matrix(std::vector<matrix_entry<value>>& entries)
  {
    std::vector<char> used(extent * extent, 0);
    const auto n = 1 + pick(12);
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto r = static_cast<std::uint32_t>(pick(extent)), c = static_cast<std::uint32_t>(pick(extent));
      if (used[r * extent + c]) continue;
      used[r * extent + c] = 1;
      entries.push_back({r, c, static_cast<value>(pick(7)) - 3});
    }
    return B::matrix_type::from_entries(extent, extent, {entries.data(), entries.size()});
  }

  // Runs a topology edit the oracle predicts to be accepted or refused.
  template <class F>
  bool edit(bool expect_ok, const std::string& what, F&& f)
  {
    try {
      f();
    } catch (const error& e) {
      if (expect_ok) throw mismatch{what + " was refused, the oracle accepts it: " + e.what()};
      return false;
    }
    if (!expect_ok) throw mismatch{what + " was accepted, the oracle refuses it"};
    return true;
  }

  std::string add_matrix_edge()
  {
    if (live_edges() > 60) return remove_edge();
    last_ = "add_matrix_edge";
    const std::uint32_t src = any_page() % static_cast<std::uint32_t>(m_.base.size());
    const std::uint32_t dst = any_page() % static_cast<std::uint32_t>(m_.base.size());
    model_edge me;
    me.srcs = {src};
    me.dst = dst;
    const auto a = random_matrix(me.entries);
    std::vector<word_t> mask;
    if (pick(3) == 0) {
      mask.assign(words_for(extent), 0);
      for (std::uint32_t r = 0; r < extent; ++r)
        if (pick(2)) mask[r / word_bits] |= word_t{1} << (r % word_bits);
      std::vector<matrix_entry<value>> kept;
      for (const auto& en : me.entries)
        if (mask[en.row / word_bits] >> (en.row % word_bits) & 1) kept.push_back(en);
      me.entries = std::move(kept);
    }
    const bool ok = !m_.has_live_in(dst, true) && !m_.reaches(dst, src);
    const std::string what = "matrix edge " + std::to_string(src) + " -> " + std::to_string(dst);
    edge_id id{};
    if (edit(ok, what, [&] { id = bus_->add_matrix_edge(page_id{src}, page_id{dst}, a, {mask.data(), mask.size()}); })) {
      expect(id.value() == m_.edges.size(), what + " got edge id " + std::to_string(id.value()) + ", the oracle expects " +
                                              std::to_string(m_.edges.size()));
      m_.edges.push_back(std::move(me));
      m_.edits_pending = true;
      return "add matrix edge";
    }
    return "refused matrix edge";
  }

  std::string add_kernel_edge()
  {
    last_ = "add_kernel_edge";
    model_edge me;
    me.matrix = false;
    me.kernel = pick(2) ? "shift" : "sum";
    const auto n = me.kernel == "shift" ? std::uint64_t{1} : 1 + pick(3);
    std::vector<page_id> srcs;
    for (std::uint64_t k = 0; k < n; ++k) {
      me.srcs.push_back(any_page() % static_cast<std::uint32_t>(m_.base.size()));
      srcs.push_back(page_id{me.srcs.back()});
    }
    me.dst = any_page() % static_cast<std::uint32_t>(m_.base.size());
    bool ok = !m_.has_live_in(me.dst, false);
    for (const auto s : me.srcs) ok = ok && !m_.reaches(me.dst, s);
    const std::string what = "kernel edge '" + me.kernel + "' -> " + std::to_string(me.dst);
    edge_id id{};
    if (edit(ok, what, [&] { id = bus_->add_kernel_edge({srcs.data(), srcs.size()}, page_id{me.dst}, me.kernel); })) {
      expect(id.value() == m_.edges.size(), what + " got edge id " + std::to_string(id.value()) + ", the oracle expects " +
                                              std::to_string(m_.edges.size()));
      m_.edges.push_back(std::move(me));
      m_.edits_pending = true;
      return "add kernel edge";
    }
    return "refused kernel edge";
  }

  std::size_t live_edges() const
  {
    return static_cast<std::size_t>(std::count_if(m_.edges.begin(), m_.edges.end(), [](const model_edge& e) { return e.live; }));
  }

  std::string remove_edge()
  {
    last_ = "remove_edge";
    const auto id = static_cast<std::uint32_t>(pick(m_.edges.size() + 2));
    const bool ok = id < m_.edges.size() && m_.edges[id].live;
    if (edit(ok, "removing edge " + std::to_string(id), [&] { bus_->remove_edge(edge_id{id}); })) {
      m_.edges[id].live = false;
      m_.edits_pending = true;
      return "remove edge";
    }
    return "refused remove edge";
  }

  std::string set_weights()
  {
    last_ = "set_weights";
    const auto id = static_cast<std::uint32_t>(pick(m_.edges.size() + 1));
    const bool ok = id < m_.edges.size() && m_.edges[id].live && m_.edges[id].matrix;
    std::vector<matrix_entry<value>> entries;
    auto a = random_matrix(entries);
    if (edit(ok, "new weights for edge " + std::to_string(id), [&] { bus_->set_weights(edge_id{id}, std::move(a)); })) {
      m_.edges[id].entries = std::move(entries);
      m_.edits_pending = true;
      return "set weights";
    }
    return "refused set weights";
  }

  std::string checkpoint(bool background)
  {
    last_ = background ? "begin_checkpoint" : "checkpoint";
    if (background) {
      bus_->wait_checkpoint();
      const bool started = bus_->begin_checkpoint();
      expect(started, "begin_checkpoint started nothing with no checkpoint in flight");
    } else {
      bus_->checkpoint();
    }
    if (m_.edits_pending) {  // committed first, at their own epoch
      m_.committed_now();
      record();
    }
    note_checkpoint();
    return background ? "background checkpoint" : "checkpoint";
  }

  std::string reopen()
  {
    last_ = "reopen";
    close();
    m_.base.resize(m_.committed_pages);
    m_.edges = m_.committed;
    m_.propagated = m_.edges;
    m_.edits_pending = false;
    m_.queued.clear();
    ticks_since_checkpoint_ = 0;
    open();
    const auto& rec = bus_->store().recovery();
    expect(!rec.damage, "reopening found damage: " + rec.describe());
    return "reopen";
  }

  std::string audit()
  {
    last_ = "audit";
    const auto w = pick(4);  // the current epoch, one the newest checkpoint still covers, or any
    const std::uint64_t e = w == 0 ? m_.epoch
                            : w == 1 && m_.epoch >= m_.latest_checkpoint ? m_.latest_checkpoint + pick(m_.epoch - m_.latest_checkpoint + 1)
                                     : pick(m_.epoch + 1);
    last_ = "audit of epoch " + std::to_string(e);
    const auto& want = history_.at(e);
    const bool must = !m_.any_checkpoint || e >= m_.latest_checkpoint;
    const auto store = [&]() -> const B::store_type& { return bus_->store(); };
    try {
      const auto h = store().replay_to(epoch{e}).value;
      expect(h == want.first, "replay_to(" + std::to_string(e) + ") gives hash " + hex(h) + ", the oracle " + hex(want.first));
      const auto snap = store().snapshot_at(epoch{e});
      state_hasher sh;
      for (const auto& p : snap.pages) sh.add(p.id(), p.payload_bytes());
      expect(snap.epoch.value() == e, "snapshot_at(" + std::to_string(e) + ") is at epoch " + std::to_string(snap.epoch.value()));
      expect(sh.digest().value == want.first, "snapshot_at(" + std::to_string(e) + ") pages hash to " + hex(sh.digest().value) +
                                                ", the oracle " + hex(want.first));
      const auto v = bus_->hash_at(epoch{e}).value;
      expect(v == want.second, "hash_at(" + std::to_string(e) + ") gives " + hex(v) + ", the oracle " + hex(want.second));
      return "audit";
    } catch (const error& err) {
      if (must || err.code() != errc::out_of_range)
        throw mismatch{"auditing epoch " + std::to_string(e) + " (newest checkpoint at " + std::to_string(m_.latest_checkpoint) +
                       ") failed: " + err.what()};
      expect(std::string(err.what()).find(std::to_string(e)) != std::string::npos,
             std::string("an unreachable epoch's error does not name it: ") + err.what());
      return "audit (truncated)";
    }
  }

  // ---- checks ------------------------------------------------------------------------------
  static std::string hex(std::uint64_t h)
  {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
  static void expect(bool ok, const std::string& what)
  {
    if (!ok) throw mismatch{what};
  }

  void record()
  {
    const auto vals = model::values_of(m_.base, m_.edges);
    history_[m_.epoch] = {model::hash_of(m_.base, m_.base.size()), model::hash_of(vals, vals.size())};
  }

  void check(const std::string& kind)
  {
    if (history_.empty()) history_[0] = {model::hash_of({}, 0), model::hash_of({}, 0)};
    expect(bus_->current_epoch().value() == m_.epoch, "the bus is at epoch " + std::to_string(bus_->current_epoch().value()) +
                                                         ", the oracle at " + std::to_string(m_.epoch));
    const std::size_t n = m_.base.size();
    expect(bus_->store().pages().size() == n, "the bus holds " + std::to_string(bus_->store().pages().size()) + " pages, the oracle " +
                                                std::to_string(n));
    if (bus_->store().hash().value != model::hash_of(m_.base, n)) {
      for (std::uint32_t p = 0; p < n; ++p)
        for (std::size_t k = 0; k < extent; ++k)
          expect(bus_->store().pages().at(page_id{p}).get(k) == m_.base[p][k],
                 "after " + kind + ": base of page " + std::to_string(p) + " slot " + std::to_string(k) + " is " +
                   std::to_string(bus_->store().pages().at(page_id{p}).get(k)) + ", the oracle's " + std::to_string(m_.base[p][k]));
      throw mismatch{"after " + kind + ": the store's hash differs from the oracle's with every slot equal"};
    }
    const auto vals = model::values_of(m_.base, m_.propagated);
    if (bus_->hash().value != model::hash_of(vals, n)) {
      for (std::uint32_t p = 0; p < n; ++p)
        for (std::size_t k = 0; k < extent; ++k)
          expect(bus_->value(page_id{p}).get(k) == vals[p][k],
                 "after " + kind + ": value of page " + std::to_string(p) + " slot " + std::to_string(k) + " is " +
                   std::to_string(bus_->value(page_id{p}).get(k)) + ", the oracle's " + std::to_string(vals[p][k]));
      throw mismatch{"after " + kind + ": the bus's hash differs from the oracle's with every value equal"};
    }
    if (m_.propagated.size() == m_.edges.size() && !m_.edits_pending) {
      const auto report = bus_->verify();
      std::string problems;
      for (const auto& p : report.problems) problems += "\n  " + p;
      expect(report.ok(), "after " + kind + ": the graph does not verify:" + problems);
    }
  }

  config cfg_;
  file_system& fs_;
  std::string dir_;
  std::mt19937_64 rng_;
  bus_options opts_;
  std::unique_ptr<B> bus_;
  std::vector<prod> prods_;
  model m_;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> history_;  // epoch -> (base hash, value hash)
  std::uint64_t ticks_since_checkpoint_ = 0;
  std::uint64_t op_ = 0;
  std::string last_ = "open";
};

// One run of cfg: in memory, or on the real file system in cfg.dir + "/store" (cfg.dir must exist).
inline result run(const config& cfg)
{
  if (cfg.dir.empty()) {
    memory_file_system fs;
    return runner(cfg, fs, "/store").go();
  }
  posix_file_system fs;
  return runner(cfg, fs, cfg.dir + "/store").go();
}

// Two runs of cfg (in memory, or in cfg.dir + "/a" and "/b"); the second must write the same files
// byte for byte and end at the same epoch and hash. Returns the first run's result, failed with
// the first difference.
inline result run_twice(const config& cfg)
{
  config a = cfg, b = cfg;
  if (!cfg.dir.empty()) {
    posix_file_system fs;
    a.dir = cfg.dir + "/a";
    b.dir = cfg.dir + "/b";
    for (const auto& d : {a.dir, b.dir})
      if (!fs.exists(d)) fs.make_dir(d);
  }
  result r1 = run(a);
  if (!r1.ok) return r1;
  result r2 = run(b);
  if (!r2.ok) {
    r2.failure = "second run: " + r2.failure;
    return r2;
  }
  const auto fail = [&](const std::string& what) {
    r1.ok = false;
    r1.failed_op = cfg.ops;
    r1.failure = "the same seed twice: " + what;
    return r1;
  };
  if (r1.final_epoch != r2.final_epoch || r1.final_hash != r2.final_hash)
    return fail("epoch/hash " + std::to_string(r1.final_epoch) + "/" + std::to_string(r1.final_hash) + " then " +
                std::to_string(r2.final_epoch) + "/" + std::to_string(r2.final_hash));
  for (const auto& [name, bytes] : r1.files) {
    const auto it = r2.files.find(name);
    if (it == r2.files.end()) return fail(name + " is missing from the second run");
    if (it->second != bytes) {
      std::size_t at = 0;
      while (at < bytes.size() && at < it->second.size() && bytes[at] == it->second[at]) ++at;
      return fail(name + " differs at byte " + std::to_string(at) + " (" + std::to_string(bytes.size()) + " vs " +
                  std::to_string(it->second.size()) + " bytes)");
    }
  }
  for (const auto& [name, bytes] : r2.files)
    if (!r1.files.count(name)) return fail(name + " appears only in the second run");
  return r1;
}

} // namespace mmsb::test::random_ops
