// The shapes real telemetry has (spec formats.md I1.1–I1.6, I3.1–I3.4): the kubeletstats
// receiver's raw output, the Splunk chart's, the Splunk HEC exporter's events and Splunk's CSV
// exports. The fixtures under tests/data reproduce their structure in a few lines each.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/io/number.hpp>

#include "support.hpp"

namespace test_real_shapes {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

using k8snetio::test::fixture_path;
using k8snetio::test::read_file;

/// A point with the I3.3 context too.
struct context_point {
  test::owned_point point;
  std::string namespace_name, pod_uid;
};

struct context_collector {
  std::vector<context_point> points;
  void operator()(const metric_point& p) {
    points.push_back({test::own(p), std::string(p.namespace_name), std::string(p.pod_uid)});
  }
};

template <class Reader>
context_collector read_fixture(Reader& reader, std::string_view name) {
  context_collector sink;
  const std::string text = read_file(fixture_path(name));
  auto r = reader.read(text, sink);
  INFO((r ? std::string() : r.error().what()));
  REQUIRE(r);
  return sink;
}

}  // namespace

// ---- I3.1 raw kubeletstats ---------------------------------------------------------------------

TEST_CASE("I3.1 raw kubeletstats: the node comes from the node resource of the same request",
          "[real-shapes][I3.1]") {
  reader_options options;
  options.default_cluster = "prod-eu";
  otlp_reader reader("otlp_raw_kubeletstats.jsonl", options);
  const auto got = read_fixture(reader, "otlp_raw_kubeletstats.jsonl");
  // Two pods, two directions, three scrapes: the first scrape primes each counter.
  REQUIRE(got.points.size() == 8);
  for (const auto& p : got.points) {
    CHECK(p.point.node == "node-7");  // the node resource came first in one line, last in others
    CHECK(p.point.cluster == "prod-eu");
    CHECK(p.namespace_name == "shop");  // I3.3
  }
  CHECK(got.points[0].point.pod == "checkout-7d4b9c8f6d-k2lpx");
  CHECK(got.points[0].pod_uid == "6c1d6b9e-0b1a-4c6e-9f5e-3b2a1c0d9e8f");
  CHECK(got.points[0].point.direction == "receive");
  CHECK(got.points[0].point.value == 1000);
  CHECK(got.points[1].point.value == 5000);
  // redis-0's points are written with numbers, not strings, and in another key order.
  CHECK(got.points[2].point.pod == "redis-0");
  CHECK(got.points[2].point.value == 300);
  CHECK(got.points[3].point.value == 200);
  CHECK(reader.report().count(skip_reason::missing_dimension) == 0);
  CHECK(reader.report().hints().empty());
}

TEST_CASE("I3.1 raw kubeletstats without a cluster: counted under its name, with the option",
          "[real-shapes][I3.1]") {
  otlp_reader reader("raw.jsonl");
  const auto got = read_fixture(reader, "otlp_raw_kubeletstats.jsonl");
  CHECK(got.points.empty());
  CHECK(reader.report().missing_dimensions[0] == 12);  // 2 pods × 2 directions × 3 scrapes
  const auto hints = reader.report().hints();
  REQUIRE(hints.size() == 1);
  CHECK(hints[0] ==
        "no k8s.cluster.name: 12 points; set reader_options::default_cluster or add the "
        "k8sattributes or resource processor");
}

