// A user's program built against an installed MMSB, needing nothing but the install (the CMake
// package or mmsb.pc). It defines its own semiring, runs a durable bus over it in a temporary
// directory, checks every page against a plain recomputation, then reopens the store and checks
// that the state came back. That reaches the headers, the compiled libmmsb (log writer, POSIX
// files, record framing, the law checker) and the third-party libraries behind it.
//
// Built with MMSB_CONSUMER_KOKKOS=1, the bus runs its tick on kokkos_scheduler<Kokkos::OpenMP>
// (mmsb/kokkos.hpp), with Kokkos and OpenMP brought by the install or by the user.
//
//   producer ─ring─> [page a] ─ A (max of min) ─┐
//   producer ─ring─> [page b] ─ B (max of min) ─┴─> [page c]   c = (A ⊗ a) ⊕ (B ⊗ b)
//
// Exit 0 when every value matches, 1 on a mismatch, 2 on an mmsb::error.
#include <mmsb/mmsb.hpp>
#if MMSB_CONSUMER_KOKKOS
#  include <mmsb/kokkos.hpp>
#endif

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

// ---- the user's semiring: bottleneck (widest-path) capacities, (max, min, lowest, max) --------
inline constexpr std::string_view bottleneck_word = "consumer_bottleneck";

template <class T>
struct bottleneck {
  using value_type = T;
  static constexpr T add(T a, T b) noexcept { return a < b ? b : a; }  // the wider of two routes
  static constexpr T mul(T a, T b) noexcept { return a < b ? a : b; }  // a route is its narrowest link
  static constexpr T zero() noexcept { return std::numeric_limits<T>::lowest(); }
  static constexpr T one() noexcept { return std::numeric_limits<T>::max(); }
  static constexpr bool idempotent_add = true;
  static constexpr bool selective_add = true;
  static constexpr bool commutative_add = true;
  static constexpr std::string_view name = mmsb::instantiation_name<bottleneck_word, T>;
};
// ------------------------------------------------------------------------------------------------

