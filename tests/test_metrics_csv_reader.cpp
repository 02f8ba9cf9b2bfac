// Spec I1 (Splunk metrics_csv) and the RFC 4180 tokenizer under it; D1.1 and D1.2 as the
// reader applies them to rows. Fixtures: tests/data/metrics_*.csv.
#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>

#include "csv_support.hpp"
#include "support.hpp"

namespace test_metrics_csv_reader {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

using k8snetio::test::owned_point;
using k8snetio::test::read_fixture;
using collect = k8snetio::test::point_collector;

struct outcome {
  std::vector<owned_point> points;
  read_report report;
  std::optional<input_error> error;
};

outcome read_whole(std::string_view text, reader_options options = {},
                   std::string file = "test.csv") {
  metrics_csv_reader reader(std::move(file), std::move(options));
  reader.report().max_examples = 100;
  collect sink;
  auto r = reader.read(text, sink);
  return {sink.points, reader.report(), r ? std::nullopt : std::optional(r.error())};
}

outcome read_chunked(std::string_view text, std::size_t chunk, reader_options options = {}) {
  metrics_csv_reader reader("test.csv", std::move(options));
  reader.report().max_examples = 100;
  collect sink;
  result<void> r;
  for (std::size_t pos = 0; pos < text.size() && r; pos += chunk)
    r = reader.feed(text.substr(pos, chunk), sink);
  if (r) r = reader.finish(sink);
  return {sink.points, reader.report(), r ? std::nullopt : std::optional(r.error())};
}

void require_same_report(const read_report& a, const read_report& b) {
  REQUIRE(a.rows_read == b.rows_read);
  REQUIRE(a.points == b.points);
  REQUIRE(a.bytes == b.bytes);
  REQUIRE(a.skipped == b.skipped);
  REQUIRE(a.examples.size() == b.examples.size());
  for (std::size_t i = 0; i < a.examples.size(); ++i)
    REQUIRE(a.examples[i].to_string() == b.examples[i].to_string());
}

constexpr std::string_view header =
    "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction\n";

using k8snetio::test::records_of;

}  // namespace

// ---- the tokenizer (RFC 4180) ---------------------------------------------------------------

TEST_CASE("I1 RFC 4180: quoted fields hold commas, doubled quotes and newlines", "[I1][csv]") {
  const auto r = records_of("a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\nnext,\"\"\n", 0);
  REQUIRE(r ==
          std::vector<std::string>{"1:well formed:a|b,c|say \"hi\"|x\ny", "3:well formed:next|"});
}

TEST_CASE("I1 RFC 4180: CRLF ends a line, a lone CR is data, the last line needs no end",
          "[I1][csv]") {
  const auto r = records_of("a,b\r\n\"q\"\r\nc\rd,e\r\n\r\nlast,x", 0);
  REQUIRE(r == std::vector<std::string>{"1:well formed:a|b", "2:well formed:q",
                                        "3:well formed:c\rd|e",
                                        "4:well formed:blank:", "5:well formed:last|x"});
}

TEST_CASE("I1 RFC 4180: a stray quote flags the record and keeps the raw text", "[I1][csv]") {
  const auto r = records_of("a\"b,c\n\"q\"x,d\nok,1\n", 0);
  REQUIRE(r == std::vector<std::string>{"1:stray quote:a\"b|c", "2:stray quote:\"q\"x|d",
                                        "3:well formed:ok|1"});
}

TEST_CASE("I1 RFC 4180: an unterminated quote at the end is an error at its line", "[I1][csv]") {
  const auto r = records_of("a,b\nc,\"open\nmore\nstill", 0);
  // Reading resumes at the line after the one where the bad record started.
  REQUIRE(r == std::vector<std::string>{"1:well formed:a|b", "2:unterminated quoted field:",
                                        "3:well formed:more", "4:well formed:still"});
}

