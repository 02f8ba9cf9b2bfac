// Tests of the OTLP protobuf reader (spec I3.5). Every JSON test request of the OTLP reader
// has a protobuf twin encoded by Google's encoder (tests/proto/encode_twins.py, committed in
// tests/data/otlp_proto/ and checked against a fresh encoding by the ctest proto.twins): the
// twin must give the JSON line's points, in order, and its report. Then malformed protobuf,
// the collector file exporter's framing, content detection, and the series cap (S5, S5.1).
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <zstd.h>

#include "k8snetio/io/input/otlp_protobuf.hpp"
#include "k8snetio/io/input/otlp_reader.hpp"
#include "k8snetio/io/input/read_inputs.hpp"
#include "support.hpp"

namespace test_otlp_protobuf {

namespace {

using namespace k8snetio::io;
using k8snetio::metric_point;
using k8snetio::test::read_fixture;

using k8snetio::test::full_point;

// Keeps every field of every point (support.hpp's point_collector keeps owned_points).
struct collector {
  std::vector<full_point> points;
  void operator()(const metric_point& p) { points.push_back(k8snetio::test::own_all(p)); }
};

// A report as text, byte count aside (the encodings differ in size), the file named "f".
std::string describe(const read_report& r) {
  std::string out = fmt::format("rows {} points {} skipped", r.rows_read, r.points);
  for (std::size_t i = 0; i < skip_reason_count; ++i)
    if (r.skipped[i])
      out += fmt::format(" [{}]={}", to_string(static_cast<skip_reason>(i)), r.skipped[i]);
  out += fmt::format(" missing {} {} {} {}", r.missing_dimensions[0], r.missing_dimensions[1],
                     r.missing_dimensions[2], r.missing_dimensions[3]);
  for (const auto& e : r.examples) out += "\n  " + e.to_string();
  return out;
}

std::vector<std::string> json_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

std::uint32_t big_endian(std::string_view b, std::size_t at) {
  auto byte = [&](std::size_t i) { return std::uint32_t{static_cast<unsigned char>(b[at + i])}; };
  return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
}

// tests/data/otlp_proto/NAME.twins: line number → protobuf request.
std::map<std::size_t, std::string> twins(std::string_view name, bool reordered = false) {
  auto bytes =
      read_fixture(fmt::format("otlp_proto/{}{}", name, reordered ? ".reordered.twins" : ".twins"));
  std::map<std::size_t, std::string> out;
  std::size_t at = 0;
  while (at + 8 <= bytes.size()) {
    const auto line = big_endian(bytes, at), length = big_endian(bytes, at + 4);
    REQUIRE(at + 8 + length <= bytes.size());
    out[line] = bytes.substr(at + 8, length);
    at += 8 + length;
  }
  REQUIRE(at == bytes.size());
  return out;
}

std::string frame(std::string_view message) {
  const auto n = static_cast<std::uint32_t>(message.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  out.append(message);
  return out;
}

std::string zstd(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const auto n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

reader_options with(otlp_counter_mode mode, std::string cluster = {}, std::string node = {}) {
  reader_options o;
  o.otlp_counter = mode;
  o.default_cluster = std::move(cluster);
  o.default_node = std::move(node);
  return o;
}

const std::vector<std::string> fixtures = {"otlp_small", "otlp_chart", "otlp_raw_kubeletstats",
                                           "otlp_malformed", "otlp_twins"};
const std::vector<reader_options> option_sets = {{},
                                                 with(otlp_counter_mode::delta, "dc", "dn"),
                                                 with(otlp_counter_mode::rate),
                                                 with(otlp_counter_mode::raw, "dc")};

// The protobuf request of `name`'s line `line` (which must have one).
std::string twin_of(std::string_view name, std::size_t line) {
  auto all = twins(name);
  REQUIRE(all.count(line) == 1);
  return all[line];
}

// Protobuf bytes written by hand, for the malformed cases and the memo's requests: a varint, a
// tag, a length-delimited field.
std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string tag(std::uint32_t field, std::uint32_t wire_type) {
  return varint((field << 3) | wire_type);
}
std::string len_field(std::uint32_t field, std::string_view body) {
  return tag(field, 2) + varint(body.size()) + std::string(body);
}

struct one_request {
  std::vector<full_point> points;
  read_report report;
  result<void> outcome;
};
one_request feed_one(otlp_reader& reader, std::string_view request) {
  collector sink;
  reader.start_file("f");
  auto r = reader.feed_protobuf(request, sink);
  return {sink.points, reader.take_report(), r};
}

}  // namespace

TEST_CASE("I3.5 I3 I3.1 I3.2 every JSON test request's protobuf twin gives its points and report",
          "[otlp][I3.5]") {
  for (const auto& name : fixtures) {
    const auto lines = json_lines(read_fixture(name + ".jsonl"));
    for (bool reordered : {false, true}) {
      const auto proto = twins(name, reordered);
      REQUIRE(proto.size() >= 3);
      for (std::size_t o = 0; o < option_sets.size(); ++o) {
        CAPTURE(name, reordered, o);
        otlp_reader json(option_sets[o]), binary(option_sets[o]);
        json.report().max_examples = binary.report().max_examples = 50;
        std::size_t compared = 0;
        for (std::size_t n = 1; n <= lines.size(); ++n) {
          CAPTURE(n);
          collector from_json, from_proto;
          json.start_file("f");
          REQUIRE(json.read(lines[n - 1] + "\n", from_json));
          auto json_report = json.take_report();
          json.report().max_examples = 50;
          auto twin = proto.find(n);
          if (twin == proto.end()) continue;  // JSON the protobuf JSON mapping refuses
          binary.start_file("f");
          REQUIRE(binary.feed_protobuf(twin->second, from_proto));
          auto proto_report = binary.take_report();
          binary.report().max_examples = 50;
          CHECK(from_proto.points == from_json.points);
          CHECK(describe(proto_report) == describe(json_report));
          CHECK(proto_report.bytes == twin->second.size());
          CHECK(binary.series_count() == json.series_count());
          ++compared;
        }
        CHECK(compared == proto.size());
      }
    }
  }
}

TEST_CASE("I3.5 a cumulative series carries on from one encoding to the other", "[otlp][I3.5]") {
  // Same series key whichever encoding carried the point: non-string attributes included
  // (otlp_twins.jsonl lines 10-11 key a series by int, bool, double, bytes, array and kvlist
  // attributes).
  for (const auto& name : {"otlp_small", "otlp_twins", "otlp_raw_kubeletstats"}) {
    for (const auto& options : option_sets) {
      CAPTURE(name);
      const auto lines = json_lines(read_fixture(std::string(name) + ".jsonl"));
      const auto proto = twins(name);
      otlp_reader all_json(options), mixed(options);
      collector expected, got;
      for (std::size_t n = 1; n <= lines.size(); ++n) {
        all_json.start_file("f");
        REQUIRE(all_json.read(lines[n - 1] + "\n", expected));
        mixed.start_file("f");
        if (n % 2 == 0 && proto.count(n))
          REQUIRE(mixed.feed_protobuf(proto.at(n), got));
        else
          REQUIRE(mixed.read(lines[n - 1] + "\n", got));
      }
      CHECK(got.points == expected.points);
      CHECK(describe(mixed.report()) == describe(all_json.report()));
    }
  }
}

TEST_CASE("I3.5 a batch file in the file exporter's format: proto reads as its JSON twin",
          "[otlp][I3.5]") {
  using k8snetio::test::temp_dir;
  for (const auto& name : {"otlp_small", "otlp_chart", "otlp_raw_kubeletstats", "otlp_twins"}) {
    CAPTURE(name);
    const std::string framed = read_fixture(fmt::format("otlp_proto/{}.pb", name));
    temp_dir dir;
    // Plain; each message compressed on its own (the exporter's `compression: zstd`); the
    // whole file one zstd stream (its native-compression feature gate).
    std::string per_message;
    for (std::size_t at = 0; at < framed.size();) {
      const auto n = big_endian(framed, at);
      per_message += frame(zstd(std::string_view(framed).substr(at + 4, n)));
      at += 4 + n;
    }
    // `format: json` with `compression: zstd` (the exporter's default, without its native-
    // compression gate) frames each JSON request, compressed on its own, the same way.
    std::string json_messages;
    for (const auto& line : json_lines(read_fixture(std::string(name) + ".jsonl")))
      json_messages += frame(zstd(line));
    k8snetio::test::write_file(dir.file("json.zst-messages"), json_messages);
    k8snetio::test::write_file(dir.file("plain.pb"), framed);
    k8snetio::test::write_file(dir.file("messages.pb"), per_message);
    k8snetio::test::write_file(dir.file("whole.pb.zst"), zstd(framed));
    k8snetio::test::write_file(dir.file("twin.jsonl"), read_fixture(std::string(name) + ".jsonl"));

    for (const auto& options : option_sets) {
      input_options in;
      in.reader = options;
      collector json_points;
      auto json = read_inputs({dir.file("twin.jsonl")}, in, json_points);
      REQUIRE(json);
      for (const char* file : {"plain.pb", "messages.pb", "whole.pb.zst", "json.zst-messages"}) {
        for (std::optional<input_format> format :
             {std::optional<input_format>{}, std::optional{input_format::otlp_json}}) {
          CAPTURE(file, format.has_value());
          in.format = format;
          collector points;
          auto read = read_inputs({dir.file(file)}, in, points);
          REQUIRE(read);
          CHECK(points.points == json_points.points);
          auto expected = describe(json->report);
          auto got = describe(read->report);
          // The examples name their file: compare them under one name.
          const auto rename = [](std::string s, const std::string& from) {
            for (auto at = s.find(from); at != std::string::npos; at = s.find(from))
              s.replace(at, from.size(), "F");
            return s;
          };
          CHECK(rename(got, dir.file(file)) == rename(expected, dir.file("twin.jsonl")));
        }
      }
    }
  }
}

TEST_CASE("I3.5 framed input in chunks of any size gives what one chunk gives", "[otlp][I3.5]") {
  const std::string framed = read_fixture("otlp_proto/otlp_small.pb");
  // A JSON message framed like the others (the exporter frames JSON when it compresses), and
  // a zstd-compressed one.
  const auto lines = json_lines(read_fixture("otlp_small.jsonl"));
  const std::string text =
      framed + frame(zstd(twin_of("otlp_small", 1))) + frame(lines[1]) + frame(zstd(lines[2]));
  otlp_reader whole(with(otlp_counter_mode::raw));
  collector expected;
  REQUIRE(whole.feed_frames(text, expected));
  REQUIRE(whole.finish_frames(expected));
  CHECK(whole.report().count(skip_reason::bad_syntax) == 0);
  CHECK(expected.points.size() == 16);  // 5 requests x 2 + 3 requests x 2
  for (std::size_t chunk : {1, 2, 3, 4, 5, 7, 13, 64, 999, 1 << 20}) {
    CAPTURE(chunk);
    otlp_reader reader(with(otlp_counter_mode::raw));
    collector got;
    for (std::size_t at = 0; at < text.size(); at += chunk)
      REQUIRE(reader.feed_frames(std::string_view(text).substr(at, chunk), got));
    REQUIRE(reader.finish_frames(got));
    CHECK(got.points == expected.points);
    CHECK(describe(reader.report()) == describe(whole.report()));
    CHECK(reader.report().bytes == text.size());
  }
}

TEST_CASE("I3.5 a framed file cut inside a message, or with one too long, is counted by offset",
          "[otlp][I3.5]") {
  const std::string framed = read_fixture("otlp_proto/otlp_small.pb");
  const auto first = 4 + big_endian(framed, 0);
  SECTION("cut short") {
    otlp_reader reader("cut.pb", with(otlp_counter_mode::raw, "dc"));
    collector sink;
    REQUIRE(reader.feed_frames(std::string_view(framed).substr(0, first + 10), sink));
    REQUIRE(reader.finish_frames(sink));
    CHECK(sink.points.size() == 4);
    CHECK(reader.report().count(skip_reason::bad_syntax) == 1);
    REQUIRE(reader.report().examples.size() == 1);
    CHECK(reader.report().examples[0].to_string() ==
          fmt::format("cut.pb:2: bad syntax: byte {}: the input ends inside a message", first));
  }
  SECTION("longer than the limit: skipped, the next read") {
    otlp_reader reader("long.pb", with(otlp_counter_mode::raw));
    const std::string small = frame(twin_of("otlp_twins", 16));  // I3.1, 2 resources
    const std::size_t limit = small.size();
    REQUIRE(first - 4 > limit);
    reader.limit_line_bytes(limit);
    const std::string text = small + framed.substr(0, first) + small;
    otlp_reader one;
    collector ignored;
    REQUIRE(one.feed_frames(small, ignored));
    const auto rows_of_small = one.report().rows_read;
    REQUIRE(rows_of_small == 2);
    for (std::size_t chunk : {3, 50, 1 << 20}) {
      CAPTURE(chunk);
      reader.start_file("long.pb");
      (void)reader.take_report();
      collector sink;
      for (std::size_t at = 0; at < text.size(); at += chunk)
        REQUIRE(reader.feed_frames(std::string_view(text).substr(at, chunk), sink));
      REQUIRE(reader.finish_frames(sink));
      CHECK(reader.report().count(skip_reason::bad_syntax) == 1);
      CHECK(reader.report().examples.at(0).to_string() ==
            fmt::format("long.pb:2: bad syntax: byte {}: message of {} bytes, longer than {} bytes",
                        small.size(), first - 4, limit));
      CHECK(reader.report().rows_read == 2 * rows_of_small + 1);
    }
  }
}

TEST_CASE("I3.5 malformed protobuf is refused whole, naming the byte offset, never a crash",
          "[otlp][I3.5]") {
  otlp_reader reader;
  const auto bad = [&](std::string_view request) {
    auto r = feed_one(reader, request);
    REQUIRE(r.outcome);  // not strict: counted
    CHECK(r.points.empty());
    CHECK(r.report.rows_read == 1);
    CHECK(r.report.count(skip_reason::bad_syntax) == 1);
    REQUIRE(r.report.examples.size() == 1);
    return r.report.examples[0].detail;
  };
  // A length past the end; a truncated varint; a wrong wire type; tag 0.
  CHECK(bad(len_field(1, "abc").substr(0, 4)) ==
        "byte 0: ExportMetricsServiceRequest: end of buffer exception");
  CHECK(bad("\x0A\xFF") == "byte 0: ExportMetricsServiceRequest: end of buffer exception");
  CHECK(bad(std::string("\x0A\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 12)) ==
        "byte 0: ExportMetricsServiceRequest: varint too long exception");
  CHECK(bad(tag(1, 0) + "\x01") ==
        "byte 0: ExportMetricsServiceRequest: wrong wire type for the field");
  CHECK(bad(std::string("\x00\x01", 2)) ==
        "byte 0: ExportMetricsServiceRequest: invalid tag exception");
  CHECK(bad(tag(1, 7)) == "byte 0: ExportMetricsServiceRequest: unknown pbf field type exception");

  // Nested garbage: a data point whose time_unix_nano is a varint, deep inside a good request.
  const std::string good = twin_of("otlp_twins", 1);
  const std::string point =
      len_field(7, len_field(1, "direction") + len_field(2, len_field(1, "transmit"))) + tag(3, 0) +
      "\x05";
  const std::string metric = len_field(1, "k8s.pod.network.io") + len_field(5, len_field(1, point));
  const std::string request = len_field(1, len_field(2, len_field(2, metric)));
  const auto offset = request.size() - 2;  // the time field's tag
  CHECK(bad(request) ==
        fmt::format("byte {}: NumberDataPoint: wrong wire type for the field", offset));
  // A key that is not UTF-8; values nested past the limit.
  CHECK(bad(len_field(1, len_field(1, len_field(1, len_field(1, "\xFF\xFE"))))) ==
        "byte 6: KeyValue: a string that is not UTF-8");
  std::string deep = len_field(1, "");
  for (int i = 0; i < 70; ++i) deep = len_field(5, len_field(1, deep));  // AnyValue→ArrayValue
  CHECK(bad(len_field(1, len_field(1, len_field(1, len_field(2, deep)))))
            .find("values nested too deeply") != std::string::npos);

  SECTION("every truncation of a good request: refused whole or a shorter good request") {
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
      CAPTURE(cut);
      otlp_reader fresh;
      auto r = feed_one(fresh, std::string_view(good).substr(0, cut));
      REQUIRE(r.outcome);
      if (r.report.count(skip_reason::bad_syntax) != 0) {
        CHECK(r.report.rows_read == 1);
        CHECK(r.points.empty());
        CHECK(fresh.series_count() == 0);  // rolled back
      }
    }
  }
}

TEST_CASE("I3.5 a malformed request changes no series state; strict mode ends the read",
          "[otlp][I3.5]") {
  const auto proto = twins("otlp_twins");  // lines 1-5: one series at t=10, 30, 20, 30, 40
  const std::string broken = proto.at(2) + tag(1, 0) + "\x01";  // t=30, then garbage
  SECTION("rollback") {
    otlp_reader reader;
    collector sink;
    REQUIRE(reader.feed_protobuf(proto.at(1), sink));
    REQUIRE(reader.feed_protobuf(broken, sink));
    REQUIRE(reader.feed_protobuf(proto.at(5), sink));  // t=40: the delta is against t=10
    REQUIRE(sink.points.size() == 1);
    CHECK(sink.points[0].value == 300);
    CHECK(reader.report().count(skip_reason::bad_syntax) == 1);
    CHECK(reader.report().examples.at(0).line == 2);
  }
  SECTION("strict") {
    reader_options strict;
    strict.strict = true;
    otlp_reader reader("s.pb", strict);
    collector sink;
    REQUIRE(reader.feed_protobuf(proto.at(1), sink));
    auto r = reader.feed_protobuf(broken, sink);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == error_code::bad_row);
    CHECK(r.error().line == 2);
    CHECK(r.error().what() ==
          fmt::format("[k8snetio.error.111] s.pb:2: bad syntax: byte {}: "
                      "ExportMetricsServiceRequest: wrong wire type for the field",
                      proto.at(2).size()));
    CHECK_FALSE(reader.feed_protobuf(proto.at(5), sink));  // sticks until start_file()
    CHECK(sink.points.empty());
  }
}

TEST_CASE("I3.5 unknown fields of every wire type are skipped as protobuf requires",
          "[otlp][I3.5]") {
  const std::string good = twin_of("otlp_small", 1);
  const std::string unknown = tag(99, 0) + "\x96\x01" + tag(98, 1) + std::string(8, '\x01') +
                              tag(97, 5) + std::string(4, '\x02') + len_field(96, "garbage\xFF");
  otlp_reader a, b;
  collector pa, pb;
  REQUIRE(a.feed_protobuf(good, pa));
  REQUIRE(b.feed_protobuf(unknown + good + unknown, pb));
  CHECK(pa.points == pb.points);
  CHECK(describe(a.report()) == describe(b.report()));
}

TEST_CASE("I3.5 K1.1 looks_like_otlp_json and looks_like_otlp_proto_frames tell them apart",
          "[otlp][I3.5]") {
  for (const auto& name : fixtures) {
    for (const auto& [line, request] : twins(name)) {
      CAPTURE(name, line);
      CHECK_FALSE(looks_like_otlp_json(request));
      CHECK(looks_like_otlp_proto_frames(frame(request)));
      CHECK_FALSE(looks_like_otlp_proto_frames(request));
    }
    for (const auto& line : json_lines(read_fixture(name + ".jsonl"))) {
      if (line.find('{') != 0) continue;
      CHECK(looks_like_otlp_json(line));
      CHECK_FALSE(looks_like_otlp_proto_frames(line));
    }
  }
  CHECK(looks_like_otlp_json("\xEF\xBB\xBF \n{\"resourceMetrics\":[]}"));
  CHECK_FALSE(looks_like_otlp_json(""));  // an empty protobuf request
  CHECK(looks_like_otlp_proto_frames(frame(zstd(twin_of("otlp_small", 1)))));
  CHECK_FALSE(looks_like_otlp_proto_frames("metric_timestamp,metric_name,_value\n"));
  CHECK_FALSE(looks_like_otlp_proto_frames(std::string("\x0A\x0A\x0A\x0A\x0A", 5)));
}

TEST_CASE("I3.5 L2 the protobuf response carries partial_success only when points were rejected",
          "[otlp][I3.5]") {
  CHECK(otlp_protobuf_response(0, "").empty());
  const auto bytes = otlp_protobuf_response(3, "missing dimension: k8s.pod.name");
  // ExportMetricsServiceResponse{partial_success(1){rejected_data_points(1)=3, error_message(2)}}
  const std::string body = tag(1, 0) + "\x03" + len_field(2, "missing dimension: k8s.pod.name");
  CHECK(bytes == len_field(1, body));
}

TEST_CASE("S5.1 the cumulative series held are capped; new ones beyond are refused and named",
          "[otlp][S5.1]") {
  reader_options options;
  options.otlp_max_series = 2;
  const auto small = twins("otlp_small");  // checkout transmit/receive, web-0 eth0/eth1
  // checkout's two series are held; web-0's two are refused (its cluster is missing too,
  // which is checked first: so a default cluster).
  reader_options with_cluster = options;
  with_cluster.default_cluster = "d";
  otlp_reader capped("cap.pb", with_cluster);
  collector points;
  for (const auto& [line, request] : small) REQUIRE(capped.feed_protobuf(request, points));
  CHECK(capped.series_count() == 2);
  CHECK(capped.report().count(skip_reason::too_many_series) == 4);  // web-0: 2 lines x 2
  CHECK(capped.report().examples.at(0).to_string() ==
        "cap.pb:1: too many series: more than 2 cumulative series held "
        "(reader_options::otlp_max_series)");
  // checkout's series keep flowing as without the cap.
  otlp_reader uncapped("cap.pb");
  collector all;
  for (const auto& [line, request] : small) REQUIRE(uncapped.feed_protobuf(request, all));
  CHECK(points.points == all.points);
}

TEST_CASE("S5 a cumulative series idle past the horizon (data time) is released", "[otlp][S5]") {
  reader_options options;
  options.otlp_series_idle_seconds = 60;
  const auto proto = twins("otlp_twins");
  otlp_reader reader(options);
  collector sink;
  // otlp_twins lines 1-2: series A at 10 s and 30 s; lines 10-11: series B at 50 s and 60 s;
  // line 15: series C from 80 s to 95 s. A sweep runs before a request once the data time has
  // moved half the horizon since the last one.
  REQUIRE(reader.feed_protobuf(proto.at(1), sink));
  REQUIRE(reader.feed_protobuf(proto.at(2), sink));
  REQUIRE(reader.feed_protobuf(proto.at(10), sink));
  REQUIRE(reader.feed_protobuf(proto.at(11), sink));
  CHECK(reader.series_count() == 2);
  REQUIRE(reader.feed_protobuf(proto.at(15), sink));  // C: 80 s … 95 s
  REQUIRE(reader.feed_protobuf(proto.at(19), sink));  // an empty request: a sweep
  CHECK(reader.series_released() == 1);               // A (last 30 s) is past 95 - 60
  CHECK(reader.series_count() == 2);
  // A comes back: a first point again, no delta against 30 s.
  const auto before = reader.report().count(skip_reason::first_of_series);
  REQUIRE(reader.feed_protobuf(proto.at(5), sink));
  CHECK(reader.report().count(skip_reason::first_of_series) == before + 1);

  SECTION("a point stamped far in the future does not release every series") {
    otlp_reader guarded(options);
    collector points;
    REQUIRE(guarded.feed_protobuf(proto.at(1), points));  // A at 10 s
    REQUIRE(guarded.feed_protobuf(proto.at(2), points));  // A at 30 s
    // Series B once at 2^64-1 ns (JSON: the same reader reads both encodings).
    const auto lines = json_lines(read_fixture("otlp_twins.jsonl"));
    std::string future = lines[9];
    const auto at = future.find("\"timeUnixNano\":\"50000000000\"");
    REQUIRE(at != std::string::npos);
    future.replace(at, 28, "\"timeUnixNano\":\"18446744073709551615\"");
    REQUIRE(guarded.read(future + "\n", points));
    REQUIRE(guarded.feed_protobuf(proto.at(19), points));  // a sweep, if the clock had moved
    REQUIRE(guarded.feed_protobuf(proto.at(19), points));
    CHECK(guarded.series_released() == 0);
    REQUIRE(guarded.feed_protobuf(proto.at(5), points));  // A at 40 s: a delta, not a first
    REQUIRE(points.points.size() == 2);
    CHECK(points.points.back().value == 100);
  }

  SECTION("save and restore keep the series and their clock; a bad snapshot is an error value") {
    otlp_reader restored(options);
    REQUIRE(restored.try_restore_series(reader.save_series()));
    CHECK(restored.series_count() == reader.series_count());
    CHECK(restored.save_series() == reader.save_series());
    auto refused = restored.try_restore_series("not a snapshot");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == error_code::read_failed);
    CHECK(restored.series_count() == reader.series_count());  // kept as it was
  }
}

// ---- the memo (resource and attribute bytes → attributes, dimensions, series) -----------------

namespace {

std::string fixed64_field(std::uint32_t field, std::uint64_t v) {
  std::string out = tag(field, 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}
std::string varint_field(std::uint32_t field, std::uint64_t v) { return tag(field, 0) + varint(v); }
std::string string_attribute(std::string_view key, std::string_view value) {
  return len_field(1, key) + len_field(2, len_field(1, value));
}
std::string int_attribute(std::string_view key, std::int64_t value) {
  return len_field(1, key) + len_field(2, varint_field(3, static_cast<std::uint64_t>(value)));
}

// A request drawn at random from a small world (a few pods, clusters, directions), so that the
// same resource and attribute bytes come again and again, with what makes a memo wrong if it
// is: attributes of the point overriding the resource's, duplicate keys, rendered (non-string)
// values, node resources, late points, resets, new series past the cap, idle series released,
// and malformed requests (all points read, then refused: their new series rolled back).
// `plain`: as a collector writes it. Otherwise the same request in a shape the memo does not
// take (a second, empty Resource field; an unknown field between the point's attributes; an
// unknown field making every Resource's bytes new), which must read the same.
struct random_world {
  std::mt19937 random{2026};
  std::uint64_t time_ns = 1'000'000'000'000;
  std::uint64_t request_index = 0;

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); }

