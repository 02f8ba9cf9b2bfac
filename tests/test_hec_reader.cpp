// Tests of the Splunk HEC metric event reader (spec I2, with the D1.1/D1.2 point checks).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "k8snetio/io/input/hec_reader.hpp"
#include "support.hpp"

namespace test_hec_reader {

namespace {

using namespace k8snetio::io;

using k8snetio::test::owned_point;
using k8snetio::test::read_fixture;
using collector = k8snetio::test::point_collector;

owned_point net(double time, double value, std::string cluster, std::string pod, std::string node,
                std::string direction) {
  return {time,           value,           "k8s.pod.network.io", std::move(cluster),
          std::move(pod), std::move(node), std::move(direction)};
}

std::vector<std::string> example_strings(const read_report& r) {
  std::vector<std::string> out;
  for (const auto& e : r.examples) out.push_back(e.to_string());
  return out;
}

struct read_result {
  std::vector<owned_point> points;
  read_report report;
};

read_result read_whole(std::string_view text, reader_options options = {},
                       std::string_view file = "input.jsonl") {
  hec_reader reader(std::move(options));
  reader.start_file(file);
  collector sink;
  auto r = reader.read(text, sink);
  REQUIRE(r);
  return {sink.points, reader.report()};
}

}  // namespace

TEST_CASE("I2 single- and multi-measurement events become points with their dimensions") {
  auto text = read_fixture("hec_small.jsonl");
  auto [points, report] = read_whole(text, {}, "hec_small.jsonl");

  std::vector<owned_point> expected = {
      net(1700000010, 1834211, "prod-eu", "checkout-7d4b9c8f6d-k2lpx", "node-15", "transmit"),
      net(1700000010, 901233, "prod-eu", "checkout-7d4b9c8f6d-k2lpx", "node-15", "receive"),
      net(1700000020.5, 52000.5, "prod-eu", "cart-5c9f7b6d8-x2x9q", "node-15", "transmit"),
      net(1700000030, 4096, "prod-eu", "web-0", "node-16", "receive"),
      net(1700000030, 8192, "prod-eu", "web-0", "node-16", "transmit"),
      net(1700000040.125, 777, "prod-us", "api-6f8d9c7b5-abcde", "node-3", "transmit"),
  };
  CHECK(points == expected);
  CHECK(report.rows_read == 8);  // one row per measurement: line 3 holds two
  CHECK(report.points == 6);
  CHECK(report.bytes == text.size());
  CHECK(report.count(skip_reason::other_metric) == 2);
  CHECK(report.skipped_total() == 2);
  CHECK(report.examples.empty());  // expected skips are counted, not named as problems
}

TEST_CASE("I2 D1.1 D1.2 malformed events are counted by reason at the line they start on") {
  auto [points, report] =
      read_whole(read_fixture("hec_malformed.jsonl"), {}, "hec_malformed.jsonl");

  CHECK(points ==
        std::vector<owned_point>{net(1700000010, 100, "prod-eu", "a-1", "node-1", "transmit"),
                                 net(1700000020, 200, "prod-eu", "a-1", "node-1", "transmit"),
                                 net(1700000030, 300, "prod-eu", "a-1", "node-1", "receive")});
  CHECK(report.rows_read == 15);
  CHECK(report.points == 3);
  CHECK(report.count(skip_reason::bad_syntax) == 4);     // lines 2, 10, 11, 13
  CHECK(report.count(skip_reason::missing_field) == 3);  // time, _value, fields
  CHECK(report.count(skip_reason::bad_number) == 2);
  CHECK(report.count(skip_reason::non_finite) == 1);         // D1.2
  CHECK(report.count(skip_reason::missing_dimension) == 2);  // D1.1
  CHECK(report.rows_read == report.points + report.skipped_total());
  CHECK(example_strings(report) ==
        std::vector<std::string>{
            "hec_malformed.jsonl:2: bad syntax: line break inside a string",
            "hec_malformed.jsonl:3: missing field: time",
            "hec_malformed.jsonl:4: missing field: _value",
            "hec_malformed.jsonl:5: bad number: _value",
            "hec_malformed.jsonl:6: bad number: time",
        });
}

TEST_CASE("I2 every problem of the malformed fixture is named with its line") {
  hec_reader reader;
  reader.start_file("m.jsonl");
  reader.report().max_examples = 20;
  collector sink;
  REQUIRE(reader.read(read_fixture("hec_malformed.jsonl"), sink));
  auto examples = example_strings(reader.report());
  REQUIRE(examples.size() == 12);
  CHECK(examples[5] == "m.jsonl:7: non-finite value: _value");
  CHECK(examples[6] == "m.jsonl:8: missing dimension: k8s.cluster.name");
  CHECK(examples[7] == "m.jsonl:9: missing dimension: direction");  // empty counts as missing
  CHECK(examples[8].rfind("m.jsonl:10: bad syntax: fields: ", 0) == 0);
  CHECK(examples[9] == "m.jsonl:11: bad syntax: expected '{' to start an event");
  CHECK(examples[10] == "m.jsonl:12: missing field: fields");
  CHECK(examples[11] == "m.jsonl:13: bad syntax: unterminated event");
}

TEST_CASE("I2 strict mode ends the read at the first error-kind skip") {
  reader_options options;
  options.strict = true;
  hec_reader reader(options);
  reader.start_file("hec_malformed.jsonl");
  collector sink;
  auto r = reader.read(read_fixture("hec_malformed.jsonl"), sink);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == error_code::bad_row);
  CHECK(r.error().file == "hec_malformed.jsonl");
  CHECK(r.error().line == 2);
  CHECK(r.error().message == "bad syntax: line break inside a string");
  CHECK(r.error().what() ==
        "[k8snetio.error.111] hec_malformed.jsonl:2: bad syntax: line break inside a string");
  CHECK(sink.points.size() == 1);        // line 1 went through before
  CHECK_FALSE(reader.feed("{}", sink));  // the failure sticks until start_file()