TEST_CASE("I1 RFC 4180: a record past the size limit is skipped, reading resumes at the next line",
          "[I1][csv]") {
  std::string text = "a,\"never closed\n";
  for (int i = 0; i < 20; ++i) text += "row" + std::to_string(i) + ",1\n";
  const auto whole = records_of(text, 0, 64);
  REQUIRE(whole.size() == 21);
  REQUIRE(whole[0] == "1:record too long (unclosed quote?):");
  REQUIRE(whole[1] == "2:well formed:row0|1");
  REQUIRE(whole[20] == "21:well formed:row19|1");
  for (std::size_t chunk = 1; chunk <= 70; ++chunk) REQUIRE(records_of(text, chunk, 64) == whole);
}

TEST_CASE("I1 RFC 4180: unescaped fields are views into the input, no copy", "[I1][csv]") {
  const std::string_view text = "abc,\"de,f\"\n";
  csv_tokenizer tokenizer;
  REQUIRE(tokenizer.parse(text, false) == csv_tokenizer::status::record);
  const auto fields = tokenizer.record().fields;
  REQUIRE(fields.size() == 2);
  REQUIRE(fields[0].data() == text.data());
  REQUIRE(fields[1].data() == text.data() + 5);
  REQUIRE(tokenizer.consumed() == text.size());
  REQUIRE(tokenizer.parse(text.substr(0, 6), false) == csv_tokenizer::status::need_more);
  REQUIRE(tokenizer.parse({}, true) == csv_tokenizer::status::end);
}

TEST_CASE("I1 RFC 4180: any split of the input gives the same records", "[I1][csv]") {
  // Random text over the characters that matter, so quotes open, close, double and dangle.
  std::mt19937 rng(42);
  const std::string_view alphabet = "ab,\"\n\r";
  for (int round = 0; round < 300; ++round) {
    std::string text(rng() % 60, ' ');
    for (auto& c : text) c = alphabet[rng() % alphabet.size()];
    const auto whole = records_of(text, 0, 16);
    for (std::size_t chunk = 1; chunk <= 20; ++chunk) {
      INFO("text: " << text << " chunk: " << chunk);
      REQUIRE(records_of(text, chunk, 16) == whole);
    }
  }
  // Longer records with rare quotes: whole, most go through the 32-bytes-at-a-time path;
  // in small chunks, through the general one.
  const std::string_view mostly_plain = "abcdefgh,,,,\n\r\"";
  for (int round = 0; round < 300; ++round) {
    std::string text(rng() % 400, ' ');
    for (auto& c : text)
      c = mostly_plain[rng() % (rng() % 8 == 0 ? mostly_plain.size() : mostly_plain.size() - 1)];
    const auto whole = records_of(text, 0);
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 16u, 17u, 64u}) {
      INFO("text: " << text << " chunk: " << chunk);
      REQUIRE(records_of(text, chunk) == whole);
    }
  }
}

TEST_CASE("I1 numbers: the fast path agrees with std::from_chars", "[I1][csv]") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    std::string s = (rng() % 4 == 0 ? "-" : "") + std::to_string(rng() % 100000000000ull);
    const auto dot = rng() % (s.size() + 2);
    if (dot < s.size() && s[dot] != '-') s.insert(dot, ".");
    double fast = 0, reference = 0;
    REQUIRE(parse_number(s, fast) == number_status::ok);
    std::from_chars(s.data(), s.data() + s.size(), reference);
    INFO(s);
    REQUIRE(std::signbit(fast) == std::signbit(reference));
    REQUIRE(fast == reference);
  }
  double v = 0;
  REQUIRE(parse_number("1e3", v) == number_status::ok);
  REQUIRE(v == 1000);
  REQUIRE(parse_number("1700000010.123456789", v) == number_status::ok);
  REQUIRE(v == 1700000010.123456789);
  REQUIRE(parse_number("+1", v) == number_status::invalid);
  REQUIRE(parse_number(" 1", v) == number_status::invalid);
  REQUIRE(parse_number("1 ", v) == number_status::invalid);
  REQUIRE(parse_number(".", v) == number_status::invalid);
  REQUIRE(parse_number("-", v) == number_status::invalid);
  REQUIRE(parse_number("", v) == number_status::invalid);
  REQUIRE(parse_number("1e400", v) == number_status::out_of_range);
  REQUIRE(parse_number("nan", v) == number_status::ok);
  REQUIRE(std::isnan(v));
}

