// Tests of the OTLP JSON reader (spec I3: cumulative-to-delta conversion, the counter modes,
// attribute merging; with the D1.1/D1.2 point checks).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "k8snetio/io/input/otlp_reader.hpp"
#include "support.hpp"

namespace test_otlp_reader {

namespace {

using namespace k8snetio::io;

using k8snetio::test::owned_point;
using k8snetio::test::read_fixture;
using collector = k8snetio::test::point_collector;

std::vector<std::string> example_strings(const read_report& r) {
  std::vector<std::string> out;
  for (const auto& e : r.examples) out.push_back(e.to_string());
  return out;
}

// Seconds as the reader computes them from timeUnixNano: whole seconds plus the fraction.
constexpr double at(double seconds, double fraction) { return seconds + fraction; }
constexpr double frac = 0.123456789;

owned_point checkout(double time, double value, std::string direction) {
  return {time,
          value,
          "k8s.pod.network.io",
          "prod-eu",
          "checkout-7d4b9c8f6d-k2lpx",
          "node-15",
          std::move(direction)};
}

struct read_result {
  std::vector<owned_point> points;
  read_report report;
};

read_result read_whole(std::string_view text, reader_options options = {},
                       std::string_view file = "input.jsonl") {
  otlp_reader reader(std::move(options));
  reader.start_file(file);
  reader.report().max_examples = 50;
  collector sink;
  auto r = reader.read(text, sink);
  REQUIRE(r);
  return {sink.points, reader.report()};
}

reader_options mode(otlp_counter_mode m) {
  reader_options o;
  o.otlp_counter = m;
  return o;
}

// One OTLP line with a resource and one metric, for the small inline cases.
std::string line(std::string_view resource_attributes, std::string_view metric) {
  return fmt::format(R"({{"resourceMetrics":[{{"resource":{{"attributes":[{}]}},)"
                     R"("scopeMetrics":[{{"scope":{{"name":"t"}},"metrics":[{}]}}]}}]}})",
                     resource_attributes, metric) +
         "\n";
}

std::string attr(std::string_view key, std::string_view value) {
  return fmt::format(R"({{"key":"{}","value":{{"stringValue":"{}"}}}})", key, value);
}

const std::string pod_resource = attr("k8s.cluster.name", "c") + "," + attr("k8s.node.name", "n") +
                                 "," + attr("k8s.pod.name", "p");

std::string cumulative_point(std::string_view direction, std::uint64_t time_ns, std::int64_t value,
                             std::uint64_t start_ns = 1'000'000'000) {
  return fmt::format(
      R"({{"name":"k8s.pod.network.io","sum":{{"dataPoints":[{{"attributes":[{},{}],)"
      R"("startTimeUnixNano":"{}","timeUnixNano":"{}","asInt":"{}"}}],)"
      R"("aggregationTemporality":2,"isMonotonic":true}}}})",
      attr("interface", "eth0"), attr("direction", direction), start_ns, time_ns, value);
}

}  // namespace

TEST_CASE("I3 cumulative kubeletstats counters become deltas stamped at the later point") {
  auto text = read_fixture("otlp_small.jsonl");
  auto [points, report] = read_whole(text, {}, "otlp_small.jsonl");

  CHECK(points == std::vector<owned_point>{
                      checkout(at(1700000020, frac), 10000, "transmit"),
                      checkout(at(1700000020, frac), 1000, "receive"),
                      // line 3: transmit went down (a reset), receive goes on
                      checkout(at(1700000030, frac), 1000, "receive"),
                      // line 4: receive restarted (new startTimeUnixNano)
                      checkout(at(1700000040, frac), 2000, "transmit"),
                      checkout(at(1700000050, frac), 2000, "transmit"),
                      checkout(at(1700000050, frac), 1000, "receive"),
                  });
  CHECK(report.rows_read == 19);  // data points: 5 lines x (cpu + 2 network) + 2 x 2 of web-0
  CHECK(report.points == 6);
  CHECK(report.bytes == text.size());
  CHECK(report.count(skip_reason::first_of_series) == 2);
  CHECK(report.count(skip_reason::counter_reset) == 2);
  CHECK(report.count(skip_reason::other_metric) == 5);       // k8s.pod.cpu.time
  CHECK(report.count(skip_reason::missing_dimension) == 4);  // D1.1: web-0 has no cluster
  CHECK(report.rows_read == report.points + report.skipped_total());
  // Only defects are named; first points, resets and other metrics are expected.
  CHECK(example_strings(report) ==
        std::vector<std::string>{"otlp_small.jsonl:1: missing dimension: k8s.cluster.name",
                                 "otlp_small.jsonl:1: missing dimension: k8s.cluster.name",
                                 "otlp_small.jsonl:2: missing dimension: k8s.cluster.name",
                                 "otlp_small.jsonl:2: missing dimension: k8s.cluster.name"});
}

TEST_CASE("I3 timeUnixNano becomes seconds exactly: whole seconds plus the fraction") {
  auto [points, report] =
      read_whole(read_fixture("otlp_small.jsonl"), mode(otlp_counter_mode::raw));
  REQUIRE(!points.empty());
  CHECK(points[0].time == 1700000010.0 + 0.123456789);
  CHECK(points[0].time == 1700000010.123456789);  // the nearest double, here the same
}

TEST_CASE("I3 rate mode divides each delta by the interval in seconds") {
  auto [points, report] =
      read_whole(read_fixture("otlp_small.jsonl"), mode(otlp_counter_mode::rate));
  CHECK(points == std::vector<owned_point>{
                      checkout(at(1700000020, frac), 1000, "transmit"),
                      checkout(at(1700000020, frac), 100, "receive"),
                      checkout(at(1700000030, frac), 100, "receive"),
                      checkout(at(1700000040, frac), 200, "transmit"),
                      checkout(at(1700000050, frac), 200, "transmit"),
                      checkout(at(1700000050, frac), 100, "receive"),
                  });
  CHECK(report.count(skip_reason::first_of_series) == 2);
  CHECK(report.count(skip_reason::counter_reset) == 2);
}

TEST_CASE("I3 raw mode passes the counter through as it is") {
  auto [points, report] =
      read_whole(read_fixture("otlp_small.jsonl"), mode(otlp_counter_mode::raw));
  CHECK(points == std::vector<owned_point>{
                      checkout(at(1700000010, frac), 18342110, "transmit"),
                      checkout(at(1700000010, frac), 9012330, "receive"),
                      checkout(at(1700000020, frac), 18352110, "transmit"),
                      checkout(at(1700000020, frac), 9013330, "receive"),
                      checkout(at(1700000030, frac), 500, "transmit"),
                      checkout(at(1700000030, frac), 9014330, "receive"),
                      checkout(at(1700000040, frac), 2500, "transmit"),
                      checkout(at(1700000040, frac), 300, "receive"),
                      checkout(at(1700000050, frac), 4500, "transmit"),
                      checkout(at(1700000050, frac), 1300, "receive"),
                  });
  CHECK(report.count(skip_reason::first_of_series) == 0);
  CHECK(report.count(skip_reason::counter_reset) == 0);
  CHECK(report.count(skip_reason::missing_dimension) == 4);
}

TEST_CASE("I3 D1.1 default_cluster fills a missing k8s.cluster.name; interface separates series") {
  reader_options options;
  options.default_cluster = "prod-default";
  auto [points, report] = read_whole(read_fixture("otlp_small.jsonl"), options);
  // web-0 reports network.io.direction / network.interface.name (newer conventions) as plain
  // JSON numbers; eth0 and eth1 share every dimension but are two series.
  owned_point eth0{1700000020, 50,       "k8s.pod.network.io", "prod-default", "web-0",
                   "node-16",  "receive"};
  owned_point eth1{1700000020, 300,      "k8s.pod.network.io", "prod-default", "web-0",
                   "node-16",  "receive"};
  REQUIRE(points.size() == 8);
  CHECK(points[2] == eth0);
  CHECK(points[3] == eth1);
  CHECK(report.count(skip_reason::first_of_series) == 4);
  CHECK(report.count(skip_reason::missing_dimension) == 0);
}

TEST_CASE("I3 D1.1 D1.2 malformed lines are counted by reason; a broken line changes no state") {
  auto [points, report] =
      read_whole(read_fixture("otlp_malformed.jsonl"), {}, "otlp_malformed.jsonl");
  // Line 8 holds a good point (5000 at t=20) before a broken resource: the line is dropped as
  // a whole, so line 9's delta is taken against line 1.
  CHECK(points == std::vector<owned_point>{checkout(1700000030, 6000, "transmit")});
  CHECK(report.rows_read == 11);
  CHECK(report.count(skip_reason::first_of_series) == 1);
  CHECK(report.count(skip_reason::bad_syntax) == 4);  // lines 2, 3, 8, 10
  CHECK(report.count(skip_reason::missing_field) == 1);
  CHECK(report.count(skip_reason::bad_number) == 2);  // asInt "12x", timeUnixNano "abc"
  CHECK(report.count(skip_reason::non_finite) == 1);  // D1.2: asDouble "NaN"
  CHECK(report.count(skip_reason::missing_dimension) == 1);
  CHECK(example_strings(report) ==
        std::vector<std::string>{
            "otlp_malformed.jsonl:2: bad syntax: document: A string is opened, but never closed.",
            "otlp_malformed.jsonl:3: bad syntax: resourceMetrics: The JSON element does not have "
            "the requested type.",
            "otlp_malformed.jsonl:4: missing field: timeUnixNano",
            "otlp_malformed.jsonl:5: bad number: asInt",
            "otlp_malformed.jsonl:6: non-finite value: asDouble",
            "otlp_malformed.jsonl:7: missing dimension: k8s.pod.name",
            "otlp_malformed.jsonl:8: bad syntax: resource: The JSON element does not have the "
            "requested type.",
            "otlp_malformed.jsonl:10: bad syntax: document: JSON document ended early in the "
            "middle of an object or array.",
            "otlp_malformed.jsonl:11: bad number: timeUnixNano",
        });
}

TEST_CASE("I3 strict mode ends the read at the first error-kind skip") {
  reader_options options;
  options.strict = true;
  otlp_reader reader(options);
  reader.start_file("otlp_malformed.jsonl");
  collector sink;
  auto r = reader.read(read_fixture("otlp_malformed.jsonl"), sink);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == error_code::bad_row);
  CHECK(r.error().line == 2);
  CHECK(r.error().what() ==
        "[k8snetio.error.111] otlp_malformed.jsonl:2: bad syntax: document: "
        "A string is opened, but never closed.");
  CHECK_FALSE(reader.finish(sink));  // sticks until start_file()

