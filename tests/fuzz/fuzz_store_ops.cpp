// libFuzzer target: a sequence of durable_store operations read from the input (RELIABILITY #15)
// over a memory_file_system, against an oracle: plain arrays applying the same + and
// assignments. Operations: create page (zero or a value), commit a transaction (bad page ids and
// bad slots included: refused with mmsb::error and nothing changed), an empty commit,
// checkpoint, clean reopen (sometimes in strict recovery mode), simulated power loss (crash() in
// any mode, then reopen), replay_to and snapshot_at at any epoch. After every operation the
// store's pages equal the oracle's; after a reopen the store is at the expected epoch (per_commit:
// the last commit; durability none: at or after the last durable point) and in the oracle's
// state at that epoch; replay_to(e) gives the oracle's hash at e or an mmsb::error (a truncated
// past, an epoch beyond the end). Only mmsb::error may escape the library.
// Input byte 0: bit 0 durability none (else per_commit), bit 1 small segments (rolls), bit 2
// compression. Then one operation per byte, with its arguments in the bytes after it.
#include "fuzz_common.hpp"

#include <mmsb/bus/transaction.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {
using sr = mmsb::plus_times<std::int64_t>;
using lay = mmsb::dense<std::int64_t, 8>;
using store = mmsb::durable_store<sr, lay>;
using page_values = std::array<std::int64_t, lay::extent>;
using state = std::vector<page_values>;  // page i has id i
constexpr std::size_t max_pages = 24;
constexpr std::size_t max_ops = 64;

