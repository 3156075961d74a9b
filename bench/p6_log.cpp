// P6 log (BENCHMARKS.md): appending deltas to the transaction log, replaying it, and writing a
// checkpoint, MMSB against RocksDB's WAL, LMDB and the physical limits (raw buffered write(),
// raw pread, STREAM copy).
//
//   P6/append_<nosync|group|sync>/<64B|4KiB>/<mmsb|rocksdb|lmdb|raw_write>
//   P6/replay/64B/<mmsb|raw_read|stream_copy>
//   P6/checkpoint/4KiB_pages/<mmsb|raw_write>
//
// Append: one benchmark iteration appends one record of a 64 B (or 4 KiB) payload, so every time
// is per record, with a fixed iteration count (the record count below). Every contender writes
// the same payload bytes and finishes its last batch inside the timed loop:
//   mmsb       log_writer on posix_file_system, one commit record per payload (40 B frame + payload)
//   rocksdb    a DB (WAL on, disableWAL=false), WriteBatch of 1000 puts of key u64 / value payload
//   lmdb       one write transaction per 1000 MDB_APPEND puts of key u64 / value payload
//   raw_write  the same framed bytes as mmsb (40 B header + payload, prebuilt), copied into a
//              256 KiB buffer and write()n a chunk at a time: the physical limit
// Durability per workload:
//   nosync     mmsb durability::none; RocksDB sync=false; LMDB MDB_NOSYNC; raw: no fdatasync
//   group      a sync every 1000 records: mmsb durability::group with group_records=1000 (and
//              group_interval 1 h, so only the count triggers); RocksDB sync=true per batch of
//              1000; LMDB a synced commit per 1000; raw: fdatasync per 1000 records
//   sync       a sync per record: mmsb durability::per_commit; RocksDB a 1-put batch with
//              sync=true; LMDB one synced transaction per put; raw: write + fdatasync per record
// RocksDB gets a 512 MiB write buffer and avoid_flush_during_shutdown, so no memtable flush or
// compaction runs during a timed run: what is timed is the WAL and the memtable insert.
//
// Replay: the whole 64 B log written by mmsb (warm: in the page cache, as after a restart
// without a reboot) read back with read_log (every checksum checked; on posix_file_system each
// segment is mapped and walked in place, log/log_reader.hpp), each payload copied into
// 4 KiB pages (record k lands in slot k mod 64 of page (k / 64) mod 1024). Time is per record:
// one iteration per record, the whole replay timed as the first one (manual time).
//   raw_read     pread of the same segment files into a reused buffer (the page-cache limit)
//   stream_copy  STREAM's copy loop over the same number of bytes, buffer to buffer
//
// Checkpoint: durable_store<plus_times<float>, dense<float, 1024>>::checkpoint() of 1024 pages
// (4 MiB; temp file, fdatasync, rename, directory fsync, new log segment, old segment removed),
// per checkpoint; raw_write writes the same number of bytes to a file and fdatasyncs it.
//
// Sizes (defaults keep `bench/report P6` to a few minutes on 2 vCPUs; BENCHMARKS.md names 10 M
// and 1 M records): nosync 1 M × 64 B and 32 Ki × 4 KiB, group 100 K, sync 200, replay 1 M,
// checkpoint 1024 pages × 10. MMSB_BENCH_P6_RECORDS=N sets the nosync/replay count (e.g.
// 10000000); MMSB_BENCH_P6_SMALL=1 shrinks everything for the smoke test. Files go under a
// temporary directory in $MMSB_BENCH_P6_DIR (default /tmp; use a real disk, not a tmpfs),
// removed at exit.
//
// Before anything is timed, every contender's append path runs at a small size in every mode
// (crossing batch and chunk boundaries) and is read back: mmsb with read_log (count, epochs and
// every payload byte), rocksdb and lmdb by counting keys (and comparing the values), raw_write
// byte by byte. Each timed run ends with a cheap count check; the replay fixture is read back in
// full before its first timing, and a checkpoint is loaded back with load_checkpoint.
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/log_writer.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/log/record.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>

#if defined(__clang__)
#define MMSB_BENCH_COPY_LOOP_FN
#else
#define MMSB_BENCH_COPY_LOOP_FN __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fsys = std::filesystem;
using bytes_view = mmsb::span<const std::byte>;

