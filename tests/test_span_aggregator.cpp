// D1 — SpanAggregator: `mstats avg(k8s.pod.network.io) as io by cluster pod node direction
// span=10s` (spec D1.1–D1.5), its counters, and the allowed lateness that bounds its memory.
#include <k8snetio/k8snetio.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_span_aggregator {

using k8snetio::aggregation_stats;
using k8snetio::metric_point;
using k8snetio::span_aggregator;
using k8snetio::span_options;
using k8snetio::span_row;

namespace {

metric_point point(double time, double value, std::string_view pod = "web-0",
                   std::string_view direction = "transmit", std::string_view cluster = "prod",
                   std::string_view node = "node-1") {
  return metric_point{time, value, "k8s.pod.network.io", cluster, pod, node, direction};
}

std::vector<span_row> finish(span_aggregator& agg) {
  std::vector<span_row> rows;
  agg.finish([&rows](const span_row& r) { rows.push_back(r); });
  return rows;
}

/// The rows with the aggregator that owns their strings (a span_table is a view over both).
k8snetio::span_table aggregate(const std::vector<metric_point>& points, span_options options = {}) {
  return points | k8snetio::aggregate_spans(std::move(options));
}

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("D1.1 a point with an absent or empty dimension is dropped and counted") {
  span_aggregator agg;
  CHECK_FALSE(agg.add(metric_point{1, 5, "k8s.pod.network.io", "", "web-0", "node-1", "transmit"}));
  CHECK_FALSE(agg.add(metric_point{1, 5, "k8s.pod.network.io", "prod", "", "node-1", "transmit"}));
  CHECK_FALSE(agg.add(metric_point{1, 5, "k8s.pod.network.io", "prod", "web-0", "", "transmit"}));
  CHECK_FALSE(agg.add(metric_point{1, 5, "k8s.pod.network.io", "prod", "web-0", "node-1", ""}));
  CHECK(agg.add(point(1, 7)));

  const aggregation_stats& s = agg.stats();
  CHECK(s.points_in == 5);
  CHECK(s.missing_dimension == 4);
  CHECK(s.aggregated == 1);
  CHECK(s.non_finite == 0);
  CHECK(s.other_metric == 0);
  CHECK(s.dropped() == 4);

  const auto rows = finish(agg);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].io == 7);  // the dropped points did not leak into the mean
  CHECK(agg.stats().rows_out == 1);
}

TEST_CASE("D1.2 a non-finite value is rejected and counted") {
  span_aggregator agg;
  CHECK_FALSE(agg.add(point(1, not_a_number)));
  CHECK_FALSE(agg.add(point(2, infinity)));
  CHECK_FALSE(agg.add(point(3, -infinity)));
  CHECK(agg.add(point(4, 10)));
  CHECK(agg.add(point(5, 20)));
  // A non-finite time has no bucket either; it is counted in the same counter.
  CHECK_FALSE(agg.add(point(not_a_number, 1)));

  const aggregation_stats& s = agg.stats();
  CHECK(s.points_in == 6);
  CHECK(s.non_finite == 4);
  CHECK(s.aggregated == 2);
  CHECK(s.missing_dimension == 0);
  CHECK(s.dropped() == 4);

  const auto rows = finish(agg);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].io == 15);  // NaN did not poison the mean
}

TEST_CASE("D1 points of another metric are counted as other_metric and skipped") {
  span_aggregator agg;
  CHECK_FALSE(
      agg.add(metric_point{1, 5, "k8s.pod.cpu.time", "prod", "web-0", "node-1", "transmit"}));
  // An empty metric name means the point is the metric (a metrics_csv export without it).
  CHECK(agg.add(metric_point{1, 9, "", "prod", "web-0", "node-1", "transmit"}));
  CHECK(agg.stats().other_metric == 1);
  CHECK(agg.stats().aggregated == 1);

  span_options custom;
  custom.metric_name = "k8s.pod.cpu.time";
  span_aggregator other(custom);
  CHECK(other.add(metric_point{1, 5, "k8s.pod.cpu.time", "prod", "web-0", "node-1", "transmit"}));
  CHECK_FALSE(other.add(point(1, 5)));
  CHECK(other.stats().other_metric == 1);
}