  SECTION("first points, resets and other metrics are no error") {
    otlp_reader strict(options);
    collector all;
    reader_options with_cluster = options;
    with_cluster.default_cluster = "x";
    otlp_reader strict_with_cluster(with_cluster);
    REQUIRE(strict_with_cluster.read(read_fixture("otlp_small.jsonl"), all));
    CHECK(all.points.size() == 8);
    auto e = strict.read(read_fixture("otlp_small.jsonl"), all);  // web-0 lacks its cluster
    REQUIRE_FALSE(e);
    CHECK(e.error().line == 1);
    CHECK(e.error().field == "k8s.cluster.name");
  }
}

TEST_CASE("I3 feeding in chunks of any size gives what one read gives") {
  reader_options with_cluster;
  with_cluster.default_cluster = "d";
  for (const char* name : {"otlp_small.jsonl", "otlp_malformed.jsonl"}) {
    for (const auto& options : {reader_options{}, with_cluster, mode(otlp_counter_mode::rate)}) {
      auto text = read_fixture(name);
      auto whole = read_whole(text, options);
      for (std::size_t chunk : {1, 2, 3, 5, 7, 13, 64, 100, 999, 4096, 1 << 20}) {
        CAPTURE(name, chunk);
        otlp_reader reader(options);
        reader.start_file("input.jsonl");
        reader.report().max_examples = 50;
        collector sink;
        for (std::size_t pos = 0; pos < text.size(); pos += chunk)
          REQUIRE(reader.feed(std::string_view(text).substr(pos, chunk), sink));
        REQUIRE(reader.finish(sink));
        CHECK(sink.points == whole.points);
        CHECK(reader.report().rows_read == whole.report.rows_read);
        CHECK(reader.report().skipped == whole.report.skipped);
        CHECK(example_strings(reader.report()) == example_strings(whole.report));
      }
    }
  }
}