constexpr std::size_t batch_records = 1000;        // RocksDB batch, LMDB txn, group-commit size
constexpr std::size_t raw_chunk_bytes = 256 << 10;  // raw_write's buffer
constexpr std::size_t distinct_payloads = 1024;    // record k carries payload k mod 1024
constexpr std::size_t page_bytes = 4096;
constexpr std::size_t replay_pages = 1024;

enum class mode { nosync, group, sync };
const char* mode_name(mode m) { return m == mode::nosync ? "nosync" : m == mode::group ? "group" : "sync"; }

std::string temp_root;  // the process's own temporary directory, removed at exit

void remove_temp_root()
{
  if (temp_root.empty()) return;
  std::error_code ec;
  fsys::remove_all(temp_root, ec);
  temp_root.clear();
}

[[noreturn]] void fail(const std::string& what)
{
  std::fprintf(stderr, "p6_log: %s\n", what.c_str());
  remove_temp_root();
  std::abort();
}

bool small() { static const bool s = std::getenv("MMSB_BENCH_P6_SMALL") != nullptr; return s; }

std::size_t main_records()  // nosync 64 B and replay
{
  static const std::size_t n = [] {
    if (const char* env = std::getenv("MMSB_BENCH_P6_RECORDS")) {
      const std::size_t v = std::strtoull(env, nullptr, 10);
      if (v > 0) return v;
    }
    return small() ? std::size_t{3000} : std::size_t{1000000};
  }();
  return n;
}

std::size_t records_for(mode m, std::size_t payload)
{
  if (m == mode::sync) return small() ? 5 : 200;
  if (m == mode::group) return small() ? 2500 : 100000;
  if (payload > 64) return small() ? 1500 : 32768;
  return main_records();
}

std::size_t checkpoint_pages() { return small() ? 16 : 1024; }
std::size_t checkpoint_iterations() { return small() ? 1 : 10; }

// A fresh directory under the temporary root for one run.
std::string fresh_dir(const std::string& tag)
{
  static std::uint64_t counter = 0;
  const std::string dir = temp_root + "/" + tag + "-" + std::to_string(counter++);
  fsys::create_directories(dir);
  return dir;
}

void remove_dir(const std::string& dir)
{
  std::error_code ec;
  fsys::remove_all(dir, ec);
}

void fsync_path(const std::string& path)
{
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) fail("fsync " + path + ": " + std::strerror(errno));
  ::close(fd);
}

const std::vector<std::byte>& log_shape()
{
  static const std::vector<std::byte> shape = [] {
    const char tag[] = "mmsb-bench-p6/v1";
    std::vector<std::byte> s(sizeof tag - 1);
    std::memcpy(s.data(), tag, s.size());
    return s;
  }();
  return shape;
}

// The payload table for one payload size: distinct_payloads seeded random payloads, back to back.
const std::vector<std::byte>& payloads(std::size_t size)
{
  static std::vector<std::pair<std::size_t, std::vector<std::byte>>> cache;
  for (const auto& [s, v] : cache)
    if (s == size) return v;
  std::vector<std::byte> v(size * distinct_payloads);
  std::mt19937_64 rng(size);
  for (auto& b : v) b = static_cast<std::byte>(rng() >> 56);
  cache.emplace_back(size, std::move(v));
  return cache.back().second;
}

bytes_view payload_of(std::size_t size, std::uint64_t k)
{
  return bytes_view(payloads(size).data() + (k % distinct_payloads) * size, size);
}

// mmsb's frame of record k (a commit at epoch k + 1), for raw_write's copy.
const std::vector<std::byte>& frames(std::size_t size)
{
  static std::vector<std::pair<std::size_t, std::vector<std::byte>>> cache;
  for (const auto& [s, v] : cache)
    if (s == size) return v;
  std::vector<std::byte> v;
  v.reserve((mmsb::record_header_bytes + size) * distinct_payloads);
  for (std::uint64_t k = 0; k < distinct_payloads; ++k)
    mmsb::encode_record(v, mmsb::record_type::commit, mmsb::epoch{k + 1}, mmsb::txn_id{k + 1}, payload_of(size, k));
  cache.emplace_back(size, std::move(v));
  return cache.back().second;
}