// ---- the reader ----------------------------------------------------------------------------

TEST_CASE("I1 rows become points with time, value and the four dimensions", "[I1]") {
  const auto r = read_whole(read_fixture("metrics_small.csv"), {}, "metrics_small.csv");
  REQUIRE_FALSE(r.error);
  REQUIRE(r.points == std::vector<owned_point>{
                          {1700000010.0, 1834211, "k8s.pod.network.io", "prod-eu",
                           "checkout-7d4b9c8f6d-k2lpx", "node-15", "transmit"},
                          {1700000010.0, 901233, "k8s.pod.network.io", "prod-eu",
                           "checkout-7d4b9c8f6d-k2lpx", "node-15", "receive"},
                          {1700000013.25, 12.5, "k8s.pod.network.io", "prod-eu",
                           "cart-5f7c9d8b4-x9z2q", "node-15", "transmit"},
                          {1700000020, -0.0, "k8s.pod.network.io", "prod-us", "payments-0",
                           "node-3", "receive"},
                      });
  REQUIRE(r.report.rows_read == 5);
  REQUIRE(r.report.points == 4);
  REQUIRE(r.report.bytes == read_fixture("metrics_small.csv").size());
  // A point of another metric is counted, not read, whatever else is wrong with it; being
  // expected, it is not named among the problems.
  REQUIRE(r.report.count(skip_reason::other_metric) == 1);
  REQUIRE(r.report.skipped_total() == 1);
  REQUIRE(r.report.examples.empty());
}

TEST_CASE("I1 columns are taken by name in any order, _time stands in for metric_timestamp",
          "[I1]") {
  const auto r = read_whole(read_fixture("metrics_reordered.csv"));
  REQUIRE_FALSE(r.error);
  // No metric_name column: every row is the metric, and the point says so with an empty name.
  REQUIRE(r.points == std::vector<owned_point>{
                          {1700000010.0, 1834211, "", "prod-eu", "checkout-7d4b9c8f6d-k2lpx",
                           "node-15", "transmit"},
                          {1700000010.5, 901233, "", "prod-eu", "checkout-7d4b9c8f6d-k2lpx",
                           "node-15", "receive"},
                      });
  REQUIRE(r.report.skipped_total() == 0);
}

TEST_CASE("I1 metric_timestamp wins over _time, which fills in where it is empty", "[I1]") {
  const auto r = read_whole(
      "_time,metric_timestamp,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction\n"
      "1,2,10,c,n,p,transmit\n"
      "3,,20,c,n,p,transmit\n"
      ",,30,c,n,p,transmit\n");
  REQUIRE(r.points.size() == 2);
  REQUIRE(r.points[0].time == 2);
  REQUIRE(r.points[1].time == 3);
  REQUIRE(r.report.count(skip_reason::missing_field) == 1);
  REQUIRE(r.report.examples.at(0).to_string() == "test.csv:4: missing field: _time");
}

TEST_CASE("I1 quoted fields, CRLF line ends and a blank line", "[I1]") {
  const auto r = read_whole(read_fixture("metrics_quoted_crlf.csv"));
  REQUIRE_FALSE(r.error);
  REQUIRE(r.points == std::vector<owned_point>{
                          {1700000010, 100, "k8s.pod.network.io", "prod-eu",
                           "checkout-7d4b9c8f6d-k2lpx", "node-15", "transmit"},
                          {1700000011, 200, "k8s.pod.network.io", "prod,eu", "multi\r\nline-pod",
                           "node \"fifteen\"", "receive"},
                          {1700000012, 300, "k8s.pod.network.io", "prod-eu", "cart-5f7c9d8b4-x9z2q",
                           "node-15", "transmit"},
                      });
  REQUIRE(r.report.rows_read == 3);  // the blank line is no row
  REQUIRE(r.report.skipped_total() == 0);
}

