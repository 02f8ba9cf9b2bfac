// Spec O3.1: Splunk ES risk events as HEC envelopes — the fields ES's risk action writes to the
// risk index for the two ESCU rules (names checked against splunk/security_content), golden
// bytes in tests/data/golden_findings.risk.jsonl, and each event parsed back.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/output/risk_event_writer.hpp>

#include "support.hpp"

namespace test_risk_events {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

std::vector<finding> risk_findings() {
  finding checkout;
  checkout.cluster = "prod";
  checkout.host = "node-1";
  checkout.pod = "checkout-7d4b9c8f6d-x2k9p";
  checkout.service = "checkout";
  checkout.count = 6;
  checkout.anomalies = {
      "outbound_network_io higher than average by 5.00 Standard Deviations. "
      "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100"};
  checkout.window_start = 1700000000;
  checkout.window_end = 1700003600;

  finding web;
  web.cluster = "prod-eu";
  web.host = "node-\"15\"";
  web.pod = "web-abcdef1-x2k9p";
  web.service = "web-abcdef1";
  web.count = 7;
  web.anomalies = {
      "inbound:outbound ratio higher than average by 12.35 Standard Deviations. "
      "inbound:outbound=3.47 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.2405"};
  web.window_start = 1700000000;
  web.window_end = 1700003600;
  web.rule = k8snetio::own_rule_metadata(network_io_ratio_rule);
  return {checkout, web};
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return lines;
}

std::vector<std::string_view> strings(simdjson::dom::element e) {
  std::vector<std::string_view> out;
  for (auto v : simdjson::dom::array(e)) out.emplace_back(std::string_view(v));
  return out;
}

}  // namespace

TEST_CASE("O3.1 risk events: golden output, byte for byte") {
  std::string out;
  write_findings_risk(out, risk_findings());
  CHECK(out == k8snetio::test::read_fixture("golden_findings.risk.jsonl"));
  // The dispatcher writes the same bytes.
  std::string via_format;
  write_findings(via_format, risk_findings(), output_format::risk);
  CHECK(via_format == out);
}

TEST_CASE("O3.1 risk events carry what ES's risk action writes, for both rules") {
  const auto findings = risk_findings();
  const auto lines = lines_of(write_findings(findings, output_format::risk));
  REQUIRE(lines.size() == 2);
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const finding& f = findings[i];
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(simdjson::padded_string(lines[i])).get(doc));
    const std::string search_name = "ESCU - " + std::string(f.rule->name) + " - Rule";
    CHECK(std::int64_t(doc["time"]) == f.window_end);
    CHECK(std::string_view(doc["host"]) == f.host);
    CHECK(std::string_view(doc["source"]) == search_name);
    CHECK(std::string_view(doc["sourcetype"]) == "stash");
    CHECK(std::string_view(doc["index"]) == "risk");
    simdjson::dom::object e = doc["event"];
    CHECK(std::string_view(e["search_name"]) == search_name);
    CHECK(std::string_view(e["risk_object"]) == f.host);
    CHECK(std::string_view(e["risk_object_type"]) == "system");
    CHECK(std::int64_t(e["risk_score"]) == 20);
    CHECK(std::string_view(e["risk_message"]) == f.risk_message());
    CHECK(std::string_view(e["rule_id"]) == f.rule->id);
    CHECK(strings(e["annotations.mitre_attack"]) == std::vector<std::string_view>{"T1204"});
    CHECK(strings(e["annotations.mitre_attack.mitre_technique_id"]) ==
          std::vector<std::string_view>{"T1204"});
    CHECK(strings(e["annotations.mitre_attack.mitre_technique"]) ==
          std::vector<std::string_view>{"User Execution"});
    CHECK(strings(e["annotations.mitre_attack.mitre_tactic_id"]) ==
          std::vector<std::string_view>{"TA0002"});
    CHECK(strings(e["annotations.mitre_attack.mitre_tactic"]) ==
          std::vector<std::string_view>{"Execution"});
    CHECK(strings(e["analyticstories"]) ==
          std::vector<std::string_view>{
              "Abnormal Kubernetes Behavior using Splunk Infrastructure Monitoring"});
    CHECK(std::string_view(e["k8s.cluster.name"]) == f.cluster);
    CHECK(std::string_view(e["k8s.pod.name"]) == f.pod);
    CHECK(std::string_view(e["k8s.service"]) == f.service);
    CHECK(std::uint64_t(e["count"]) == f.count);
    CHECK(strings(e["anomalies"]).size() == f.anomalies.size());
    CHECK(std::int64_t(e["window_start"]) == f.window_start);
    CHECK(std::int64_t(e["window_end"]) == f.window_end);
  }
}

TEST_CASE("O3.1 --hec-index replaces the risk index, escaped") {
  findings_write_options options;
  options.hec_index = "risk_\"k8s\"";
  std::string out;
  write_findings(out, risk_findings(), output_format::risk, options);
  simdjson::dom::parser parser;
  for (const auto& line : lines_of(out)) {
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(simdjson::padded_string(line)).get(doc));
    CHECK(std::string_view(doc["index"]) == "risk_\"k8s\"");
  }
}

TEST_CASE("O3.1 a rule of one's own keeps its technique id and leaves the enrichments empty") {
  static constexpr rule_metadata egress{"Egress", "my-id", "T1041",
                                        "system", 30,      "Egress from host "};
  auto f = risk_findings().front();
  f.rule = k8snetio::own_rule_metadata(egress);
  const std::string out = write_findings(std::vector<finding>{f}, output_format::risk);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(simdjson::padded_string(out)).get(doc));
  CHECK(std::string_view(doc["source"]) == "ESCU - Egress - Rule");
  CHECK(std::int64_t(doc["event"]["risk_score"]) == 30);
  CHECK(strings(doc["event"]["annotations.mitre_attack.mitre_technique_id"]) ==
        std::vector<std::string_view>{"T1041"});
  CHECK(strings(doc["event"]["annotations.mitre_attack.mitre_tactic_id"]).empty());
  CHECK(strings(doc["event"]["analyticstories"]).empty());
}

}  // namespace test_risk_events
