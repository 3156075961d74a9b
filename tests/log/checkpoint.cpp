// Checkpoints: round trip, keeping the previous one, falling back past a damaged newest one
// without repairing it, stray temp files, failed publishes and power loss (RELIABILITY #4).
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace mmsb;

namespace {
using lay = dense<float, 64>;
const std::vector<std::byte> shape(16, std::byte{7});

std::vector<page<lay>> random_pages(std::mt19937_64& rng, std::size_t n)
{
  std::vector<page<lay>> pages;
  for (std::uint32_t i = 0; i < n; ++i) {
    pages.emplace_back(page_id{i * 3}, epoch{1 + rng() % 50});
    for (std::size_t s = 0; s < lay::extent; ++s) pages.back().set(s, static_cast<float>(rng() % 1000) / 4.0f);
  }
  return pages;
}

state_hash hash_of(const std::vector<page<lay>>& pages)
{
  state_hasher h;
  for (const auto& p : pages) hash_into(h, p);
  return h.digest();
}

// Loads into pages; returns what was loaded.
checkpoint_load load(file_system& fs, std::vector<page<lay>>& out)
{
  out.clear();
  return load_checkpoint(fs, "/ckpt", shape, sizeof(lay::storage_type),
                         [&](page_id id, epoch e, span<const std::byte> bytes) {
                           out.emplace_back(id, e);
                           std::memcpy(&out.back().storage(), bytes.data(), bytes.size());
                         });
}
} // namespace

TEST_CASE("a checkpoint round-trips every page, its epoch and the state hash")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  memory_file_system fs;
  const auto pages = random_pages(rng, 40);
  write_checkpoint<lay>(fs, "/ckpt", shape, epoch{100}, pages);
  std::vector<page<lay>> back;
  const auto r = load(fs, back);
  REQUIRE(r.loaded);
  CHECK(r.loaded->epoch == epoch{100});
  CHECK(r.loaded->pages == 40);
  CHECK(r.loaded->hash == hash_of(pages));
  REQUIRE(back.size() == pages.size());
  CHECK(hash_of(back) == hash_of(pages));
  for (std::size_t i = 0; i < pages.size(); ++i) CHECK(back[i].epoch() == pages[i].epoch());
  CHECK(r.rejected.empty());
}

TEST_CASE("the previous checkpoint is kept and older ones go")
{
  std::mt19937_64 rng(2);
  memory_file_system fs;
  for (std::uint64_t e : {10u, 20u, 30u}) write_checkpoint<lay>(fs, "/ckpt", shape, epoch{e}, random_pages(rng, 5));
  CHECK(fs.list("/ckpt") == std::vector<std::string>{checkpoint_name(epoch{20}), checkpoint_name(epoch{30})});
}

TEST_CASE("a damaged or incomplete newest checkpoint falls back to the previous one, untouched")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 1);
  memory_file_system fs;
  const auto older = random_pages(rng, 8), newer = random_pages(rng, 8);
  write_checkpoint<lay>(fs, "/ckpt", shape, epoch{10}, older);
  write_checkpoint<lay>(fs, "/ckpt", shape, epoch{20}, newer);
  const std::string newest = "/ckpt/" + checkpoint_name(epoch{20});
  const std::string good = fs.contents(newest);

  std::vector<std::string> damaged;
  for (int i = 0; i < 200; ++i) {  // bit flips anywhere
    std::string bad = good;
    const std::size_t bit = rng() % (bad.size() * 8);
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    damaged.push_back(bad);
  }
  for (std::size_t cut : {std::size_t{0}, std::size_t{10}, good.size() / 2, good.size() - 1}) damaged.push_back(good.substr(0, cut));
  damaged.push_back(good + "x");
  for (const auto& bad : damaged) {
    fs.set_contents(newest, bad);
    std::vector<page<lay>> back;
    const auto r = load(fs, back);
    REQUIRE(r.loaded);
    REQUIRE(r.loaded->epoch == epoch{10});
    REQUIRE(hash_of(back) == hash_of(older));
    REQUIRE(r.rejected.size() == 1);
    REQUIRE(r.rejected[0].rfind(newest, 0) == 0);
    REQUIRE(fs.contents(newest) == bad);  // never repaired
  }
}