namespace {

using semiring = bottleneck<std::int64_t>;
static_assert(mmsb::semiring<semiring>);
static_assert(mmsb::semiring_name_v<semiring> == "consumer_bottleneck<i64>");

constexpr std::size_t slots = 16;
using layout = mmsb::dense<std::int64_t, slots>;
#if MMSB_CONSUMER_KOKKOS
using scheduler = mmsb::kokkos_scheduler<Kokkos::OpenMP>;
#  if MMSB_CONSUMER_OWN_KOKKOS
constexpr const char* variant = "kokkos_scheduler<Kokkos::OpenMP>, the user's own Kokkos";
#  else
constexpr const char* variant = "kokkos_scheduler<Kokkos::OpenMP>";
#  endif
#else
using scheduler = mmsb::serial;
constexpr const char* variant = "serial";
#endif
using bus_type = mmsb::basic_bus<semiring, layout, mmsb::host_heap, scheduler>;

constexpr int ticks = 4;

// The change a tick sends to slot s of the data page `which` (0: a, 1: b); every 5th is an assign.
std::int64_t change_value(int tick, int which, std::size_t s)
{
  return static_cast<std::int64_t>((tick * 37 + which * 11 + static_cast<int>(s) * 13) % 101) - 20;
}
bool change_assigns(int tick, std::size_t s) { return (tick + static_cast<int>(s)) % 5 == 0; }

// Edge capacities: A links c[r] to a[r] and a[(r + 3) % slots]; B links c[r] to b[(r + 1) % slots].
std::vector<mmsb::matrix_entry<std::int64_t>> edge_a()
{
  std::vector<mmsb::matrix_entry<std::int64_t>> e;
  for (std::uint32_t r = 0; r < slots; ++r) {
    e.push_back({r, r, 50});
    e.push_back({r, static_cast<std::uint32_t>((r + 3) % slots), 10 + static_cast<std::int64_t>(r)});
  }
  return e;
}
std::vector<mmsb::matrix_entry<std::int64_t>> edge_b()
{
  std::vector<mmsb::matrix_entry<std::int64_t>> e;
  for (std::uint32_t r = 0; r < slots; ++r) e.push_back({r, static_cast<std::uint32_t>((r + 1) % slots), 40});
  return e;
}

// c = (A ⊗ a) ⊕ (B ⊗ b), by hand.
std::vector<std::int64_t> recompute_c(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b)
{
  std::vector<std::int64_t> c(slots, semiring::zero());
  for (const auto& [r, k, w] : edge_a()) c[r] = semiring::add(c[r], semiring::mul(w, a[k]));
  for (const auto& [r, k, w] : edge_b()) c[r] = semiring::add(c[r], semiring::mul(w, b[k]));
  return c;
}

bool check_page(const bus_type& bus, mmsb::page_id p, const std::vector<std::int64_t>& want, const char* what)
{
  for (std::size_t s = 0; s < slots; ++s)
    if (bus.value(p).get(s) != want[s]) {
      std::printf("MISMATCH (%s): page %s slot %zu is %" PRId64 ", expected %" PRId64 "\n", variant, what, s,
                  bus.value(p).get(s), want[s]);
      return false;
    }
  return true;
}

mmsb::bus_options options_for(mmsb::posix_file_system& fs, const std::string& dir)
{
  mmsb::bus_options o;
  o.fs = &fs;
  o.dir = dir;
  o.parallel_min_changes = 1;  // every tick through the scheduler, however small
  return o;
}

int run(const std::string& dir)
{
  const auto laws = mmsb::check_semiring_laws<semiring>(std::vector<std::int64_t>{-7, 0, 3, 50, semiring::zero(), semiring::one()});
  if (!laws) {
    std::printf("MISMATCH: the semiring laws fail for %s\n", std::string(semiring::name).c_str());
    return 1;
  }

  mmsb::posix_file_system fs;
  std::vector<std::int64_t> a(slots, semiring::zero()), b(slots, semiring::zero());
  mmsb::state_hash hash{};
  mmsb::page_id pa, pb, pc;
  {
    bus_type bus(options_for(fs, dir));
    pa = bus.create_page();
    pb = bus.create_page();
    pc = bus.create_page();
    bus.add_matrix_edge(pa, pc, mmsb::csr_matrix<std::int64_t>::from_entries(slots, slots, edge_a()));
    bus.add_matrix_edge(pb, pc, mmsb::csr_matrix<std::int64_t>::from_entries(slots, slots, edge_b()));
    auto producer = bus.make_producer();
    for (int t = 1; t <= ticks; ++t) {
      producer.set_epoch(mmsb::epoch{static_cast<std::uint64_t>(t)});
      for (int which = 0; which < 2; ++which) {
        auto& page = which == 0 ? a : b;
        for (std::size_t s = 0; s < slots; ++s) {
          const auto v = change_value(t, which, s);
          if (change_assigns(t, s)) {
            producer.assign(which == 0 ? pa : pb, s, v);
            page[s] = v;
          } else {
            producer.accumulate(which == 0 ? pa : pb, s, v);
            page[s] = semiring::add(page[s], v);
          }
        }
      }
      (void)bus.tick();
      if (!check_page(bus, pa, a, "a") || !check_page(bus, pb, b, "b") || !check_page(bus, pc, recompute_c(a, b), "c"))
        return 1;
    }
    hash = bus.hash();
  }

  // The store on disk holds the same state: reopen it (checkpoint-free: the log replays).
  bus_type reopened(options_for(fs, dir));
  if (reopened.hash() != hash || !check_page(reopened, pa, a, "a (reopened)") || !check_page(reopened, pb, b, "b (reopened)") ||
      !check_page(reopened, pc, recompute_c(a, b), "c (reopened)")) {
    std::printf("MISMATCH (%s): the reopened store differs (hash %016" PRIx64 ", expected %016" PRIx64 ")\n", variant,
                reopened.hash().value, hash.value);
    return 1;
  }
  std::printf("consumer: mmsb %s, semiring %s, scheduler %s, %d ticks, state hash %016" PRIx64 ": OK\n", MMSB_VERSION_STRING,
              std::string(semiring::name).c_str(), variant, ticks, hash.value);
  return 0;
}

} // namespace

int main()
{
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/mmsb-consumer-store.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::printf("consumer: cannot make a temporary directory from %s\n", pattern.c_str());
    return 2;
  }
  int rc = 2;
  try {
    rc = run(pattern + "/store");
  } catch (const mmsb::error& e) {
    std::printf("consumer (%s): mmsb::error: %s\n", variant, e.what());
  }
  std::error_code ec;
  std::filesystem::remove_all(pattern, ec);
  return rc;
}