TEST_CASE("D1.3 a point at exactly 20.0 is in bucket 20 and 19.999 in bucket 10") {
  const auto rows = aggregate({point(20.0, 1), point(19.999, 2)});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].time == 20);
  CHECK(rows[0].io == 1);
  CHECK(rows[1].time == 10);
  CHECK(rows[1].io == 2);
  CHECK(k8snetio::bucket_of(20.0, 10) == 20);
  CHECK(k8snetio::bucket_of(19.999, 10) == 10);
  CHECK(k8snetio::bucket_of(29.999999, 10) == 20);
  CHECK(k8snetio::bucket_of(0.0, 10) == 0);
  CHECK(k8snetio::bucket_of(1700000009.999, 10) == 1700000000);
  CHECK(k8snetio::bucket_of(1700000010.0, 10) == 1700000010);
}

TEST_CASE("D1.3 negative times floor towards minus infinity") {
  CHECK(k8snetio::bucket_of(-0.5, 10) == -10);
  CHECK(k8snetio::bucket_of(-10.0, 10) == -10);
  CHECK(k8snetio::bucket_of(-10.001, 10) == -20);
  CHECK(k8snetio::bucket_of(-1.0, 60) == -60);
  const auto rows = aggregate({point(-0.5, 3), point(-9.5, 5), point(0.5, 11)});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].time == -10);
  CHECK(rows[0].io == 4);
  CHECK(rows[1].time == 0);
  CHECK(rows[1].io == 11);
}

TEST_CASE("D1.3 the span is configurable in whole seconds") {
  span_options minute;
  minute.span_seconds = 60;
  const auto rows =
      aggregate({point(0, 1), point(59.9, 3), point(60, 10), point(1700000039, 100)}, minute);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].time == 0);
  CHECK(rows[0].io == 2);
  CHECK(rows[1].time == 60);
  CHECK(rows[1].io == 10);
  CHECK(rows[2].time == 1699999980);  // 28333333 * 60, epoch-aligned
  CHECK(rows[2].io == 100);

  span_options zero;
  zero.span_seconds = 0;
  CHECK_THROWS_AS(span_aggregator(zero), std::invalid_argument);
  span_options negative;
  negative.span_seconds = -10;
  CHECK_THROWS_AS(span_aggregator(negative), std::invalid_argument);
}

TEST_CASE("D1.4 two interfaces of one pod are averaged together") {
  // Spec §8: eth0 sends 1400 and eth1 1600 in one bucket; the interface plays no part.
  const auto rows = aggregate({point(1700000001, 1400), point(1700000007, 1600),
                               point(1700000003, 2100, "web-0", "receive")});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].direction == "transmit");
  CHECK(rows[0].io == 1500);
  CHECK(rows[1].direction == "receive");
  CHECK(rows[1].io == 2100);
}

TEST_CASE("D1.4 two namespaces' pods that share a name are averaged together") {
  // The namespace is not a grouping dimension: points of shop/web-0 and test/web-0 on the
  // same node are one group.
  const auto rows = aggregate({point(5, 1), point(6, 2), point(7, 4)});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].io == 7.0 / 3.0);
}

TEST_CASE("D1.4 the mean is a plain sum in input order divided by the count") {
  // 1e16 + 1 rounds back to 1e16, so the input order shows in the result.
  const auto in_order = aggregate({point(1, 1e16), point(2, 1), point(3, -1e16)});
  REQUIRE(in_order.size() == 1);
  CHECK(in_order[0].io == 0.0);
  const auto reordered = aggregate({point(1, 1e16), point(2, -1e16), point(3, 1)});
  REQUIRE(reordered.size() == 1);
  CHECK(reordered[0].io == 1.0 / 3.0);
}