  SECTION("other metrics are no error") {
    hec_reader strict(options);
    collector all;
    REQUIRE(strict.read(read_fixture("hec_small.jsonl"), all));
    CHECK(all.points.size() == 6);
  }
  SECTION("the error names the field") {
    hec_reader strict(options);
    auto e = strict.read(R"({"time":1,"fields":{"metric_name":"k8s.pod.network.io","_value":1,)"
                         R"("k8s.node.name":"n","k8s.pod.name":"p","direction":"transmit"}})",
                         sink);
    REQUIRE_FALSE(e);
    CHECK(e.error().field == "k8s.cluster.name");
    CHECK(
        e.error().what() ==
        "[k8snetio.error.111] -:1: missing dimension: k8s.cluster.name (field 'k8s.cluster.name')");
  }
}

TEST_CASE("I2 feeding in chunks of any size gives what one read gives") {
  for (const char* name : {"hec_small.jsonl", "hec_malformed.jsonl"}) {
    auto text = read_fixture(name);
    auto whole = read_whole(text);
    for (std::size_t chunk : {1, 2, 3, 5, 7, 11, 16, 64, 100, 333, 4096}) {
      CAPTURE(name, chunk);
      hec_reader reader;
      reader.start_file("input.jsonl");
      collector sink;
      for (std::size_t at = 0; at < text.size(); at += chunk)
        REQUIRE(reader.feed(std::string_view(text).substr(at, chunk), sink));
      REQUIRE(reader.finish(sink));
      CHECK(sink.points == whole.points);
      CHECK(reader.report().rows_read == whole.report.rows_read);
      CHECK(reader.report().skipped == whole.report.skipped);
      CHECK(reader.report().bytes == text.size());
      CHECK(example_strings(reader.report()) == example_strings(whole.report));
    }
  }
}

