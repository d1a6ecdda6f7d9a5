#include "server/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace hpd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, RendersCountersAndGaugesInExpositionFormat) {
  MetricsRegistry registry;
  MetricFamily* requests =
      registry.Counter("hpd_http_requests_total", "HTTP requests.", {"method", "code"});
  MetricFamily* clients = registry.Gauge("hpd_sse_clients", "Streams open.");
  requests->Add({"GET", "200"});
  requests->Add({"GET", "200"}, 2);
  requests->Add({"POST", "201"});
  requests->Add({"POST", "201"}, -5);  // counters never go down
  clients->Set({}, 7);
  clients->Add({}, -2);

  EXPECT_EQ(registry.Render(),
            "# HELP hpd_http_requests_total HTTP requests.\n"
            "# TYPE hpd_http_requests_total counter\n"
            "hpd_http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "hpd_http_requests_total{method=\"POST\",code=\"201\"} 1\n"
            "# HELP hpd_sse_clients Streams open.\n"
            "# TYPE hpd_sse_clients gauge\n"
            "hpd_sse_clients 5\n");
  EXPECT_EQ(requests->Value({"GET", "200"}), 3);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  MetricFamily* durations =
      registry.Histogram("hpd_state_duration_seconds", "State time.", {"state"}, {1, 0.5, 5});
  durations->Observe({"Prepare"}, 0.25);
  durations->Observe({"Prepare"}, 0.5);  // le is inclusive
  durations->Observe({"Prepare"}, 3);
  durations->Observe({"Prepare"}, 60);

  EXPECT_EQ(registry.Render(),
            "# HELP hpd_state_duration_seconds State time.\n"
            "# TYPE hpd_state_duration_seconds histogram\n"
            "hpd_state_duration_seconds_bucket{state=\"Prepare\",le=\"0.5\"} 2\n"
            "hpd_state_duration_seconds_bucket{state=\"Prepare\",le=\"1\"} 2\n"
            "hpd_state_duration_seconds_bucket{state=\"Prepare\",le=\"5\"} 3\n"
            "hpd_state_duration_seconds_bucket{state=\"Prepare\",le=\"+Inf\"} 4\n"
            "hpd_state_duration_seconds_sum{state=\"Prepare\"} 63.75\n"
            "hpd_state_duration_seconds_count{state=\"Prepare\"} 4\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.Counter("c_total", "a \\ b\nc", {"l"})->Add({"x\"y\\z\nw"});
  EXPECT_EQ(registry.Render(),
            "# HELP c_total a \\\\ b\\nc\n"
            "# TYPE c_total counter\n"
            "c_total{l=\"x\\\"y\\\\z\\nw\"} 1\n");
}

TEST(MetricsRegistryTest, CollectorsRunAtEachRenderAndMayClearSeries) {
  MetricsRegistry registry;
  MetricFamily* deployments = registry.Gauge("hpd_deployments", "By status.", {"status"});
  int scrapes = 0;
  registry.AddCollector([&] {
    ++scrapes;
    deployments->Clear();
    if (scrapes == 1) deployments->Set({"RUNNING"}, 2);
    deployments->Set({"SUCCEEDED"}, scrapes);
  });
  const std::string first = registry.Render();
  EXPECT_THAT(first, HasSubstr("hpd_deployments{status=\"RUNNING\"} 2\n"));
  EXPECT_THAT(first, HasSubstr("hpd_deployments{status=\"SUCCEEDED\"} 1\n"));
  const std::string second = registry.Render();
  EXPECT_THAT(second, Not(HasSubstr("RUNNING")));
  EXPECT_THAT(second, HasSubstr("hpd_deployments{status=\"SUCCEEDED\"} 2\n"));
}

TEST(MetricsRegistryTest, RedeclaringReturnsTheSameFamily) {
  MetricsRegistry registry;
  MetricFamily* a = registry.Counter("x_total", "X.");
  MetricFamily* b = registry.Counter("x_total", "Other help.");
  EXPECT_EQ(a, b);
}

TEST(FormatMetricValueTest, IntegersFractionsAndSpecials) {
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(-2), "-2");
  EXPECT_EQ(FormatMetricValue(0.005), "0.005");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatMetricValue(0.0 / 0.0), "NaN");
}

}  // namespace
}  // namespace hpd::server
