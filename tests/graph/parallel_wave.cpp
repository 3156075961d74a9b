// Propagation by level on a scheduler (graph/wave.hpp, "Parallel by level"): over wide random
// multi-level graphs (matrix edges, a kernel edge, a fixed-point region where the semiring allows
// one) and random deltas, page_graph::propagate(budget, sched) with several threads gives the
// bitwise values and the same propagate_result as the serial engine after every step, for the
// three strategies (difference, monotone, recompute), and the same values after budgeted runs
// carried over. In the concurrency
// suite, so it also runs under ThreadSanitizer.
#include <mmsb/graph.hpp>
#include <mmsb/page.hpp>
#include <mmsb/semiring.hpp>

#include "../support/cases.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace mmsb;

namespace {

// A scheduler policy on plain threads: index i runs on thread i % n.
struct thread_scheduler {
  static constexpr const char* name = "threads";
  std::size_t n = 3;
  [[nodiscard]] std::size_t concurrency() const noexcept { return n; }
  template <class F>
  void run(std::size_t count, F&& f) const
  {
    std::exception_ptr first;
    std::mutex m;
    std::vector<std::thread> ts;
    for (std::size_t t = 0; t < n; ++t)
      ts.emplace_back([&, t] {
        for (std::size_t i = t; i < count; i += n) {
          try {
            f(i);
          } catch (...) {
            std::lock_guard lock(m);
            if (!first) first = std::current_exception();
          }
        }
      });
    for (auto& t : ts) t.join();
    if (first) std::rethrow_exception(first);
  }
};

template <class S>
semiring_value_t<S> value_of(std::mt19937_64& rng)
{
  using T = semiring_value_t<S>;
  if constexpr (std::is_floating_point_v<T>) return static_cast<T>(static_cast<int>(rng() % 17) - 8) * T(0.25);
  else return static_cast<T>(rng() % 50);
}

template <class S, class L>
void check_parallel_equals_serial()
{
  constexpr bool with_region = idempotent_add_v<S>;
  using T = semiring_value_t<S>;
  constexpr std::uint32_t levels = 4, width = 24, n = levels * width;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    page_table<L> ta, tb;
    for (std::uint32_t v = 0; v < n; ++v) {
      ta.create();
      tb.create();
      for (std::size_t i = 0; i < L::extent; ++i) {
        const T x = value_of<S>(rng);
        ta.at(page_id{v}).set(i, x);
        tb.at(page_id{v}).set(i, x);
      }
    }
    page_graph<S, L> serial_graph(ta), parallel_graph(tb);
    const auto both = [&](auto&& f) {
      f(serial_graph);
      f(parallel_graph);
    };
    // Page v is at level v / width; each page of levels 1.. gets 1-3 matrix edges from the level
    // below (or from further down), the first page of level 2 a kernel edge instead.
    for (std::uint32_t v = width; v < n; ++v) {
      const std::uint32_t level = v / width;
      if (level == 2 && v % width == 0) {
        const page_id srcs[] = {page_id{v - width}, page_id{v - width + 1}};
        both([&](auto& g) {
          g.add_kernel_edge({srcs, 2}, page_id{v}, [](span<const page<L>* const> in, page<L>& out) {
            for (std::size_t i = 0; i < L::extent; ++i)
              out.set(i, semiring_traits<S>::add(in[0]->get(i), in[1]->get((i + 1) % L::extent)));
          }, "pairwise");
        });
        continue;
      }
      for (std::uint32_t e = 0, ne = 1 + static_cast<std::uint32_t>(rng() % 3); e < ne; ++e) {
        const std::uint32_t src = static_cast<std::uint32_t>(rng() % (level * width));
        std::vector<matrix_entry<T>> entries;
        for (std::uint32_t r = 0; r < L::extent; ++r)
          if (rng() % 2) entries.push_back({r, static_cast<std::uint32_t>(rng() % L::extent), value_of<S>(rng)});
        const auto a = std::make_shared<const csr_matrix<T>>(csr_matrix<T>::from_entries(L::extent, L::extent, {entries.data(), entries.size()}));
        bool refused = false;
        both([&](auto& g) {
          try {
            g.add_matrix_edge(page_id{src}, page_id{v}, a);
          } catch (const error&) {  // a kernel page takes no matrix edge: both refuse alike
            refused = true;
          }
        });
        (void)refused;
      }
    }
    if constexpr (with_region) {  // two pages of the top level feeding each other, solved as one unit
      const page_id members[] = {page_id{n - 2}, page_id{n - 1}};
      std::vector<matrix_entry<T>> diag;
      for (std::uint32_t r = 0; r < L::extent; ++r) diag.push_back({r, r, semiring_traits<S>::one()});
      const auto a = std::make_shared<const csr_matrix<T>>(csr_matrix<T>::from_entries(L::extent, L::extent, {diag.data(), diag.size()}));
      both([&](auto& g) {
        g.add_fixed_point_region({members, 2}, 1000);
        g.add_matrix_edge(members[0], members[1], a);
        g.add_matrix_edge(members[1], members[0], a);
      });
    }
    const thread_scheduler sched{};
    // After a budgeted call the two stopped at different points (the serial engine checks the
    // budget between units, the parallel one between levels), so only values compare then.
    const auto compare = [&](const propagate_result& rs, const propagate_result& rp, bool counts = true) {
      CHECK(rp.complete == rs.complete);
      if (counts) {
        CHECK(rp.units == rs.units);
        CHECK(rp.changed_slots == rs.changed_slots);
        CHECK(rp.frontier == rs.frontier);
      }
      for (std::uint32_t v = 0; v < n; ++v) {
        INFO("page " << v);
        REQUIRE(test::same_bits(serial_graph.value(page_id{v}), parallel_graph.value(page_id{v})));
      }
    };
    compare(serial_graph.propagate(), parallel_graph.propagate({}, sched));
    for (int step = 0; step < 12; ++step) {
      INFO("step " << step);
      for (int d = 0; d < 20; ++d) {  // deltas to bases anywhere, derived pages' bases included
        const page_id p{static_cast<std::uint32_t>(rng() % n)};
        delta_builder<S, L> b(p);
        for (int k = 0; k < 3; ++k) {
          const std::size_t slot = rng() % L::extent;
          if (rng() % 4 == 0) b.assign(slot, value_of<S>(rng));
          else b.accumulate(slot, value_of<S>(rng));
        }
        const auto delta = b.build();
        both([&](auto& g) { g.apply(delta); });
      }
      const bool budgeted = step % 4 == 3;
      if (budgeted) {  // one unit (serial) or one level (parallel), then carry-over
        const propagate_budget spent{std::chrono::steady_clock::now()};
        (void)serial_graph.propagate(spent);
        (void)parallel_graph.propagate(spent, sched);
      }
      compare(serial_graph.propagate(), parallel_graph.propagate({}, sched), !budgeted);
    }
    REQUIRE(parallel_graph.verify().ok());
  }
}

} // namespace

TEST_CASE("parallel wave: recompute strategy (+ over doubles) equals the serial engine bitwise", "[graph][parallel]")
{
  check_parallel_equals_serial<plus_times<double>, dense<double, 32>>();
}

TEST_CASE("parallel wave: difference strategy (integer ring) equals the serial engine", "[graph][parallel]")
{
  check_parallel_equals_serial<plus_times<std::int64_t>, dense<std::int64_t, 32>>();
}

TEST_CASE("parallel wave: monotone strategy with a fixed-point region equals the serial engine", "[graph][parallel]")
{
  check_parallel_equals_serial<min_plus<std::int32_t>, dense<std::int32_t, 32>>();
}
