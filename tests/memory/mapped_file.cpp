#include <mmsb/memory/mapped_file.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/soa.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using mmsb::epoch;
using mmsb::errc;
using mmsb::page_id;

namespace {

using ledger = mmsb::dense<std::int64_t, 512>;  // 4 KiB of payload per page
using writer_t = mmsb::mapped_file<ledger>;
using reader_t = mmsb::mapped_reader<ledger>;

struct temp_dir {
  fs::path path;
  temp_dir()
  {
    std::string tmpl = (fs::temp_directory_path() / "mmsb-mapped-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir()
  {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

std::string read_all(const fs::path& p)
{
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& p, const std::string& bytes)
{
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void put_u64(std::string& bytes, std::size_t at, std::uint64_t v)
{
  for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>(v >> (8 * i));
}
std::uint64_t get_u64(const std::string& bytes, std::size_t at)
{
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return v;
}

// Offsets from the documented format (docs/memory.md), computed independently of the header.
struct format {
  std::uint64_t page_bytes, capacity, table, area;
  format(std::uint64_t page, std::uint64_t cap)
    : page_bytes(page), capacity(cap), table((64 + 16 * cap + 4095) / 4096 * 4096), area((page * cap + 4095) / 4096 * 4096) {}
  [[nodiscard]] std::uint64_t bank_table(unsigned b) const { return 4096 + b * table; }
  [[nodiscard]] std::uint64_t bank_page(unsigned b, std::uint64_t slot) const { return 4096 + 2 * table + (1 + b) * area + slot * page_bytes; }
  [[nodiscard]] std::uint64_t file_bytes() const { return 4096 + 2 * table + 3 * area; }
};

// Runs fn in a forked child; returns its exit status (128 + signal if killed). The child never
// returns into Catch2: it leaves with _exit.
template <class Fn>
int run_in_child(Fn&& fn)
{
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 3;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      rc = 2;
    } catch (...) {
      rc = 2;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Memory shared with forked children (anonymous, MAP_SHARED): lock-free atomics are address-free.
template <class T>
struct shared_block {
  T* p;
  shared_block()
  {
    void* m = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    p = ::new (m) T();
  }
  ~shared_block()
  {
    p->~T();
    ::munmap(p, sizeof(T));
  }
  T* operator->() const { return p; }
  shared_block(const shared_block&) = delete;
  shared_block& operator=(const shared_block&) = delete;
};

template <class Layout, class Rng>
void fill_random(mmsb::page<Layout>& p, Rng& rng)
{
  for (std::size_t i = 0; i < Layout::extent; ++i) p.set(i, mmsb::test::any_value<typename Layout::value_type>(rng));
}

// One transaction over several pages that keeps the sum of every slot at zero: point transfers
// plus a whole-page rewrite, so a torn or mixed read breaks the sum and the hash.
template <class Rng>
void transact(writer_t& w, std::uint32_t pages, std::uint64_t e, Rng& rng)
{
  for (int k = 0; k < 4; ++k) {
    auto& a = w.page_at(page_id{static_cast<std::uint32_t>(rng() % pages)});
    auto& b = w.page_at(page_id{static_cast<std::uint32_t>(rng() % pages)});
    const auto v = static_cast<std::int64_t>(rng() % 1000) + 1;
    const auto i = rng() % ledger::extent, j = rng() % ledger::extent;
    a.set(i, a.get(i) - v);
    b.set(j, b.get(j) + v);
    a.set_epoch(epoch{e});
    b.set_epoch(epoch{e});
  }
  auto& c = w.page_at(page_id{static_cast<std::uint32_t>(rng() % pages)});
  for (std::size_t i = 0; i < ledger::extent; ++i)
    c.set(i, c.get(i) + (i < ledger::extent / 2 ? std::int64_t(e) : -std::int64_t(e)));
  c.set_epoch(epoch{e});
}

std::int64_t total(const mmsb::mapped_snapshot<ledger>& s)
{
  std::int64_t sum = 0;
  for (const auto& p : s.pages())
    for (std::size_t i = 0; i < ledger::extent; ++i) sum += p.get(i);
  return sum;
}

template <class Fn>
mmsb::error error_of(Fn&& fn)
{
  try {
    fn();
  } catch (const mmsb::error& e) {
    return e;
  }
  FAIL("expected an mmsb::error");
  return mmsb::error(errc::ok, "");
}

} // namespace

TEMPLATE_TEST_CASE("mapped_file: write, close, reopen, and the state hash is identical", "[mapped_file]", (mmsb::dense<float, 1024>),
                   (mmsb::dense<std::int64_t, 7>), (mmsb::bits<100>), (mmsb::soa<16, float, float, float>))
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(mmsb::test::seed());
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  mmsb::state_hash written;
  {
    auto f = mmsb::mapped_file<TestType>::create(path, 32);
    CHECK(f.published() == epoch{0});
    for (int i = 0; i < 20; ++i) fill_random(f.page_at(f.create_page()), rng);
    f.destroy_page(page_id{3});
    f.create_page(page_id{1000});
    fill_random(f.page_at(page_id{1000}), rng);
    f.publish(epoch{7});
    f.sync();
    written = f.hash();
    CHECK(f.size() == 20);
  }
  {
    auto f = mmsb::mapped_file<TestType>::open(path);
    CHECK(f.hash() == written);
    CHECK(f.published() == epoch{7});
    CHECK(f.size() == 20);
    CHECK_FALSE(f.contains(page_id{3}));
    CHECK(f.create_page() == page_id{1001});  // the next id survives too
    fill_random(f.page_at(page_id{0}), rng);
    f.publish(epoch{8});
    f.sync();
    written = f.hash();
  }
  auto f = mmsb::mapped_file<TestType>::open(path);
  CHECK(f.hash() == written);
  CHECK(f.published() == epoch{8});
  const mmsb::mapped_reader<TestType> r(path);
  const auto snap = r.snapshot();
  CHECK(snap.hash() == written);
  CHECK(snap.epoch() == epoch{8});
  CHECK(snap.pages().size() == 21);
  CHECK(r.published() == epoch{8});
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // no temporary left
}

TEST_CASE("mapped_file: reopening starts from the last published state; unpublished changes are dropped")
{
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  mmsb::state_hash published_hash;
  {
    auto f = writer_t::create(path, 8);
    f.create_page();
    f.page_at(page_id{0}).set(1, 5);
    f.publish(epoch{1});
    published_hash = f.hash();
    f.page_at(page_id{0}).set(1, 6);
    f.create_page();
    CHECK(f.hash() != published_hash);
  }
  CHECK((fs::status(path).permissions() & fs::perms::mask) == writer_t::default_permissions);  // readable by readers
  auto f = writer_t::open(path);
  CHECK(f.hash() == published_hash);
  CHECK(f.size() == 1);
  CHECK(f.page_at(page_id{0}).get(1) == 5);
}

TEST_CASE("mapped_file: the state survives a process restart")
{
  MMSB_TEST_INFO_SEED();
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  shared_block<std::atomic<std::uint64_t>> child_hash;
  const int rc = run_in_child([&] {
    std::mt19937_64 rng(mmsb::test::seed());
    auto f = writer_t::create(path, 64);
    for (int i = 0; i < 40; ++i) fill_random(f.page_at(f.create_page()), rng);
    f.publish(epoch{42});
    f.sync();
    child_hash->store(f.hash().value);
    return 0;  // _exit: no destructor runs, as in a process that ends abruptly after sync()
  });
  REQUIRE(rc == 0);
  auto f = writer_t::open(path);
  CHECK(f.hash().value == child_hash->load());
  CHECK(f.published() == epoch{42});
  CHECK(reader_t(path).snapshot().hash().value == child_hash->load());
}

TEST_CASE("mapped_file: readers see exactly each publish, under random creates, destroys and writes")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(mmsb::test::seed());
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  constexpr std::uint32_t capacity = 48;
  std::map<std::uint32_t, mmsb::page<ledger>> model, published;  // the oracle, and its last publish
  auto model_hash = [&] {
    mmsb::state_hasher h;
    for (const auto& [id, p] : model) hash_into(h, p);
    return h.digest();
  };
  auto w = std::make_unique<writer_t>(writer_t::create(path, capacity));
  const reader_t r(path);
  mmsb::mapped_snapshot<ledger> snap;
  std::uint64_t e = 0;
  for (int round = 0; round < 400; ++round) {
    const int ops = static_cast<int>(rng() % 6);
    for (int k = 0; k < ops; ++k) {
      const auto choice = rng() % 10;
      if (choice < 2 && model.size() < capacity) {
        auto explicit_id = static_cast<std::uint32_t>(rng() % 100000 + 200);
        while (model.count(explicit_id)) ++explicit_id;
        const auto id = (rng() & 1) ? w->create_page() : w->create_page(page_id{explicit_id});
        model.emplace(id.value(), mmsb::page<ledger>(id));
      } else if (choice < 3 && !model.empty()) {
        auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
        w->destroy_page(page_id{it->first});
        model.erase(it);
      } else if (!model.empty()) {
        auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
        const auto slot = rng() % ledger::extent;
        const auto v = static_cast<std::int64_t>(rng());
        w->page_at(page_id{it->first}).set(slot, v);
        it->second.set(slot, v);
      }
    }
    REQUIRE(w->hash() == model_hash());
    if (rng() % 3 != 0) {
      w->publish(epoch{++e});
      r.snapshot(snap);
      REQUIRE(snap.epoch() == epoch{e});
      REQUIRE(snap.hash() == model_hash());
      REQUIRE(snap.pages().size() == model.size());
      published = model;
    }
    if (rng() % 25 == 0) {  // restart the writer: unpublished changes go, the next publish rewrites a bank
      w.reset();
      w = std::make_unique<writer_t>(writer_t::open(path));
      model = published;
      REQUIRE(w->hash() == model_hash());
    }
  }
}

TEST_CASE("mapped_file: a forked reader never sees a torn page or a half-published epoch")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(mmsb::test::seed());
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  constexpr std::uint32_t pages = 24;
  constexpr std::size_t max_epochs = 1u << 20;
  constexpr int snapshots = 3000;
  struct board {
    std::atomic<std::uint64_t> recorded[max_epochs];  // the hash the writer published at each epoch
    std::atomic<int> done{0};
    std::atomic<std::uint64_t> distinct{0}, retries{0};
  };
  shared_block<board> b;

  auto w = writer_t::create(path, pages);
  for (std::uint32_t i = 0; i < pages; ++i) w.create_page();
  std::uint64_t e = 1;
  b->recorded[e].store(w.hash().value, std::memory_order_release);
  w.publish(epoch{e});

  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the reader process
    int rc = 0;
    try {
      const reader_t r(path);
      mmsb::mapped_snapshot<ledger> s;
      std::uint64_t last = 0;
      for (int i = 0; i < snapshots && rc == 0; ++i) {
        r.snapshot(s);
        const auto se = s.epoch().value();
        if (se < last || se >= max_epochs) {
          std::fprintf(stderr, "reader: epoch went from %llu to %llu\n", (unsigned long long)last, (unsigned long long)se);
          rc = 1;
        } else if (s.hash().value != b->recorded[se].load(std::memory_order_acquire) || total(s) != 0) {
          std::fprintf(stderr, "reader: snapshot %d at epoch %llu does not match what the writer published\n", i,
                       (unsigned long long)se);
          rc = 1;
        }
        for (const auto& p : s.pages())
          if (p.epoch() > s.epoch()) {
            std::fprintf(stderr, "reader: page %u carries a later epoch than its snapshot\n", p.id().value());
            rc = 1;
          }
        if (se != last) b->distinct.fetch_add(1);
        b->retries.fetch_add(s.attempts() - 1);
        last = se;
      }
    } catch (const std::exception& x) {
      std::fprintf(stderr, "reader: %s\n", x.what());
      rc = 2;
    }
    b->done.store(1);
    std::fflush(nullptr);
    ::_exit(rc);
  }

  // The writer keeps mutating and publishing until the reader is done.
  while (b->done.load() == 0 && e + 1 < max_epochs) {
    ++e;
    transact(w, pages, e, rng);
    b->recorded[e].store(w.hash().value, std::memory_order_release);  // before readers can see e
    w.publish(epoch{e});
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("writer published " << e << " epochs; reader saw " << b->distinct.load() << " of them, with "
                           << b->retries.load() << " seqlock retries");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(b->distinct.load() >= 10);  // the reader really ran against a moving writer
}

TEST_CASE("mapped_file: a writer killed at random moments leaves a whole published epoch")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(mmsb::test::seed());
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  constexpr std::uint32_t pages = 16;
  struct board {
    std::atomic<std::uint64_t> recorded[1u << 20];
    std::atomic<std::uint64_t> next{0};
  };
  shared_block<board> b;
  {
    auto w = writer_t::create(path, pages);
    for (std::uint32_t i = 0; i < pages; ++i) w.create_page();
    b->recorded[1].store(w.hash().value);
    w.publish(epoch{1});
  }
  for (int kill = 0; kill < 12; ++kill) {
    std::fflush(nullptr);
    const auto child_seed = rng();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        std::mt19937_64 crng(child_seed);
        auto w = writer_t::open(path);
        for (std::uint64_t e = w.published().value() + 1; e < (1u << 20); ++e) {
          transact(w, pages, e, crng);
          b->recorded[e].store(w.hash().value);
          w.publish(epoch{e});
          b->next.store(e);
        }
      } catch (...) {
      }
      ::_exit(2);
    }
    while (b->next.load() == 0) std::this_thread::yield();  // the writer is running
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    b->next.store(0);

