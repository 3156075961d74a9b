// obs::tracer (mmsb/obs/trace.hpp): the trace buffers written as Chrome trace-event JSON.
#include <mmsb/obs/trace.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include <unistd.h>

namespace mmsb::obs {

tracer::tracer(trace_options o)
    : log_(std::max<std::size_t>(o.threads, 1), std::max<std::size_t>(o.events_per_thread, 1), o.sample_every),
      clock0_(trace_clock()), time0_(std::chrono::steady_clock::now())
{
}

std::uint64_t tracer::recorded() const noexcept
{
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < log_.buffer_count(); ++i) n += log_.buffer(i).recorded();
  return n;
}

void tracer::write_json(std::ostream& out) const
{
  // The clock's rate, from the time since the tracer was made (nanoseconds per clock tick).
  const std::uint64_t clock1 = trace_clock();
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - time0_).count());
  const double ns_per_tick = clock1 > clock0_ && ns > 0 ? ns / static_cast<double>(clock1 - clock0_) : 1.0;
  const auto us = [&](std::uint64_t t) { return t > clock0_ ? static_cast<double>(t - clock0_) * ns_per_tick / 1000.0 : 0.0; };
  const long pid = static_cast<long>(::getpid());

  out << "{\"traceEvents\":[";
  bool first = true;
  char buf[256];
  const auto event = [&](char ph, trace_zone z, double ts, std::uint64_t tid, const trace_buffer::zone_record* args) {
    int n = std::snprintf(buf, sizeof buf, "%s{\"name\":\"%s\",\"cat\":\"mmsb\",\"ph\":\"%c\",\"ts\":%.3f,\"pid\":%ld,\"tid\":%llu",
                          first ? "" : ",\n", trace_zone_names[static_cast<std::size_t>(z)], ph, ts, pid,
                          static_cast<unsigned long long>(tid));
    if (args) n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ",\"args\":{\"arg\":%llu}",
                                 static_cast<unsigned long long>(args->arg));
    out.write(buf, n);
    out << '}';
    first = false;
  };
  std::vector<trace_buffer::zone_record> zones;
  std::vector<trace_buffer::zone_record> open;
  for (std::size_t i = 0; i < log_.buffer_count(); ++i) {
    const trace_buffer& b = log_.buffer(i);
    const std::uint64_t head = b.recorded();
    if (head == 0) continue;
    zones.clear();
    for (std::uint64_t n = head > b.capacity() ? head - b.capacity() : 0; n < head; ++n) {
      trace_buffer::zone_record r{};
      if (b.read(n, r) && static_cast<std::size_t>(r.zone) < trace_zone_count) zones.push_back(r);
    }
    // Outer zones first: by begin, the longer one first at the same begin.
    std::stable_sort(zones.begin(), zones.end(), [](const auto& a, const auto& c) { return a.begin != c.begin ? a.begin < c.begin : a.end > c.end; });
    const std::uint64_t tid = b.thread();
    open.clear();
    for (auto r : zones) {
      while (!open.empty() && open.back().end <= r.begin) {
        event('E', open.back().zone, us(open.back().end), tid, nullptr);
        open.pop_back();
      }
      if (r.end < r.begin) r.end = r.begin;
      if (!open.empty() && r.end > open.back().end) r.end = open.back().end;  // clocks of two cores: keep the nesting
      event('B', r.zone, us(r.begin), tid, &r);
      open.push_back(r);
    }
    while (!open.empty()) {
      event('E', open.back().zone, us(open.back().end), tid, nullptr);
      open.pop_back();
    }
  }
  out << "],\"displayTimeUnit\":\"ns\",\"otherData\":{\"sample_every\":" << log_.sample_every()
      << ",\"dropped_threads\":" << log_.dropped_threads() << "}}\n";
}

void tracer::write_json(const std::string& path) const
{
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw error(errc::io_error, "trace " + path + ": cannot create it");
  write_json(f);
  f.flush();
  if (!f) throw error(errc::io_error, "trace " + path + ": write failed");
}

} // namespace mmsb::obs
