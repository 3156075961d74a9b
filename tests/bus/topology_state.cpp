// Topology is state: a seeded random run interleaves producer deltas, transactions and topology
// edits (matrix and kernel edges added, removed and reweighted, a fixed-point region, refused
// edits), then checks that
//   - hash_at(e), the audit (pages and topology rebuilt from the files, values recomputed),
//     equals the live hash at every epoch, replayed from genesis, and, with checkpoints, from
//     every checkpoint (each interval is audited just before the next checkpoint truncates it);
//   - a bus reopened on the store has the live state, topology (same edge ids) and provenance.
#include <mmsb/bus.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace mmsb;

namespace {

template <class S>
struct run {
  using L = dense<std::int64_t, 8>;
  using B = basic_bus<S, L>;
  using matrix = csr_matrix<std::int64_t>;
  static constexpr bool regions = idempotent_add_v<S>;

  static typename B::kernel_table kernels()
  {
    typename B::kernel_table k;
    k["shift"] = [](span<const page<L>* const> in, page<L>& out) {
      for (std::size_t i = 0; i < 8; ++i) out.set(i, in[0]->get((i + 1) % 8));
    };
    k["pick"] = [](span<const page<L>* const> in, page<L>& out) {
      for (std::size_t i = 0; i < 8; ++i) out.set(i, in[i % in.size()]->get(i));
    };
    return k;
  }

  static matrix random_matrix(std::mt19937_64& rng)
  {
    std::vector<matrix_entry<std::int64_t>> e;
    std::uint64_t used = 0;  // one bit per (row, col): an entry appears once
    const auto n = 1 + rng() % 10;
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto row = static_cast<std::uint32_t>(rng() % 8);
      const auto col = static_cast<std::uint32_t>(rng() % 8);
      const auto w = static_cast<std::int64_t>(rng() % 5);
      if (used >> (row * 8 + col) & 1) continue;
      used |= std::uint64_t{1} << (row * 8 + col);
      e.push_back({row, col, w});
    }
    return matrix::from_entries(8, 8, {e.data(), e.size()});
  }