    const reader_t r(path);
    const auto snap = r.snapshot();
    REQUIRE(snap.hash().value == b->recorded[snap.epoch().value()].load());
    auto w = writer_t::open(path);  // the lock died with the killed writer
    REQUIRE(w.published() == snap.epoch());
    REQUIRE(w.hash() == snap.hash());
  }
}

TEST_CASE("mapped_file: a publish left half-done (odd sequence, scribbled bank) is resumed from the last whole one")
{
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  mmsb::state_hash h;
  {
    auto w = writer_t::create(path, 4);
    w.create_page();
    w.create_page();
    w.page_at(page_id{1}).set(0, 9);
    w.publish(epoch{5});  // generation 1: bank 1 is current
    h = w.hash();
  }
  const format fmt(sizeof(mmsb::page<ledger>), 4);
  auto bytes = read_all(path);
  REQUIRE(get_u64(bytes, 64) == 2);
  put_u64(bytes, 64, 3);  // a publish of generation 2 began ...
  for (std::uint64_t i = 0; i < 64; ++i) bytes[fmt.bank_table(0) + i] = char(0xA5);  // ... and scribbled on bank 0
  for (std::uint64_t i = 0; i < 100; ++i) bytes[fmt.bank_page(0, 0) + i] = char(0x5A);
  write_all(path, bytes);

  CHECK(reader_t(path).snapshot().hash() == h);
  auto w = writer_t::open(path);
  CHECK(w.hash() == h);
  CHECK(w.published() == epoch{5});
  w.page_at(page_id{0}).set(3, 1);
  w.publish(epoch{6});
  const auto h2 = w.hash();
  CHECK(reader_t(path).snapshot().hash() == h2);
  w = writer_t::create(dir.path / "other.mmsb", 1);  // closes the first writer
  CHECK(writer_t::open(path).hash() == h2);
}

