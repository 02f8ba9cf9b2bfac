// What the tests of the live service's endpoints and servers share: a baseline table and an
// OTLP/HTTP JSON export as the collector's otlphttp exporter posts it.
#pragma once

#include <string>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/k8snetio.hpp>

namespace k8snetio::test {

/// A table learned from two pods' (a, b in cluster c, node n) steady traffic; the values do not
/// matter to these tests.
inline const baseline_table<2>& live_table() {
  static const auto t = [] {
    std::vector<metric_point> points;
    for (int b = 0; b < 60; ++b)
      for (const char* pod : {"a", "b"})
        for (const char* direction : {"transmit", "receive"})
          points.push_back({1700000400.0 + 10 * b, 100.0 + b % 7, "", "c", pod, "n", direction});
    return build_network_io_baseline(points).table;
  }();
  return t;
}

/// An OTLP/HTTP JSON export of `points` transmit points of pod a, a second apart from `from`
/// seconds after 1700000410.
inline std::string otlp_json(int points, int from = 0) {
  std::string dps;
  for (int i = 0; i < points; ++i)
    dps += fmt::format(
        R"({}{{"attributes":[{{"key":"direction","value":{{"stringValue":"transmit"}}}}],)"
        R"("timeUnixNano":"{}","asDouble":{}}})",
        i ? "," : "", (1700000410LL + from + i) * 1000000000LL, 10 + i);
  return R"({"resourceMetrics":[{"resource":{"attributes":[)"
         R"({"key":"k8s.cluster.name","value":{"stringValue":"c"}},)"
         R"({"key":"k8s.node.name","value":{"stringValue":"n"}},)"
         R"({"key":"k8s.pod.name","value":{"stringValue":"a"}}]},)"
         R"("scopeMetrics":[{"metrics":[{"name":"k8s.pod.network.io","gauge":{"dataPoints":[)" +
         dps + "]}}]}]}]}";
}

}  // namespace k8snetio::test
