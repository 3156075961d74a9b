// The instruction-count gate's program (scripts/icount-gate, docs/observability.md): the
// single-threaded hot paths, each in one extern "C" noinline function that callgrind counts
// exactly (valgrind --tool=callgrind --toggle-collect=mmsb_icount_<path>), on fixed inputs.
//
//   icount PATH      runs the set-up, then mmsb_icount_<PATH> once; PATH is one of
//     apply          1024 applications: a dense 64-slot delta and a sparse 4-slot one, alternately,
//                    to pages of 256 doubles (plus_times)
//     merge          sealing a batch of 4096 changes over 64 pages and merging one delta per page
//     encode         encoding 1024 deltas (half dense, half sparse) for the log
//     propagate      one hop: a change to a source page noted, then propagate() through one matrix
//                    edge (256 x 256, 2 entries a row) into its derived page, 256 times
//     tick           serial bus ticks (in-memory log, durability none): 64 ticks of 256 changes each
//                    (each tick's changes pushed outside the counted region)
//   icount --list    prints the paths
// Exit 2 for an unknown path. The functions print a checksum so nothing is optimized away.
#include <mmsb/bus.hpp>
#include <mmsb/delta/batch.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/fill.hpp>
#include <mmsb/graph/page_graph.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {
using S = mmsb::plus_times<double>;
using L = mmsb::dense<double, 256>;
using delta_t = mmsb::delta<S, L>;

// Deterministic inputs: a small LCG.
struct lcg {
  std::uint64_t x = 2026;
  std::uint32_t next() { return static_cast<std::uint32_t>((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33); }
};

delta_t dense_delta_at(std::uint32_t page, lcg& r)
{
  mmsb::dense_delta<S, L> d(mmsb::page_id{page});
  for (int k = 0; k < 64; ++k) d.accumulate(r.next() % L::extent, static_cast<double>(r.next() % 17) - 8);
  return d;
}
delta_t sparse_delta_at(std::uint32_t page, lcg& r)
{
  mmsb::sparse_delta<S, L> d(mmsb::page_id{page});
  const std::uint32_t base = r.next() % (L::extent - 4);
  for (std::uint32_t k = 0; k < 4; ++k) d.push_back(base + k, mmsb::delta_op::accumulate, static_cast<double>(r.next() % 17) - 8);
  return d;
}

double checksum = 0;
} // namespace

extern "C" {

__attribute__((noinline)) void mmsb_icount_apply(std::vector<mmsb::page<L>>& pages, const std::vector<delta_t>& ds)
{
  for (std::size_t i = 0; i < ds.size(); ++i) mmsb::apply(pages[i % pages.size()], ds[i]);
}

__attribute__((noinline)) void mmsb_icount_merge(mmsb::delta_batch<S, L>& b, std::vector<delta_t>& out)
{
  b.seal();
  for (std::size_t k = 0; k < b.pages().size(); ++k) b.merge_partition_into(k, out[k]);
}

__attribute__((noinline)) std::size_t mmsb_icount_encode(const std::vector<delta_t>& ds, std::vector<std::byte>& out)
{
  std::size_t n = 0;
  for (const auto& d : ds) n += mmsb::encode(d, out);
  return n;
}

__attribute__((noinline)) void mmsb_icount_propagate(mmsb::page_graph<S, L>& g, const std::vector<delta_t>& ds)
{
  for (const auto& d : ds) {
    g.apply(d);
    (void)g.propagate();
  }
}

__attribute__((noinline)) void mmsb_icount_tick(mmsb::basic_bus<S, L>& bus, std::size_t ticks)
{
  for (std::size_t t = 0; t < ticks; ++t) (void)bus.tick();
}

} // extern "C"

int main(int argc, char** argv)
{
  const char* paths[] = {"apply", "merge", "encode", "propagate", "tick"};
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const char* p : paths) std::printf("%s\n", p);
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: icount PATH | --list\n");
    return 2;
  }
  const std::string path = argv[1];
  lcg r;
  if (path == "apply") {
    std::vector<mmsb::page<L>> pages;
    for (std::uint32_t i = 0; i < 16; ++i) mmsb::fill_zero<S>(pages.emplace_back(mmsb::page_id{i}));
    std::vector<delta_t> ds;
    for (std::uint32_t i = 0; i < 1024; ++i) ds.push_back(i % 2 ? sparse_delta_at(i % 16, r) : dense_delta_at(i % 16, r));
    mmsb_icount_apply(pages, ds);
    for (const auto& p : pages) checksum += p.get(7);
  } else if (path == "merge") {
    mmsb::delta_batch<S, L> b;
    b.reserve(4096);
    for (std::uint64_t i = 0; i < 4096; ++i)
      b.push(mmsb::page_id{r.next() % 64}, r.next() % L::extent, i % 16 ? mmsb::delta_op::accumulate : mmsb::delta_op::assign,
             static_cast<double>(r.next() % 17), mmsb::order_key{mmsb::epoch{1}, mmsb::producer_id{0}, mmsb::sequence_no{i}});
    std::vector<delta_t> out(64);
    mmsb_icount_merge(b, out);
    for (const auto& d : out) checksum += static_cast<double>(d.count());
  } else if (path == "encode") {
    std::vector<delta_t> ds;
    for (std::uint32_t i = 0; i < 1024; ++i) ds.push_back(i % 2 ? sparse_delta_at(i, r) : dense_delta_at(i, r));
    std::vector<std::byte> out;
    out.reserve(std::size_t{1} << 22);
    checksum += static_cast<double>(mmsb_icount_encode(ds, out));
  } else if (path == "propagate") {
    mmsb::page_table<L> table;
    mmsb::page_graph<S, L> g(table);
    const auto src = table.create(), dst = table.create();
    std::vector<mmsb::matrix_entry<double>> es;
    for (std::uint32_t row = 0; row < L::extent; ++row) {
      es.push_back({row, row, 1.0});
      es.push_back({row, static_cast<std::uint32_t>((row * 7 + 3) % L::extent), 0.5});
    }
    (void)g.add_matrix_edge(src, dst, mmsb::csr_matrix<double>::from_entries(L::extent, L::extent, {es.data(), es.size()}));
    (void)g.propagate();
    std::vector<delta_t> ds;
    for (int i = 0; i < 256; ++i) ds.push_back(sparse_delta_at(src.value(), r));
    mmsb_icount_propagate(g, ds);
    checksum += g.value(dst).get(3);
  } else if (path == "tick") {
    mmsb::bus_options o;
    o.store.log.durability = mmsb::durability::none;
    mmsb::basic_bus<S, L> bus(o);
    for (int i = 0; i < 64; ++i) (void)bus.create_page();
    auto w = bus.make_producer(1 << 10);
    for (int t = 0; t < 64; ++t) {  // the pushes are outside the counted region; the 64 calls add up
      for (int k = 0; k < 256; ++k) w.accumulate(mmsb::page_id{r.next() % 64}, r.next() % L::extent, static_cast<double>(r.next() % 9));
      mmsb_icount_tick(bus, 1);
    }
    checksum += bus.value(mmsb::page_id{5}).get(5);
  } else {
    std::fprintf(stderr, "icount: unknown path '%s' (icount --list)\n", path.c_str());
    return 2;
  }
  std::printf("%s checksum %.17g\n", path.c_str(), checksum);
  return 0;
}
