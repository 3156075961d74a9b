// Writes a small durable store for the mmsb command's test: 40 commits, a checkpoint after 20.
#include <mmsb/bus/shape.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_txn.hpp"

#include <cstdio>

int main(int argc, char** argv)
{
  if (argc != 2) { std::fprintf(stderr, "usage: make_store DIR\n"); return 2; }
  mmsb::posix_file_system fs;
  using semiring = mmsb::plus_times<std::int64_t>;
  using layout = mmsb::dense<std::int64_t, 32>;
  mmsb::durable_store<semiring, layout> s(fs, argv[1], mmsb::shape_descriptor<semiring, layout>());
  for (int p = 0; p < 3; ++p) (void)s.create_page();
  for (int k = 0; k < 40; ++k) {
    auto tx = mmsb::test::begin_txn(s);
    tx.accumulate(mmsb::page_id{static_cast<std::uint32_t>(k % 3)}, static_cast<std::size_t>(k % 32), k);
    (void)mmsb::test::commit_txn(s, tx);
    if (k == 19) s.checkpoint();
  }
  std::printf("store at epoch %llu\n", static_cast<unsigned long long>(s.current_epoch().value()));
}