void big_endian_key(std::uint64_t k, unsigned char out[8])
{
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(k >> (56 - 8 * i));
}

// ---- the append contenders: open, append(k, payload, last), close, check --------------------
// `last` is the run's final record: every contender completes its batch there, inside the timed
// loop, so all of them hand the same bytes to the kernel (and to the disk, in the sync modes).

struct mmsb_appender {
  static constexpr const char* name = "mmsb";
  mmsb::posix_file_system fs;
  std::unique_ptr<mmsb::log_writer> writer;
  std::string dir;
  mode m{};

  void open(const std::string& d, mode md, std::size_t)
  {
    dir = d + "/log";
    m = md;
    mmsb::log_options o;
    o.durability = md == mode::nosync ? mmsb::durability::none
                   : md == mode::group ? mmsb::durability::group
                                       : mmsb::durability::per_commit;
    o.group_records = batch_records;
    o.group_interval = std::chrono::hours(1);
    writer = std::make_unique<mmsb::log_writer>(fs, dir, log_shape(), mmsb::log_resume{}, o);
    writer->sync();  // the new segment's directory entry, before timing (the others do it at open)
  }
  void append(std::uint64_t k, bytes_view payload, bool last)
  {
    writer->append(mmsb::record_type::commit, mmsb::epoch{k + 1}, mmsb::txn_id{k + 1}, payload);
    if (last && m == mode::group) writer->sync();  // a partial last group
  }
  void close() { writer.reset(); }
  // Cheap check after a timed run.
  void check_count(std::uint64_t n) const
  {
    if (writer->last_commit().value() != n)
      fail("mmsb appended " + std::to_string(writer->last_commit().value()) + " records, expected " + std::to_string(n));
  }
  // Full check, after closing the writer (its destructor syncs): read_log hands back every
  // record, in order, with its payload.
  void verify(std::uint64_t n, std::size_t size)
  {
    writer.reset();
    std::uint64_t k = 0;
    const auto rep = mmsb::read_log(fs, dir, log_shape(), mmsb::recovery_mode::strict,
                                    [&](const mmsb::record_header& h, bytes_view p) {
                                      const auto want = payload_of(size, k);
                                      if (h.type != mmsb::record_type::commit || h.epoch.value() != k + 1 ||
                                          p.size() != size || std::memcmp(p.data(), want.data(), size) != 0)
                                        fail("mmsb log record " + std::to_string(k) + " differs from what was appended");
                                      ++k;
                                    });
    if (k != n || rep.records != n) fail("mmsb log holds " + std::to_string(k) + " records, expected " + std::to_string(n));
  }
};

struct rocksdb_appender {
  static constexpr const char* name = "rocksdb";
  rocksdb::DB* db = nullptr;
  rocksdb::WriteBatch batch;
  rocksdb::WriteOptions wo;
  std::size_t per_batch = batch_records, in_batch = 0;
  std::string dir;

  static void check(const rocksdb::Status& s, const char* what)
  {
    if (!s.ok()) fail(std::string("rocksdb ") + what + ": " + s.ToString());
  }
  void open(const std::string& d, mode m, std::size_t)
  {
    dir = d + "/rocksdb";
    rocksdb::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = std::size_t{512} << 20;  // no memtable flush during a run
    o.avoid_flush_during_shutdown = true;
    check(rocksdb::DB::Open(o, dir, &db), "open");
    wo.sync = m != mode::nosync;
    wo.disableWAL = false;
    per_batch = m == mode::sync ? 1 : batch_records;
    in_batch = 0;
    batch.Clear();
  }
  void append(std::uint64_t k, bytes_view payload, bool last)
  {
    unsigned char key[8];
    big_endian_key(k, key);
    batch.Put(rocksdb::Slice(reinterpret_cast<const char*>(key), 8),
              rocksdb::Slice(reinterpret_cast<const char*>(payload.data()), payload.size()));
    if (++in_batch == per_batch || last) {
      check(db->Write(wo, &batch), "write");
      batch.Clear();
      in_batch = 0;
    }
  }
  void close()
  {
    if (db) check(db->Close(), "close");
    delete db;
    db = nullptr;
  }
  void check_count(std::uint64_t n) const
  {
    if (db->GetLatestSequenceNumber() != n)
      fail("rocksdb holds sequence " + std::to_string(db->GetLatestSequenceNumber()) + ", expected " + std::to_string(n));
  }
  void verify(std::uint64_t n, std::size_t size)
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::uint64_t k = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++k) {
      unsigned char key[8];
      big_endian_key(k, key);
      const auto want = payload_of(size, k);
      if (it->key().size() != 8 || std::memcmp(it->key().data(), key, 8) != 0 || it->value().size() != size ||
          std::memcmp(it->value().data(), want.data(), size) != 0)
        fail("rocksdb key " + std::to_string(k) + " differs from what was put");
    }
    check(it->status(), "iterate");
    if (k != n) fail("rocksdb holds " + std::to_string(k) + " keys, expected " + std::to_string(n));
  }
};