  // One random run; checkpoint_every 0: none. Returns nothing; CHECKs as it goes.
  static void go(std::uint64_t seed, std::uint32_t checkpoint_every)
  {
    INFO("seed " << seed << ", checkpoint every " << checkpoint_every << " steps");
    std::mt19937_64 rng(seed);
    memory_file_system fs;
    bus_options o;
    o.fs = &fs;
    o.dir = "/topo";
    std::map<std::uint64_t, std::uint64_t> live;  // epoch -> hash after it
    std::vector<page_id> pages;
    provenance_result prov_before;
    page_id prov_page{};
    std::uint64_t last_ckpt = 0;
    std::size_t refused = 0, edits = 0;
    {
      B b(o, kernels());
      for (int i = 0; i < 10; ++i) pages.push_back(b.create_page());
      if constexpr (regions) {
        const std::array<page_id, 3> members{pages[0], pages[1], pages[2]};
        (void)b.add_fixed_point_region({members.data(), members.size()}, 64);
        (void)b.add_matrix_edge(pages[0], pages[1], random_matrix(rng));
        (void)b.add_matrix_edge(pages[1], pages[2], random_matrix(rng));
        (void)b.add_matrix_edge(pages[2], pages[0], random_matrix(rng));
      }
      auto w = b.make_producer(1024);
      const auto record = [&] {  // the state an epoch stands for (pages created since are not in it)
        const auto report = b.verify();
        for (const auto& p : report.problems) UNSCOPED_INFO(p);
        REQUIRE(report.ok());
        if (!live.count(b.current_epoch().value())) live[b.current_epoch().value()] = b.hash().value;
      };
      const auto any_page = [&] { return pages[rng() % pages.size()]; };
      const auto live_edge = [&](edge_kind kind, edge_id& out) {
        const auto& t = b.graph().topology();
        std::vector<std::uint32_t> ids;
        for (std::uint32_t e = 0; e < t.transfer_count(); ++e)
          if (t.at(e).live && t.at(e).kind == kind) ids.push_back(e);
        if (ids.empty()) return false;
        out = edge_id{ids[rng() % ids.size()]};
        return true;
      };
      for (int step = 0; step < 120; ++step) {
        const auto what = rng() % 10;
        try {
          if (what <= 2) {  // producer deltas, then a tick
            for (int k = 0; k < 4; ++k) {
              const page_id p = any_page();
              const auto slot = static_cast<std::size_t>(rng() % 8);
              const auto v = static_cast<std::int64_t>(rng() % 20);
              if (rng() % 3 == 0) w.assign(p, slot, v);
              else w.accumulate(p, slot, v);
            }
          } else if (what == 3) {  // a transaction
            auto tx = b.begin();
            const page_id p = any_page();
            const auto slot = static_cast<std::size_t>(rng() % 8);
            const auto v = static_cast<std::int64_t>(rng() % 20);
            tx.accumulate(p, slot, v);
            (void)b.commit(tx);
            record();
            continue;
          } else if (what == 4) {
            const page_id src = any_page();
            const page_id dst = any_page();
            ++edits;
            (void)b.add_matrix_edge(src, dst, random_matrix(rng));
          } else if (what == 5) {
            edge_id e;
            if (live_edge(edge_kind::matrix, e)) {
              ++edits;
              b.set_weights(e, random_matrix(rng));
            }
          } else if (what == 6) {
            edge_id e;
            if (live_edge(rng() % 2 ? edge_kind::matrix : edge_kind::kernel, e)) {
              ++edits;
              b.remove_edge(e);
            }
          } else if (what == 7) {
            const std::array<page_id, 2> srcs{any_page(), any_page()};
            const page_id dst = any_page();
            ++edits;
            (void)b.add_kernel_edge({srcs.data(), rng() % 2 ? std::size_t{1} : std::size_t{2}}, dst, rng() % 2 ? "shift" : "pick");
          } else if (what == 8) {
            pages.push_back(b.create_page());
          } else if constexpr (regions) {  // a region made after edges (maybe removed ones) exist
            const std::array<page_id, 2> members{any_page(), any_page()};
            ++edits;
            (void)b.add_fixed_point_region({members.data(), members.size()}, 64);
          }
        } catch (const error& e) {
          ++refused;  // a cycle, a kernel into a derived page, ...: nothing changed, nothing logged
        }
        if (checkpoint_every != 0 && step % static_cast<int>(checkpoint_every) == 0) {
          // Audit the interval since the last checkpoint (its log is about to go), then checkpoint.
          for (auto it = live.lower_bound(std::max<std::uint64_t>(1, last_ckpt)); it != live.end(); ++it) {
            INFO("epoch " << it->first << " (replayed from the checkpoint at " << last_ckpt << ")");
            CHECK(b.hash_at(epoch{it->first}).value == it->second);
          }
          b.checkpoint();
          record();
          last_ckpt = b.current_epoch().value();
          continue;
        }
        (void)b.tick();
        record();
      }
      CHECK(edits > 20);
      // The audit of every epoch still retained.
      for (auto it = live.lower_bound(last_ckpt == 0 ? 1 : last_ckpt); it != live.end(); ++it) {
        INFO("epoch " << it->first);
        CHECK(b.hash_at(epoch{it->first}).value == it->second);
      }
      prov_page = pages[3];
      prov_before = b.provenance(prov_page);
      (void)refused;
    }
    // Reopened: pages, topology and values as they were, edge ids included.
    B reopened(o, kernels());
    CHECK(reopened.hash().value == live.rbegin()->second);
    CHECK(reopened.verify().ok());
    const auto prov_after = reopened.provenance(prov_page);
    REQUIRE(prov_after.ancestors.size() == prov_before.ancestors.size());
    for (std::size_t k = 0; k < prov_after.ancestors.size(); ++k) {
      CHECK(prov_after.ancestors[k].page == prov_before.ancestors[k].page);
      CHECK(prov_after.ancestors[k].depth == prov_before.ancestors[k].depth);
      CHECK(prov_after.ancestors[k].last_epoch == prov_before.ancestors[k].last_epoch);
    }
    // It goes on from there: an edit and a tick on the reopened bus, then reopened again.
    auto tx = reopened.begin();
    tx.accumulate(pages[0], 0, 1);
    (void)reopened.commit(tx);
    const auto after = reopened.hash();
    CHECK(reopened.hash_at(reopened.current_epoch()) == after);
  }
};

} // namespace

TEST_CASE("topology state: random edits replay to the live hash at every epoch, from genesis", "[bus][topology]")
{
  for (const std::uint64_t seed : {test::seed(), test::seed() + 1}) {
    run<plus_times<std::int64_t>>::go(seed, 0);
    run<min_plus<std::int64_t>>::go(seed, 0);
  }
}

TEST_CASE("topology state: with checkpoints, from every checkpoint, and reopened", "[bus][topology]")
{
  for (const std::uint64_t seed : {test::seed() + 7, test::seed() + 8}) {
    run<plus_times<std::int64_t>>::go(seed, 9);
    run<min_plus<std::int64_t>>::go(seed, 7);
  }
}

TEST_CASE("topology state: a kernel edge logged by name needs its function when reopened", "[bus][topology]")
{
  using L = dense<std::int64_t, 8>;
  using B = basic_bus<plus_times<std::int64_t>, L>;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/k";
  const auto copy = [](span<const page<L>* const> in, page<L>& out) { out.storage() = in[0]->storage(); };
  {
    B b(o);
    const page_id a = b.create_page(), c = b.create_page(), d = b.create_page();
    const std::array<page_id, 1> src{a};
    (void)b.add_kernel_edge({src.data(), 1}, c, copy, "copy");
    CHECK_THROWS_WITH(b.add_kernel_edge({src.data(), 1}, d, copy, "copy"), Catch::Contains("already names a kernel"));
    (void)b.add_kernel_edge({src.data(), 1}, d, "copy");  // the registered one, by name
    CHECK_THROWS_WITH(b.add_kernel_edge({src.data(), 1}, d, "nope"), Catch::Contains("no kernel of that name"));
    auto tx = b.begin();
    tx.assign(a, 2, 5);
    (void)b.commit(tx);
    CHECK(b.value(d).get(2) == 5);
  }
  CHECK_THROWS_WITH((void)B(o), Catch::Contains("kernel edge 'copy' into page 1") && Catch::Contains("no kernel of that name"));
  B::kernel_table k;
  k["copy"] = copy;
  B reopened(o, k);
  CHECK(reopened.value(page_id{2}).get(2) == 5);
  CHECK(reopened.graph().topology().transfer_count() == 2);
}

