// docs/library.md, "Rules" and "One answer however composed": a user's rule whose outbound
// measure is fed by two directions (D3: their mean), a baseline store of the user's own, and the
// same findings from the stages composed as a pipeline and from the streaming engine (A2).
// The core component alone.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <k8snetio/k8snetio.hpp>

namespace k = k8snetio;

// [rule] Two measures; "transmit" and "egress" both feed the first (their mean, D3).
const k::rule_definition<2> egress_rule = [] {
  static constexpr k::measure_set<2> measures{
      {"outbound_io", "inbound_io"}, " higher than average by ", {0, 1}};
  k::rule_metadata metadata = k::anomalous_network_io_rule;  // ids, ATT&CK, risk: the main rule's
  metadata.name = "Anomalous egress";
  return k::rule_definition<2>(measures, metadata,
                               [](std::string_view direction) -> std::optional<std::size_t> {
                                 if (direction == "transmit" || direction == "egress") return 0;
                                 if (direction == "receive") return 1;
                                 return std::nullopt;  // counted as unmapped (A1.4)
                               });
}();
// [rule]

// [store] Any type with find(key) → const baseline_entry<N>* is a baseline store.
struct flat_store {
  k::baseline_entry<2> entry = [] {
    k::baseline_entry<2> e;
    for (std::size_t m = 0; m < 2; ++m) {
      e.avg[m] = k::baseline_cell::from_number(1000.0);
      e.stdev[m] = k::baseline_cell::from_number(20.0);
    }
    return e;
  }();
  const k::baseline_entry<2>* find(std::string_view key) const {
    return key.starts_with("prod:") ? &entry : nullptr;  // every service of cluster prod
  }
};
// [store]

int main() {
  std::vector<k::metric_point> points;
  for (int i = 0; i < 60; ++i) {
    const double t = 1'700'000'000.0 + 10 * i;
    for (const char* pod : {"api-5f6d7c8b9a-z9y8x", "api-5f6d7c8b9a-abcde"}) {
      const bool burst = std::string_view(pod).ends_with("z9y8x") && i >= 20 && i < 28;
      for (const char* direction : {"transmit", "egress", "receive"}) {
        const double bytes = burst && direction[0] == 't' ? 5000 : 1000;
        points.push_back({t, bytes, k::default_metric_name, "prod", pod, "node-2", direction});
      }
    }
  }
  const flat_store store;

  // [pipeline] The stages: D1 … D8; the search window is the input's, as the engine's is.
  const auto spans = points | k::aggregate_spans();
  const std::vector<k::finding> staged =
      spans | k::normalize_service() | k::pivot_direction(egress_rule) | k::lookup_baseline(store) |
      k::score_sigma(egress_rule) | k::persist_over(egress_rule, 5, k::search_window_of(spans));
  // [pipeline]

  // [engine] The engine, one call: any order of the points, the same findings.
  const k::detection_result engine = k::detect(egress_rule, points, store);
  // [engine]

  for (const k::finding& f : staged)
    std::printf("%s: %s, %llu buckets\n", f.rule->name.data(), f.pod.c_str(),
                static_cast<unsigned long long>(f.count));
  return staged.size() == 1 && staged == engine.findings ? 0 : 1;
}
