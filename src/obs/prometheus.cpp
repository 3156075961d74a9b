// obs::prometheus_exporter (mmsb/obs/prometheus.hpp): a prometheus::Collectable over a registry,
// registered with a prometheus::Exposer.
#include <mmsb/obs/prometheus.hpp>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <cmath>
#include <exception>
#include <limits>
#include <string>

namespace mmsb::obs {

namespace {

prometheus::ClientMetric labelled(const metric_info& info)
{
  prometheus::ClientMetric m;
  if (info.label) m.label.push_back({info.label, info.label_value});
  return m;
}

// The family named `name` at the end of `out`, or a new one.
prometheus::MetricFamily& family(std::vector<prometheus::MetricFamily>& out, const std::string& name, const char* help,
                                 prometheus::MetricType type)
{
  if (out.empty() || out.back().name != name) out.push_back({name, help, type, {}});
  return out.back();
}

struct collector final : prometheus::Collectable {
  explicit collector(const registry& r) : reg(&r) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return to_families(reg->snapshot()); }
  const registry* reg;
};

} // namespace

std::vector<prometheus::MetricFamily> to_families(const metrics_snapshot& s)
{
  std::vector<prometheus::MetricFamily> out;
  for (std::size_t c = 0; c < counter_count; ++c) {
    const auto& info = counter_info[c];
    auto m = labelled(info);
    m.counter.value = static_cast<double>(s.counters[c]);
    family(out, info.name, info.help, prometheus::MetricType::Counter).metric.push_back(std::move(m));
  }
  for (std::size_t g = 0; g < gauge_count; ++g) {
    const auto& info = gauge_info[g];
    auto m = labelled(info);
    m.gauge.value = static_cast<double>(s.gauges[g]);
    family(out, info.name, info.help, prometheus::MetricType::Gauge).metric.push_back(std::move(m));
  }
  for (std::size_t h = 0; h < histogram_count; ++h) {
    const auto& info = histogram_info[h];
    const auto& hs = s.histograms[h];
    auto m = labelled(info);
    m.histogram.sample_count = hs.count;
    m.histogram.sample_sum = hs.sum_seconds;
    std::uint64_t cumulative = 0;
    for (std::size_t k = 0; k < histogram_buckets; ++k) {
      cumulative += hs.buckets[k];
      const double ub = bucket_upper_seconds(k);
      m.histogram.bucket.push_back({cumulative, ub < 0 ? std::numeric_limits<double>::infinity() : ub});
    }
    family(out, info.name, info.help, prometheus::MetricType::Histogram).metric.push_back(std::move(m));
  }
  return out;
}

struct prometheus_exporter::impl {
  std::shared_ptr<collector> source;
  std::unique_ptr<prometheus::Exposer> exposer;
};

prometheus_exporter::prometheus_exporter(const registry& reg, const std::string& address) : impl_(std::make_unique<impl>())
{
  impl_->source = std::make_shared<collector>(reg);
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    throw error(errc::io_error, "prometheus exporter: cannot listen on " + address + ": " + e.what());
  }
  impl_->exposer->RegisterCollectable(impl_->source);
  const auto ports = impl_->exposer->GetListeningPorts();
  if (ports.empty()) throw error(errc::io_error, "prometheus exporter: no listening port on " + address);
  port_ = static_cast<std::uint16_t>(ports.front());
}

prometheus_exporter::~prometheus_exporter() = default;

} // namespace mmsb::obs