TEST_CASE("I2 events may share a line or spread over lines; lines count from the event start") {
  std::string text =
      "{\"time\":1,\"fields\":{\"metric_name\":\"k8s.pod.network.io\",\"_value\":1,"
      "\"k8s.cluster.name\":\"c\",\"k8s.node.name\":\"n\",\"k8s.pod.name\":\"p\",\"direction\":"
      "\"transmit\"}}"
      "{\"time\":2,\"fields\":{\"metric_name\":\"k8s.pod.network.io\",\"_value\":2,"
      "\"k8s.cluster.name\":\"c\",\"k8s.node.name\":\"n\",\"k8s.pod.name\":\"p\",\"direction\":"
      "\"receive\"}}\n"
      "\n"
      "  {\"time\": 3,\n"
      "   \"fields\": {\"metric_name\": \"other\", \"_value\": 3}}\n"
      "{\"time\":4,\"fields\":{\"metric_name\":\"k8s.pod.network.io\",\"_value\":\"x\"}} "
      "{\"time\":5,\"fields\":{\"metric_name\":\"k8s.pod.network.io\",\"_value\":5,"
      "\"k8s.cluster.name\":\"c\",\"k8s.node.name\":\"n\",\"k8s.pod.name\":\"p\",\"direction\":"
      "\"transmit\"}}\n"
      "{\"time\":6,,}{\"time\":7,\"fields\":{\"metric_name\":\"k8s.pod.network.io\",\"_value\":7,"
      "\"k8s.cluster.name\":\"c\",\"k8s.node.name\":\"n\",\"k8s.pod.name\":\"p\",\"direction\":"
      "\"transmit\"}}";
  auto [points, report] = read_whole(text, {}, "f");
  REQUIRE(points.size() == 4);
  CHECK(points[0].time == 1);
  CHECK(points[1].time == 2);
  CHECK(points[2].time == 5);
  CHECK(points[3].time == 7);  // a balanced but invalid event: reading goes on right after it
  CHECK(report.rows_read == 7);
  CHECK(report.count(skip_reason::other_metric) == 1);  // line 3
  auto examples = example_strings(report);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0] == "f:5: bad number: _value");
  CHECK(examples[1].rfind("f:6: bad syntax: ", 0) == 0);
}

TEST_CASE("I2 numbers in strings, number-valued dimensions, null values and default_cluster") {
  std::string text =
      R"({"time":"1700000010.75","fields":{"metric_name":"k8s.pod.network.io","_value":"12.5",)"
      R"("k8s.cluster.name":"c","k8s.node.name":15,"k8s.pod.name":"p","direction":true}})"
      "\n"
      R"({"time":1700000010,"fields":{"metric_name":"k8s.pod.network.io","_value":null,)"
      R"("k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"receive"}})"
      "\n"
      R"({"time":1700000010,"fields":{"metric_name":"k8s.pod.network.io","_value":1,)"
      R"("k8s.cluster.name":null,"k8s.node.name":"n","k8s.pod.name":"p","direction":"receive"}})"
      "\n"
      R"({"time":1700000010,"fields":{"metric_name":"k8s.pod.network.io","_value":"-inf",)"
      R"("k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"receive"}})"
      "\n";
  auto [points, report] = read_whole(text);
  REQUIRE(points.size() == 1);
  CHECK(points[0] == net(1700000010.75, 12.5, "c", "p", "15", "true"));
  CHECK(report.count(skip_reason::missing_field) == 1);      // null _value
  CHECK(report.count(skip_reason::missing_dimension) == 1);  // null cluster
  CHECK(report.count(skip_reason::non_finite) == 1);         // D1.2
  // One number parser for every reader: no spaces, no '+' (io/number.hpp).
  for (std::string_view cell : {" 12.5 ", "+12.5", "12.5 "}) {
    auto padded = text;
    padded.replace(padded.find("\"12.5\""), 6, "\"" + std::string(cell) + "\"");
    CHECK(read_whole(padded).report.count(skip_reason::bad_number) == 1);
  }

  reader_options options;
  options.default_cluster = "fallback";
  auto with_default = read_whole(text, options);
  REQUIRE(with_default.points.size() == 2);
  CHECK(with_default.points[1] == net(1700000010, 1, "fallback", "p", "n", "receive"));
}

TEST_CASE("I2 a configured metric name selects the points") {
  reader_options options;
  options.metric_name = "k8s.pod.network.errors";
  auto [points, report] = read_whole(read_fixture("hec_small.jsonl"), options);
  REQUIRE(points.size() == 1);
  CHECK(points[0].metric_name == "k8s.pod.network.errors");
  CHECK(points[0].value == 3);
  CHECK(points[0].time == 1700000020.5);
  CHECK(report.count(skip_reason::other_metric) == 7);
}

