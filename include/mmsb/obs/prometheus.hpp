// obs::prometheus_exporter (opt-in: link mmsb_prometheus, built when prometheus-cpp-dev is
// installed): serves a registry's metrics in Prometheus' text exposition format over HTTP, at
// http://ADDRESS/metrics, from prometheus-cpp's own server thread (civetweb). A scrape reads the
// registry (obs/registry.hpp) and never blocks the bus.
//
//   mmsb::obs::registry reg;
//   mmsb::obs::prometheus_exporter exporter(reg, "127.0.0.1:0");  // port 0: a free one
//   std::printf("scrape http://127.0.0.1:%u/metrics\n", exporter.port());
//
// Names follow Prometheus' conventions (base units, _total on counters): docs/observability.md.
#pragma once

#include <mmsb/obs/registry.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
struct MetricFamily;
}

namespace mmsb::obs {

// The registry's metrics as Prometheus metric families, in the order of core/metrics.hpp (the
// tick's phases are one family, labelled phase="...").
[[nodiscard]] std::vector<prometheus::MetricFamily> to_families(const metrics_snapshot& s);

// Serves a registry's metrics (see the top of this header). The registry must outlive it.
class prometheus_exporter {
public:
  // Listens on `address` ("127.0.0.1:9464"; port 0 picks a free one). Throws mmsb::error
  // (io_error) naming the address when it cannot listen.
  prometheus_exporter(const registry& reg, const std::string& address);
  prometheus_exporter(const prometheus_exporter&) = delete;
  prometheus_exporter& operator=(const prometheus_exporter&) = delete;
  ~prometheus_exporter();

  // The port it listens on.
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
};

} // namespace mmsb::obs