TEST_CASE("mapped_file: API misuse is refused and changes nothing")
{
  temp_dir dir;
  const auto path = dir.path / "state.mmsb";
  auto w = writer_t::create(path, 2);
  const auto a = w.create_page();
  w.publish(epoch{1});
  const auto before = w.hash();

  CHECK(error_of([&] { (void)w.page_at(page_id{77}); }).code() == errc::unknown_page);
  CHECK(error_of([&] { w.destroy_page(page_id{77}); }).code() == errc::unknown_page);
  CHECK(error_of([&] { w.create_page(a); }).code() == errc::invalid_argument);
  CHECK(error_of([&] { w.publish(epoch{1}); }).code() == errc::invalid_argument);
  CHECK(w.find(page_id{77}) == nullptr);
  w.create_page();
  const auto full = error_of([&] { w.create_page(); });
  CHECK(full.code() == errc::out_of_memory);
  CHECK_THAT(full.what(), Catch::Matchers::Contains(path.string()));
  CHECK(w.size() == 2);
  w.destroy_page(page_id{1});
  CHECK(w.hash() == before);
  CHECK(error_of([&] { (void)writer_t::create(dir.path / "zero.mmsb", 0); }).code() == errc::invalid_argument);

  const auto locked = error_of([&] { (void)writer_t::open(path); });  // one writer at a time
  CHECK(locked.code() == errc::state_error);
  CHECK_THAT(locked.what(), Catch::Matchers::Contains(path.string()));
}