TEST_CASE("I1 D1.1 D1.2 every malformed row is skipped and counted by reason", "[I1][D1.1][D1.2]") {
  const auto r = read_whole(read_fixture("metrics_malformed.csv"), {}, "metrics_malformed.csv");
  REQUIRE_FALSE(r.error);
  REQUIRE(r.points == std::vector<owned_point>{
                          {1700000010, 100, "k8s.pod.network.io", "prod-eu",
                           "checkout-7d4b9c8f6d-k2lpx", "node-15", "transmit"},
                          {1700000020, 200, "k8s.pod.network.io", "prod-eu",
                           "checkout-7d4b9c8f6d-k2lpx", "node-15", "receive"},
                      });
  const auto& rep = r.report;
  REQUIRE(rep.rows_read == 16);
  REQUIRE(rep.points == 2);
  REQUIRE(rep.count(skip_reason::short_row) == 1);
  REQUIRE(rep.count(skip_reason::missing_field) == 2);
  REQUIRE(rep.count(skip_reason::bad_number) == 2);
  REQUIRE(rep.count(skip_reason::non_finite) == 2);
  REQUIRE(rep.count(skip_reason::other_metric) == 1);
  REQUIRE(rep.count(skip_reason::missing_dimension) == 4);
  REQUIRE(rep.count(skip_reason::bad_syntax) == 2);
  REQUIRE(rep.skipped_total() == 14);
  std::vector<std::string> named;
  for (const auto& e : rep.examples) named.push_back(e.to_string());
  REQUIRE(named == std::vector<std::string>{
                       "metrics_malformed.csv:3: short row: 5 of the header's 7 fields",
                       "metrics_malformed.csv:4: missing field: metric_timestamp",
                       "metrics_malformed.csv:5: missing field: _value",
                       "metrics_malformed.csv:6: bad number: _value='12abc'",
                       "metrics_malformed.csv:7: bad number: metric_timestamp='yesterday'",
                       "metrics_malformed.csv:8: non-finite value: _value='nan'",
                       "metrics_malformed.csv:9: non-finite value: _value='-inf'",
                       "metrics_malformed.csv:11: missing dimension: k8s.cluster.name",
                       "metrics_malformed.csv:12: missing dimension: k8s.pod.name",
                       "metrics_malformed.csv:13: missing dimension: k8s.node.name",
                       "metrics_malformed.csv:14: missing dimension: direction",
                       "metrics_malformed.csv:16: bad syntax: stray quote",
                       "metrics_malformed.csv:18: bad syntax: unterminated quoted field",
                   });
}

TEST_CASE("I1 the report names only the first few problems but counts them all", "[I1]") {
  metrics_csv_reader reader("m.csv");
  auto r = reader.read(read_fixture("metrics_malformed.csv"), [](const metric_point&) {});
  REQUIRE(r);
  REQUIRE(reader.report().examples.size() == 5);
  REQUIRE(reader.report().examples.back().line == 7);
  REQUIRE(reader.report().skipped_total() == 14);
}

