// The durable shape descriptor (mmsb/bus/shape.hpp): golden bytes for the built-ins, names given
// by members and by traits specializations, the words tools print, and a store of another shape
// refused with both shapes and the path in the message.
#include <mmsb/bus.hpp>
#include <mmsb/bus/shape.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/soa.hpp>
#include <mmsb/semiring/builtins.hpp>

#include "../support/store_files.hpp"
#include "../support/store_txn.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

using namespace mmsb;

namespace {
// A user semiring named through its members, over a value type without an element name.
struct interval {
  float lo, hi;
};
struct hull {
  using value_type = interval;
  static constexpr std::string_view name = "hull";
  static constexpr interval add(interval a, interval b) noexcept
  {
    return {a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
  }
  static constexpr interval mul(interval a, interval b) noexcept { return {a.lo + b.lo, a.hi + b.hi}; }
  static constexpr interval zero() noexcept { return {1e30f, -1e30f}; }
  static constexpr interval one() noexcept { return {0, 0}; }
  static constexpr bool idempotent_add = true;
  static constexpr bool commutative_add = true;
};

// A type it cannot edit, named through a traits specialization.
struct counter {
  std::uint32_t v;
};
} // namespace

template <>
struct mmsb::semiring_traits<counter> {
  using value_type = std::uint32_t;
  static constexpr std::string_view name = "wrapping_counter";
  static constexpr std::uint32_t add(std::uint32_t a, std::uint32_t b) noexcept { return a + b; }
  static constexpr std::uint32_t mul(std::uint32_t a, std::uint32_t b) noexcept { return a * b; }
  static constexpr std::uint32_t zero() noexcept { return 0; }
  static constexpr std::uint32_t one() noexcept { return 1; }
  static constexpr bool commutative_add = true;
};

namespace {
template <class S, class L>
std::string bytes_of()
{
  const auto b = shape_descriptor<S, L>();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::vector<std::byte> as_bytes(std::string_view s)
{
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}
} // namespace

TEST_CASE("element names come from signedness and width, never from typeid")
{
  STATIC_REQUIRE(element_name_v<bool> == "bool");
  STATIC_REQUIRE(element_name_v<std::int8_t> == "i8");
  STATIC_REQUIRE(element_name_v<std::int16_t> == "i16");
  STATIC_REQUIRE(element_name_v<std::int32_t> == "i32");
  STATIC_REQUIRE(element_name_v<std::int64_t> == "i64");
  STATIC_REQUIRE(element_name_v<long long> == "i64");
  STATIC_REQUIRE(element_name_v<std::uint8_t> == "u8");
  STATIC_REQUIRE(element_name_v<std::uint16_t> == "u16");
  STATIC_REQUIRE(element_name_v<std::uint32_t> == "u32");
  STATIC_REQUIRE(element_name_v<std::uint64_t> == "u64");
  STATIC_REQUIRE(element_name_v<const float> == "f32");
  STATIC_REQUIRE(element_name_v<double> == "f64");
  STATIC_REQUIRE(element_name_v<interval>.empty());
}

TEST_CASE("built-in semirings and user semirings name themselves")
{
  STATIC_REQUIRE(semiring_name_v<plus_times<float>> == "plus_times<f32>");
  STATIC_REQUIRE(semiring_name_v<plus_times<std::int64_t>> == "plus_times<i64>");
  STATIC_REQUIRE(semiring_name_v<min_plus<double>> == "min_plus<f64>");
  STATIC_REQUIRE(semiring_name_v<max_plus<std::int32_t>> == "max_plus<i32>");
  STATIC_REQUIRE(semiring_name_v<max_min<std::uint8_t>> == "max_min<u8>");
  STATIC_REQUIRE(semiring_name_v<or_and> == "or_and");
  STATIC_REQUIRE(semiring_name_v<hull> == "hull");                    // member opt-in
  STATIC_REQUIRE(semiring_traits<hull>::name == "hull");              // forwarded by the traits
  STATIC_REQUIRE(semiring_name_v<counter> == "wrapping_counter");     // traits specialization
  STATIC_REQUIRE(has_semiring_name<or_and> && has_semiring_name<counter>);
}

// Golden: these bytes are in users' files. Changing any of them is a format change (bump
// mmsb-shape/N and keep reading the old one), never a silent edit.
TEST_CASE("the descriptor bytes of the built-ins are pinned")
{
  CHECK(bytes_of<min_plus<float>, dense<float, 1024>>() ==
        "mmsb-shape/1 semiring=min_plus<f32> flags=idempotent,commutative,selective,exact layout=dense element=f32/4 "
        "extent=1024 page=4096");
  CHECK(bytes_of<plus_times<float>, dense<float, 256>>() ==
        "mmsb-shape/1 semiring=plus_times<f32> flags=commutative,inverse layout=dense element=f32/4 extent=256 page=1024");
  CHECK(bytes_of<plus_times<std::int64_t>, dense<std::int64_t, 64>>() ==
        "mmsb-shape/1 semiring=plus_times<i64> flags=commutative,inverse,exact layout=dense element=i64/8 extent=64 page=512");
  CHECK(bytes_of<max_min<std::int32_t>, dense<std::int32_t, 100>>() ==
        "mmsb-shape/1 semiring=max_min<i32> flags=idempotent,commutative,selective,exact layout=dense element=i32/4 "
        "extent=100 page=448");
  CHECK(bytes_of<max_plus<double>, soa<256, double, double, double>>() ==
        "mmsb-shape/1 semiring=max_plus<f64> flags=idempotent,commutative,selective,exact layout=soa/3 element=f64/8 "
        "extent=768 page=6144");
  CHECK(bytes_of<min_plus<float>, soa<128, float, float>>() ==
        "mmsb-shape/1 semiring=min_plus<f32> flags=idempotent,commutative,selective,exact layout=soa/2 element=f32/4 "
        "extent=256 page=1024");
  CHECK(bytes_of<or_and, bits<1000>>() ==
        "mmsb-shape/1 semiring=or_and flags=idempotent,commutative,selective,exact,bitwise layout=bits element=bool/1 "
        "extent=1000 page=128");
  CHECK(bytes_of<hull, dense<interval, 16>>() ==
        "mmsb-shape/1 semiring=hull flags=idempotent,commutative,exact layout=dense element=value(hull)/8 extent=16 page=128");
  CHECK(bytes_of<counter, dense<std::uint32_t, 16>>() ==
        "mmsb-shape/1 semiring=wrapping_counter flags=commutative,exact layout=dense element=u32/4 extent=16 page=64");
}

TEST_CASE("every semiring x layout pair gets its own shape")
{
  const std::vector<std::string> all{
    bytes_of<min_plus<float>, dense<float, 1024>>(),       bytes_of<max_plus<float>, dense<float, 1024>>(),
    bytes_of<min_plus<float>, dense<float, 512>>(),        bytes_of<min_plus<float>, soa<512, float, float>>(),
    bytes_of<min_plus<float>, soa<1024, float>>(),         bytes_of<min_plus<std::int32_t>, dense<std::int32_t, 1024>>(),
    bytes_of<plus_times<std::uint32_t>, dense<std::uint32_t, 16>>(), bytes_of<counter, dense<std::uint32_t, 16>>(),
  };
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i + 1; j < all.size(); ++j) CHECK(all[i] != all[j]);
}

TEST_CASE("any shape bytes render in words")
{
  CHECK(describe_shape(shape_descriptor<min_plus<float>, dense<float, 1024>>()) ==
        "min_plus<f32> (idempotent, commutative, selective, exact) over dense pages of 1024 f32 (4 bytes each; 4096 bytes "
        "per page) [mmsb-shape/1]");
  CHECK(describe_shape(shape_descriptor<plus_times<std::int64_t>, soa<64, std::int64_t, std::int64_t>>()) ==
        "plus_times<i64> (commutative, inverse, exact) over soa pages of 2 fields x 64 records of i64 (8 bytes each; 1024 "
        "bytes per page) [mmsb-shape/1]");
  CHECK(describe_shape(shape_descriptor<or_and, bits<1000>>()) ==
        "or_and (idempotent, commutative, selective, exact, bitwise) over bits pages of 1000 packed bool (128 bytes per page) "
        "[mmsb-shape/1]");
  CHECK(describe_shape(as_bytes("mmsb-bus/1024/4/1/N4mmsb8min_plusIfEE")) ==
        "legacy shape 'mmsb-bus/1024/4/1/N4mmsb8min_plusIfEE' (compiler-specific, from before mmsb-shape/1)");
  CHECK(describe_shape(as_bytes("mmsb-shape/2 semiring=x")) == "shape of another descriptor format 'mmsb-shape/2 semiring=x'");
  CHECK(describe_shape(as_bytes("mmsb-shape/1 semiring=x")) == "malformed shape 'mmsb-shape/1 semiring=x'");
  CHECK(describe_shape(as_bytes("mmsb-shape/1 semiring=x flags=none layout=soa/0 element=i8/1 extent=4 page=64")) ==
        "malformed shape 'mmsb-shape/1 semiring=x flags=none layout=soa/0 element=i8/1 extent=4 page=64'");
  CHECK(describe_shape(std::vector<std::byte>{std::byte{1}, std::byte{'a'}, std::byte{0xff}}) == "unknown shape '\\x01a\\xff'");
  CHECK(describe_shape({}) == "an empty shape");
}

TEST_CASE("a store of another shape is refused, naming the path and both shapes; nothing is written")
{
  using sr = plus_times<std::int64_t>;
  using lay = dense<std::int64_t, 64>;
  memory_file_system fs;
  {
    durable_store<sr, lay> s(fs, "/db", shape_descriptor<sr, lay>());
    (void)s.create_page();
    for (int k = 0; k < 4; ++k) {
      auto tx = mmsb::test::begin_txn(s);
      tx.accumulate(page_id{0}, static_cast<std::size_t>(k), k);
      (void)mmsb::test::commit_txn(s, tx);
    }
  }
  const auto before = fs.list("/db/log");
  const auto other = shape_descriptor<plus_times<std::int32_t>, dense<std::int32_t, 128>>();
  const auto refused = [&](const std::vector<std::byte>& shape, const char* path) {
    CHECK_THROWS_MATCHES((durable_store<sr, lay>(fs, "/db", shape)), error,
                         Catch::Predicate<error>(
                           [&](const error& e) {
                             const std::string m = e.what();
                             return e.code() == errc::bad_format && m.find(path) != std::string::npos &&
                                    m.find("was written for a different bus") != std::string::npos &&
                                    m.find("the file holds 'mmsb-shape/1 semiring=plus_times<i64> ") != std::string::npos &&
                                    m.find("this store expects " + detail::quoted_shape(shape)) != std::string::npos;
                           },
                           "bad_format naming the path and both shapes"));
  };
  // The log (no checkpoint yet): the other descriptor and a legacy shape of another length alike
  // are refused as foreign, not reported as damage.
  refused(other, "/db/log/log-");
  refused(as_bytes("mmsb-bus/64/8/1/N4mmsb10plus_timesIlEE"), "/db/log/log-");
  refused(std::vector<std::byte>{std::byte{0}, std::byte{0xfe}}, "/db/log/log-");
  CHECK(fs.list("/db/log") == before);

  {
    durable_store<sr, lay> s(fs, "/db", shape_descriptor<sr, lay>());
    s.checkpoint();
  }
  refused(other, "/db/checkpoints/ckpt-");
}

TEST_CASE("non-printable shape bytes appear as hex in the log's messages")
{
  CHECK(detail::quoted_shape(std::vector<std::byte>{std::byte{'o'}, std::byte{'k'}, std::byte{0}, std::byte{0x9c},
                                                    std::byte{'\''}}) == "'ok\\x00\\x9c\\''");
}

// Defect (issue 20): a bus of another shape, opened on an existing store, must never write into
// it. Every built-in shape below writes a store (log only, and log plus checkpoints); every other
// shape then opens it, in every recovery mode, through the bus. Each open is refused with
// bad_format naming the path and both shapes, and the store's files stay byte for byte as they were.
namespace {
template <class S, class L>
struct shape_case {
  using semiring = S;
  using layout = L;
};
using built_in_shapes = std::tuple<shape_case<plus_times<std::int64_t>, dense<std::int64_t, 64>>,
                                   shape_case<min_plus<float>, dense<float, 1024>>,
                                   shape_case<max_plus<double>, soa<256, double, double, double>>,
                                   shape_case<max_min<std::int32_t>, dense<std::int32_t, 100>>,
                                   shape_case<or_and, bits<1000>>>;

// Writes a store of case C in dir: pages, commits, and (with checkpoints) two checkpoints with
// commits between and after them, so the log has several segments.
template <class C>
void write_store(file_system& fs, const std::string& dir, bool checkpoints)
{
  using S = typename C::semiring;
  using L = typename C::layout;
  bus_options o;
  o.fs = &fs;
  o.dir = dir;
  basic_bus<S, L> b(o);
  const page_id p = b.create_page(), q = b.create_page();
  for (int k = 0; k < 6; ++k) {
    auto tx = b.begin();
    tx.assign(k % 2 ? p : q, static_cast<std::size_t>(k), typename L::value_type{});
    (void)b.commit(tx);
    if (checkpoints && (k == 1 || k == 3)) b.checkpoint();
  }
}

template <class C>
std::string shape_text()
{
  const auto s = shape_descriptor<typename C::semiring, typename C::layout>();
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Opens case C on dir (written by case W) in every recovery mode; each must be refused.
template <class C, class W>
void open_refused(file_system& fs, const std::string& dir)
{
  using S = typename C::semiring;
  using L = typename C::layout;
  for (const auto mode : {recovery_mode::tolerate_torn_tail, recovery_mode::point_in_time, recovery_mode::strict}) {
    bus_options o;
    o.fs = &fs;
    o.dir = dir;
    o.store.recovery = mode;
    INFO("opening " << shape_text<C>() << " on a store of " << shape_text<W>() << " (recovery mode " << to_string(mode) << ")");
    try {
      basic_bus<S, L> b(o);
      FAIL("opened: " << b.store().recovery().describe());
    } catch (const error& e) {
      const std::string m = e.what();
      CHECK(e.code() == errc::bad_format);
      CHECK_THAT(m, Catch::Contains(dir + "/"));
      CHECK_THAT(m, Catch::Contains("the file holds '" + shape_text<W>() + "'"));
      CHECK_THAT(m, Catch::Contains("this store expects '" + shape_text<C>() + "'"));
    }
  }
}
} // namespace

TEST_CASE("every built-in shape is refused on every other's store, in every recovery mode; the files stay byte for byte")
{
  char tmpl[] = "/tmp/mmsb-shapes-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string root = tmpl;
  posix_file_system posix;
  memory_file_system memory;
  for (const int run : {0, 1, 2, 3}) {
    const bool checkpoints = run % 2 == 1;
    file_system& fs = run < 2 ? static_cast<file_system&>(memory) : posix;  // the read path, then the mapped one
    const std::string base = run < 2 ? "/m" + std::to_string(run) : root + "/" + std::to_string(run);
    fs.make_dir(base);
    std::vector<std::vector<std::byte>> before;
    std::apply(
      [&](auto... w) {
        std::size_t i = 0;
        ((write_store<decltype(w)>(fs, base + "/s" + std::to_string(i), checkpoints),
          before.push_back(mmsb::test::store_files(fs, base + "/s" + std::to_string(i))), ++i),
         ...);
      },
      built_in_shapes{});
    std::size_t refused = 0;
    std::apply(
      [&](auto... w) {
        std::size_t wi = 0;
        (
          [&](auto wc) {
            using W = decltype(wc);
            std::apply(
              [&](auto... c) {
                (
                  [&](auto cc) {
                    using C = decltype(cc);
                    if constexpr (!std::is_same_v<C, W>) {
                      open_refused<C, W>(fs, base + "/s" + std::to_string(wi));
                      ++refused;
                    }
                  }(c),
                  ...);
              },
              built_in_shapes{});
            CHECK(mmsb::test::store_files(fs, base + "/s" + std::to_string(wi)) == before[wi]);
            ++wi;
          }(w),
          ...);
      },
      built_in_shapes{});
    CHECK(refused == 20);
  }
  std::filesystem::remove_all(root);
}
