// D7 — PersistenceFilter (`stats count values(anomalies) by cluster node pod service | where
// count > 5`) and D8 (rename to host and k8s.service, the `…_filter` macro), with the
// finding's rule metadata (spec §7).
#include <k8snetio/k8snetio.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_persistence_filter {

using k8snetio::anomalous_row;
using k8snetio::finding;
using k8snetio::persistence_filter;
using k8snetio::persistence_options;

namespace {

anomalous_row arow(std::int64_t time, std::string anomalies = "text",
                   std::string_view pod = "web-0", std::string_view node = "node-1",
                   std::string_view cluster = "prod", std::string_view service = "web") {
  return anomalous_row{cluster, node, pod, service, time, std::move(anomalies)};
}

std::vector<anomalous_row> buckets(int n, std::string_view pod = "web-0",
                                   std::string_view node = "node-1",
                                   std::string_view cluster = "prod",
                                   std::string_view service = "web") {
  std::vector<anomalous_row> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back(arow(1700000000 + 10 * i, "text", pod, node, cluster, service));
  return rows;
}

std::vector<finding> persist(const std::vector<anomalous_row>& rows,
                             persistence_options options = {}) {
  if (!options.rule) options.rule = k8snetio::anomalous_network_io.metadata;
  persistence_filter f(std::move(options));
  for (const auto& r : rows) f.add(r);
  return f.findings();
}

}  // namespace

TEST_CASE("D7.2 six anomalous buckets make a finding with count 6 and five make none") {
  const auto six = persist(buckets(6));
  REQUIRE(six.size() == 1);
  CHECK(six[0].count == 6);
  CHECK(persist(buckets(5)).empty());
  CHECK(persist(buckets(0)).empty());
  // The adaptor form with the spec's threshold.
  const auto rows = buckets(6);
  const auto via_adaptor = rows | k8snetio::persist_over(k8snetio::anomalous_network_io, 5);
  REQUIRE(via_adaptor.size() == 1);
  CHECK(via_adaptor[0] == six[0]);
  const auto five = buckets(5);
  CHECK((five | k8snetio::persist_over(k8snetio::anomalous_network_io, 5)).empty());
}

TEST_CASE("D7.2 the threshold is configurable and strict") {
  persistence_options two;
  two.min_count = 2;
  CHECK(persist(buckets(2), two).empty());
  const auto three = persist(buckets(3), two);
  REQUIRE(three.size() == 1);
  CHECK(three[0].count == 3);
  persistence_options zero;
  zero.min_count = 0;
  CHECK(persist(buckets(1), zero).size() == 1);
  const auto rows = buckets(3);
  CHECK((rows | k8snetio::persist_over(k8snetio::anomalous_network_io, 3)).empty());
  CHECK((rows | k8snetio::persist_over(k8snetio::anomalous_network_io, 2)).size() == 1);
  CHECK(persistence_options{}.min_count == 5);
}

TEST_CASE("D8 a persistence_filter is refused without its rule, when it is made") {
  // No hidden main-rule default: a finding names the rule that found it.
  CHECK_THROWS_WITH(persistence_filter(persistence_options{}),
                    Catch::Contains("persistence_options::rule is not set"));
  CHECK_THROWS_WITH(k8snetio::persist_over(persistence_options{}),
                    Catch::Contains("persistence_options::rule is not set"));
}

TEST_CASE("D7.1 count is the number of rows and anomalies the distinct texts in byte order") {
  const std::vector<anomalous_row> rows{
      arow(0, "b"),  arow(10, "a"),   arow(20, "b"), arow(30, "B"),
      arow(40, "a"), arow(50, "a b"), arow(60, "Z"),
  };
  const auto out = persist(rows);
  REQUIRE(out.size() == 1);
  CHECK(out[0].count == 7);  // rows, not distinct texts
  CHECK(out[0].anomalies == std::vector<std::string>{"B", "Z", "a", "a b", "b"});
}

TEST_CASE("D7.1 rows are grouped by cluster node pod and service") {
  std::vector<anomalous_row> rows;
  for (auto&& r : buckets(6, "web-0", "node-1")) rows.push_back(r);
  for (auto&& r : buckets(3, "web-0", "node-2")) rows.push_back(r);  // same pod, other node
  for (auto&& r : buckets(3, "web-0", "node-2", "dev")) rows.push_back(r);
  for (auto&& r : buckets(3, "web-0", "node-2", "prod", "other")) rows.push_back(r);
  const auto out = persist(rows);
  REQUIRE(out.size() == 1);  // none of the 3-bucket groups adds up to another's count
  CHECK(out[0].host == "node-1");
  CHECK(out[0].count == 6);
}