TEST_CASE("I1 strict: the first defective row ends the read with bad_row at its line", "[I1]") {
  reader_options strict;
  strict.strict = true;
  const auto r = read_whole(read_fixture("metrics_malformed.csv"), strict, "metrics_malformed.csv");
  REQUIRE(r.error);
  REQUIRE(r.error->code == error_code::bad_row);
  REQUIRE(r.error->line == 3);
  REQUIRE(r.error->what() ==
          "[k8snetio.error.111] metrics_malformed.csv:3: short row: 5 of the header's 7 fields");
  REQUIRE(r.points.size() == 1);  // the row before it was read
  REQUIRE(r.report.count(skip_reason::short_row) == 1);

  // Another metric is no defect: strict reads past it.
  const auto other = read_whole(std::string(header) +
                                    "1,k8s.pod.cpu.time,1,c,n,p,transmit\n"
                                    "2,k8s.pod.network.io,x,c,n,p,transmit\n",
                                strict);
  REQUIRE(other.error);
  REQUIRE(other.error->line == 3);
  REQUIRE(other.error->field == "_value");
  REQUIRE(other.error->what() ==
          "[k8snetio.error.111] test.csv:3: bad number: _value='x' (field '_value')");
  REQUIRE(other.report.count(skip_reason::other_metric) == 1);
}

TEST_CASE("I1.5 a header without a dimension column no option supplies is bad_header naming it",
          "[I1][I1.5][D1.1]") {
  const auto r = read_whole(
      "metric_timestamp,_value,k8s.cluster.name,k8s.pod.name,direction\n"
      "1,2,c,p,transmit\n",
      {}, "n.csv");
  REQUIRE(r.error);
  CHECK(r.error->code == error_code::bad_header);
  CHECK(r.error->what() ==
        "[k8snetio.error.110] n.csv:1: the header has no 'k8s.node.name' column (or set "
        "reader_options::default_node) (field 'k8s.node.name')");
  CHECK(r.points.empty());
  const auto no_pod =
      read_whole("metric_timestamp,_value,k8s.cluster.name,k8s.node.name,direction\n");
  REQUIRE(no_pod.error);
  CHECK(no_pod.error->field == "k8s.pod.name");
  // An option that supplies the dimension makes the column optional.
  reader_options options;
  options.default_node = "node-1";
  const auto with_default = read_whole(
      "metric_timestamp,_value,k8s.cluster.name,k8s.pod.name,direction\n1,2,c,p,transmit\n",
      options);
  REQUIRE_FALSE(with_default.error);
  REQUIRE(with_default.points.size() == 1);
  CHECK(with_default.points[0].node == "node-1");
}

TEST_CASE("I1.5 a row longer than its header is a bad row, never shifted", "[I1][I1.5]") {
  const auto r = read_whole(std::string(header) +
                            "1,k8s.pod.network.io,1,000,c,n,p,transmit\n"
                            "2,k8s.pod.network.io,5,c,n,p,transmit\n");
  REQUIRE_FALSE(r.error);
  REQUIRE(r.points.size() == 1);
  CHECK(r.points[0].value == 5);
  CHECK(r.report.count(skip_reason::long_row) == 1);
  CHECK(r.report.examples.at(0).to_string() == "test.csv:2: long row: 8 of the header's 7 fields");
}

TEST_CASE("I1.5 a column named twice is an error naming it", "[I1][I1.5]") {
  const auto r = read_whole(
      "metric_timestamp,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction,_value\n", {},
      "d.csv");
  REQUIRE(r.error);
  CHECK(r.error->code == error_code::duplicate_column);
  CHECK(r.error->field == "_value");
  CHECK(
      r.error->what() ==
      "[k8snetio.error.112] d.csv:1: the header names the column '_value' twice (field '_value')");
}

TEST_CASE("I1 D1.1 default_cluster stands in for a missing cluster", "[I1][D1.1]") {
  reader_options options;
  options.default_cluster = "prod-eu";
  const auto r = read_whole(
      "metric_timestamp,_value,k8s.node.name,k8s.pod.name,direction\n"
      "1,2,n,p,transmit\n",
      options);
  REQUIRE(r.points.size() == 1);
  REQUIRE(r.points[0].cluster == "prod-eu");
}

