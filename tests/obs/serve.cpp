// A running bus for tests/obs/live.py: ticks a small workload on a real directory, records its
// metrics in the stats file next to it (for `mmsb top`) and serves them to Prometheus.
//
//   serve DIR SECONDS    prints "port N" once the exporter listens on 127.0.0.1:N, then ticks
//                        about 200 times a second until SIGTERM (exit 0) or SECONDS pass (exit 3)
#include <mmsb/bus.hpp>
#include <mmsb/log/posix_file_system.hpp>
#include <mmsb/obs/prometheus.hpp>
#include <mmsb/obs/registry.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {
std::atomic<bool> stop{false};
extern "C" void on_term(int) { stop.store(true); }
} // namespace

int main(int argc, char** argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: serve DIR SECONDS\n");
    return 2;
  }
  std::signal(SIGTERM, on_term);
  const std::string dir = argv[1];
  const auto limit = std::chrono::seconds(std::atoi(argv[2]));
  try {
    auto reg = mmsb::obs::registry::in_file(mmsb::obs::stats_path(dir));
    mmsb::obs::prometheus_exporter exporter(reg, "127.0.0.1:0");
    mmsb::posix_file_system fs;
    mmsb::bus_options o;
    o.fs = &fs;
    o.dir = dir;
    o.store.log.durability = mmsb::durability::group;
    o.checkpoint_every = 100;
    o.metrics = reg.sink();
    using S = mmsb::plus_times<double>;
    using L = mmsb::dense<double, 64>;
    mmsb::basic_bus<S, L> bus(o);
    constexpr std::uint32_t pages = 64;
    for (std::uint32_t i = 0; i < pages; ++i) (void)bus.create_page();
    for (std::uint32_t i = 0; i + 1 < pages; i += 2)
      (void)bus.add_kernel_edge(std::vector<mmsb::page_id>{mmsb::page_id{i}}, mmsb::page_id{i + 1},
                                [](mmsb::span<const mmsb::page<L>* const> in, mmsb::page<L>& out) {
                                  for (std::size_t k = 0; k < L::extent; ++k) out.set(k, 2 * in[0]->get(k));
                                },
                                "double" + std::to_string(i));
    auto producer = bus.make_producer();
    std::printf("port %u\n", exporter.port());
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t t = 0; !stop.load(); ++t) {
      if (std::chrono::steady_clock::now() - start > limit) return 3;
      for (std::uint32_t k = 0; k < 32; ++k)
        producer.accumulate(mmsb::page_id{static_cast<std::uint32_t>((t * 7 + k) % (pages / 2) * 2)}, (t + k) % L::extent, 1.0);  // sources only
      (void)bus.tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    bus.wait_checkpoint();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve: %s\n", e.what());
    return 1;
  }
  return 0;
}