struct lmdb_appender {
  static constexpr const char* name = "lmdb";
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  std::size_t per_txn = batch_records, in_txn = 0;

  static void check(int rc, const char* what)
  {
    if (rc != 0) fail(std::string("lmdb ") + what + ": " + mdb_strerror(rc));
  }
  void open(const std::string& d, mode m, std::size_t)
  {
    const std::string dir = d + "/lmdb";
    fsys::create_directories(dir);
    check(mdb_env_create(&env), "env_create");
    check(mdb_env_set_mapsize(env, std::size_t{8} << 30), "set_mapsize");
    check(mdb_env_open(env, dir.c_str(), m == mode::nosync ? MDB_NOSYNC : 0, 0644), "env_open");
    MDB_txn* t = nullptr;
    check(mdb_txn_begin(env, nullptr, 0, &t), "txn_begin");
    check(mdb_dbi_open(t, nullptr, 0, &dbi), "dbi_open");
    check(mdb_txn_commit(t), "txn_commit");
    per_txn = m == mode::sync ? 1 : batch_records;
    in_txn = 0;
  }
  void append(std::uint64_t k, bytes_view payload, bool last)
  {
    if (!txn) check(mdb_txn_begin(env, nullptr, 0, &txn), "txn_begin");
    unsigned char key[8];
    big_endian_key(k, key);
    MDB_val kv{8, key};
    MDB_val vv{payload.size(), const_cast<std::byte*>(payload.data())};
    check(mdb_put(txn, dbi, &kv, &vv, MDB_APPEND), "put");
    if (++in_txn == per_txn || last) {
      check(mdb_txn_commit(txn), "txn_commit");
      txn = nullptr;
      in_txn = 0;
    }
  }
  void close()
  {
    if (txn) mdb_txn_abort(txn);
    txn = nullptr;
    if (env) mdb_env_close(env);
    env = nullptr;
  }
  std::uint64_t entries() const
  {
    MDB_txn* t = nullptr;
    check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &t), "txn_begin");
    MDB_stat st{};
    check(mdb_stat(t, dbi, &st), "stat");
    mdb_txn_abort(t);
    return st.ms_entries;
  }
  void check_count(std::uint64_t n) const
  {
    if (entries() != n) fail("lmdb holds " + std::to_string(entries()) + " entries, expected " + std::to_string(n));
  }
  void verify(std::uint64_t n, std::size_t size)
  {
    check_count(n);
    MDB_txn* t = nullptr;
    check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &t), "txn_begin");
    MDB_cursor* c = nullptr;
    check(mdb_cursor_open(t, dbi, &c), "cursor_open");
    MDB_val kv, vv;
    std::uint64_t k = 0;
    for (int rc = mdb_cursor_get(c, &kv, &vv, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &kv, &vv, MDB_NEXT), ++k) {
      unsigned char key[8];
      big_endian_key(k, key);
      const auto want = payload_of(size, k);
      if (kv.mv_size != 8 || std::memcmp(kv.mv_data, key, 8) != 0 || vv.mv_size != size ||
          std::memcmp(vv.mv_data, want.data(), size) != 0)
        fail("lmdb key " + std::to_string(k) + " differs from what was put");
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    if (k != n) fail("lmdb cursor saw " + std::to_string(k) + " keys, expected " + std::to_string(n));
  }
};

