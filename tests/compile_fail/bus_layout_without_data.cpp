// expect: mmsb: basic_bus<S, Layout, ...>: a bus logs whole pages and deltas as contiguous bytes
#include <mmsb/bus/bus.hpp>

#include <cstddef>

// A valid layout (load and store slot by slot) with no contiguous data(): fine for pages and
// deltas, refused by the bus with one clear line instead of an error deep in the log's codec.
struct reversed16 {
  using value_type = int;
  static constexpr std::size_t extent = 16;
  static constexpr mmsb::layout_kind kind = mmsb::layout_kind::dense;
  struct storage_type {
    int values[16];
  };
  static int load(const storage_type& s, std::size_t i) noexcept { return s.values[15 - i]; }
  static void store(storage_type& s, std::size_t i, int v) noexcept { s.values[15 - i] = v; }
};

#ifdef MMSB_COMPILE_FAIL
using layout = reversed16;
#else
using layout = mmsb::dense<int, 16>;
#endif

int main()
{
  return sizeof(mmsb::basic_bus<mmsb::plus_times<int>, layout>) > 0 ? 0 : 1;
}