TEST_CASE("topology state: a region made after an edge was removed survives a checkpoint", "[bus][topology]")
{
  // Re-adding the removed a -> b on replay would close b -> c -> (region a, c) -> a: refused.
  // Checkpoints only reserve a removed edge's id.
  using S = min_plus<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  using B = basic_bus<S, L>;
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/r";
  std::vector<matrix_entry<std::int64_t>> e{{0, 0, 1}, {3, 3, 2}};
  const auto m = csr_matrix<std::int64_t>::from_entries(8, 8, {e.data(), e.size()});
  state_hash live{};
  edge_id after{};
  {
    B b(o);
    const page_id a = b.create_page(), bb = b.create_page(), c = b.create_page();
    (void)b.add_matrix_edge(bb, c, m);
    const edge_id ab = b.add_matrix_edge(a, bb, m);
    b.remove_edge(ab);
    const std::array<page_id, 2> region{a, c};
    (void)b.add_fixed_point_region({region.data(), region.size()});
    after = b.add_matrix_edge(c, a, m);
    auto tx = b.begin();
    tx.assign(bb, 0, 4);
    (void)b.commit(tx);
    b.checkpoint();
    live = b.hash();
    CHECK(b.hash_at(b.current_epoch()) == live);
    CHECK(b.hash_at(epoch{0}) == B().hash());  // genesis: nothing committed
  }
  B reopened(o);
  CHECK(reopened.hash() == live);
  CHECK(reopened.graph().topology().transfer_count() == 3);
  CHECK_FALSE(reopened.graph().topology().at(1).live);
  CHECK(reopened.graph().topology().at(after.value()).live);
  reopened.set_weights(after, m);  // later ids still name the same edges
  (void)reopened.tick();
  CHECK(reopened.verify().ok());
}

TEST_CASE("topology state: malformed topology bytes are corruption, never a crash", "[bus][topology]")
{
  struct ignore {
    void matrix_edge(std::uint32_t, std::uint32_t, std::shared_ptr<const csr_matrix<std::int64_t>>, span<const word_t>) {}
    void kernel_edge(span<const page_id>, std::uint32_t, std::string) {}
    void remove_edge(std::uint32_t) {}
    void removed_edge() {}
    void set_weights(std::uint32_t, std::shared_ptr<const csr_matrix<std::int64_t>>) {}
    void region(span<const page_id>, std::uint32_t) {}
    void set_rows(std::uint32_t, span<const std::uint32_t>, span<const matrix_entry<std::int64_t>>) {}
  };
  detail::topology_writer<std::int64_t> w;
  std::vector<matrix_entry<std::int64_t>> e{{0, 1, 7}};
  const auto m = std::make_shared<const csr_matrix<std::int64_t>>(csr_matrix<std::int64_t>::from_entries(8, 8, {e.data(), e.size()}));
  w.matrix_edge(0, 1, *m, {}, m);
  const std::array<page_id, 2> members{page_id{2}, page_id{3}};
  w.region({members.data(), members.size()}, 9);
  w.removed_edge();
  w.removed_edge();
  const std::array<std::uint32_t, 2> rows{0, 5};
  w.set_rows(0, *m, {rows.data(), rows.size()});
  const std::vector<std::byte> good(w.bytes().begin(), w.bytes().end());
  CHECK_NOTHROW(detail::read_topology<std::int64_t>({good.data(), good.size()}, 8, "t", ignore{}));
  // Every truncation, and every single-byte change, either reads or throws mmsb::error.
  for (std::size_t n = 1; n < good.size(); ++n) {
    INFO("truncated to " << n);
    try {
      detail::read_topology<std::int64_t>({good.data(), n}, 8, "t", ignore{});
    } catch (const error& err) {
      CHECK(std::string(err.what()).find("topology record") != std::string::npos);
    }
  }
  for (std::size_t k = 0; k < good.size(); ++k)
    for (const std::uint8_t flip : {0x01, 0x80, 0xff}) {
      auto bad = good;
      bad[k] ^= std::byte{flip};
      try {
        detail::read_topology<std::int64_t>({bad.data(), bad.size()}, 8, "t", ignore{});
      } catch (const error&) {
      }
    }
  // A huge matrix shape is refused before anything is allocated.
  auto huge = good;
  for (std::size_t k = 5; k < 13; ++k) huge[k] = std::byte{0xff};  // rows and cols of the first matrix
  CHECK_THROWS_WITH(detail::read_topology<std::int64_t>({huge.data(), huge.size()}, 8, "store /x", ignore{}),
                    Catch::Contains("store /x") && Catch::Contains("pages hold 8 slots"));
}
