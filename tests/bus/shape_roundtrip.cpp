// One program, built by two compilers (tests/bus/shape_roundtrip.py): a store written by one
// build must open in the other with the same state, because its files name their shape with
// mmsb/bus/shape.hpp's descriptor rather than with compiler-specific bytes.
//
//   shape_roundtrip write DIR     writes two stores under DIR (commits, a checkpoint, more
//                                 commits) and prints their state
//   shape_roundtrip read DIR      reopens them (checkpoint + log replay) and prints their state
//   shape_roundtrip foreign DIR   opens DIR/a as a store of another shape: prints the refusal
//
// The state lines are "<store>: epoch E hash H shape S"; writer and reader must print the same.
#include <mmsb/bus/shape.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/soa.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_txn.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

using counts = mmsb::durable_store<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 64>>;
using distances = mmsb::durable_store<mmsb::min_plus<float>, mmsb::soa<128, float, float>>;

template <class Store, class Semiring, class Layout>
Store open(mmsb::posix_file_system& fs, const std::string& dir)
{
  return Store(fs, dir, mmsb::shape_descriptor<Semiring, Layout>());
}

template <class Store>
void print(const char* name, const Store& s, const std::string& shape)
{
  std::printf("%s: epoch %llu hash %016llx shape %s\n", name, static_cast<unsigned long long>(s.current_epoch().value()),
              static_cast<unsigned long long>(s.hash().value), shape.c_str());
}

// Deterministic changes: commit k touches pages k % 3 and (k + 1) % 3.
template <class Store, class Value>
void write(Store& s, int commits, Value (*value)(int))
{
  for (int p = 0; p < 3; ++p) (void)s.create_page();
  for (int k = 0; k < commits; ++k) {
    auto tx = mmsb::test::begin_txn(s);
    tx.accumulate(mmsb::page_id{static_cast<std::uint32_t>(k % 3)}, static_cast<std::size_t>((k * 7) % 64), value(k));
    tx.assign(mmsb::page_id{static_cast<std::uint32_t>((k + 1) % 3)}, static_cast<std::size_t>((k * 5) % 64), value(k + 1));
    (void)mmsb::test::commit_txn(s, tx);
    if (k == commits / 2) s.checkpoint();
  }
}

std::int64_t count_value(int k) { return static_cast<std::int64_t>(k) * 1000003 - 77; }
float distance_value(int k) { return static_cast<float>(k) * 0.37f + 1.0f / static_cast<float>(k + 3); }

} // namespace

int main(int argc, char** argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: shape_roundtrip write|read|foreign DIR\n");
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  const std::string a_shape = mmsb::shape_text<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 64>>();
  const std::string b_shape = mmsb::shape_text<mmsb::min_plus<float>, mmsb::soa<128, float, float>>();
  mmsb::posix_file_system fs;
  try {
    if (mode == "write" || mode == "read") {
      if (mode == "write" && !fs.exists(dir)) fs.make_dir(dir);
      auto a = open<counts, mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 64>>(fs, dir + "/a");
      auto b = open<distances, mmsb::min_plus<float>, mmsb::soa<128, float, float>>(fs, dir + "/b");
      if (mode == "write") {
        write(a, 40, count_value);
        write(b, 33, distance_value);
      }
      print("a", a, a_shape);
      print("b", b, b_shape);
      return 0;
    }
    if (mode == "foreign") {
      auto a = open<counts, mmsb::plus_times<std::int32_t>, mmsb::dense<std::int32_t, 128>>(fs, dir + "/a");
      std::printf("opened a store of another shape: it must have been refused\n");
      return 1;
    }
  } catch (const mmsb::error& e) {
    std::printf("refused: %s\n", e.what());
    return mode == "foreign" ? 0 : 1;
  }
  std::fprintf(stderr, "usage: shape_roundtrip write|read|foreign DIR\n");
  return 2;
}
