// Metrics for /metrics: counters, gauges and histograms with labels, rendered in the Prometheus
// text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
//
//   # HELP hpd_http_requests_total HTTP requests answered.
//   # TYPE hpd_http_requests_total counter
//   hpd_http_requests_total{method="GET",route="/healthz",code="200"} 3
//   # TYPE hpd_state_duration_seconds histogram
//   hpd_state_duration_seconds_bucket{state="Prepare",le="0.1"} 1
//   ...
//   hpd_state_duration_seconds_bucket{state="Prepare",le="+Inf"} 2
//   hpd_state_duration_seconds_sum{state="Prepare"} 3.25
//   hpd_state_duration_seconds_count{state="Prepare"} 2
//
// Families are declared once with their label names; samples are addressed by label values in
// the same order. Families render in declaration order, series in label-value order, so the
// output is stable. Values computed at scrape time (deployments by status, webhook statistics)
// come from collectors: callbacks run by Render() before it renders, which typically Set gauges.
//
// Thread-safe: one mutex; recording a sample is a map lookup under it.
#ifndef HPD_SERVER_METRICS_H_
#define HPD_SERVER_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hpd::server {

class MetricsRegistry;

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric family: a name, its help text, its label names, and one series per distinct tuple
// of label values. Owned by the registry, which outlives every pointer it hands out.
class MetricFamily {
 public:
  // Counters: adds `delta` (>= 0; negative deltas are ignored, counters never go down).
  // Gauges: adds `delta` (may be negative). Histograms: ignored.
  void Add(const std::vector<std::string>& label_values, double delta = 1);
  // Gauges only (ignored otherwise).
  void Set(const std::vector<std::string>& label_values, double value);
  // Histograms only (ignored otherwise): counts `value` into its bucket and the sum.
  void Observe(const std::vector<std::string>& label_values, double value);
  // Drops every series (a scrape-time gauge whose label set shrank, e.g. a status now at 0).
  void Clear();

  // The current value of a counter or gauge series (0 when absent), or a histogram's count.
  double Value(const std::vector<std::string>& label_values) const;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }

 private:
  friend class MetricsRegistry;
  struct Series {
    double value = 0;                   // counters, gauges
    std::vector<uint64_t> bucket_hits;  // histograms: per bucket, not cumulative
    double sum = 0;
    uint64_t count = 0;
  };
  MetricFamily(std::mutex* mu, std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, std::vector<double> buckets);
  Series& SeriesFor(const std::vector<std::string>& label_values);  // requires *mu_
  void Render(std::string* out) const;                              // requires *mu_

  std::mutex* const mu_;  // the registry's
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;                  // upper bounds, ascending, without +Inf
  std::map<std::vector<std::string>, Series> series_;  // guarded by *mu_
};

class MetricsRegistry {
 public:
  // Prometheus client libraries' default buckets (seconds).
  static const std::vector<double>& DefaultBuckets();

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Declares a family, or returns the one already declared with this name (whose type, help and
  // labels are then kept). `name` and label names must be valid Prometheus names (programmer
  // error otherwise; asserted).
  MetricFamily* Counter(std::string name, std::string help, std::vector<std::string> labels = {});
  MetricFamily* Gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  MetricFamily* Histogram(std::string name, std::string help, std::vector<std::string> labels,
                          std::vector<double> buckets = DefaultBuckets());

  // Runs `collector` at the start of every Render(), outside the registry's lock (it may record
  // samples). Collectors run in the order added and must outlive the registry's use.
  void AddCollector(std::function<void()> collector);

  // The exposition text (Content-Type: text/plain; version=0.0.4).
  std::string Render() const;

 private:
  MetricFamily* Declare(std::string name, std::string help, MetricType type,
                        std::vector<std::string> labels, std::vector<double> buckets);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MetricFamily>> families_;  // guarded by mu_; declaration order
  std::vector<std::function<void()>> collectors_;        // guarded by mu_
};

// A sample value as Prometheus writes it: integers without a fraction, "+Inf", "-Inf", "NaN",
// otherwise the shortest round-trip decimal.
std::string FormatMetricValue(double value);

}  // namespace hpd::server

#endif  // HPD_SERVER_METRICS_H_