void write_all_fd(int fd, const std::byte* p, std::size_t n)
{
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(std::string("raw write: ") + std::strerror(errno));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

struct raw_appender {
  static constexpr const char* name = "raw_write";
  int fd = -1;
  std::string path;
  std::vector<std::byte> buf;
  const std::byte* frame_base = nullptr;
  std::size_t frame_bytes = 0, since_sync = 0;
  mode m{};

  void open(const std::string& d, mode md, std::size_t size)
  {
    path = d + "/raw.log";
    m = md;
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("open " + path + ": " + std::strerror(errno));
    fsync_path(d);
    frame_base = frames(size).data();
    frame_bytes = mmsb::record_header_bytes + size;
    buf.clear();
    buf.reserve(raw_chunk_bytes + frame_bytes);
    since_sync = 0;
  }
  void flush()
  {
    write_all_fd(fd, buf.data(), buf.size());
    buf.clear();
  }
  void append(std::uint64_t k, bytes_view, bool last)
  {
    const std::byte* f = frame_base + (k % distinct_payloads) * frame_bytes;
    buf.insert(buf.end(), f, f + frame_bytes);
    const bool sync_now = m == mode::sync || (m == mode::group && ++since_sync == batch_records);
    if (buf.size() >= raw_chunk_bytes || sync_now || last) flush();
    if (sync_now || (last && m != mode::nosync)) {
      if (::fdatasync(fd) != 0) fail(std::string("fdatasync: ") + std::strerror(errno));
      since_sync = 0;
    }
  }
  void close()
  {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  void check_count(std::uint64_t n) const
  {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != n * frame_bytes)
      fail("raw_write file holds " + std::to_string(st.st_size) + " bytes, expected " + std::to_string(n * frame_bytes));
  }
  void verify(std::uint64_t n, std::size_t)
  {
    check_count(n);
    std::vector<std::byte> back(n * frame_bytes);
    const int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd < 0 || ::pread(rfd, back.data(), back.size(), 0) != static_cast<ssize_t>(back.size()))
      fail("raw_write read back " + path);
    ::close(rfd);
    for (std::uint64_t k = 0; k < n; ++k)
      if (std::memcmp(back.data() + k * frame_bytes, frame_base + (k % distinct_payloads) * frame_bytes, frame_bytes) != 0)
        fail("raw_write frame " + std::to_string(k) + " differs");
  }
};

// ---- the correctness guard ------------------------------------------------------------------

template <class C>
void verify_appender(mode m, std::size_t size)
{
  const std::uint64_t n = m == mode::sync ? 3 : 2 * batch_records + 537;  // a partial last batch
  const std::string dir = fresh_dir(std::string("verify-") + C::name);
  {
    C c;
    c.open(dir, m, size);
    for (std::uint64_t k = 0; k < n; ++k) c.append(k, payload_of(size, k), k + 1 == n);
    c.check_count(n);
    c.verify(n, size);
    c.close();
  }
  remove_dir(dir);
}

void verify_all()
{
  for (mode m : {mode::nosync, mode::group, mode::sync})
    for (std::size_t size : {std::size_t{64}, std::size_t{4096}}) {
      if (size > 64 && m != mode::nosync) continue;
      verify_appender<mmsb_appender>(m, size);
      verify_appender<rocksdb_appender>(m, size);
      verify_appender<lmdb_appender>(m, size);
      verify_appender<raw_appender>(m, size);
    }
}

// ---- append ---------------------------------------------------------------------------------

template <class C>
void bm_append(benchmark::State& state, mode m, std::size_t size)
{
  const std::string dir = fresh_dir(std::string(mode_name(m)) + "-" + C::name);
  C c;
  c.open(dir, m, size);
  const auto n = static_cast<std::uint64_t>(state.max_iterations);
  const std::byte* table = payloads(size).data();
  std::uint64_t k = 0;
  for (auto _ : state) {
    c.append(k, bytes_view(table + (k % distinct_payloads) * size, size), k + 1 == n);
    ++k;
  }
  c.check_count(n);
  c.close();
  remove_dir(dir);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));  // payload bytes
}

// ---- replay ---------------------------------------------------------------------------------

struct replay_fixture {
  std::string dir;                   // the mmsb log directory
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;           // all segment files, framing included
  std::vector<std::string> segments; // their paths
};