TEST_CASE(
    "I3.1 a pod resource without any node source is counted, and the hint names the default node",
    "[real-shapes][I3.1]") {
  const std::string line =
      R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"k8s.pod.name","value":{"stringValue":"web-0"}}]},)"
      R"("scopeMetrics":[{"metrics":[{"name":"k8s.pod.network.io","gauge":{"dataPoints":[)"
      R"({"attributes":[{"key":"direction","value":{"stringValue":"receive"}}],"timeUnixNano":"1700000000000000000","asInt":"5"},)"
      R"({"attributes":[{"key":"direction","value":{"stringValue":"transmit"}}],"timeUnixNano":"1700000000000000000","asInt":"6"}]}}]}]}]})"
      "\n";
  reader_options options;
  options.default_cluster = "c";
  SECTION("no default node") {
    otlp_reader reader("x", options);
    test::point_collector sink;
    REQUIRE(reader.read(line, sink));
    CHECK(sink.points.empty());
    CHECK(reader.report().missing_dimensions[2] == 2);
    REQUIRE(reader.report().hints().size() == 1);
    CHECK(reader.report().hints()[0] ==
          "no k8s.node.name: 2 points; set reader_options::default_node or add the "
          "k8sattributes processor");
  }
  SECTION("--default-node supplies it") {
    options.default_node = "node-1";
    otlp_reader reader("x", options);
    test::point_collector sink;
    REQUIRE(reader.read(line, sink));
    REQUIRE(sink.points.size() == 2);
    CHECK(sink.points[0].node == "node-1");
  }
  SECTION("a point attribute wins over the node resource and the default") {
    options.default_node = "node-1";
    std::string with_node = line;
    const std::string marker = R"({"key":"direction","value":{"stringValue":"receive"}})";
    with_node.replace(with_node.find(marker), marker.size(),
                      marker + R"(,{"key":"k8s.node.name","value":{"stringValue":"node-9"}})");
    otlp_reader reader("x", options);
    test::point_collector sink;
    REQUIRE(reader.read(with_node, sink));
    REQUIRE(sink.points.size() == 2);
    CHECK(sink.points[0].node == "node-9");
    CHECK(sink.points[1].node == "node-1");
  }
}

// ---- I3.2 NO_RECORDED_VALUE --------------------------------------------------------------------

TEST_CASE("I3.2 a point flagged NO_RECORDED_VALUE is counted and is no base for a delta",
          "[real-shapes][I3.2]") {
  const auto point = [](const char* time, const char* value, int flags) {
    return std::string(
               R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"k8s.pod.name","value":{"stringValue":"web-0"}},)"
               R"({"key":"k8s.node.name","value":{"stringValue":"n1"}},{"key":"k8s.cluster.name","value":{"stringValue":"c"}}]},)"
               R"("scopeMetrics":[{"metrics":[{"name":"k8s.pod.network.io","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[)"
               R"({"attributes":[{"key":"direction","value":{"stringValue":"receive"}}],"timeUnixNano":")") +
           time + R"(","asInt":")" + value + R"(","flags":)" + std::to_string(flags) +
           "}]}}]}]}]}\n";
  };
  const std::string text = point("1700000000000000000", "100", 0) +
                           point("1700000010000000000", "0", 1) +  // no value: not a reset
                           point("1700000020000000000", "130", 0);
  otlp_reader reader("x");
  test::point_collector sink;
  REQUIRE(reader.read(text, sink));
  REQUIRE(sink.points.size() == 1);
  CHECK(sink.points[0].value == 30);  // 130 - 100: the flagged point changed nothing
  CHECK(reader.report().count(skip_reason::no_recorded_value) == 1);
  CHECK(reader.report().count(skip_reason::counter_reset) == 0);
}

// ---- the chart's shape -------------------------------------------------------------------------

TEST_CASE("I3 the chart's shape: empty resource, everything on the points, no start time",
          "[real-shapes][I3][I1.6]") {
  otlp_reader reader("otlp_chart.jsonl");
  const auto got = read_fixture(reader, "otlp_chart.jsonl");
  REQUIRE(got.points.size() == 4);
  CHECK(got.points[0].point.cluster == "kind-test");
  CHECK(got.points[0].point.node == "kind-worker");
  CHECK(got.points[0].point.direction == "receive");  // network.io.direction
  CHECK(got.points[0].point.value == 1000);
  CHECK(got.points[1].point.value == 5000);
  CHECK(got.points[0].pod_uid == "6c1d6b9e-0b1a-4c6e-9f5e-3b2a1c0d9e8f");
  CHECK(reader.report().count(skip_reason::counter_reset) == 0);
}

// ---- the HEC exporter's events -----------------------------------------------------------------

TEST_CASE("I2 the HEC exporter's events: event first, time last, sorted fields, merged metrics",
          "[real-shapes][I2]") {
  hec_reader reader("hec_exporter.jsonl");
  const auto got = read_fixture(reader, "hec_exporter.jsonl");
  REQUIRE(got.points.size() == 4);
  CHECK(got.points[0].point.time == 1700000001.0);
  CHECK(got.points[2].point.time == 1700000011.123);
  CHECK(got.points[1].point.direction == "transmit");
  CHECK(got.points[1].point.value == 5000);
  CHECK(got.points[0].namespace_name == "shop");
  CHECK(reader.report().count(skip_reason::other_metric) == 2);  // the merged errors metric
}