TEST_CASE("D7.3 findings are sorted by cluster node pod and service in byte order") {
  std::vector<anomalous_row> rows;
  const auto add = [&rows](std::string_view cluster, std::string_view node, std::string_view pod,
                           std::string_view service) {
    for (auto&& r : buckets(6, pod, node, cluster, service)) rows.push_back(r);
  };
  add("prod", "node-2", "web-0", "web");
  add("prod", "node-1", "web-1", "web");
  add("prod", "node-1", "web-0", "web");
  add("prod", "node-1", "Web-0", "web");
  add("dev", "node-9", "a-0", "a");
  add("Prod", "node-9", "z-0", "z");
  add("prod", "node-1", "web-0", "Web");
  add("prod-eu", "node-0", "a-0", "a");
  const auto out = persist(rows);
  REQUIRE(out.size() == 8);
  const std::vector<std::vector<std::string>> expected{
      {"Prod", "node-9", "z-0", "z"},     {"dev", "node-9", "a-0", "a"},
      {"prod", "node-1", "Web-0", "web"}, {"prod", "node-1", "web-0", "Web"},
      {"prod", "node-1", "web-0", "web"}, {"prod", "node-1", "web-1", "web"},
      {"prod", "node-2", "web-0", "web"}, {"prod-eu", "node-0", "a-0", "a"},
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("finding " << i);
    CHECK(std::vector<std::string>{out[i].cluster, out[i].host, out[i].pod, out[i].service} ==
          expected[i]);
  }
}

TEST_CASE("D8 the node is exposed as host and the service as k8s.service") {
  const auto out = persist(buckets(6, "checkout-7d4b9c8f6d-x2k9p", "node-1", "prod", "checkout"));
  REQUIRE(out.size() == 1);
  CHECK(out[0].cluster == "prod");
  CHECK(out[0].host == "node-1");
  CHECK(out[0].pod == "checkout-7d4b9c8f6d-x2k9p");
  CHECK(out[0].service == "checkout");
}

TEST_CASE("D8 the filter predicate drops findings and keeps all by default") {
  std::vector<anomalous_row> rows = buckets(6, "web-0", "node-1");
  for (auto&& r : buckets(6, "web-1", "node-2")) rows.push_back(r);
  CHECK(persist(rows).size() == 2);
  persistence_options options;
  options.filter = [](const finding& f) { return f.host != "node-1"; };
  const auto out = persist(rows, options);
  REQUIRE(out.size() == 1);
  CHECK(out[0].host == "node-2");
  options.filter = [](const finding&) { return false; };
  CHECK(persist(rows, options).empty());
}

TEST_CASE("D8 a finding carries the rule metadata and its risk attribution") {
  const auto out = persist(buckets(6, "checkout-7d4b9c8f6d-x2k9p", "node-1", "prod", "checkout"));
  REQUIRE(out.size() == 1);
  const finding& f = out[0];
  REQUIRE(f.rule != nullptr);
  CHECK(*f.rule == k8snetio::anomalous_network_io_rule);
  CHECK(f.rule->name == "Kubernetes Anomalous Inbound Outbound Network IO");
  CHECK(f.rule->id == "4f3b0c97-657e-4547-a89a-9a50c656e3cd");
  CHECK(f.rule->mitre_attack_id == "T1204");
  CHECK(f.rule->risk_object_type == "system");
  CHECK(f.rule->risk_score == 20);
  CHECK(f.risk_message() ==
        "Kubernetes Anomalous Inbound Outbound Network IO from container on host node-1");

  persistence_options ratio;
  ratio.rule = k8snetio::network_io_ratio.metadata;
  const auto r = persist(buckets(6), ratio);
  REQUIRE(r.size() == 1);
  CHECK(*r[0].rule == k8snetio::network_io_ratio_rule);
  CHECK(r[0].risk_message() ==
        "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host node-1");
}

TEST_CASE("D7 the window is the given one or spans the anomalous buckets") {
  // Unset: from the first anomalous bucket to the last one's end.
  std::vector<anomalous_row> rows = buckets(6);
  rows.push_back(arow(1699999990));  // out of order on purpose
  auto out = persist(rows);
  REQUIRE(out.size() == 1);
  CHECK(out[0].window_start == 1699999990);
  CHECK(out[0].window_end == 1700000060);

  persistence_options given;
  given.window_start = 1699999200;
  given.window_end = 1700002800;
  out = persist(rows, given);
  REQUIRE(out.size() == 1);
  CHECK(out[0].window_start == 1699999200);
  CHECK(out[0].window_end == 1700002800);

  persistence_options minute;
  minute.span_seconds = 60;
  out = persist(rows, minute);
  REQUIRE(out.size() == 1);
  CHECK(out[0].window_end == 1700000110);
}

}  // namespace test_persistence_filter
