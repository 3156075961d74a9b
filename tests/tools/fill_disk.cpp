// Commits to a durable store on a small file system until it is full, then checks the promise:
// the failed commit reports no space and changes nothing; after space is freed commits resume;
// a reopened store recovers exactly the acknowledged commits. Used by tests/log/disk_full.sh.
#include <mmsb/log.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_txn.hpp"

#include <cstdio>
#include <string>
#include <vector>

using store = mmsb::durable_store<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 512>>;

int main(int argc, char** argv)
{
  if (argc != 2) { std::fprintf(stderr, "usage: fill_disk DIR\n"); return 2; }
  const std::string root = argv[1];
  mmsb::posix_file_system fs;
  const std::vector<std::byte> shape(4, std::byte{9});
  // Ballast to free later.
  const auto ballast = fs.open(root + "/ballast", mmsb::open_mode::create_new);
  fs.write_all(ballast, std::vector<std::byte>(64 * 1024, std::byte{1}));
  fs.close(ballast);

  store s(fs, root + "/db", shape);
  const auto p = s.create_page();
  std::uint64_t committed = 0;
  for (;;) {
    const auto hash = s.hash();
    const auto epoch = s.current_epoch();
    auto tx = mmsb::test::begin_txn(s);
    for (std::size_t i = 0; i < 512; ++i) tx.accumulate(p, i, static_cast<std::int64_t>(committed + i));
    try {
      (void)mmsb::test::commit_txn(s, tx);
      ++committed;
    } catch (const mmsb::error& e) {
      std::printf("commit %llu failed: %s\n", static_cast<unsigned long long>(committed + 1), e.what());
      if (e.code() != mmsb::errc::no_space) { std::printf("FAIL: expected no_space\n"); return 1; }
      if (s.hash() != hash || s.current_epoch() != epoch) { std::printf("FAIL: state changed\n"); return 1; }
      break;
    }
    if (committed > 100000) { std::printf("FAIL: the file system never filled\n"); return 1; }
  }
  fs.remove(root + "/ballast");
  auto tx = mmsb::test::begin_txn(s);
  tx.accumulate(p, 0, 1);
  (void)mmsb::test::commit_txn(s, tx);  // space again: works
  ++committed;
  const auto final_hash = s.hash();
  store again(fs, root + "/db", shape);
  if (again.current_epoch().value() != committed || again.hash() != final_hash) {
    std::printf("FAIL: recovered epoch %llu, expected %llu\n", static_cast<unsigned long long>(again.current_epoch().value()),
                static_cast<unsigned long long>(committed));
    return 1;
  }
  std::printf("PASS: %llu commits; the full disk was reported, changed nothing, and commits resumed\n",
              static_cast<unsigned long long>(committed));
  return 0;
}