TEST_CASE("mapped_file: bad files get a clear error and are left byte-identical")
{
  temp_dir dir;
  const auto good = dir.path / "good.mmsb";
  const auto path = dir.path / "bad.mmsb";
  {
    auto w = writer_t::create(good, 4);
    w.create_page();
    w.create_page();
    w.page_at(page_id{1}).set(2, -3);
    w.publish(epoch{3});
  }
  const std::string original = read_all(good);
  const format fmt(sizeof(mmsb::page<ledger>), 4);
  REQUIRE(original.size() == fmt.file_bytes());

  // Both the writer's open() and a reader refuse the file at open time.
  auto refused = [&](const std::string& bytes, errc code, const std::string& word) {
    write_all(path, bytes);
    for (int side = 0; side < 2; ++side) {
      INFO((side == 0 ? "writer" : "reader") << ", expecting '" << word << "'");
      const auto e = error_of([&] {
        if (side == 0) (void)writer_t::open(path);
        else (void)reader_t(path);
      });
      CHECK(e.code() == code);
      CHECK_THAT(e.what(), Catch::Matchers::Contains(path.string()) && Catch::Matchers::Contains(word));
      CHECK(read_all(path) == bytes);
    }
  };

  SECTION("wrong magic") {
    auto b = original;
    b[0] = 'X';
    refused(b, errc::bad_format, "magic");
  }
  SECTION("future and zero format versions") {
    auto b = original;
    b[8] = 2;
    refused(b, errc::bad_format, "version 2");
    b[8] = 0;
    refused(b, errc::bad_format, "version 0");
  }
  SECTION("truncated at many lengths") {
    for (std::size_t len : {std::size_t{0}, std::size_t{5}, std::size_t{8}, std::size_t{11}, std::size_t{12}, std::size_t{63},
                            std::size_t{64}, std::size_t{4095}, std::size_t{4096}, original.size() / 2, original.size() - 1}) {
      INFO("length " << len);
      refused(original.substr(0, len), errc::corrupt, "truncated");
    }
  }
  SECTION("too long") {
    refused(original + std::string(4096, '\0'), errc::corrupt, "size mismatch");
  }
  SECTION("a damaged header field or checksum") {
    auto b = original;
    b[40] = char(b[40] + 1);  // capacity
    refused(b, errc::corrupt, "checksum");
    b = original;
    b[57] = char(b[57] ^ 1);
    refused(b, errc::corrupt, "checksum");
  }
  SECTION("another layout") {
    write_all(path, original);
    const auto before = read_all(path);
    auto e = error_of([&] { (void)mmsb::mapped_file<mmsb::dense<std::int64_t, 256>>::open(path); });
    CHECK(e.code() == errc::bad_format);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("extent") && Catch::Matchers::Contains(path.string()));
    e = error_of([&] { (void)mmsb::mapped_reader<mmsb::dense<double, 512>>(path); });
    CHECK(e.code() == errc::bad_format);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("value class"));
    e = error_of([&] { (void)mmsb::mapped_file<mmsb::soa<256, std::int64_t, std::int64_t>>::open(path); });
    CHECK(e.code() == errc::bad_format);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("layout kind"));
    e = error_of([&] { (void)mmsb::mapped_file<mmsb::dense<std::uint64_t, 512>>::open(path); });
    CHECK_THAT(e.what(), Catch::Matchers::Contains("value class"));
    CHECK(read_all(path) == before);
  }
  SECTION("a damaged published page or page table") {
    // Generation 1 is current, so bank 1 holds the published state.
    auto b = original;
    b[fmt.bank_page(1, 1) + 16] = char(b[fmt.bank_page(1, 1) + 16] ^ 0x10);
    write_all(path, b);
    auto e = error_of([&] { (void)writer_t::open(path); });
    CHECK(e.code() == errc::corrupt);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("page 1") && Catch::Matchers::Contains("checksum"));
    e = error_of([&] { (void)reader_t(path).snapshot(); });
    CHECK(e.code() == errc::corrupt);
    CHECK(read_all(path) == b);

    b = original;
    put_u64(b, fmt.bank_table(1) + 16, 3);  // live page count 3 > slot high-water 2
    write_all(path, b);
    CHECK(error_of([&] { (void)writer_t::open(path); }).code() == errc::corrupt);
    CHECK(error_of([&] { (void)reader_t(path).snapshot(); }).code() == errc::corrupt);
    CHECK(read_all(path) == b);

    b = original;
    put_u64(b, 64, 6);  // the sequence claims generation 3, bank 1 holds generation 1
    write_all(path, b);
    e = error_of([&] { (void)writer_t::open(path); });
    CHECK(e.code() == errc::corrupt);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("generation"));
    CHECK(error_of([&] { (void)reader_t(path).snapshot(); }).code() == errc::corrupt);
    CHECK(read_all(path) == b);
  }
  SECTION("a directory, a missing path, an existing path") {
    for (const auto& p : {dir.path, dir.path / "missing.mmsb"}) {
      auto e = error_of([&] { (void)writer_t::open(p); });
      CHECK(e.code() == errc::io_error);
      CHECK_THAT(e.what(), Catch::Matchers::Contains(p.string()));
      e = error_of([&] { (void)reader_t(p); });
      CHECK(e.code() == errc::io_error);
      CHECK_THAT(e.what(), Catch::Matchers::Contains(p.string()));
    }
    const auto e = error_of([&] { (void)writer_t::create(good, 8); });
    CHECK(e.code() == errc::io_error);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("already exists"));
    CHECK(read_all(good) == original);
    CHECK(error_of([&] { (void)writer_t::create(dir.path / "no" / "such" / "dir.mmsb", 8); }).code() == errc::io_error);
    auto replaced = writer_t::create(good, 8, mmsb::create_mode::truncate);
    CHECK(replaced.size() == 0);
    CHECK(replaced.capacity() == 8);
  }
  // No temporary files are left behind by any of it.
  for (const auto& entry : fs::directory_iterator(dir.path))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}
