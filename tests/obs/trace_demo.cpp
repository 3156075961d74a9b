// Writes a trace of a small busy bus for tests/obs/check_trace.py: ticks over a page graph,
// two producer threads pushing deltas, transactions and background checkpoints.
//   trace_demo OUT.json
#include <mmsb/bus.hpp>
#include <mmsb/obs/trace.hpp>

#include "../support/bus_scenario.hpp"

#include <cstdio>
#include <thread>
#include <vector>

int main(int argc, char** argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: trace_demo OUT.json\n");
    return 2;
  }
  using scenario = mmsb::test::bus_scenario;
  using S = scenario::semiring;
  using L = scenario::layout;
  try {
    // Room for every thread that records: the owner, the checkpoint thread and the 40 short-lived
    // producer threads (a thread's buffer is not reused after it exits; with 16, the nice-19
    // checkpoint thread could come after 16 producers on a loaded machine and find none left).
    mmsb::obs::tracer tr({.threads = 64, .events_per_thread = 1 << 12, .sample_every = 1});
    mmsb::memory_file_system fs;
    mmsb::bus_options o;
    o.fs = &fs;
    o.dir = "/bus";
    o.checkpoint_every = 5;
    o.trace = tr.sink();
    mmsb::basic_bus<S, L> b(o);
    scenario().run(b);  // pages, a graph, and ticks
    std::vector<mmsb::basic_bus<S, L>::producer_type> producers;
    for (int k = 0; k < 2; ++k) producers.push_back(b.make_producer(1 << 12));
    for (int round = 0; round < 20; ++round) {
      std::vector<std::thread> ts;
      for (std::size_t k = 0; k < producers.size(); ++k)
        ts.emplace_back([&, k] {
          for (std::uint32_t i = 0; i < 8; ++i) {
            mmsb::dense_delta<S, L> d(mmsb::page_id{(i + static_cast<std::uint32_t>(k) * 8) % scenario::sources});
            d.accumulate((i + static_cast<std::uint32_t>(round)) % L::extent, 1.0f);
            producers[k].push(d);
          }
        });
      for (auto& t : ts) t.join();
      (void)b.tick();
      auto tx = b.begin();
      tx.accumulate(mmsb::page_id{1}, static_cast<std::size_t>(round) % L::extent, 0.5f);
      (void)b.commit(tx);
    }
    b.wait_checkpoint();
    tr.write_json(argv[1]);
    std::printf("%llu zones recorded\n", static_cast<unsigned long long>(tr.recorded()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trace_demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
