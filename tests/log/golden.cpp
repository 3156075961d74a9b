// Golden files (RELIABILITY #1): a log and a checkpoint written by tests/tools/make_store and
// committed to tests/log/golden/. They must keep decoding to the recorded state hashes, which an
// independent model of make_store's commits (page k % 3, slot k % 32, += k) reproduces too. A
// format change that breaks old files fails here.
#include <mmsb/log.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace mmsb;

namespace {
using lay = dense<std::int64_t, 32>;
using store = durable_store<plus_times<std::int64_t>, lay>;
const std::vector<std::byte> shape(8, std::byte{1});

// make_store: commit k (0-based) adds k to slot k % 32 of page k % 3, at epoch k + 1.
state_hash model(std::uint64_t epochs)
{
  std::vector<page<lay>> pages;
  for (std::uint32_t p = 0; p < 3; ++p) pages.emplace_back(page_id{p});
  for (std::uint64_t k = 0; k < epochs; ++k)
    pages[k % 3].set(k % 32, pages[k % 3].get(k % 32) + static_cast<std::int64_t>(k));
  state_hasher h;
  for (const auto& p : pages) hash_into(h, p);
  return h.digest();
}

std::string copy_golden()
{
  char tmpl[] = "/tmp/mmsb-golden-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::filesystem::copy(MMSB_GOLDEN_DIR, tmpl, std::filesystem::copy_options::recursive);
  return tmpl;
}
} // namespace

TEST_CASE("the golden store decodes to its recorded state hashes")
{
  const std::map<std::uint64_t, std::uint64_t> recorded{
    {20, 0xfec97986a51e11a3ull}, {25, 0x0ca537dfbeada71dull}, {33, 0x3c63e0e33bb6fe9bull}, {40, 0xedeaa30daf022e96ull}};
  for (const auto& [e, h] : recorded) REQUIRE(model(e).value == h);  // the constants are the model's

  const std::string dir = copy_golden();  // opening a store starts a new segment: work on a copy
  posix_file_system fs;
  {
    store s(fs, dir, shape);
    CHECK(s.current_epoch() == epoch{40});
    CHECK(s.hash().value == recorded.at(40));
    CHECK(!s.recovery().damage);
    for (const auto& [e, h] : recorded) CHECK(s.replay_to(epoch{e}).value == h);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("the golden log and checkpoint decode record by record")
{
  posix_file_system fs;
  const std::string golden = MMSB_GOLDEN_DIR;
  std::vector<std::uint64_t> epochs;
  const auto report = read_log(fs, golden + "/log", shape, recovery_mode::strict,
                               [&](const record_header& h, span<const std::byte>) { epochs.push_back(h.epoch.value()); });
  CHECK(report.records == 20);
  REQUIRE(epochs.size() == 20);
  CHECK(epochs.front() == 21);
  CHECK(epochs.back() == 40);
  std::size_t pages = 0;
  const auto ckpt = load_checkpoint(fs, golden + "/checkpoints", shape, sizeof(lay::storage_type),
                                    [&](page_id, epoch, span<const std::byte>) { ++pages; });
  REQUIRE(ckpt.loaded);
  CHECK(ckpt.loaded->epoch == epoch{20});
  CHECK(ckpt.loaded->hash == model(20));
  CHECK(pages == 3);
}