TEST_CASE("I1.6 HEC events with network.io.direction", "[real-shapes][I1.6]") {
  const std::string text =
      R"({"time":1700000010,"fields":{"metric_name":"k8s.pod.network.io","_value":5,"k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","network.io.direction":"transmit","network.interface.name":"eth0"}})"
      "\n";
  hec_reader reader("x");
  test::point_collector sink;
  REQUIRE(reader.read(text, sink));
  REQUIRE(sink.points.size() == 1);
  CHECK(sink.points[0].direction == "transmit");
}

TEST_CASE("I3.1 HEC events take --default-node for an absent k8s.node.name",
          "[real-shapes][I3.1]") {
  const std::string text =
      R"({"time":1700000010,"fields":{"metric_name":"k8s.pod.network.io","_value":5,"k8s.cluster.name":"c","k8s.pod.name":"p","direction":"transmit"}})"
      "\n";
  reader_options options;
  options.default_node = "node-3";
  hec_reader reader("x", options);
  test::point_collector sink;
  REQUIRE(reader.read(text, sink));
  REQUIRE(sink.points.size() == 1);
  CHECK(sink.points[0].node == "node-3");
}

// ---- Splunk's CSV exports ----------------------------------------------------------------------

TEST_CASE("I1.1 I1.3 I1.6 Splunk's CSV export: BOM, quoted header, ISO 8601 _time, newer names",
          "[real-shapes][I1.1][I1.3][I1.6]") {
  metrics_csv_reader reader("metrics_splunk_export_iso.csv");
  const auto got = read_fixture(reader, "metrics_splunk_export_iso.csv");
  REQUIRE(got.points.size() == 3);
  CHECK(got.points[0].point.time == 1700000010.0);  // 2023-11-14T22:13:30.000+00:00
  CHECK(got.points[1].point.time == 1700000020.5);  // 23:13:40.500+01:00
  CHECK(got.points[2].point.time == 1700000030.0);  // 22:13:50Z
  CHECK(got.points[0].point.direction == "transmit");
  CHECK(got.points[0].namespace_name == "shop");
}

TEST_CASE("I1.3 a BOM split across chunks before a quoted header", "[real-shapes][I1.3]") {
  const std::string text = read_file(fixture_path("metrics_splunk_export_iso.csv"));
  for (std::size_t cut : {1u, 2u, 3u, 4u}) {
    metrics_csv_reader reader("x");
    test::point_collector sink;
    REQUIRE(reader.feed(std::string_view(text).substr(0, cut), sink));
    REQUIRE(reader.feed(std::string_view(text).substr(cut), sink));
    REQUIRE(reader.finish(sink));
    CHECK(sink.points.size() == 3);
  }
}

TEST_CASE("I1.2 the multiple-measurement CSV: each metric_name:<name> cell is a point",
          "[real-shapes][I1.2]") {
  metrics_csv_reader reader("metrics_multi_measurement.csv");
  const auto got = read_fixture(reader, "metrics_multi_measurement.csv");
  REQUIRE(got.points.size() == 2);
  CHECK(got.points[0].point.value == 1834211);
  CHECK(got.points[0].point.metric_name == "k8s.pod.network.io");
  CHECK(got.points[1].point.direction == "receive");
  CHECK(reader.report().count(skip_reason::other_metric) == 2);  // the two errors cells
  CHECK(reader.report().rows_read == 4);                         // one per measurement
}