TEST_CASE("D1.4 one row per distinct cluster pod node direction and bucket") {
  const auto rows = aggregate({
      point(1, 1, "web-0", "transmit", "prod", "node-1"),
      point(2, 2, "web-0", "transmit", "prod", "node-2"),   // other node
      point(3, 3, "web-0", "transmit", "dev", "node-1"),    // other cluster
      point(4, 4, "web-1", "transmit", "prod", "node-1"),   // other pod
      point(5, 5, "web-0", "receive", "prod", "node-1"),    // other direction
      point(6, 6, "web-0", "Transmit", "prod", "node-1"),   // case matters
      point(11, 7, "web-0", "transmit", "prod", "node-1"),  // other bucket
      point(9, 9, "web-0", "transmit", "prod", "node-1"),   // same as the first
  });
  REQUIRE(rows.size() == 7);
  // First-appearance order.
  CHECK(rows[0] == span_row{"prod", "web-0", "node-1", "transmit", 0, 5});
  CHECK(rows[1] == span_row{"prod", "web-0", "node-2", "transmit", 0, 2});
  CHECK(rows[2] == span_row{"dev", "web-0", "node-1", "transmit", 0, 3});
  CHECK(rows[3] == span_row{"prod", "web-1", "node-1", "transmit", 0, 4});
  CHECK(rows[4] == span_row{"prod", "web-0", "node-1", "receive", 0, 5});
  CHECK(rows[5] == span_row{"prod", "web-0", "node-1", "Transmit", 0, 6});
  CHECK(rows[6] == span_row{"prod", "web-0", "node-1", "transmit", 10, 7});
}

TEST_CASE("D1.5 the row's _time is the bucket start") {
  const auto rows = aggregate({point(1700000007.5, 42), point(1700000003.25, 44)});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].time == 1700000000);
  CHECK(rows[0].io == 43);
}

TEST_CASE("D1 aggregation_stats counts every point and the buckets seen") {
  span_aggregator agg;
  agg.add(point(25, 1));
  agg.add(point(5, 1));
  agg.add(point(17, 1, "web-1"));
  agg.add(point(17, 1, ""));
  agg.add(point(17, not_a_number));
  (void)finish(agg);
  const aggregation_stats& s = agg.stats();
  CHECK(s.points_in == 5);
  CHECK(s.aggregated == 3);
  CHECK(s.missing_dimension == 1);
  CHECK(s.non_finite == 1);
  CHECK(s.late == 0);
  CHECK(s.rows_out == 3);
  CHECK(s.first_bucket == std::optional<std::int64_t>(0));
  CHECK(s.last_bucket == std::optional<std::int64_t>(20));
  CHECK(s.points_in == s.aggregated + s.dropped());
}

TEST_CASE("D1 aggregate_spans adaptor gives the rows and the stats") {
  const std::vector<metric_point> points{point(1, 1400), point(2, 1600), point(3, 5, "")};
  auto table = points | k8snetio::aggregate_spans();
  REQUIRE(table.size() == 1);
  CHECK(*table.begin() == span_row{"prod", "web-0", "node-1", "transmit", 0, 1500});
  CHECK(table.stats().points_in == 3);
  CHECK(table.stats().missing_dimension == 1);

  span_options minute;
  minute.span_seconds = 60;
  auto by_minute = points | k8snetio::aggregate_spans(minute);
  REQUIRE(by_minute.size() == 1);
  CHECK(by_minute.begin()->time == 0);
}

TEST_CASE("D1 the aggregator owns its strings: a reader may reuse its buffers") {
  span_aggregator agg;
  std::string pod = "web-0", node = "node-1", cluster = "prod", direction = "transmit";
  agg.add(metric_point{1, 2, "", cluster, pod, node, direction});
  pod = "XXXXX";
  node = "YYYYYY";
  cluster = "ZZZZ";
  direction = "WWWWWWWW";
  const auto rows = finish(agg);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == span_row{"prod", "web-0", "node-1", "transmit", 0, 2});
}