// The 64 B log, written once by mmsb (nosync, then synced and closed), checked in full.
const replay_fixture& fixture()
{
  static const replay_fixture f = [] {
    replay_fixture r;
    r.records = main_records();
    const std::string base = fresh_dir("replay");
    {
      mmsb_appender c;
      c.open(base, mode::nosync, 64);
      for (std::uint64_t k = 0; k < r.records; ++k) c.append(k, payload_of(64, k), k + 1 == r.records);
      c.check_count(r.records);
      c.verify(r.records, 64);
      r.dir = c.dir;
      c.close();
    }
    for (const auto& e : fsys::directory_iterator(r.dir)) {
      r.segments.push_back(e.path().string());
      r.bytes += e.file_size();
    }
    std::sort(r.segments.begin(), r.segments.end());
    return r;
  }();
  return f;
}

void finish_replay(benchmark::State& state)
{
  const auto& f = fixture();
  state.SetItemsProcessed(state.iterations());  // records
  state.SetBytesProcessed(static_cast<std::int64_t>(f.bytes * state.iterations() / f.records));
}

// Runs `whole` once as the first iteration and times it; the other iterations (one per record)
// cost nothing, so the reported time is per record.
template <class F>
void per_record(benchmark::State& state, F&& whole)
{
  bool first = true;
  for (auto _ : state) {
    if (first) {
      const auto t0 = std::chrono::steady_clock::now();
      whole();
      const auto t1 = std::chrono::steady_clock::now();
      state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
      first = false;
    } else {
      state.SetIterationTime(0.0);
    }
  }
}

std::vector<std::byte>& replay_pages_buffer()
{
  static std::vector<std::byte> pages(replay_pages * page_bytes);
  return pages;
}

void bm_replay_mmsb(benchmark::State& state)
{
  const auto& f = fixture();
  mmsb::posix_file_system fs;
  std::byte* pages = replay_pages_buffer().data();
  std::uint64_t seen = 0;
  per_record(state, [&] {
    std::uint64_t k = 0;
    const auto rep = mmsb::read_log(fs, f.dir, log_shape(), mmsb::recovery_mode::point_in_time,
                                    [&](const mmsb::record_header&, bytes_view p) {
                                      std::memcpy(pages + (k % (replay_pages * 64)) * 64, p.data(), 64);
                                      ++k;
                                    });
    benchmark::ClobberMemory();
    seen = rep.records;
  });
  if (seen != f.records) fail("replay saw " + std::to_string(seen) + " records, expected " + std::to_string(f.records));
  finish_replay(state);
}

void bm_replay_raw_read(benchmark::State& state)
{
  const auto& f = fixture();
  static std::vector<std::byte> buf;
  buf.resize(f.bytes);
  std::memset(buf.data(), 0, buf.size());  // fault it in before timing
  std::uint64_t got = 0;
  per_record(state, [&] {
    got = 0;
    for (const auto& path : f.segments) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) fail("open " + path);
      for (std::uint64_t off = 0;;) {
        const ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(off));
        if (n < 0) fail("pread " + path);
        if (n == 0) break;
        got += static_cast<std::uint64_t>(n);
        off += static_cast<std::uint64_t>(n);
      }
      ::close(fd);
    }
    benchmark::ClobberMemory();
  });
  if (got != f.bytes) fail("raw_read got " + std::to_string(got) + " bytes, expected " + std::to_string(f.bytes));
  finish_replay(state);
}

__attribute__((noinline)) MMSB_BENCH_COPY_LOOP_FN void
stream_copy(double* __restrict c, const double* __restrict a, std::size_t n) noexcept
{
  for (std::size_t j = 0; j < n; ++j) c[j] = a[j];
}

void bm_replay_stream_copy(benchmark::State& state)
{
  const auto& f = fixture();
  const std::size_t n = (f.bytes + sizeof(double) - 1) / sizeof(double);
  std::vector<double> a(n, 1.0), c(n, 0.0);
  per_record(state, [&] {
    stream_copy(c.data(), a.data(), n);
    benchmark::ClobberMemory();
  });
  finish_replay(state);
}

// ---- checkpoint -----------------------------------------------------------------------------

