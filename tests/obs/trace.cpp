// Tracing (core/trace.hpp, obs/trace.hpp): the per-thread rings keep the newest zones, a reader
// never returns a torn zone, sampling traces whole ticks, and a bus traces its ticks, phases,
// propagation levels, commits, checkpoints and producer pushes on the threads that ran them.
#include <mmsb/bus.hpp>
#include <mmsb/obs/trace.hpp>

#include "../support/bus_scenario.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

using namespace mmsb;

namespace {
using scenario = test::bus_scenario;
using float_bus = basic_bus<scenario::semiring, scenario::layout>;

// Every readable zone, by buffer.
std::vector<std::vector<trace_buffer::zone_record>> zones_of(const trace_log& log)
{
  std::vector<std::vector<trace_buffer::zone_record>> out;
  for (std::size_t i = 0; i < log.buffer_count(); ++i) {
    const auto& b = log.buffer(i);
    if (b.recorded() == 0) continue;
    out.emplace_back();
    for (std::uint64_t n = b.recorded() > b.capacity() ? b.recorded() - b.capacity() : 0; n < b.recorded(); ++n) {
      trace_buffer::zone_record r{};
      if (b.read(n, r)) out.back().push_back(r);
    }
  }
  return out;
}
std::map<trace_zone, std::size_t> count(const std::vector<trace_buffer::zone_record>& zs)
{
  std::map<trace_zone, std::size_t> m;
  for (const auto& z : zs) ++m[z.zone];
  return m;
}
} // namespace

TEST_CASE("a trace buffer keeps the newest zones and reads back exactly what was written")
{
  trace_buffer b(4);
  for (std::uint64_t i = 0; i < 10; ++i) b.push(trace_zone::level, 100 + i, 200 + i, i);
  CHECK(b.recorded() == 10);
  trace_buffer::zone_record r{};
  CHECK_FALSE(b.read(5, r));  // overwritten
  for (std::uint64_t n = 6; n < 10; ++n) {
    REQUIRE(b.read(n, r));
    CHECK(r.zone == trace_zone::level);
    CHECK(r.begin == 100 + n);
    CHECK(r.end == 200 + n);
    CHECK(r.arg == n);
  }
}

TEST_CASE("an off sink and an unsampled scope record nothing; threads past the buffers are counted")
{
  const trace_sink off;
  CHECK_FALSE(off.on());
  CHECK(off.now() == 0);
  off.record(trace_zone::tick, 1, 2);
  obs::tracer tr({.threads = 1, .events_per_thread = 8, .sample_every = 3});
  const trace_sink s = tr.sink();
  CHECK(s.sampled(0));
  CHECK_FALSE(s.sampled(1));
  CHECK(s.sampled(3));
  { const trace_scope unsampled(s, trace_zone::commit, 0, false); }
  CHECK(tr.recorded() == 0);
  { const trace_scope z(s, trace_zone::commit, 7); }
  CHECK(tr.recorded() == 1);
  std::thread([&] { s.record(trace_zone::tick, 1, 2); }).join();  // the one buffer is this thread's
  CHECK(tr.log().dropped_threads() == 1);
  CHECK(tr.recorded() == 1);
}

TEST_CASE("a bus traces sampled ticks whole, with commits, checkpoints and producer pushes on their threads")
{
  obs::tracer tr({.threads = 8, .events_per_thread = 1 << 14, .sample_every = 2});
  memory_file_system fs;
  bus_options o;
  o.fs = &fs;
  o.dir = "/bus";
  o.trace = tr.sink();
  scenario sc;
  float_bus b(o);
  const auto reports = sc.run(b);
  // A commit, a checkpoint (on the store's thread) and a producer on another thread.
  auto tx = b.begin();
  tx.accumulate(page_id{0}, 1, 2.0f);
  (void)b.commit(tx);
  b.checkpoint();
  auto w = b.make_producer();
  std::thread([&] {
    for (std::uint32_t i = 0; i < 8; ++i) {
      dense_delta<scenario::semiring, scenario::layout> d(page_id{i});
      d.accumulate(3, 1.0f);
      w.push(d);
    }
  }).join();
  (void)b.tick();
  const std::size_t ticks = reports.size() + 1;

  const auto buffers = zones_of(tr.log());
  std::map<trace_zone, std::size_t> all;
  std::set<std::size_t> threads_with;
  for (std::size_t i = 0; i < buffers.size(); ++i)
    for (const auto& [z, n] : count(buffers[i])) all[z] += n;
  CHECK(all[trace_zone::tick] == (ticks + 1) / 2);  // ticks 0, 2, 4, ...
  for (auto z : {trace_zone::ingest, trace_zone::merge, trace_zone::apply_log, trace_zone::propagate, trace_zone::maintain})
    CHECK(all[z] == all[trace_zone::tick]);
  CHECK(all[trace_zone::level] > 0);
  CHECK(all[trace_zone::commit] >= 1);
  CHECK(all[trace_zone::checkpoint] == 1);
  CHECK(all[trace_zone::producer_push] == 4);  // pushes 0, 2, 4, 6
  CHECK(buffers.size() == 3);  // the owner, the checkpoint thread, the producer
  // On the owner's thread, each tick's phases lie inside it, in order.
  for (const auto& zs : buffers) {
    for (const auto& t : zs) {
      if (t.zone != trace_zone::tick) continue;
      std::uint64_t at = t.begin;
      for (const auto& p : zs)
        if (p.zone >= trace_zone::ingest && p.zone <= trace_zone::maintain && p.begin >= t.begin && p.end <= t.end) {
          CHECK(p.begin == at);  // contiguous phases
          at = p.end;
        }
      CHECK(at == t.end);
    }
  }
  // The JSON names every zone it kept, twice (B and E).
  std::ostringstream json;
  tr.write_json(json);
  const std::string j = json.str();
  CHECK(j.rfind("{\"traceEvents\":[", 0) == 0);
  std::size_t begins = 0, ends = 0;
  for (std::size_t p = j.find("\"ph\":\""); p != std::string::npos; p = j.find("\"ph\":\"", p + 1)) (j[p + 6] == 'B' ? begins : ends)++;
  std::size_t kept = 0;
  for (const auto& zs : buffers) kept += zs.size();
  CHECK(begins == kept);
  CHECK(ends == kept);
}

TEST_CASE("tracing does not change the state")
{
  scenario sc;
  float_bus off;
  sc.run(off);
  obs::tracer tr;
  bus_options o;
  o.trace = tr.sink();
  float_bus on(o);
  sc.run(on);
  CHECK(on.hash().value == off.hash().value);
  CHECK(tr.recorded() > 0);
}
