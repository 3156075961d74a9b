// A custom layout, end to end: the code of docs/layouts.md ("A layout of your own"), verbatim
// between the BEGIN/END markers, so the documented example compiles and runs in every build.
#include <mmsb/bus.hpp>
#include <mmsb/log/memory_file_system.hpp>

#include <catch2/catch.hpp>

// BEGIN docs/layouts.md: the layout
#include <mmsb/config/macros.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/page/layout.hpp>

#include <cstddef>
#include <type_traits>

// z_tile<T, Side>: a Side x Side tile of T in Z order (Morton order). Slot = the bits of x and y
// interleaved, so every 2 x 2, 4 x 4, ... block is contiguous and a cell's neighbours share a
// cache line or two. Its bytes are one array of T in slot order, exactly as dense<T, Side * Side>'s.
template <class T, std::size_t Side>
struct z_tile {
  static_assert(Side > 0 && Side <= 256 && (Side & (Side - 1)) == 0, "z_tile: Side must be a power of two up to 256");
  static_assert(std::is_trivially_copyable_v<T>, "z_tile: T must be trivially copyable");

  // The layout concept (mmsb/page/layout.hpp):
  using value_type = T;
  static constexpr std::size_t extent = Side * Side;
  static constexpr mmsb::layout_kind kind = mmsb::layout_kind::dense;  // how its bytes read: one array in slot order

  struct alignas(mmsb::page_alignment) storage_type {
    T values[Side * Side];
  };

  MMSB_HD static constexpr T load(const storage_type& s, std::size_t i) noexcept { return s.values[i]; }
  MMSB_HD static constexpr void store(storage_type& s, std::size_t i, T v) noexcept { s.values[i] = v; }

  // Optional, and a promise: the slots as one array in slot order. It opens the SIMD paths, and a
  // bus needs it (the log writes a dense delta's payload through it).
  MMSB_HD static constexpr T* data(storage_type& s) noexcept { return s.values; }
  MMSB_HD static constexpr const T* data(const storage_type& s) noexcept { return s.values; }

  // Not part of the concept: this layout's own addressing, (x, y) -> slot.
  MMSB_HD static constexpr std::size_t slot(std::size_t x, std::size_t y) noexcept
  {
    std::size_t s = 0;
    for (std::size_t b = 0; (std::size_t{1} << b) < Side; ++b)
      s |= ((x >> b) & 1u) << (2 * b) | ((y >> b) & 1u) << (2 * b + 1);
    return s;
  }
};

static_assert(mmsb::layout<z_tile<float, 16>>);
static_assert(sizeof(z_tile<float, 16>::storage_type) == 1024);
// END docs/layouts.md: the layout

TEST_CASE("a custom layout: Z-order addressing over one array")
{
  using tile = z_tile<float, 16>;
  STATIC_REQUIRE(tile::slot(0, 0) == 0);
  STATIC_REQUIRE(tile::slot(1, 0) == 1);
  STATIC_REQUIRE(tile::slot(0, 1) == 2);
  STATIC_REQUIRE(tile::slot(1, 1) == 3);
  STATIC_REQUIRE(tile::slot(2, 0) == 4);
  STATIC_REQUIRE(tile::slot(15, 15) == 255);
  bool seen[256] = {};
  for (std::size_t y = 0; y < 16; ++y)
    for (std::size_t x = 0; x < 16; ++x) {
      const auto s = tile::slot(x, y);
      REQUIRE(s < tile::extent);
      CHECK(!seen[s]);  // a bijection onto the slots
      seen[s] = true;
    }
  STATIC_REQUIRE(mmsb::detail::contiguous_as<tile, float>);  // data(): the fast paths may use it
}

TEST_CASE("a custom layout: pages, deltas and a bus, then the same files read as dense")
{
  // BEGIN docs/layouts.md: the use
  using tile = z_tile<float, 16>;  // 16 x 16 floats, 1 KiB a page
  using S = mmsb::min_plus<float>;  // distances: keep the smallest

  // A page and a delta, by hand.
  mmsb::page<tile> p(mmsb::page_id{0});
  mmsb::delta_builder<S, tile> d(mmsb::page_id{0});
  d.assign(tile::slot(2, 3), 7.0f).accumulate(tile::slot(2, 3), 9.0f);  // min(7, 9) = 7
  mmsb::apply(p, d.build());
  CHECK(p.get(tile::slot(2, 3)) == 7.0f);

  // A bus over the layout: producers, a tick, the log, a replay.
  mmsb::memory_file_system fs;  // a real directory works the same: mmsb::posix_file_system
  mmsb::state_hash h{};
  mmsb::page_id field;
  {
    mmsb::bus<S, tile> b(mmsb::bus_options{.fs = &fs, .dir = "grid"});
    field = b.create_page();  // every slot at S's zero, +inf
    auto w = b.make_producer();
    w.assign(field, tile::slot(3, 5), 0.0f);      // a target
    w.accumulate(field, tile::slot(3, 6), 4.0f);  // min(+inf, 4) = 4
    w.accumulate(field, tile::slot(3, 6), 1.0f);  // min(4, 1) = 1
    b.tick();
    CHECK(b.value(field).get(tile::slot(3, 5)) == 0.0f);
    CHECK(b.value(field).get(tile::slot(3, 6)) == 1.0f);
    h = b.hash();
    CHECK(b.store().replay_to(b.current_epoch()) == h);  // the log alone rebuilds it
  }

  // kind = dense: the files describe "layout=dense element=f32/4 extent=256 page=1024", so a bus
  // over plain dense<float, 256> opens them and reads the same bytes (slot numbers are z_tile's).
  mmsb::bus<S, mmsb::dense<float, 256>> plain(mmsb::bus_options{.fs = &fs, .dir = "grid"});
  CHECK(plain.hash() == h);
  CHECK(plain.value(field).get(tile::slot(3, 6)) == 1.0f);
  // END docs/layouts.md: the use
}