using ckpt_layout = mmsb::dense<float, 1024>;
using ckpt_store = mmsb::durable_store<mmsb::plus_times<float>, ckpt_layout>;
static_assert(sizeof(ckpt_layout::storage_type) == page_bytes);

// The checkpoint file's size: segment record, one page record per page, the end record.
std::uint64_t checkpoint_file_bytes(std::size_t pages)
{
  return (mmsb::record_header_bytes + log_shape().size()) + pages * (mmsb::record_header_bytes + 4 + page_bytes) +
         (mmsb::record_header_bytes + 16);
}

void fill_store(ckpt_store& s, std::size_t pages)
{
  std::vector<mmsb::page_id> ids;
  for (std::size_t p = 0; p < pages; ++p) ids.push_back(s.create_page());
  std::vector<ckpt_store::delta_type> ds;
  for (std::size_t p = 0; p < pages; ++p) {
    mmsb::delta_builder<ckpt_store::semiring_type, ckpt_layout> b(ids[p]);
    for (std::size_t slot = p % 7; slot < ckpt_layout::extent; slot += 97) b.accumulate(slot, static_cast<float>(p + slot));
    ds.push_back(b.build());
  }
  (void)s.commit(ds);
}

std::uint64_t newest_checkpoint_size(const std::string& dir)
{
  std::uint64_t size = 0;
  std::string newest;
  for (const auto& e : fsys::directory_iterator(dir + "/checkpoints")) {
    const std::string name = e.path().filename().string();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".ckpt") == 0 && name > newest) {
      newest = name;
      size = e.file_size();
    }
  }
  return size;
}

// Loads the newest checkpoint back: every page, at the store's epoch, with the store's bytes.
void verify_checkpoint(const std::string& dir, const ckpt_store& s, std::size_t pages)
{
  mmsb::posix_file_system fs;
  const auto snap = s.snapshot();
  std::size_t k = 0;
  const auto load = mmsb::load_checkpoint(fs, dir + "/checkpoints", log_shape(), page_bytes,
                                          [&](mmsb::page_id id, mmsb::epoch, bytes_view bytes) {
                                            if (k >= snap.pages.size() || snap.pages[k].id() != id ||
                                                std::memcmp(bytes.data(), &snap.pages[k].storage(), page_bytes) != 0)
                                              fail("checkpoint page " + std::to_string(k) + " differs from the store");
                                            ++k;
                                          });
  if (!load.loaded || load.loaded->epoch != snap.epoch || k != pages)
    fail("checkpoint holds " + std::to_string(k) + " pages, expected " + std::to_string(pages));
  if (newest_checkpoint_size(dir) != checkpoint_file_bytes(pages))
    fail("checkpoint file is " + std::to_string(newest_checkpoint_size(dir)) + " bytes, expected " +
         std::to_string(checkpoint_file_bytes(pages)));
}

void bm_checkpoint_mmsb(benchmark::State& state)
{
  const std::size_t pages = checkpoint_pages();
  const std::string dir = fresh_dir("ckpt-mmsb");
  mmsb::posix_file_system fs;
  {
    ckpt_store s(fs, dir + "/store", log_shape());
    fill_store(s, pages);
    for (auto _ : state) s.checkpoint();
    if (newest_checkpoint_size(dir + "/store") != checkpoint_file_bytes(pages)) fail("checkpoint file size");
  }
  remove_dir(dir);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(pages));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(checkpoint_file_bytes(pages)));
}

void bm_checkpoint_raw(benchmark::State& state)
{
  const std::size_t pages = checkpoint_pages();
  const std::string dir = fresh_dir("ckpt-raw");
  std::vector<std::byte> bytes(checkpoint_file_bytes(pages));
  std::mt19937_64 rng(3);
  for (auto& b : bytes) b = static_cast<std::byte>(rng() >> 56);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::string path = dir + "/ckpt-" + std::to_string(i++ % 3);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("open " + path);
    for (std::size_t off = 0; off < bytes.size(); off += raw_chunk_bytes)
      write_all_fd(fd, bytes.data() + off, std::min(raw_chunk_bytes, bytes.size() - off));
    if (::fdatasync(fd) != 0) fail("fdatasync " + path);
    ::close(fd);
  }
  remove_dir(dir);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(pages));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}

