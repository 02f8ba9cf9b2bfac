// A third rule composed from the library's stages: pods whose *transmitted* bytes alone sit
// more than 3 standard deviations above their service's baseline in more than 3 buckets.
// Only the rule's description is new; aggregation, normalization, pivot, lookup, scoring and
// persistence are the stages both shipped rules use.
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/k8snetio.hpp>

namespace k = k8snetio;

// What the rule measures, how a direction feeds it, and what it is called. A rule copies these
// texts when it is made, so they may come from configuration and die right after: the rule,
// the engines and adaptors made from it, and its findings keep their own.
k::rule_definition<1> egress_rule_from_config() {
  const std::string measure = "egress_network_io", infix = " higher than average by ";
  const std::string name = "Example: Anomalous Kubernetes Pod Egress", id = "example-egress-0001";
  const k::measure_set<1> measures{{measure}, infix, {0}};
  // Its metadata is all that OCSF and ES risk output need (library.md A8): ids, ATT&CK technique
  // and tactic with their names, risk score and message, analytic story.
  const k::rule_metadata metadata{name,
                                  id,
                                  "T1048",
                                  "system",
                                  30,
                                  "Anomalous egress from container on host ",
                                  "Exfiltration Over Alternative Protocol",
                                  "TA0010",
                                  "Exfiltration",
                                  "Example: Pod Egress"};
  return k::rule_definition<1>(measures, metadata, [](std::string_view direction) {
    return direction == "transmit" ? std::optional<std::size_t>(0) : std::nullopt;
  });
}

// Synthetic traffic: one pod of "api" sends 1000 ± 50 bytes per bucket; from `burst_from` on,
// 10 times that.
std::vector<k::metric_point> traffic(double start, int buckets, int burst_from) {
  std::vector<k::metric_point> points;
  for (int b = 0; b < buckets; ++b) {
    const double io = (b >= burst_from ? 10000.0 : 1000.0) + (b % 3 - 1) * 50.0;
    points.push_back(
        {start + b * 10, io, "", "prod", "api-5f7c9d8b6c-q2w4e", "node-7", "transmit"});
    points.push_back(
        {start + b * 10, 800, "", "prod", "api-5f7c9d8b6c-q2w4e", "node-7", "receive"});
  }
  return points;
}

int main() {
  const auto training = traffic(1'700'000'000, 360, 360);  // an hour of normal traffic
  const auto hour = traffic(1'700'003'600, 360, 350);      // the next hour ends in a burst
  std::vector<k::finding> findings, piped;
  {
    const k::rule_definition<1> egress_rule = egress_rule_from_config();

    // The one-call forms work for any rule_definition ...
    const k::baseline_result<1> baseline = k::build_baseline(egress_rule, training);
    k::detection_options options;
    options.scoring.sigma = 3;
    options.min_count = 3;
    findings = k::detect(egress_rule, hour, baseline.table, options).findings;

    // ... and the same rule reads as one pipeline of the stages. N comes from the rule (or, for
    // the lookup, from the rows), and stages compose before any range is given, as range-v3's
    // view closures do.
    const auto d1_to_d3 =
        k::aggregate_spans() | k::normalize_service() | k::pivot_direction(egress_rule);
    piped = hour | d1_to_d3 | k::lookup_baseline(baseline.table) |
            k::score_sigma(egress_rule, options.scoring) | k::persist_over(egress_rule, 3);
  }  // the rule is gone; its findings still name it

  for (const k::finding& f : findings)
    std::printf("%s: %s on %s, %llu anomalous buckets\n  first: %s\n", f.rule->name.data(),
                f.pod.c_str(), f.host.c_str(), static_cast<unsigned long long>(f.count),
                f.anomalies.front().c_str());
  return findings.size() == 1 && piped.size() == 1 && piped[0].pod == findings[0].pod ? 0 : 1;
}