TEST_CASE("I1.1 ISO 8601 times: zones, fractions, and what is refused", "[real-shapes][I1.1]") {
  double t = 0;
  CHECK(parse_iso8601("2023-11-14T22:13:30.000+00:00", t));
  CHECK(t == 1700000010.0);
  CHECK(parse_iso8601("2023-11-14T22:13:30Z", t));
  CHECK(t == 1700000010.0);
  CHECK(parse_iso8601("2023-11-14 17:13:30.25-0500", t));
  CHECK(t == 1700000010.25);
  CHECK(parse_iso8601("1970-01-01T00:00:00Z", t));
  CHECK(t == 0);
  CHECK(parse_iso8601("2024-02-29T00:00:00Z", t));
  CHECK_FALSE(parse_iso8601("2023-02-29T00:00:00Z", t));   // not a leap year
  CHECK_FALSE(parse_iso8601("2023-11-14T22:13:30", t));    // no zone: no instant
  CHECK_FALSE(parse_iso8601("2023-11-14T22:13:30.Z", t));  // an empty fraction
  CHECK_FALSE(parse_iso8601("2023-11-14T22:13:30Z junk", t));
  CHECK_FALSE(parse_iso8601("2023-13-14T22:13:30Z", t));
}

TEST_CASE("I1.4 epoch milliseconds are refused naming the unit, or converted when told",
          "[real-shapes][I1.4]") {
  const std::string text =
      "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction\n"
      "1700000010123,k8s.pod.network.io,5,c,n,p,transmit\n";
  SECTION("seconds: refused, with the unit it looks like") {
    metrics_csv_reader reader("x");
    test::point_collector sink;
    REQUIRE(reader.read(text, sink));
    CHECK(sink.points.empty());
    CHECK(reader.report().count(skip_reason::time_out_of_range) == 1);
    REQUIRE(reader.report().examples.size() == 1);
    CHECK(reader.report().examples[0].to_string() ==
          "x:2: time out of range: metric_timestamp='1700000010123': looks like epoch "
          "milliseconds; set reader_options::epoch_unit to ms");
  }
  SECTION("told milliseconds: converted") {
    reader_options options;
    options.epoch_unit = time_unit::milliseconds;
    metrics_csv_reader reader("x", options);
    test::point_collector sink;
    REQUIRE(reader.read(text, sink));
    REQUIRE(sink.points.size() == 1);
    CHECK(sink.points[0].time == Approx(1700000010.123).margin(1e-6));
  }
  SECTION("HEC too") {
    const std::string hec =
        R"({"time":1700000010123456,"fields":{"metric_name":"k8s.pod.network.io","_value":5,"k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"transmit"}})"
        "\n";
    hec_reader reader("x");
    test::point_collector sink;
    REQUIRE(reader.read(hec, sink));
    CHECK(reader.report().count(skip_reason::time_out_of_range) == 1);
    REQUIRE(reader.report().examples.size() == 1);
    // A6: the library names its option; the program maps it to --time-unit.
    CHECK(reader.report().examples[0].detail.find(
              "microseconds; set reader_options::epoch_unit to us") != std::string::npos);
  }
}

TEST_CASE("I1.4 a time of 9e15 or more is out of range, not non-finite", "[real-shapes][I1.4]") {
  const std::string text =
      "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction\n"
      "9e15,k8s.pod.network.io,5,c,n,p,transmit\n"
      "1e400,k8s.pod.network.io,5,c,n,p,transmit\n";
  metrics_csv_reader reader("x");
  test::point_collector sink;
  REQUIRE(reader.read(text, sink));
  CHECK(reader.report().count(skip_reason::time_out_of_range) == 2);
  CHECK(reader.report().count(skip_reason::non_finite) == 0);
}

TEST_CASE("I1 one number parser: no spaces, no '+', in CSV, HEC and OTLP alike",
          "[real-shapes][I1][I2][I3]") {
  double v = 0;
  CHECK(parse_number("1834211", v) == number_status::ok);
  CHECK(parse_number("-0.5e3", v) == number_status::ok);
  CHECK(parse_number("+5", v) == number_status::invalid);
  CHECK(parse_number(" 5", v) == number_status::invalid);
  CHECK(parse_number("5 ", v) == number_status::invalid);
  const std::string hec =
      R"({"time":"1700000010","fields":{"metric_name":"k8s.pod.network.io","_value":" +5","k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"transmit"}})"
      "\n";
  hec_reader reader("x");
  test::point_collector sink;
  REQUIRE(reader.read(hec, sink));
  CHECK(sink.points.empty());
  CHECK(reader.report().count(skip_reason::bad_number) == 1);
}

}  // namespace test_real_shapes