TEST_CASE("D1 allowed_lateness 0: emit_closed emits bucket b once bucket b+span starts") {
  span_options options;
  options.allowed_lateness = 0;
  span_aggregator agg(options);
  std::vector<span_row> out;
  const auto sink = [&out](const span_row& r) { out.push_back(r); };

  agg.add(point(1, 10));
  agg.add(point(5, 20, "web-1"));
  agg.emit_closed(sink);
  CHECK(out.empty());  // bucket 0 may still grow
  agg.add(point(9.999, 30));
  agg.emit_closed(sink);
  CHECK(out.empty());

  agg.add(point(10, 100));  // bucket 10 starts: bucket 0 is final
  agg.emit_closed(sink);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == span_row{"prod", "web-0", "node-1", "transmit", 0, 20});
  CHECK(out[1] == span_row{"prod", "web-1", "node-1", "transmit", 0, 20});
  CHECK(agg.open_groups() == 1);

  // A point for bucket 0 now is late: counted, not aggregated, whatever its series.
  CHECK_FALSE(agg.add(point(3, 1000)));
  CHECK_FALSE(agg.add(point(4, 1000, "web-2")));
  CHECK(agg.stats().late == 2);
  CHECK(agg.stats().dropped() == 2);
  agg.emit_closed(sink);
  CHECK(out.size() == 2);

  agg.finish(sink);
  REQUIRE(out.size() == 3);
  CHECK(out[2] == span_row{"prod", "web-0", "node-1", "transmit", 10, 100});
  CHECK(agg.stats().rows_out == 3);
  CHECK(agg.stats().aggregated == 4);
}

TEST_CASE("D1 allowed_lateness L keeps a bucket open L seconds past its end") {
  span_options options;
  options.allowed_lateness = 10;
  span_aggregator agg(options);
  std::vector<span_row> out;
  const auto sink = [&out](const span_row& r) { out.push_back(r); };
  agg.add(point(1, 10));
  agg.add(point(11, 10));
  agg.emit_closed(sink);
  CHECK(out.empty());
  CHECK(agg.add(point(2, 30)));  // within the lateness: still aggregated
  agg.add(point(21, 10));
  agg.emit_closed(sink);
  REQUIRE(out.size() == 1);
  CHECK(out[0].time == 0);
  CHECK(out[0].io == 20);
  CHECK_THROWS_AS(span_aggregator([] {
                    span_options o;
                    o.allowed_lateness = -1;
                    return o;
                  }()),
                  std::invalid_argument);
}

TEST_CASE("D1 without a lateness emit_closed emits nothing and finish emits all") {
  span_aggregator agg;
  std::vector<span_row> out;
  const auto sink = [&out](const span_row& r) { out.push_back(r); };
  for (int t = 0; t < 100; t += 10) agg.add(point(t, t));
  agg.emit_closed(sink);
  CHECK(out.empty());
  CHECK(agg.open_groups() == 10);
  agg.add(point(3, 2));  // any order: still aggregated, never late
  agg.finish(sink);
  REQUIRE(out.size() == 10);
  CHECK(out[0].io == 1);
  CHECK(agg.stats().late == 0);
}

TEST_CASE("D1 open_groups stays bounded on a long time-ordered input") {
  span_options options;
  options.allowed_lateness = 0;
  span_aggregator agg(options);
  std::uint64_t emitted = 0;
  std::size_t most_open = 0;
  const auto sink = [&emitted](const span_row&) { ++emitted; };
  constexpr int buckets = 20000;
  for (int b = 0; b < buckets; ++b) {
    const double t = 1700000000.0 + 10.0 * b;
    for (std::string_view pod : {"a-0", "b-0", "c-0"}) {
      agg.add(point(t + 1, b, pod, "transmit"));
      agg.add(point(t + 2, b, pod, "receive"));
      agg.emit_closed(sink);
      most_open = std::max(most_open, agg.open_groups());
    }
  }
  CHECK(most_open <= 6);  // the current bucket's six series, never more
  agg.finish(sink);
  CHECK(emitted == 6u * buckets);
  CHECK(agg.stats().late == 0);
  CHECK(agg.stats().rows_out == 6u * buckets);
}

}  // namespace test_span_aggregator