  std::pair<std::string, std::string> request() {
    ++request_index;
    time_ns += static_cast<std::uint64_t>(pick(4)) * 5'000'000'000u;  // sometimes not newer
    if (pick(20) == 0) time_ns += 400'000'000'000u;                   // past the idle horizon
    std::string plain, other;
    const int resources = 1 + pick(4);
    for (int r = 0; r < resources; ++r) {
      const int pod = pick(6);
      std::vector<std::string> attributes;
      if (pod != 5) attributes.push_back(string_attribute("k8s.pod.name", fmt::format("p{}", pod)));
      if (pick(3) != 0) attributes.push_back(string_attribute("k8s.cluster.name", "c"));
      if (pick(2) == 0)
        attributes.push_back(string_attribute("k8s.node.name", fmt::format("n{}", pod % 2)));
      if (pick(4) == 0) attributes.push_back(int_attribute("k8s.pod.uid", pod));
      if (pick(6) == 0)  // a duplicate key: the later one wins
        attributes.push_back(string_attribute("k8s.pod.name", fmt::format("p{}", pod + 10)));
      std::string resource;
      for (const auto& a : attributes) resource += len_field(1, a);
      std::string metrics, metrics_other;
      const int metric_count = 1 + pick(3);
      for (int m = 0; m < metric_count; ++m) {
        const bool ours = pick(4) != 0;
        std::string points_plain, points_other;
        const int points = pick(4);
        for (int i = 0; i < points; ++i) {
          std::vector<std::string> point_attributes;
          const int shape = pick(5);
          if (shape != 0)
            point_attributes.push_back(
                string_attribute("direction", pick(2) ? "transmit" : "receive"));
          if (shape == 2) point_attributes.push_back(string_attribute("interface", "eth0"));
          if (shape == 3) point_attributes.push_back(string_attribute("k8s.cluster.name", "pc"));
          if (shape == 4) point_attributes.push_back(int_attribute("k8s.node.name", 7));
          const std::uint64_t value =
              pick(10) == 0 ? 0 : static_cast<std::uint64_t>(request_index * 100 + i);
          const std::string fields =
              fixed64_field(2, 1) + fixed64_field(3, time_ns) + fixed64_field(6, value);
          std::string together, apart;
          for (std::size_t a = 0; a < point_attributes.size(); ++a) {
            together += len_field(7, point_attributes[a]);
            if (a != 0) apart += varint_field(90, 1);  // an unknown field between them
            apart += len_field(7, point_attributes[a]);
          }
          points_plain += len_field(1, fields + together);
          points_other += len_field(1, fields + apart + varint_field(91, 1));
        }
        const std::string name = len_field(1, ours ? "k8s.pod.network.io" : "other");
        const std::string temporality = varint_field(2, 2);
        metrics += len_field(2, name + len_field(7, points_plain + temporality));
        metrics_other += len_field(2, name + len_field(7, points_other + temporality));
      }
      plain += len_field(1, len_field(1, resource) + len_field(2, metrics));
      other += len_field(1, len_field(1, resource + varint_field(99, request_index)) +
                                len_field(1, "") + len_field(2, metrics_other));
    }
    if (pick(12) == 0) {  // malformed after all its points: refused whole
      plain += tag(1, 0) + "\x01";
      other += tag(1, 0) + "\x01";
    }
    return {plain, other};
  }
};

// Counts and points, the errors' texts aside (their byte offsets differ between the shapes).
std::string counts(const read_report& r) {
  std::string out = fmt::format("rows {} points {}", r.rows_read, r.points);
  for (std::size_t i = 0; i < skip_reason_count; ++i)
    if (r.skipped[i])
      out += fmt::format(" [{}]={}", to_string(static_cast<skip_reason>(i)), r.skipped[i]);
  return out;
}

}  // namespace

TEST_CASE("I3.5 S5 S5.1 the memo gives what reading every byte gives, request after request",
          "[otlp][I3.5]") {
  for (const auto& options : option_sets) {
    reader_options o = options;
    o.otlp_max_series = 40;
    o.otlp_series_idle_seconds = 300;
    otlp_reader memo(o), plain(o);
    random_world world;
    std::array<std::uint64_t, skip_reason_count> seen{};  // what the requests exercised
    for (int i = 0; i < 2000; ++i) {
      CAPTURE(i);
      const auto [request, other] = world.request();
      const auto a = feed_one(memo, request);
      const auto b = feed_one(plain, other);
      REQUIRE(a.outcome);
      REQUIRE(b.outcome);
      REQUIRE(a.points == b.points);
      REQUIRE(counts(a.report) == counts(b.report));
      REQUIRE(memo.series_count() == plain.series_count());
      for (std::size_t k = 0; k < skip_reason_count; ++k) seen[k] += a.report.skipped[k];
    }
    CHECK(memo.save_series() == plain.save_series());
    CHECK(memo.series_released() == plain.series_released());
    if (o.otlp_counter != otlp_counter_mode::raw) {  // raw keeps no series
      CHECK(memo.series_released() > 0);
      for (auto reason :
           {skip_reason::too_many_series, skip_reason::bad_syntax, skip_reason::counter_reset,
            skip_reason::late, skip_reason::missing_dimension, skip_reason::other_metric})
        CHECK(seen[static_cast<std::size_t>(reason)] > 0);
    }
  }
}

TEST_CASE("I3.5 the memo keeps the errors' order: an attribute fails before a later field",
          "[otlp][I3.5]") {
  otlp_reader reader;
  const auto detail = [&](std::string_view request) {
    auto r = feed_one(reader, request);
    REQUIRE(r.report.examples.size() == 1);
    return r.report.examples[0].detail;
  };
  const auto request = [](std::string_view point) {
    const std::string metric =
        len_field(1, "k8s.pod.network.io") + len_field(5, len_field(1, point));
    return len_field(1, len_field(1, len_field(1, string_attribute("k8s.pod.name", "p"))) +
                            len_field(2, len_field(2, metric)));
  };
  const std::string good_attribute = len_field(7, string_attribute("direction", "transmit"));
  const std::string bad_attribute = len_field(7, string_attribute("direction", "\xFF"));
  const std::string bad_time = tag(3, 0) + "\x05";
  // Read once with the good attribute, so that its bytes are known.
  const std::string good = request(good_attribute + fixed64_field(3, 1) + fixed64_field(6, 1));
  const auto first = feed_one(reader, good);
  REQUIRE(first.report.count(skip_reason::bad_syntax) == 0);
  // An attribute that is not UTF-8, then a time of the wrong wire type: the attribute's error.
  const std::string both = request(bad_attribute + bad_time);
  CHECK(detail(both) ==
        fmt::format("byte {}: AnyValue: a string that is not UTF-8", both.find("\xFF") - 2));
  // A known attribute, then the bad time: the time's error.
  const std::string known = request(good_attribute + bad_time);
  CHECK(detail(known) ==
        fmt::format("byte {}: NumberDataPoint: wrong wire type for the field", known.size() - 2));
  // The bad attribute after the bad time: the time's error (it comes first).
  const std::string after = request(bad_time + bad_attribute);
  CHECK(detail(after) == fmt::format("byte {}: NumberDataPoint: wrong wire type for the field",
                                     after.size() - bad_time.size() - bad_attribute.size()));
}

}  // namespace test_otlp_protobuf