void verify_checkpoint_all()
{
  const std::string dir = fresh_dir("verify-ckpt");
  mmsb::posix_file_system fs;
  {
    ckpt_store s(fs, dir + "/store", log_shape());
    fill_store(s, 16);
    s.checkpoint();
    verify_checkpoint(dir + "/store", s, 16);
    std::vector<ckpt_store::delta_type> ds;
    ds.push_back(mmsb::delta_builder<ckpt_store::semiring_type, ckpt_layout>(mmsb::page_id{3}).accumulate(5, 1.5f).build());
    (void)s.commit(ds);
    s.checkpoint();
    verify_checkpoint(dir + "/store", s, 16);
  }
  remove_dir(dir);
}

// ---- registration ---------------------------------------------------------------------------

void register_all()
{
  const auto label = [](std::size_t size) { return size == 64 ? std::string("64B") : std::string("4KiB"); };
  struct workload {
    mode m;
    std::size_t size;
  };
  for (const workload w : {workload{mode::nosync, 64}, workload{mode::nosync, 4096}, workload{mode::group, 64},
                           workload{mode::sync, 64}}) {
    const std::string base = std::string("P6/append_") + mode_name(w.m) + "/" + label(w.size) + "/";
    const auto n = static_cast<benchmark::IterationCount>(records_for(w.m, w.size));
    const auto reg = [&](const char* who, auto fn) {
      benchmark::RegisterBenchmark((base + who).c_str(), fn)->Iterations(n)->UseRealTime()->Unit(benchmark::kNanosecond);
    };
    const mode m = w.m;
    const std::size_t size = w.size;
    reg("mmsb", [=](benchmark::State& s) { bm_append<mmsb_appender>(s, m, size); });
    reg("rocksdb", [=](benchmark::State& s) { bm_append<rocksdb_appender>(s, m, size); });
    reg("lmdb", [=](benchmark::State& s) { bm_append<lmdb_appender>(s, m, size); });
    reg("raw_write", [=](benchmark::State& s) { bm_append<raw_appender>(s, m, size); });
  }
  const auto n = static_cast<benchmark::IterationCount>(main_records());
  for (const auto& [who, fn] : {std::pair{"mmsb", &bm_replay_mmsb}, std::pair{"raw_read", &bm_replay_raw_read},
                                std::pair{"stream_copy", &bm_replay_stream_copy}})
    benchmark::RegisterBenchmark((std::string("P6/replay/64B/") + who).c_str(), fn)
      ->Iterations(n)->UseManualTime()->Unit(benchmark::kNanosecond);
  const auto c = static_cast<benchmark::IterationCount>(checkpoint_iterations());
  for (const auto& [who, fn] : {std::pair{"mmsb", &bm_checkpoint_mmsb}, std::pair{"raw_write", &bm_checkpoint_raw}})
    benchmark::RegisterBenchmark((std::string("P6/checkpoint/4KiB_pages/") + who).c_str(), fn)
      ->Iterations(c)->UseRealTime()->Unit(benchmark::kNanosecond);
}

} // namespace

int main(int argc, char** argv)
{
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* parent = std::getenv("MMSB_BENCH_P6_DIR");
  std::string tmpl = std::string(parent && *parent ? parent : "/tmp") + "/mmsb-bench-p6.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp " + tmpl + ": " + std::strerror(errno));
  temp_root = tmpl;
  std::atexit(remove_temp_root);
  verify_all();
  verify_checkpoint_all();
  register_all();
  benchmark::AddCustomContext("rocksdb_version", std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) +
                                                   "." + std::to_string(ROCKSDB_PATCH));
  benchmark::AddCustomContext("lmdb_version", MDB_VERSION_STRING);
  benchmark::AddCustomContext("p6_records", "nosync " + std::to_string(records_for(mode::nosync, 64)) + " x 64 B, " +
                                              std::to_string(records_for(mode::nosync, 4096)) + " x 4 KiB; group " +
                                              std::to_string(records_for(mode::group, 64)) + "; sync " +
                                              std::to_string(records_for(mode::sync, 64)) + "; replay " +
                                              std::to_string(main_records()) + "; checkpoint " +
                                              std::to_string(checkpoint_pages()) + " pages");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  remove_temp_root();
  return 0;
}