TEST_CASE("I1 the metric read is configurable", "[I1]") {
  reader_options options;
  options.metric_name = "k8s.pod.cpu.time";
  const auto r = read_whole(read_fixture("metrics_small.csv"), options);
  REQUIRE(r.report.count(skip_reason::other_metric) == 4);
  // The one cpu.time row is now ours, and lacks its direction.
  REQUIRE(r.points.empty());
  REQUIRE(r.report.examples.at(0).to_string() == "test.csv:5: missing dimension: direction");

  const auto cpu = read_whole(std::string(header) + "1,k8s.pod.cpu.time,0.25,c,n,p,d\n", options);
  REQUIRE(cpu.points.size() == 1);
  REQUIRE(cpu.points[0].metric_name == "k8s.pod.cpu.time");
  REQUIRE(cpu.points[0].value == 0.25);
}

TEST_CASE("I1 a header without _value or a time column is bad_header naming the column", "[I1]") {
  const auto no_value = read_whole("metric_timestamp,metric_name,value\n1,m,2\n", {}, "a.csv");
  REQUIRE(no_value.error);
  REQUIRE(no_value.error->code == error_code::bad_header);
  REQUIRE(no_value.error->what() ==
          "[k8snetio.error.110] a.csv:1: the header has no '_value' column and no "
          "'metric_name:<name>' column (field '_value')");

  const auto no_time = read_whole("\n\ntime,_value\n1,2\n", {}, "b.csv");
  REQUIRE(no_time.error);
  REQUIRE(no_time.error->code == error_code::bad_header);
  REQUIRE(no_time.error->line == 3);
  REQUIRE(no_time.error->field == "metric_timestamp");

  const auto empty = read_whole("", {}, "c.csv");
  REQUIRE(empty.error);
  REQUIRE(empty.error->code == error_code::bad_header);
  REQUIRE(empty.error->what() == "[k8snetio.error.110] c.csv: the input has no header row");
}

TEST_CASE("I1 a byte order mark before the header is ignored", "[I1]") {
  const auto r =
      read_whole("\xEF\xBB\xBF" + std::string(header) + "1,k8s.pod.network.io,2,c,n,p,d\n");
  REQUIRE_FALSE(r.error);
  REQUIRE(r.points.size() == 1);
}

TEST_CASE("I1 input fed in chunks of every size from 1 to 50 reads as one piece", "[I1]") {
  const std::string text = read_fixture("metrics_small.csv") +
                           read_fixture("metrics_malformed.csv") + "\n" +
                           read_fixture("metrics_quoted_crlf.csv");
  const auto whole = read_whole(text);
  REQUIRE(whole.points.size() >= 4);  // the later headers and rows are mostly skips
  for (std::size_t chunk = 1; chunk <= 50; ++chunk) {
    INFO("chunk size " << chunk);
    const auto pieces = read_chunked(text, chunk);
    REQUIRE(pieces.points == whole.points);
    require_same_report(pieces.report, whole.report);
    REQUIRE_FALSE(pieces.error);
  }
  for (const auto* name : {"metrics_quoted_crlf.csv", "metrics_reordered.csv"}) {
    const std::string one = read_fixture(name);
    const auto expected = read_whole(one);
    for (std::size_t chunk = 1; chunk <= 50; ++chunk) {
      const auto pieces = read_chunked(one, chunk);
      REQUIRE(pieces.points == expected.points);
      require_same_report(pieces.report, expected.report);
    }
  }
}

TEST_CASE("I1 strict ends the read at the same row however the input is split", "[I1]") {
  reader_options strict;
  strict.strict = true;
  const std::string text = read_fixture("metrics_malformed.csv");
  for (std::size_t chunk = 1; chunk <= 50; ++chunk) {
    const auto r = read_chunked(text, chunk, strict);
    REQUIRE(r.error);
    REQUIRE(r.error->line == 3);
    REQUIRE(r.points.size() == 1);
  }
}

}  // namespace test_metrics_csv_reader
