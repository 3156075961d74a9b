// Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/): real log segments and
// checkpoints written by durable_store and log_writer over a memory_file_system, and encoded
// deltas and commit payloads, each in the input format its target reads (fuzz_common.hpp and the
// comment at the top of each target). Deterministic: the same files every run.
//   fuzz_make_corpus OUT_DIR        (OUT_DIR/<target>/ must exist)
#include "fuzz_common.hpp"

#include <mmsb/bus/transaction.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/soa.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {
using sr = mmsb::plus_times<std::int64_t>;
using lay = mmsb::dense<std::int64_t, 8>;
using store = mmsb::durable_store<sr, lay>;
std::string out_dir;

void put(const std::string& target, const std::string& name, std::uint8_t opts, const std::string& body)
{
  const std::string path = out_dir + "/" + target + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::fputc(opts, f);
  std::fwrite(body.data(), 1, body.size(), f);
  std::fclose(f);
}

std::string str(const std::vector<std::byte>& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

// The files of one directory, by name.
std::vector<std::string> files_of(mmsb::memory_file_system& fs, const std::string& dir, const char* suffix)
{
  auto names = fs.list(dir);
  std::sort(names.begin(), names.end());
  const std::string tail = suffix;
  std::vector<std::string> out;
  for (const auto& n : names)
    if (n.size() > tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0)
      out.push_back(fs.contents(dir + "/" + n));
  return out;
}

void commit_some(store& s, int k, int pages)
{
  mmsb::transaction<sr, lay> tx;
  for (int p = 0; p < pages; ++p) {
    tx.accumulate(mmsb::page_id{static_cast<std::uint32_t>(p)}, static_cast<std::size_t>((k + p) % 8), k + p);
    if ((k + p) % 3 == 0) tx.assign(mmsb::page_id{static_cast<std::uint32_t>(p)}, static_cast<std::size_t>(k % 8), -k);
  }
  (void)s.commit(tx.deltas());
}

void log_seeds()
{
  struct variant {
    const char* name;
    bool small_segments, compress;
    int commits;
  };
  for (const variant v : {variant{"one-segment", false, false, 5}, variant{"rolled-segments", true, false, 12},
                          variant{"compressed", false, true, 4}}) {
    mmsb::memory_file_system fs;
    fs.make_dir("/db");
    mmsb::store_options so;
    if (v.small_segments) so.log.segment_bytes = 700;
    if (v.compress) {
      so.log.compress = true;
      so.log.compress_min_bytes = 32;
    }
    {
      store s(fs, "/db/s", mmsb::fuzz::shape(), so);
      for (int p = 0; p < 3; ++p) (void)s.create_page(p == 1 ? std::int64_t{5} : std::int64_t{0});
      for (int k = 0; k < v.commits; ++k) commit_some(s, k, 3);
    }
    auto segs = files_of(fs, "/db/s/log", ".seg");
    if (segs.size() > 4) segs.erase(segs.begin() + 1, segs.end() - 3);  // the target takes 4 files at most
    put("fuzz_log_reader", v.name, 0, mmsb::fuzz::join_files(segs));
    put("fuzz_log_reader", std::string(v.name) + "-resealed", 8, mmsb::fuzz::join_files(segs));
    // A torn tail: the last record cut short.
    auto torn = segs;
    torn.back().resize(torn.back().size() - 9);
    put("fuzz_log_reader", std::string(v.name) + "-torn", 0, mmsb::fuzz::join_files(torn));
  }
  // A log that recovery resumed after a torn tail: the second session's segment records it.
  {
    mmsb::memory_file_system fs;
    fs.make_dir("/db");
    {
      store s(fs, "/db/s", mmsb::fuzz::shape());
      (void)s.create_page();
      for (int k = 0; k < 3; ++k) commit_some(s, k, 1);
    }
    auto segs = files_of(fs, "/db/s/log", ".seg");
    std::string seg0 = segs.front();
    seg0.resize(seg0.size() - 5);
    fs.set_contents("/db/s/log/" + mmsb::segment_name(0), seg0);
    {
      store s(fs, "/db/s", mmsb::fuzz::shape());
      for (int k = 0; k < 2; ++k) commit_some(s, 10 + k, 1);
      s.checkpoint();  // a checkpoint record in the log, and the segments before it removed
      commit_some(s, 20, 1);
    }
    put("fuzz_log_reader", "resumed-after-torn-tail", 0, mmsb::fuzz::join_files(files_of(fs, "/db/s/log", ".seg")));
  }
  put("fuzz_log_reader", "empty-segment", 0, "");
  {  // a log of another bus
    mmsb::memory_file_system fs;
    fs.make_dir("/db");
    {
      mmsb::log_writer w(fs, "/db/log", mmsb::span<const std::byte>(mmsb::fuzz::shape()).first(4));
      std::vector<std::byte> payload;
      mmsb::detail::begin_commit_payload(payload, 0);
      w.append(mmsb::record_type::commit, mmsb::epoch{1}, mmsb::txn_id{1}, payload);
    }
    put("fuzz_log_reader", "foreign-shape", 0, mmsb::fuzz::join_files(files_of(fs, "/db/log", ".seg")));
  }
}

void checkpoint_seeds()
{
  // Checkpoints at epochs 2 and 4 (the target names file i epoch first + step * i: opts first=2,
  // step=2), with a structure record in the second.
  mmsb::memory_file_system fs;
  fs.make_dir("/db");
  std::vector<std::string> files;
  {
    store s(fs, "/db/s", mmsb::fuzz::shape());
    for (int p = 0; p < 3; ++p) (void)s.create_page();
    commit_some(s, 0, 3);
    commit_some(s, 1, 3);
    s.checkpoint();
    files.push_back(fs.contents("/db/s/checkpoints/" + mmsb::checkpoint_name(mmsb::epoch{2})));
    (void)s.create_page(std::int64_t{-7});
    commit_some(s, 2, 4);
    commit_some(s, 3, 4);
    const std::string topology = "edges: 0->3";
    s.checkpoint(mmsb::span<const std::byte>(reinterpret_cast<const std::byte*>(topology.data()), topology.size()));
    files.push_back(fs.contents("/db/s/checkpoints/" + mmsb::checkpoint_name(mmsb::epoch{4})));
  }
  const std::uint8_t two_four = (2u << 5) | 1u;  // first 2, step 2
  put("fuzz_checkpoint", "two-checkpoints", two_four, mmsb::fuzz::join_files(files));
  put("fuzz_checkpoint", "two-checkpoints-resealed", two_four | 4u, mmsb::fuzz::join_files(files));
  put("fuzz_checkpoint", "two-checkpoints-at-most-middle", two_four | (1u << 3), mmsb::fuzz::join_files(files));
  put("fuzz_checkpoint", "one-checkpoint", 2u << 5, files.front());
  auto damaged = files;
  damaged.back()[damaged.back().size() / 2] ^= '\x10';
  put("fuzz_checkpoint", "newest-damaged", two_four, mmsb::fuzz::join_files(damaged));
  // Empty state: a checkpoint of no pages, at epoch 0.
  mmsb::memory_file_system fs2;
  fs2.make_dir("/db");
  mmsb::write_checkpoint<lay>(fs2, "/db/c", mmsb::fuzz::shape(), mmsb::epoch{0}, std::vector<mmsb::page<lay>>{});
  put("fuzz_checkpoint", "no-pages", 0, fs2.contents("/db/c/" + mmsb::checkpoint_name(mmsb::epoch{0})));
}

template <class S, class L>
void codec_seeds(std::uint8_t which, const char* name)
{
  using T = typename L::value_type;
  const auto value = [](std::size_t i) {
    if constexpr (std::is_same_v<T, bool>) return i % 2 == 0;
    else return static_cast<T>(i * 3 + 1);
  };
  std::vector<mmsb::delta<S, L>> ds;
  {  // sparse, all accumulate
    mmsb::sparse_delta<S, L> d(mmsb::page_id{3});
    d.push_back(1, mmsb::delta_op::accumulate, value(1));
    d.push_back(L::extent - 1, mmsb::delta_op::accumulate, value(2));
    ds.emplace_back(d);
  }
  {  // sparse, mixed
    mmsb::sparse_delta<S, L> d(mmsb::page_id{0});
    d.push_back(0, mmsb::delta_op::assign, value(4));
    d.push_back(2, mmsb::delta_op::accumulate, value(5));
    d.push_back(5, mmsb::delta_op::assign, value(6));
    ds.emplace_back(d);
  }
  {  // sparse, all assign
    mmsb::sparse_delta<S, L> d(mmsb::page_id{9});
    d.push_back(4, mmsb::delta_op::assign, value(7));
    ds.emplace_back(d);
  }
  {  // dense: most slots changed
    mmsb::dense_delta<S, L> d(mmsb::page_id{1});
    for (std::size_t i = 0; i < L::extent; ++i)
      if (i % 5 != 4) d.put(i, i % 3 == 0 ? mmsb::delta_op::assign : mmsb::delta_op::accumulate, value(i));
    ds.emplace_back(d);
  }
  ds.emplace_back(mmsb::sparse_delta<S, L>(mmsb::page_id{2}));  // empty
  const char* forms[] = {"sparse-accumulate", "sparse-mixed", "sparse-assign", "dense", "empty"};
  for (std::size_t i = 0; i < ds.size(); ++i)
    put("fuzz_codec", std::string(name) + "-" + forms[i], which, str(mmsb::encode(ds[i])));
  std::vector<std::byte> payload;
  mmsb::detail::begin_commit_payload(payload, ds.size());
  for (const auto& d : ds) mmsb::detail::append_commit_delta(payload, d);
  put("fuzz_codec", std::string(name) + "-commit", which | 8u, str(payload));
  const std::string topology = "structure";
  mmsb::detail::append_commit_structure(
    payload, mmsb::span<const std::byte>(reinterpret_cast<const std::byte*>(topology.data()), topology.size()));
  put("fuzz_codec", std::string(name) + "-commit-structure", which | 8u, str(payload));
}

void codec_v1_seed()
{
  // Version 1's sparse body: count x (u32 slot | u8 op | value), for plus_times<i64>, dense<i64, 8>.
  std::vector<std::byte> b(16);
  b[0] = std::byte{1};
  b[1] = static_cast<std::byte>(lay::kind);
  b[2] = std::byte{2};
  b[3] = std::byte{8};
  mmsb::detail::store_le(b.data() + 4, lay::extent, 4);
  mmsb::detail::store_le(b.data() + 8, 5, 4);
  mmsb::detail::store_le(b.data() + 12, 2, 4);
  for (std::uint32_t slot : {2u, 6u}) {
    std::byte e[13];
    mmsb::detail::store_le(e, slot, 4);
    e[4] = std::byte{static_cast<unsigned char>(slot == 6 ? 1 : 0)};
    mmsb::detail::store_le(e + 5, 100 + slot, 8);
    b.insert(b.end(), e, e + 13);
  }
  put("fuzz_codec", "v1-sparse", 0, str(b));
}

void store_ops_seeds()
{
  // Operations (fuzz_store_ops.cpp): 0 create, 1/2 transaction, 3 empty commit, 4 checkpoint,
  // 5 reopen, 6 crash, 7 replay_to (code | 8: snapshot_at).
  const std::vector<unsigned char> basic = {
    0, 0,  0, 2,                              // two pages (zero, then 2)
    1, 1, 0, 3, 5,  1, 2, 1, 7, 0xff,         // accumulate 5; two changes, one wrapping
    9, 1, 1, 2, 9,                            // assign 9 to page 1 slot 2
    4,                                        // checkpoint
    0, 7,                                     // a page never committed
    1, 0, 0, 1, 1,  5, 0,                     // commit; reopen
    1, 0, 5, 0, 1,                            // a page that does not exist
    1, 0, 0, 9, 1,                            // a slot past the extent
    7, 1,  15, 2,  7, 9,                      // replay_to 1, snapshot_at 2, replay past the end
    6, 4, 17,  3,  5, 1,                      // crash (random), empty commit, strict reopen
  };
  put("fuzz_store_ops", "basic", 0, std::string(basic.begin(), basic.end()));
  put("fuzz_store_ops", "basic-none-small-compressed", 7, std::string(basic.begin(), basic.end()));
  std::vector<unsigned char> many = {0, 0, 0, 1, 0, 0};
  for (int k = 0; k < 20; ++k) {
    many.insert(many.end(), {9, 2, static_cast<unsigned char>(k % 3), static_cast<unsigned char>(k % 8), 3,
                             static_cast<unsigned char>(k % 2), static_cast<unsigned char>(k), 0xfe});
    if (k % 7 == 6) many.push_back(4);
    if (k % 9 == 8) many.insert(many.end(), {6, static_cast<unsigned char>(k), static_cast<unsigned char>(k * 5)});
  }
  many.insert(many.end(), {7, 3, 7, 15, 15, 20});
  put("fuzz_store_ops", "many-commits-checkpoints-crashes", 2, std::string(many.begin(), many.end()));
  put("fuzz_store_ops", "many-none", 3, std::string(many.begin(), many.end()));
}
} // namespace

int main(int argc, char** argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR  (OUT_DIR/<target>/ must exist)\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  log_seeds();
  checkpoint_seeds();
  codec_seeds<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 8>>(0, "i64x8");
  codec_seeds<mmsb::min_plus<float>, mmsb::dense<float, 70>>(1, "f32x70");
  codec_seeds<mmsb::or_and, mmsb::bits<100>>(2, "bits100");
  codec_seeds<mmsb::or_and, mmsb::dense<bool, 130>>(3, "boolx130");
  codec_seeds<mmsb::max_plus<double>, mmsb::soa<10, double, double>>(4, "soa10");
  codec_v1_seed();
  store_ops_seeds();
  return 0;
}
