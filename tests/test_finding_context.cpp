// formats.md I3.3: k8s.namespace.name and k8s.pod.uid, when the input has them, are carried
// into findings for context (O1, O3.1, O4, D8.1's namespace conditions), never into grouping.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <k8snetio/io/input/allowlist.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/output/risk_event_writer.hpp>
#include <k8snetio/k8snetio.hpp>

namespace test_finding_context {

namespace {

using k8snetio::metric_point;

struct owned {
  double time, value;
  std::string pod, direction, namespace_name, uid;
};

/// Three pods of one service over 60 buckets; from bucket 40 on, the first sends far more.
/// Only the first pod's points carry a namespace and uid, and only from its second point on.
std::vector<owned> traffic(bool spike) {
  std::vector<owned> out;
  const std::vector<std::string> pods = {"checkout-7d4b9c8f6d-k2lpx", "checkout-7d4b9c8f6d-a1b2c",
                                         "checkout-7d4b9c8f6d-z9y8x"};
  for (int b = 0; b < 60; ++b) {
    for (std::size_t p = 0; p < pods.size(); ++p) {
      const double t = 1700000000.0 + 10 * b;
      const bool context = p == 0 && b > 0;
      const double tx = 1000 + (b * 7 + static_cast<int>(p) * 13) % 50 +
                        (spike && p == 0 && b >= 40 ? 100000 : 0);
      out.push_back({t + 1, tx, pods[p], "transmit", context ? "shop" : "",
                     context ? "0f7e4c1a-5b2d-4e8f-9a3c-1d2e3f4a5b6c" : ""});
      out.push_back({t + 2, 2000.0 + (b * 3) % 40, pods[p], "receive", "", ""});
    }
  }
  return out;
}

std::vector<metric_point> views(const std::vector<owned>& points) {
  std::vector<metric_point> out;
  for (const auto& p : points) {
    metric_point m{p.time, p.value, "", "prod-eu", p.pod, "node-15", p.direction};
    m.namespace_name = p.namespace_name;
    m.pod_uid = p.uid;
    out.push_back(m);
  }
  return out;
}

}  // namespace

TEST_CASE(
    "I3.3 namespace and pod uid are carried into findings and their outputs, never into "
    "grouping") {
  const auto training = traffic(false);
  const auto table = k8snetio::build_network_io_baseline(views(training)).table;
  CHECK(table.size() == 1);  // one key: prod-eu:checkout, with or without context
  const auto incident = traffic(true);
  const auto points = views(incident);
  const auto result = k8snetio::detect_anomalous_network_io(points, table);
  REQUIRE(result.findings.size() == 1);
  const auto& f = result.findings[0];
  CHECK(f.pod == "checkout-7d4b9c8f6d-k2lpx");
  CHECK(f.namespace_name == "shop");
  CHECK(f.pod_uid == "0f7e4c1a-5b2d-4e8f-9a3c-1d2e3f4a5b6c");

  std::string jsonl;
  k8snetio::io::write_findings_jsonl(jsonl, result.findings);
  CHECK_THAT(jsonl, Catch::Contains(R"("k8s.service":"checkout","k8s.namespace.name":"shop",)"
                                    R"("k8s.pod.uid":"0f7e4c1a-5b2d-4e8f-9a3c-1d2e3f4a5b6c",)"));
  std::string risk;
  k8snetio::io::write_findings_risk(risk, result.findings);
  CHECK_THAT(risk, Catch::Contains(R"("k8s.namespace.name":"shop")"));
  std::string ocsf;
  k8snetio::io::write_findings_ocsf(ocsf, result.findings);
  CHECK_THAT(ocsf, Catch::Contains(R"("namespace":"shop")") &&
                       Catch::Contains(R"("uid":"0f7e4c1a-5b2d-4e8f-9a3c-1d2e3f4a5b6c")"));

  // Without context in the input, the outputs are exactly as before: no empty keys.
  auto plain = result.findings;
  plain[0].namespace_name.clear();
  plain[0].pod_uid.clear();
  std::string bare;
  k8snetio::io::write_findings_jsonl(bare, plain);
  CHECK_THAT(bare, !Catch::Contains("namespace") && !Catch::Contains("uid"));
}

TEST_CASE("I3.3 D8.1 an allowlist line on the namespace suppresses the finding of a pod in it") {
  const auto training = traffic(false);
  const auto table = k8snetio::build_network_io_baseline(views(training)).table;
  const auto incident = traffic(true);
  const auto points = views(incident);
  for (const auto& [line, kept] :
       std::vector<std::pair<std::string, std::size_t>>{{"k8s.namespace.name=shop", 0},
                                                        {"k8s.namespace.name=sh*p", 0},
                                                        {"k8s.namespace.name=payments", 1}}) {
    INFO(line);
    auto list = k8snetio::io::parse_allowlist(line + "\n");
    REQUIRE(list);
    auto suppressed = std::make_shared<std::uint64_t>(0);
    k8snetio::detection_options options;
    options.filter = k8snetio::io::allowlist_filter(
        std::make_shared<const k8snetio::io::allowlist>(std::move(*list)), suppressed);
    CHECK(k8snetio::detect_anomalous_network_io(points, table, options).findings.size() == kept);
    CHECK(*suppressed == 1 - kept);
  }
}

}  // namespace test_finding_context