TEST_CASE("stray temp files are ignored and other buses' checkpoints refused")
{
  std::mt19937_64 rng(3);
  memory_file_system fs;
  const auto pages = random_pages(rng, 4);
  write_checkpoint<lay>(fs, "/ckpt", shape, epoch{5}, pages);
  fs.set_contents("/ckpt/" + checkpoint_name(epoch{9}) + ".tmp", "half written");
  std::vector<page<lay>> back;
  auto r = load(fs, back);
  REQUIRE(r.loaded);
  CHECK(r.loaded->epoch == epoch{5});
  const std::vector<std::byte> other(16, std::byte{8});
  CHECK_THROWS_WITH(load_checkpoint(fs, "/ckpt", other, sizeof(lay::storage_type), [](auto, auto, auto) {}),
                    Catch::Contains("was written for a different bus"));
}

TEST_CASE("a failed publish leaves the previous checkpoint in force and no temp file")
{
  std::mt19937_64 rng(4);
  memory_file_system mem;
  faulty_file_system fs(mem);
  const auto first = random_pages(rng, 6);
  write_checkpoint<lay>(fs, "/ckpt", shape, epoch{10}, first);
  for (const fs_op op : {fs_op::write, fs_op::sync, fs_op::rename}) {
    fs.fail_nth(op, 1, op == fs_op::write ? ENOSPC : EIO);
    INFO("failing " << to_string(op));
    CHECK_THROWS_AS(write_checkpoint<lay>(fs, "/ckpt", shape, epoch{20}, random_pages(rng, 6)), error);
    fs.reset();
    CHECK(mem.list("/ckpt") == std::vector<std::string>{checkpoint_name(epoch{10})});
    std::vector<page<lay>> back;
    const auto r = load(mem, back);
    REQUIRE(r.loaded);
    CHECK(r.loaded->epoch == epoch{10});
    CHECK(hash_of(back) == hash_of(first));
  }
}

TEST_CASE("a checkpoint larger than the writer's buffer streams in pieces; a failure in the middle leaves no temp file")
{
  std::mt19937_64 rng(5);
  memory_file_system mem;
  faulty_file_system fs(mem);
  const auto big = random_pages(rng, 5000);  // ~1.5 MiB of records: at least two writes
  write_checkpoint<lay>(fs, "/ckpt", shape, epoch{10}, big);
  CHECK(fs.count(fs_op::write) >= 2);
  std::vector<page<lay>> back;
  auto r = load(mem, back);
  REQUIRE(r.loaded);
  CHECK(r.loaded->pages == big.size());
  CHECK(hash_of(back) == hash_of(big));
  fs.reset();
  fs.fail_nth(fs_op::write, 2, EIO);  // the second piece
  CHECK_THROWS_AS(write_checkpoint<lay>(fs, "/ckpt", shape, epoch{20}, random_pages(rng, 5000)), error);
  fs.reset();
  CHECK(mem.list("/ckpt") == std::vector<std::string>{checkpoint_name(epoch{10})});
  r = load(mem, back);
  REQUIRE(r.loaded);
  CHECK(r.loaded->epoch == epoch{10});
}

TEST_CASE("power loss: a published checkpoint survives; one interrupted before its directory sync may not, and then the previous one loads")
{
  std::mt19937_64 rng(5);
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    memory_file_system mem;
    faulty_file_system fs(mem);
    mem.make_dir("/ckpt");
    mem.sync_dir("/");
    const auto first = random_pages(rng, 6), second = random_pages(rng, 6);
    write_checkpoint<lay>(fs, "/ckpt", shape, epoch{10}, first);
    fs.fail_nth(fs_op::sync_dir, 1, EIO);
    CHECK_THROWS_AS(write_checkpoint<lay>(fs, "/ckpt", shape, epoch{20}, second), error);
    mem.crash(crash_mode::random, seed);
    std::vector<page<lay>> back;
    const auto r = load(mem, back);
    REQUIRE(r.loaded);
    if (r.loaded->epoch == epoch{20}) CHECK(hash_of(back) == hash_of(second));
    else CHECK(hash_of(back) == hash_of(first));

    memory_file_system mem2;
    mem2.make_dir("/ckpt");
    mem2.sync_dir("/");
    write_checkpoint<lay>(mem2, "/ckpt", shape, epoch{30}, second);
    mem2.crash(crash_mode::drop, seed);
    const auto r2 = load(mem2, back);
    REQUIRE(r2.loaded);
    CHECK(r2.loaded->epoch == epoch{30});
  }
}