TEST_CASE("I3 series state carries across files; reading a file twice counts nothing twice") {
  auto text = read_fixture("otlp_small.jsonl");
  auto whole = read_whole(text);
  auto cut = text.find('\n', text.find('\n') + 1) + 1;  // after line 2

  otlp_reader reader;
  collector sink;
  reader.start_file("a.jsonl");
  REQUIRE(reader.read(std::string_view(text).substr(0, cut), sink));
  reader.start_file("b.jsonl");
  REQUIRE(reader.read(std::string_view(text).substr(cut), sink));
  CHECK(sink.points == whole.points);
  CHECK(reader.series_count() == 2);

  reader.start_file("again.jsonl");
  auto before = reader.report();
  REQUIRE(reader.read(text, sink));
  CHECK(reader.report().points == before.points);  // nothing new
  CHECK(reader.report().count(skip_reason::late) == 10);
}

TEST_CASE("I3 a point older than its series' last is skipped as late and keeps the state") {
  std::string text = line(pod_resource, cumulative_point("transmit", 10'000'000'000, 100)) +
                     line(pod_resource, cumulative_point("transmit", 30'000'000'000, 300)) +
                     line(pod_resource, cumulative_point("transmit", 20'000'000'000, 200)) +
                     line(pod_resource, cumulative_point("transmit", 30'000'000'000, 300)) +
                     line(pod_resource, cumulative_point("transmit", 40'000'000'000, 400));
  auto [points, report] = read_whole(text, {}, "f");
  REQUIRE(points.size() == 2);
  CHECK(points[0].time == 30);
  CHECK(points[0].value == 200);
  CHECK(points[1].time == 40);
  CHECK(points[1].value == 100);                // against t=30, not against the late t=20
  CHECK(report.count(skip_reason::late) == 2);  // t=20 after t=30, and t=30 again
  CHECK(example_strings(report)[0] ==
        "f:3: late point: not newer than the previous point of its series");
}

TEST_CASE("I3 delta-temporality sums and gauges pass through as they are") {
  std::string text =
      line(pod_resource, R"({"name":"k8s.pod.network.io","gauge":{"dataPoints":[{"attributes":[)" +
                             attr("direction", "transmit") +
                             R"(],"timeUnixNano":"1700000000500000000","asDouble":0.5}]}})") +
      line(pod_resource,
           R"({"name":"k8s.pod.network.io","sum":{"aggregationTemporality":1,"isMonotonic":true,)"
           R"("dataPoints":[{"attributes":[)" +
               attr("direction", "receive") +
               R"(],"startTimeUnixNano":"1","timeUnixNano":1700000001000000000,"asInt":42},)"
               R"({"attributes":[)" +
               attr("direction", "receive") +
               R"(],"startTimeUnixNano":"1","timeUnixNano":1700000002000000000,"asInt":"7"}]}})");
  auto [points, report] = read_whole(text);
  owned_point gauge{1700000000.5, 0.5, "k8s.pod.network.io", "c", "p", "n", "transmit"};
  owned_point delta1{1700000001, 42, "k8s.pod.network.io", "c", "p", "n", "receive"};
  owned_point delta2{1700000002, 7, "k8s.pod.network.io", "c", "p", "n", "receive"};
  CHECK(points == std::vector<owned_point>{gauge, delta1, delta2});
  CHECK(report.skipped_total() == 0);
}

TEST_CASE("I3 attributes merge (data point wins), aliases and non-string values as text") {
  // The resource says receive, the data point says transmit: the data point wins. The node
  // name is an intValue, the direction alias network.io.direction is used when direction is
  // absent.
  std::string resource = attr("k8s.cluster.name", "c") + "," + attr("k8s.pod.name", "p") + "," +
                         R"({"key":"k8s.node.name","value":{"intValue":"15"}},)" +
                         attr("direction", "receive");
  std::string gauge_points =
      R"({"name":"k8s.pod.network.io","gauge":{"dataPoints":[)"
      R"({"attributes":[{"key":"direction","value":{"stringValue":"transmit"}}],"timeUnixNano":"5000000000","asInt":"1"},)"
      R"({"attributes":[],"timeUnixNano":"6000000000","asInt":"2"}]}})";
  std::string other_resource =
      attr("k8s.cluster.name", "c") + "," + attr("k8s.pod.name", "p") + "," +
      R"({"key":"k8s.node.name","value":{"intValue":16}},{"key":"flag","value":{"boolValue":true}})";
  std::string alias_points =
      R"({"name":"k8s.pod.network.io","gauge":{"dataPoints":[)"
      R"({"attributes":[{"key":"network.io.direction","value":{"stringValue":"receive"}}],"timeUnixNano":"7000000000","asDouble":3.5}]}})";
  auto [points, report] =
      read_whole(line(resource, gauge_points) + line(other_resource, alias_points));
  CHECK(points == std::vector<owned_point>{
                      {5, 1, "k8s.pod.network.io", "c", "p", "15", "transmit"},
                      {6, 2, "k8s.pod.network.io", "c", "p", "15", "receive"},
                      {7, 3.5, "k8s.pod.network.io", "c", "p", "16", "receive"},
                  });
}

TEST_CASE("I3 legacy instrumentationLibraryMetrics and any key order are read") {
  // resource after the metrics, sum before name, aggregationTemporality before dataPoints.
  auto point = [](std::uint64_t t, int v) {
    return fmt::format(
               R"({{"resourceMetrics":[{{"instrumentationLibraryMetrics":[{{"metrics":[{{"sum":{{)"
               R"("aggregationTemporality":2,"dataPoints":[{{"asInt":"{}","timeUnixNano":"{}",)"
               R"("attributes":[{{"key":"direction","value":{{"stringValue":"transmit"}}}}]}}]}},)"
               R"("name":"k8s.pod.network.io"}}]}}],"resource":{{"attributes":[{}]}}}}]}})",
               v, t, pod_resource) +
           "\n";
  };
  auto [points, report] = read_whole(point(10'000'000'000, 5) + point(20'000'000'000, 12));
  REQUIRE(points.size() == 1);
  CHECK(points[0] == owned_point{20, 7, "k8s.pod.network.io", "c", "p", "n", "transmit"});
  CHECK(report.count(skip_reason::first_of_series) == 1);
}

TEST_CASE("I3 histogram points of the metric have no single value; blank lines are no rows") {
  std::string text =
      "\n" +
      line(
          pod_resource,
          R"({"name":"k8s.pod.network.io","histogram":{"dataPoints":[{"timeUnixNano":"1","count":"2"},)"
          R"({"timeUnixNano":"2","count":"3"}],"aggregationTemporality":2}})") +
      "   \n";
  auto [points, report] = read_whole(text, {}, "h");
  CHECK(points.empty());
  CHECK(report.rows_read == 2);
  CHECK(report.count(skip_reason::missing_field) == 2);
  CHECK(example_strings(report)[0] == "h:2: missing field: asInt|asDouble (histogram or summary)");
}

TEST_CASE("I3 a line over the length limit is skipped without holding it") {
  std::string ok = line(pod_resource, cumulative_point("transmit", 10'000'000'000, 100));
  std::string text = ok + std::string(5000, ' ') + ok + ok;
  for (std::size_t chunk : {100, 1000, 100000}) {
    CAPTURE(chunk);
    otlp_reader reader(mode(otlp_counter_mode::raw));
    reader.limit_line_bytes(1000);
    collector sink;
    for (std::size_t pos = 0; pos < text.size(); pos += chunk)
      REQUIRE(reader.feed(std::string_view(text).substr(pos, chunk), sink));
    REQUIRE(reader.finish(sink));
    CHECK(sink.points.size() == 2);
    CHECK(example_strings(reader.report()) ==
          std::vector<std::string>{"-:2: bad syntax: line longer than 1000 bytes"});
  }
}

TEST_CASE("I3 a configured metric name selects the points; the others count per data point") {
  reader_options options;
  options.metric_name = "k8s.pod.cpu.time";
  options.otlp_counter = otlp_counter_mode::raw;
  auto [points, report] = read_whole(read_fixture("otlp_small.jsonl"), options);
  // k8s.pod.cpu.time carries no direction: every point lacks a dimension (D1.1).
  CHECK(points.empty());
  CHECK(report.count(skip_reason::missing_dimension) == 5);
  CHECK(report.count(skip_reason::other_metric) == 14);
}

TEST_CASE("I3 empty input and empty chunks are nothing") {
  otlp_reader reader;
  collector sink;
  REQUIRE(reader.feed({}, sink));
  REQUIRE(reader.feed("", sink));
  REQUIRE(reader.finish(sink));
  REQUIRE(reader.read("\n\n", sink));
  CHECK(reader.report().rows_read == 0);
  CHECK(reader.report().bytes == 2);
  CHECK(sink.points.empty());
}

TEST_CASE("S5.2 a line over the cap is skipped holding little more than the cap, never 3x",
          "[otlp][S5.2]") {
  otlp_reader reader("long.jsonl");
  const std::size_t cap = std::size_t{4} << 20;
  reader.limit_line_bytes(cap);
  // A 40 MiB line, fed in 256 KiB chunks.
  const std::string piece(std::size_t{256} << 10, ' ');
  collector sink;
  REQUIRE(reader.feed("{\"resourceMetrics\":[", sink));
  for (int i = 0; i < 160; ++i) REQUIRE(reader.feed(piece, sink));
  REQUIRE(reader.feed("]}\n", sink));
  REQUIRE(reader.finish(sink));
  CHECK(reader.report().count(skip_reason::bad_syntax) == 1);
  // The limit plus one slice of growth, not the doubling that would reach 8 MiB and more.
  CHECK(reader.buffered_capacity() <= cap + (std::size_t{1} << 20) + 4096);
}

}  // namespace test_otlp_reader
