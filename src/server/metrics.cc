#include "server/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <utility>

namespace hpd::server {
namespace {

[[maybe_unused]] bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Label values escape backslash, double quote and line feed; HELP text backslash and line feed.
void AppendEscaped(std::string_view text, bool quote, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

void AppendLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                  std::string_view extra_name, std::string_view extra_value, std::string* out) {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out->push_back(',');
    first = false;
    out->append(names[i]).append("=\"");
    AppendEscaped(i < values.size() ? values[i] : "", true, out);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out->push_back(',');
    out->append(extra_name).append("=\"");
    AppendEscaped(extra_value, true, out);
    out->push_back('"');
  }
  out->push_back('}');
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

MetricFamily::MetricFamily(std::mutex* mu, std::string name, std::string help, MetricType type,
                           std::vector<std::string> label_names, std::vector<double> buckets)
    : mu_(mu),
      name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

MetricFamily::Series& MetricFamily::SeriesFor(const std::vector<std::string>& label_values) {
  assert(label_values.size() == label_names_.size());
  auto [it, inserted] = series_.try_emplace(label_values);
  if (inserted && type_ == MetricType::kHistogram)
    it->second.bucket_hits.assign(buckets_.size(), 0);
  return it->second;
}

void MetricFamily::Add(const std::vector<std::string>& label_values, double delta) {
  if (type_ == MetricType::kHistogram) return;
  if (type_ == MetricType::kCounter && !(delta >= 0)) return;
  std::lock_guard lock(*mu_);
  SeriesFor(label_values).value += delta;
}

void MetricFamily::Set(const std::vector<std::string>& label_values, double value) {
  if (type_ != MetricType::kGauge) return;
  std::lock_guard lock(*mu_);
  SeriesFor(label_values).value = value;
}

void MetricFamily::Observe(const std::vector<std::string>& label_values, double value) {
  if (type_ != MetricType::kHistogram) return;
  std::lock_guard lock(*mu_);
  Series& series = SeriesFor(label_values);
  const auto bucket = std::lower_bound(buckets_.begin(), buckets_.end(), value);
  if (bucket != buckets_.end())
    ++series.bucket_hits[static_cast<size_t>(bucket - buckets_.begin())];
  series.sum += value;
  ++series.count;
}

void MetricFamily::Clear() {
  std::lock_guard lock(*mu_);
  series_.clear();
}

double MetricFamily::Value(const std::vector<std::string>& label_values) const {
  std::lock_guard lock(*mu_);
  const auto it = series_.find(label_values);
  if (it == series_.end()) return 0;
  return type_ == MetricType::kHistogram ? static_cast<double>(it->second.count) : it->second.value;
}

void MetricFamily::Render(std::string* out) const {
  out->append("# HELP ").append(name_).push_back(' ');
  AppendEscaped(help_, false, out);
  out->append("\n# TYPE ").append(name_).push_back(' ');
  out->append(TypeName(type_)).push_back('\n');
  for (const auto& [values, series] : series_) {
    if (type_ != MetricType::kHistogram) {
      out->append(name_);
      AppendLabels(label_names_, values, "", "", out);
      out->append(" ").append(FormatMetricValue(series.value)).push_back('\n');
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= buckets_.size(); ++i) {
      const bool inf = i == buckets_.size();
      if (!inf) cumulative += series.bucket_hits[i];
      out->append(name_).append("_bucket");
      AppendLabels(label_names_, values, "le", inf ? "+Inf" : FormatMetricValue(buckets_[i]), out);
      out->append(" ").append(std::to_string(inf ? series.count : cumulative)).push_back('\n');
    }
    out->append(name_).append("_sum");
    AppendLabels(label_names_, values, "", "", out);
    out->append(" ").append(FormatMetricValue(series.sum)).push_back('\n');
    out->append(name_).append("_count");
    AppendLabels(label_names_, values, "", "", out);
    out->append(" ").append(std::to_string(series.count)).push_back('\n');
  }
}

const std::vector<double>& MetricsRegistry::DefaultBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10};
  return kBuckets;
}

MetricFamily* MetricsRegistry::Declare(std::string name, std::string help, MetricType type,
                                       std::vector<std::string> labels,
                                       std::vector<double> buckets) {
  assert(ValidName(name));
  assert(std::all_of(labels.begin(), labels.end(),
                     [](const std::string& l) { return ValidName(l) && l != "le"; }));
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  while (!buckets.empty() && std::isinf(buckets.back())) buckets.pop_back();
  std::lock_guard lock(mu_);
  for (const auto& family : families_) {
    if (family->name() == name) return family.get();
  }
  families_.push_back(std::unique_ptr<MetricFamily>(new MetricFamily(
      &mu_, std::move(name), std::move(help), type, std::move(labels), std::move(buckets))));
  return families_.back().get();
}

MetricFamily* MetricsRegistry::Counter(std::string name, std::string help,
                                       std::vector<std::string> labels) {
  return Declare(std::move(name), std::move(help), MetricType::kCounter, std::move(labels), {});
}

MetricFamily* MetricsRegistry::Gauge(std::string name, std::string help,
                                     std::vector<std::string> labels) {
  return Declare(std::move(name), std::move(help), MetricType::kGauge, std::move(labels), {});
}

MetricFamily* MetricsRegistry::Histogram(std::string name, std::string help,
                                         std::vector<std::string> labels,
                                         std::vector<double> buckets) {
  return Declare(std::move(name), std::move(help), MetricType::kHistogram, std::move(labels),
                 std::move(buckets));
}

void MetricsRegistry::AddCollector(std::function<void()> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (const auto& collector : collectors) collector();
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& family : families_) family->Render(&out);
  return out;
}

}  // namespace hpd::server
