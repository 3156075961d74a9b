// Writes the small stores the mmsb command's test (mmsb_cli.sh) reads, through a real bus, and
// prints the bus's own state hashes, one line each, for the test to compare with `mmsb replay`:
//   hash STORE EPOCH HEX     basic_bus::hash() right after the tick that reached EPOCH
//   hash_at STORE EPOCH HEX  basic_bus::hash_at(EPOCH) on the finished store
//
//   DIR/a  plus_times<i64> over dense<i64, 32>: pages 0-2 at zero, page 3 created at 7; 40 ticks,
//          one accumulate each (and an assign at tick 10), a checkpoint after tick 20
//   DIR/b  the same ticks without the checkpoint, except tick 30, which adds 1000 to page 1 slot 5
//          instead of 30 to page 1 slot 29 (so a and b are equal up to epoch 29, and differ after)
//   DIR/c  min_plus<f32> over dense<f32, 5> (20 bytes of slots in a 64-byte page; untouched slots
//          stay at +inf), 4 ticks
//   DIR/d  or_and over bits<70>, 3 ticks: sets, an assign of false, bits in both words
//   DIR/e  a custom semiring ("test_custom", over i32): `mmsb replay` cannot interpret it
#include <mmsb/bus/bus.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

struct test_custom {
  using value_type = std::int32_t;
  static constexpr std::string_view name = "test_custom";
  static constexpr std::int32_t add(std::int32_t a, std::int32_t b) noexcept { return a > b ? a : b; }
  static constexpr std::int32_t mul(std::int32_t a, std::int32_t b) noexcept { return a < b ? a : b; }
  static constexpr std::int32_t zero() noexcept { return -1000; }
  static constexpr std::int32_t one() noexcept { return 1000; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
};

mmsb::posix_file_system fs;

template <class Bus>
mmsb::bus_options at(const std::string& dir)
{
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = dir;
  return o;
}

template <class Bus>
void print_hash(const char* store, const Bus& bus)
{
  std::printf("hash %s %llu %016llx\n", store, static_cast<unsigned long long>(bus.current_epoch().value()),
              static_cast<unsigned long long>(bus.hash().value));
}

template <class Bus>
void print_hash_at(const char* store, const Bus& bus, std::uint64_t e)
{
  std::printf("hash_at %s %llu %016llx\n", store, static_cast<unsigned long long>(e),
              static_cast<unsigned long long>(bus.hash_at(mmsb::epoch{e}).value));
}

void write_ab(const std::string& dir, const char* store, bool variant)
{
  using bus_t = mmsb::basic_bus<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 32>>;
  bus_t bus(at<bus_t>(dir));
  for (int p = 0; p < 3; ++p) (void)bus.create_page();
  (void)bus.create_page(7);
  auto prod = bus.make_producer();
  for (int k = 0; k < 40; ++k) {
    const mmsb::page_id page{static_cast<std::uint32_t>(k % 4)};
    if (variant && k == 29) prod.accumulate(mmsb::page_id{1}, 5, 1000);
    else if (k == 9) prod.assign(page, 3, -5);
    else prod.accumulate(page, static_cast<std::size_t>(k % 32), k + 1);
    (void)bus.tick();
    print_hash(store, bus);
    if (!variant && k == 19) bus.checkpoint();
  }
  for (const std::uint64_t e : {20, 21, 25, 40}) print_hash_at(store, bus, e);
  if (variant)
    for (const std::uint64_t e : {0, 5, 19}) print_hash_at(store, bus, e);
}

void write_c(const std::string& dir)
{
  using bus_t = mmsb::basic_bus<mmsb::min_plus<float>, mmsb::dense<float, 5>>;
  bus_t bus(at<bus_t>(dir));
  (void)bus.create_page();
  (void)bus.create_page();
  auto prod = bus.make_producer();
  const float values[4] = {2.5f, 0.1f, -3.0f, 1e20f};
  for (int k = 0; k < 4; ++k) {
    prod.accumulate(mmsb::page_id{static_cast<std::uint32_t>(k % 2)}, static_cast<std::size_t>(k), values[k]);
    (void)bus.tick();
    print_hash("c", bus);
  }
}

void write_d(const std::string& dir)
{
  using bus_t = mmsb::basic_bus<mmsb::or_and, mmsb::bits<70>>;
  bus_t bus(at<bus_t>(dir));
  (void)bus.create_page();
  auto prod = bus.make_producer();
  prod.accumulate(mmsb::page_id{0}, 1, true);
  prod.accumulate(mmsb::page_id{0}, 65, true);
  (void)bus.tick();
  print_hash("d", bus);
  prod.accumulate(mmsb::page_id{0}, 69, true);
  (void)bus.tick();
  print_hash("d", bus);
  prod.assign(mmsb::page_id{0}, 1, false);
  (void)bus.tick();
  print_hash("d", bus);
}

void write_e(const std::string& dir)
{
  using bus_t = mmsb::basic_bus<test_custom, mmsb::dense<std::int32_t, 4>>;
  bus_t bus(at<bus_t>(dir));
  (void)bus.create_page();
  auto prod = bus.make_producer();
  prod.accumulate(mmsb::page_id{0}, 2, 9);
  (void)bus.tick();
  print_hash("e", bus);
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_store DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  fs.make_dir(dir);
  write_ab(dir + "/a", "a", false);
  write_ab(dir + "/b", "b", true);
  write_c(dir + "/c");
  write_d(dir + "/d");
  write_e(dir + "/e");
}