TEST_CASE("I2 an over-long event is skipped without holding it; a byte order mark is ignored") {
  std::string event =
      R"({"time":1,"fields":{"metric_name":"k8s.pod.network.io","_value":1,)"
      R"("k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"transmit"}})";
  std::string text = "\xEF\xBB\xBF" + event + "\n{\"time\":2,\"fields\":{\"pad\":\"" +
                     std::string(500, 'x') + "\"}}\n" + event + "\n";
  for (std::size_t chunk : {1, 7, 4096}) {
    CAPTURE(chunk);
    hec_reader reader;
    reader.limit_event_bytes(300);
    collector sink;
    for (std::size_t at = 0; at < text.size(); at += chunk)
      REQUIRE(reader.feed(std::string_view(text).substr(at, chunk), sink));
    REQUIRE(reader.finish(sink));
    CHECK(sink.points.size() == 2);
    REQUIRE(reader.report().examples.size() == 1);
    CHECK(reader.report().examples[0].to_string() ==
          "-:2: bad syntax: event longer than 300 bytes");
  }
}

TEST_CASE("I2 one reader reads several files: reports add up, lines restart") {
  hec_reader reader;
  collector sink;
  reader.start_file("a.jsonl");
  REQUIRE(reader.read(read_fixture("hec_small.jsonl"), sink));
  reader.start_file("b.jsonl");
  REQUIRE(reader.feed(read_fixture("hec_malformed.jsonl"), sink));
  REQUIRE(reader.finish(sink));
  CHECK(sink.points.size() == 9);
  CHECK(reader.report().rows_read == 23);
  CHECK(reader.report().examples[0].to_string() ==
        "b.jsonl:2: bad syntax: line break inside a string");
  auto taken = reader.take_report();
  CHECK(taken.points == 9);
  CHECK(reader.report().points == 0);
}

TEST_CASE("I2 an unterminated last event counts once at finish") {
  hec_reader reader;
  collector sink;
  REQUIRE(reader.feed("\n\n{\"time\":1,\"fields\":{", sink));
  CHECK(reader.report().rows_read == 0);
  REQUIRE(reader.finish(sink));
  CHECK(reader.report().count(skip_reason::bad_syntax) == 1);
  CHECK(reader.report().examples.at(0).to_string() == "-:3: bad syntax: unterminated event");
}

TEST_CASE("I2 chunking never changes how a line is read, malformed ones included") {
  // Found by fuzz_hec: simdjson On Demand reads the third line as one (malformed) object while
  // a bracket count would end it at the first `}`. Whatever the reading, it must not depend on
  // the chunks. The fourth line is a batch of events without line breaks, as HEC clients POST.
  std::string batch;
  for (int i = 0; i < 50; ++i)
    batch += fmt::format(
        R"({{"time":{},"fields":{{"metric_name":"k8s.pod.network.io","_value":{},)"
        R"("k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"receive"}}}})",
        i, i * 10);
  std::string text =
      R"({"time":1,"fields":{"metric_name":"k8s.pod.network.io","_value":1}}})"
      "\n"
      R"({"time":2,"fields":{"metric_name":"k8s.pod.network.io","_value":2,"k8s.cluster.name":"c\"}"}})"
      "\n"
      R"({"timme":"prod-eu","k8s.node.name":"node-15","direction":"tran":"p",rei"dction"smit","metric_name3}})"
      "\n" +
      batch + "\n";
  auto whole = read_whole(text);
  CHECK(whole.points.size() == 50);
  CHECK(whole.points[49] == net(49, 490, "c", "p", "n", "receive"));
  for (std::size_t chunk : {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377}) {
    CAPTURE(chunk);
    hec_reader reader;
    reader.start_file("input.jsonl");
    collector sink;
    for (std::size_t at = 0; at < text.size(); at += chunk)
      REQUIRE(reader.feed(std::string_view(text).substr(at, chunk), sink));
    REQUIRE(reader.finish(sink));
    CHECK(sink.points == whole.points);
    CHECK(reader.report().skipped == whole.report.skipped);
    CHECK(example_strings(reader.report()) == example_strings(whole.report));
  }
}

TEST_CASE("I2 empty input and empty chunks are nothing") {
  hec_reader reader;
  collector sink;
  REQUIRE(reader.feed({}, sink));
  REQUIRE(reader.feed("", sink));
  REQUIRE(reader.finish(sink));
  REQUIRE(reader.read(" \n\t\n", sink));
  CHECK(reader.report().rows_read == 0);
  CHECK(reader.report().bytes == 4);
  CHECK(sink.points.empty());
}

}  // namespace test_hec_reader