struct reader {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte()
  {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

mmsb::state_hash hash_of(const state& s)
{
  mmsb::state_hasher h;
  for (std::size_t i = 0; i < s.size(); ++i) {
    mmsb::page<lay> p(mmsb::page_id{static_cast<std::uint32_t>(i)});
    for (std::size_t j = 0; j < lay::extent; ++j) p.set(j, s[i][j]);
    mmsb::hash_into(h, p);
  }
  return h.digest();
}

std::string describe(const state& s)
{
  std::string out = std::to_string(s.size()) + " pages:";
  for (const auto& p : s) {
    out += " [";
    for (const auto v : p) out += std::to_string(v) + ",";
    out += "]";
  }
  return out;
}

state state_of(const store& s)
{
  state out;
  for (const auto& p : s.snapshot().pages) {
    MMSB_FUZZ_CHECK(p.id().value() == out.size(), "page ids are not 0, 1, 2, ...");
    page_values v{};
    for (std::size_t j = 0; j < lay::extent; ++j) v[j] = p.get(j);
    out.push_back(v);
  }
  return out;
}

std::int64_t wrap_add(std::int64_t a, std::int64_t b)
{
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

std::int64_t value_from(reader& in)
{
  const std::uint8_t b = in.byte();
  if (b == 0xff) return INT64_MAX;  // wrapping sums
  if (b == 0xfe) return INT64_MIN;
  return static_cast<std::int8_t>(b);
}

// For MMSB_FUZZ_TRACE: each segment's records (type, epoch) after a crash.
void dump_log(mmsb::memory_file_system& fs, const std::string& dir)
{
  auto names = fs.list(dir);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    const std::string bytes = fs.contents(dir + "/" + n);
    std::fprintf(stderr, "  %s: %zu bytes:", n.c_str(), bytes.size());
    const mmsb::span<const std::byte> all(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
    std::size_t off = 0;
    while (off < all.size()) {
      mmsb::record_header h;
      mmsb::span<const std::byte> payload;
      const auto fault = mmsb::check_record(all.subspan(off), h, payload);
      if (fault != mmsb::record_fault::none) {
        std::fprintf(stderr, " [%s at %zu]", mmsb::to_string(fault), off);
        break;
      }
      std::fprintf(stderr, " %u@%llu", static_cast<unsigned>(h.type), static_cast<unsigned long long>(h.epoch.value()));
      off += mmsb::record_header_bytes + h.payload_bytes;
    }
    std::fprintf(stderr, "\n");
  }
}

struct oracle {
  state now;                                         // every page, created ones included
  std::uint64_t epoch = 0;                           // the last commit
  std::uint64_t durable = 0;                         // the last epoch a crash cannot lose
  std::map<std::uint64_t, std::vector<state>> at{{0, {state{}}}};  // acceptable states at each epoch
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size < 1) return 0;
  reader in{data + 1, size - 1};
  const std::uint8_t opts = data[0];
  mmsb::store_options so;
  const bool per_commit = (opts & 1u) == 0;
  so.log.durability = per_commit ? mmsb::durability::per_commit : mmsb::durability::none;
  so.log.buffer_bytes = 4096;  // the default 256 KiB write buffer would dominate each run's time
  if (opts & 2u) so.log.segment_bytes = 512;
  if (opts & 4u) {
    so.log.compress = true;
    so.log.compress_min_bytes = 32;
  }

  mmsb::memory_file_system fs;
  fs.make_dir("/db");
  fs.sync_dir("/");  // the store's parent survives a crash
  const auto& shape = mmsb::fuzz::shape();
  auto s = std::make_unique<store>(fs, "/db/s", shape, so);
  oracle o;

  // Reopens after a clean close or a crash: the store must be at an epoch the oracle allows, in
  // one of the states the oracle recorded for that epoch. The oracle then continues from there.
  // lossy: a crash of a log that syncs nothing (durability none) may leave what recovery reports
  // as mid-log corruption although nothing acknowledged-durable is lost: bytes changed inside
  // unsynced data with whole records after them (crash_mode garble). Under per_commit nothing is
  // unsynced after a commit returns. Every check fails the input, under every durability.
  const auto reopen_check = [](bool ok, const char* what, const std::string& detail) {
    if (!ok) mmsb::fuzz::fail(what, detail);
  };
  const auto reopen = [&](bool strict, bool crashed, bool lossy) {
    s.reset();
    auto opts2 = so;
    if (strict) opts2.recovery = mmsb::recovery_mode::strict;
    try {
      s = std::make_unique<store>(fs, "/db/s", shape, opts2);
    } catch (const mmsb::error& e) {
      // strict refuses a torn tail a crash left; point_in_time must open whatever a crash left.
      reopen_check(strict && crashed, "reopen failed", e.what());
      try {
        s = std::make_unique<store>(fs, "/db/s", shape, so);
      } catch (const mmsb::error& e2) {
        s.reset();
        reopen_check(false, "point_in_time reopen after a crash failed", e2.what());
      }
    }
    const std::uint64_t e = s->current_epoch().value();
    reopen_check(e <= o.epoch && e >= o.durable, "reopened at an unexpected epoch",
                 std::to_string(e) + ", expected " + std::to_string(o.durable) + ".." + std::to_string(o.epoch));
    reopen_check(lossy || !s->recovery().damage || !s->recovery().damage->mid_log, "mid-log corruption on reopen",
                 s->recovery().describe());
    const state got = state_of(*s);
    const auto it = o.at.find(e);
    reopen_check(it != o.at.end(), "no oracle state at the reopened epoch", std::to_string(e));
    bool found = false;
    for (const auto& candidate : it->second) found = found || candidate == got;
    reopen_check(found, "reopened state differs from the oracle",
                 "epoch " + std::to_string(e) + ": store holds " + describe(got) + ", oracle " + describe(it->second.back()));
    o.now = got;
    o.epoch = e;
    o.durable = e;
    o.at.erase(o.at.upper_bound(e), o.at.end());
  };

  static const bool trace = std::getenv("MMSB_FUZZ_TRACE") != nullptr;  // prints each operation
  static const char* const names[] = {"create", "txn", "txn", "empty commit", "checkpoint", "reopen", "crash", "replay"};
  for (std::size_t op = 0; op < max_ops && !in.empty(); ++op) {
    const std::uint8_t code = in.byte();
    if (trace)
      std::fprintf(stderr, "op %zu: code %u (%s), epoch %llu, %zu pages\n", op, code,
                   names[code % 8],
                   static_cast<unsigned long long>(o.epoch), o.now.size());
    switch (code % 8) {
    case 0: {  // create a page
      const std::uint8_t b = in.byte();
      if (o.now.size() >= max_pages) break;
      const std::int64_t initial = (b & 1u) ? 0 : static_cast<std::int8_t>(b);
      const auto id = initial == 0 ? s->create_page() : s->create_page(initial);
      MMSB_FUZZ_CHECK(id.value() == o.now.size(), "create_page gave id " + std::to_string(id.value()));
      page_values v{};
      v.fill(initial);
      o.now.push_back(v);
      break;
    }
    case 1:
    case 2: {  // a transaction: page ids past the last page and slots past the extent included
      mmsb::transaction<sr, lay> tx;
      state next = o.now;
      bool bad_page = false;
      const std::size_t changes = 1 + in.byte() % 4;
      for (std::size_t k = 0; k < changes; ++k) {
        const std::uint32_t page = in.byte() % static_cast<std::uint32_t>(o.now.size() + 2);
        const std::size_t slot = in.byte() % (lay::extent + 2);
        const bool assign = (code & 8u) != 0 && (k % 2 == 0 || (code & 16u) != 0);
        const std::int64_t v = value_from(in);
        try {
          if (assign) tx.assign(mmsb::page_id{page}, slot, v);
          else tx.accumulate(mmsb::page_id{page}, slot, v);
        } catch (const mmsb::error&) {
          MMSB_FUZZ_CHECK(slot >= lay::extent, "a valid slot was refused");
          // The transaction keeps its other changes, and (bus/transaction.hpp, as of this
          // writing) an empty delta for this page too: the commit then names the page.
          if (page >= o.now.size()) bad_page = true;
          continue;
        }
        MMSB_FUZZ_CHECK(slot < lay::extent, "slot " + std::to_string(slot) + " was accepted");
        if (page >= o.now.size()) {
          bad_page = true;
          continue;
        }
        next[page][slot] = assign ? v : wrap_add(next[page][slot], v);
      }
      if (tx.empty()) break;
      const auto ds = tx.deltas();
      try {
        const auto e = s->commit(ds);
        MMSB_FUZZ_CHECK(!bad_page, "a commit naming a page that does not exist was accepted");
        MMSB_FUZZ_CHECK(e.value() == o.epoch + 1, "commit gave epoch " + std::to_string(e.value()));
        o.now = std::move(next);
        o.epoch = e.value();
        o.at[o.epoch] = {o.now};
        if (per_commit) o.durable = o.epoch;
      } catch (const mmsb::error& err) {
        MMSB_FUZZ_CHECK(bad_page, std::string("a valid commit was refused: ") + err.what());
      }
      break;
    }
    case 3: {  // an empty commit: makes the pages created since the last one durable
      const auto e = s->commit(mmsb::span<const store::delta_type>{});
      MMSB_FUZZ_CHECK(e.value() == o.epoch + 1, "commit gave epoch " + std::to_string(e.value()));
      o.epoch = e.value();
      o.at[o.epoch] = {o.now};
      if (per_commit) o.durable = o.epoch;
      break;
    }
    case 4: {  // checkpoint: the pages created since the last commit are in it too
      s->checkpoint();
      o.at[o.epoch].push_back(o.now);
      o.durable = o.epoch;
      break;
    }
    case 5: {  // clean close and reopen: nothing is lost but pages never committed nor checkpointed
      const std::uint64_t before = o.epoch;
      reopen((in.byte() & 1u) != 0, false, false);
      reopen_check(s->current_epoch().value() == before, "a clean reopen lost commits",
                   "at epoch " + std::to_string(s->current_epoch().value()) + " after closing at " + std::to_string(before));
      break;
    }
    case 6: {  // power loss in any crash mode, then reopen
      const std::uint8_t b = in.byte();
      const auto mode = static_cast<mmsb::crash_mode>(b % 5);
      fs.crash(mode, in.byte());
      if (trace) dump_log(fs, "/db/s/log");
      reopen((b & 8u) != 0, true, !per_commit);
      break;
    }
    case 7: {  // replay_to / snapshot_at any epoch, one past the end included
      const std::uint64_t e = in.byte() % (o.epoch + 2);
      const bool snap = (code & 8u) != 0;
      try {
        const auto h = snap ? mmsb::state_hash{} : s->replay_to(mmsb::epoch{e});
        std::optional<state> pages;
        if (snap) {
          state st;
          for (const auto& p : s->snapshot_at(mmsb::epoch{e}).pages) {
            page_values v{};
            for (std::size_t j = 0; j < lay::extent; ++j) v[j] = p.get(j);
            st.push_back(v);
          }
          pages = std::move(st);
        }
        MMSB_FUZZ_CHECK(e <= o.epoch, "replay past the end gave a state");
        const auto it = o.at.find(e);
        MMSB_FUZZ_CHECK(it != o.at.end(), "no oracle state at epoch " + std::to_string(e));
        bool found = false;
        for (const auto& candidate : it->second)
          found = found || (snap ? *pages == candidate : hash_of(candidate) == h);
        MMSB_FUZZ_CHECK(found, "replay to epoch " + std::to_string(e) + " differs from the oracle " +
                                 describe(it->second.back()) + (snap ? ", store: " + describe(*pages) : std::string()));
      } catch (const mmsb::error&) {
        // a past the retained files cannot rebuild (checkpoint truncation), or past the end
      }
      break;
    }
    default: break;
    }
    // After every operation: the live pages equal the oracle's.
    const state got = state_of(*s);
    MMSB_FUZZ_CHECK(got == o.now, "after op " + std::to_string(op) + " (code " + std::to_string(code) + "): store " +
                                    describe(got) + ", oracle " + describe(o.now));
    MMSB_FUZZ_CHECK(s->current_epoch().value() == o.epoch);
  }
  return 0;
}
