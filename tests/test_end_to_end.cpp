// End to end: the spec §8 worked example through the one-call rule and the literal pipeline, a
// golden multi-pod case computed by hand (baseline from training points, then detection), D9's
// windows, and properties: input order, batching and sharding do not change the result.
#include <k8snetio/k8snetio.hpp>
#include <k8snetio/stages/pcre2_service_normalizer.hpp>  // D2.4: service_pattern

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace test_end_to_end {

using k8snetio::baseline_cell;
using k8snetio::baseline_entry;
using k8snetio::baseline_table;
using k8snetio::detection_options;
using k8snetio::finding;
using k8snetio::metric_point;

namespace {

constexpr std::size_t inbound = 0;
constexpr std::size_t outbound = 1;
constexpr std::string_view checkout_pod = "checkout-7d4b9c8f6d-x2k9p";

metric_point point(double time, double value, std::string_view pod, std::string_view direction,
                   std::string_view node = "node-1", std::string_view cluster = "prod") {
  return metric_point{time, value, "k8s.pod.network.io", cluster, pod, node, direction};
}

baseline_entry<2> entry(double avg_in, double stdev_in, double avg_out, double stdev_out) {
  baseline_entry<2> e;
  e.avg[inbound] = baseline_cell::from_number(avg_in);
  e.stdev[inbound] = baseline_cell::from_number(stdev_in);
  e.avg[outbound] = baseline_cell::from_number(avg_out);
  e.stdev[outbound] = baseline_cell::from_number(stdev_out);
  return e;
}

/// Spec §8: baseline row prod:checkout.
baseline_table<2> worked_example_table() {
  baseline_table<2> t;
  t.insert("prod:checkout", entry(2000, 500, 1000, 100));
  return t;
}

/// Spec §8: per bucket, transmit 1400 (eth0) and 1600 (eth1), receive 2100.
std::vector<metric_point> worked_example_points(int buckets) {
  std::vector<metric_point> points;
  for (int i = 0; i < buckets; ++i) {
    const double t = 1700000000.0 + 10.0 * i;
    points.push_back(point(t + 1, 1400, checkout_pod, "transmit"));
    points.push_back(point(t + 2, 1600, checkout_pod, "transmit"));
    points.push_back(point(t + 3, 2100, checkout_pod, "receive"));
  }
  return points;
}

constexpr std::string_view worked_example_text =
    "outbound_network_io higher than average by 5.00 Standard Deviations. "
    "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100";

template <class Points>
std::vector<finding> literal_pipeline(const Points& points, const baseline_table<2>& table) {
  using namespace k8snetio;
  auto findings = points | aggregate_spans() | normalize_service() |
                  pivot_direction(anomalous_network_io) | lookup_baseline(table) |
                  score_sigma(anomalous_network_io) | persist_over(anomalous_network_io, 5);
  return findings;
}

// ---- The golden multi-pod case ----------------------------------------------------------------

constexpr std::string_view web_a = "web-5d8f9c7b6a-abcde";  // service "web" (10 hex digits)
constexpr std::string_view web_b = "web-5d8f9c7b6a-fghij";
constexpr std::string_view web_c = "web-5d8f9c7b6a-zzzzz";
constexpr std::int64_t t0 = 1699990000;  // training buckets t0, t0+10, t0+20, t0+30
constexpr std::int64_t t1 = 1700000000;  // detection buckets t1 … t1+50

/// Training points, in time order (baseline_runner's default expects that).
std::vector<metric_point> golden_training_points() {
  const auto at = [](int bucket, double offset) {
    return static_cast<double>(t0 + 10 * bucket) + offset;
  };
  return {
      // bucket 0
      point(at(0, 1), 800, web_a, "transmit"),
      point(at(0, 1), 1000, web_a, "transmit"),  // eth1: D1 mean 900
      point(at(0, 2), 1000, web_a, "receive"),
      point(at(0, 2), 2000, web_a, "receive"),  // D1 mean 1500
      point(at(0, 3), 50, "db-0", "transmit", "node-3"),
      point(at(0, 4), 10, web_a, "transmit", "node-1", "dev"),
      point(at(0, 4), 20, web_a, "receive", "node-1", "dev"),
      point(at(0, 5), 99, web_a, "transmit", "node-1", ""),  // D1.1: dropped
      // bucket 1
      point(at(1, 1), 1000, web_a, "transmit"),
      point(at(1, 1), 2000, web_a, "receive"),
      point(at(1, 2), 900, web_b, "transmit", "node-2"),
      point(at(1, 2), 1500, web_b, "receive", "node-2"),
      point(at(1, 3), 50, "db-0", "transmit", "node-3"),
      // bucket 2
      point(at(2, 1), 1100, web_a, "transmit"),
      point(at(2, 1), 2500, web_a, "receive"),
      point(at(2, 2), 1100, web_b, "transmit", "node-2"),
      point(at(2, 2), 2500, web_b, "receive", "node-2"),
      point(at(2, 3), 50, "db-0", "transmit", "node-3"),
      point(at(2, 9), std::numeric_limits<double>::quiet_NaN(), web_b, "transmit", "node-2"),
      // bucket 3
      point(at(3, 1), 7, "db-0", "unknown", "node-3"),
  };
}

/// Detection points: six buckets from t1.
std::vector<metric_point> golden_detection_points() {
  std::vector<metric_point> points;
  for (int i = 0; i < 6; ++i) {
    const double t = static_cast<double>(t1 + 10 * i);
    if (i < 3) {
      points.push_back(point(t + 1, 1400, web_a, "transmit"));
      points.push_back(point(t + 1, 1600, web_a, "transmit"));
    } else {
      points.push_back(point(t + 1, 1450.25, web_a, "transmit"));
    }
    points.push_back(point(t + 2, 2100, web_a, "receive"));
    points.push_back(point(t + 3, 1600, web_b, "transmit", "node-2"));
    points.push_back(point(t + 3, 4500, web_b, "receive", "node-2"));
    if (i < 5) points.push_back(point(t + 4, 2000, web_c, "transmit"));
    points.push_back(point(t + 5, 60, "db-0", "transmit", "node-3"));
    points.push_back(point(t + 6, 10, web_a, "transmit", "node-1", "dev"));
    points.push_back(point(t + 7, 1e9, "cache-0", "transmit", "node-4"));
  }
  return points;
}

const std::string web_a_5 =
    "outbound_network_io higher than average by 5.00 Standard Deviations. "
    "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100";
const std::string web_a_450 =
    "outbound_network_io higher than average by 4.50 Standard Deviations. "
    "outbound_network_io=1450.25 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100";
const std::string web_b_both =
    "inbound_network_io higher than average by 5.00 Standard Deviations. "
    "inbound_network_io=4500 avg_inbound_network_io=2000 'stdev_inbound_network_io'=500, "
    "outbound_network_io higher than average by 6.00 Standard Deviations. "
    "outbound_network_io=1600 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100";
const std::string db_inf =
    "outbound_network_io higher than average by inf Standard Deviations. "
    "outbound_network_io=60 avg_outbound_network_io=50 'stdev_outbound_network_io'=0";

finding golden_finding(std::string host, std::string_view pod, std::string service,
                       std::vector<std::string> anomalies) {
  return finding{"prod",
                 std::move(host),
                 std::string(pod),
                 std::move(service),
                 6,
                 std::move(anomalies),
                 t1,
                 t1 + 60,
                 k8snetio::anomalous_network_io.metadata};
}

// ---- A larger generated input for the properties ----------------------------------------------

constexpr std::array<std::string_view, 5> gen_pods{"api-7d4b9c8f6d-aaaaa", "api-7d4b9c8f6d-bbbbb",
                                                   "db-0", "kube-proxy-x2k9p", "web-0"};
constexpr std::array<std::string_view, 2> gen_clusters{"prod", "dev"};

/// Integer-valued points (1 or 2 per series and bucket, so every D1 mean is exact and every
/// sum is exact in any order). From `spike_from` on, pods 0 and 3 of "prod" spike.
std::vector<metric_point> generated_points(std::int64_t start, int buckets, std::uint32_t seed,
                                           int spike_from = 1 << 30) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 200);
  std::vector<metric_point> points;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(start + 10 * b);
    for (std::size_t c = 0; c < gen_clusters.size(); ++c) {
      for (std::size_t p = 0; p < gen_pods.size(); ++p) {
        const bool spike = b >= spike_from && c == 0 && (p == 0 || p == 3);
        const double tx = 1000 + noise(rng) + (spike ? 5000 : 0);
        const double rx = 3000 + noise(rng) + (spike && p == 3 ? 9000 : 0);
        const std::string_view node = p % 2 ? "node-2" : "node-1";
        points.push_back(point(t + 1, tx, gen_pods[p], "transmit", node, gen_clusters[c]));
        if (b % 3 == 0)  // a second interface now and then: the D1 mean is tx + 1, exact
          points.push_back(point(t + 2, tx + 2, gen_pods[p], "transmit", node, gen_clusters[c]));
        points.push_back(point(t + 3, rx, gen_pods[p], "receive", node, gen_clusters[c]));
      }
    }
  }
  return points;
}

baseline_table<2> generated_table() {
  return k8snetio::build_network_io_baseline(generated_points(t0 - 3000, 200, 1)).table;
}

std::vector<metric_point> generated_detection_points() {
  return generated_points(t1, 120, 2, 100);  // the last 20 buckets spike
}

}  // namespace

TEST_CASE("E2E spec section 8 worked example through detect_anomalous_network_io") {
  const auto table = worked_example_table();
  const auto result = k8snetio::detect_anomalous_network_io(worked_example_points(6), table);
  REQUIRE(result.findings.size() == 1);
  const finding& f = result.findings[0];
  CHECK(f.cluster == "prod");
  CHECK(f.host == "node-1");
  CHECK(f.pod == checkout_pod);
  CHECK(f.service == "checkout");
  CHECK(f.count == 6);
  CHECK(f.anomalies == std::vector<std::string>{std::string(worked_example_text)});
  CHECK(f.window_start == 1700000000);
  CHECK(f.window_end == 1700000060);
  CHECK(*f.rule == k8snetio::anomalous_network_io_rule);
  CHECK(f.risk_message() ==
        "Kubernetes Anomalous Inbound Outbound Network IO from container on host node-1");
  CHECK(result.stats.points_in == 18);
  CHECK(result.stats.aggregated == 18);
  CHECK(result.stats.rows_out == 12);

  CHECK(k8snetio::detect_anomalous_network_io(worked_example_points(5), table).findings.empty());
}

TEST_CASE(
    "E2E spec section 8 worked example through the literal pipeline gives the same findings") {
  const auto table = worked_example_table();
  const auto points = worked_example_points(6);
  const auto piped = literal_pipeline(points, table);
  REQUIRE(piped.size() == 1);
  CHECK(piped[0].count == 6);
  CHECK(piped[0].anomalies == std::vector<std::string>{std::string(worked_example_text)});
  CHECK(piped == k8snetio::detect_anomalous_network_io(points, table).findings);

  const auto five = worked_example_points(5);
  CHECK(literal_pipeline(five, table).empty());
}

TEST_CASE("E2E golden multi-pod case: the baseline from training points") {
  // prod:web — D1 rows of both pods (B1, not pivoted):
  //   transmit: A 900 (800, 1000 averaged), 1000, 1100; B 900, 1100 → {900,1000,1100,900,1100}
  //     sum 5000, mean 1000, sumsq 5040000, var (5040000 − 5000·1000) / 4 = 10000, stdev 100.
  //   receive: A 1500 (1000, 2000 averaged), 2000, 2500; B 1500, 2500
  //     sum 10000, mean 2000, sumsq 21000000, var 1000000 / 4 = 250000, stdev 500.
  //   count 10 rows, last_seen t0+20.
  // prod:db-0 (no suffix to strip): transmit 50 ×3 → avg 50, stdev 0; receive none → null;
  //   the "unknown" row at t0+30 counts: count 4, last_seen t0+30.
  // dev:web: transmit {10}, receive {20}: stdev 0 each, count 2, last_seen t0.
  const auto result = k8snetio::build_network_io_baseline(golden_training_points());
  const auto& table = result.table;
  REQUIRE(table.size() == 3);
  CHECK(table.rows()[0].key == "dev:web");
  CHECK(table.rows()[1].key == "prod:db-0");
  CHECK(table.rows()[2].key == "prod:web");

  const auto& web = table.rows()[2].entry;
  CHECK(web.avg[outbound] == baseline_cell{1000.0, "1000"});
  CHECK(web.stdev[outbound] == baseline_cell{100.0, "100"});
  CHECK(web.avg[inbound] == baseline_cell{2000.0, "2000"});
  CHECK(web.stdev[inbound] == baseline_cell{500.0, "500"});
  CHECK(web.count == std::optional<std::uint64_t>(10));
  CHECK(web.last_seen == std::optional<std::int64_t>(t0 + 20));

  const auto& db = table.rows()[1].entry;
  CHECK(db.avg[outbound] == baseline_cell{50.0, "50"});
  CHECK(db.stdev[outbound] == baseline_cell{0.0, "0"});
  CHECK(db.avg[inbound] == baseline_cell{std::nullopt, ""});
  CHECK(db.stdev[inbound] == baseline_cell{std::nullopt, ""});
  CHECK(db.count == std::optional<std::uint64_t>(4));
  CHECK(db.last_seen == std::optional<std::int64_t>(t0 + 30));

  const auto& dev = table.rows()[0].entry;
  CHECK(dev == baseline_entry<2>{{baseline_cell{20.0, "20"}, baseline_cell{10.0, "10"}},
                                 {baseline_cell{0.0, "0"}, baseline_cell{0.0, "0"}},
                                 2,
                                 t0});

  CHECK(result.stats.points_in == 20);
  CHECK(result.stats.missing_dimension == 1);
  CHECK(result.stats.non_finite == 1);
  CHECK(result.stats.aggregated == 18);
  CHECK(result.stats.late == 0);
}

TEST_CASE("E2E golden multi-pod case: detection against the trained baseline") {
  // With the baseline above (web: out 1000 ± 100, in 2000 ± 500; db-0: out 50 ± 0):
  //   A (node-1): transmit 1500 in buckets 0–2 (z = 5.00), 1450.25 in 3–5 (z = 4.5025 → 4.50);
  //     receive 2100 < 4000: not anomalous. 6 buckets, two distinct texts, "4.50" < "5.00".
  //   B (node-2): transmit 1600 (z = 6.00) and receive 4500 (> 4000, z = 5.00) in 6 buckets:
  //     one text, inbound first (D6.1).
  //   C (node-1): transmit 2000 in 5 buckets only: count 5, no finding (D7.2).
  //   db-0: transmit 60 > 50 + 4·0 with stdev 0: the row is null (D6.4), no finding.
  //   dev web: 10 is not > 10 + 0. cache-0: no baseline row (D5.2).
  const auto table = k8snetio::build_network_io_baseline(golden_training_points()).table;
  const auto points = golden_detection_points();
  const std::vector<finding> expected{
      golden_finding("node-1", web_a, "web", {web_a_450, web_a_5}),
      golden_finding("node-2", web_b, "web", {web_b_both}),
  };
  const auto result = k8snetio::detect_anomalous_network_io(points, table);
  CHECK(result.findings == expected);
  CHECK(literal_pipeline(points, table) == expected);
  CHECK(result.stats.points_in == points.size());
  CHECK(result.stats.dropped() == 0);

  // D6.4's option: db-0 is kept with "inf" and sorts after the web pods (node-3).
  detection_options print_inf;
  print_inf.scoring.zero_stdev = k8snetio::zero_stdev_policy::print_inf;
  auto with_inf = expected;
  with_inf.push_back(golden_finding("node-3", "db-0", "db-0", {db_inf}));
  CHECK(k8snetio::detect_anomalous_network_io(points, table, print_inf).findings == with_inf);

  // D7.2's threshold: with min_count 4, C's five buckets make a finding too.
  detection_options four;
  four.min_count = 4;
  const auto more = k8snetio::detect_anomalous_network_io(points, table, four).findings;
  REQUIRE(more.size() == 3);
  CHECK(more[1].pod == web_c);
  CHECK(more[1].count == 5);
  CHECK(
      more[1].anomalies ==
      std::vector<std::string>{
          "outbound_network_io higher than average by 10.00 Standard Deviations. "
          "outbound_network_io=2000 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100"});

  // D8: the filter macro as a predicate.
  detection_options filtered;
  filtered.filter = [](const finding& f) { return f.host != "node-1"; };
  const auto kept = k8snetio::detect_anomalous_network_io(points, table, filtered).findings;
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].host == "node-2");
}

TEST_CASE("D9 window_seconds 3600 splits the input into epoch-aligned windows") {
  // 1700002800 is a multiple of 3600. Anomalous buckets 1700002740 … 1700002850: six in the
  // window [1699999200, 1700002800) and six in [1700002800, 1700006400).
  std::vector<metric_point> points;
  for (int i = 0; i < 12; ++i) {
    const double t = 1700002740.0 + 10.0 * i;
    points.push_back(point(t + 1, 1500, checkout_pod, "transmit"));
    points.push_back(point(t + 2, 2100, checkout_pod, "receive"));
  }
  const auto table = worked_example_table();

  const auto whole = k8snetio::detect_anomalous_network_io(points, table).findings;
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].count == 12);
  CHECK(whole[0].window_start == 1700002740);
  CHECK(whole[0].window_end == 1700002860);

  detection_options hourly;
  hourly.window_seconds = 3600;
  const auto windows = k8snetio::detect_anomalous_network_io(points, table, hourly).findings;
  REQUIRE(windows.size() == 2);
  CHECK(windows[0].count == 6);
  CHECK(windows[0].window_start == 1699999200);
  CHECK(windows[0].window_end == 1700002800);
  CHECK(windows[1].count == 6);
  CHECK(windows[1].window_start == 1700002800);
  CHECK(windows[1].window_end == 1700006400);
  CHECK(windows[0].anomalies == std::vector<std::string>{std::string(worked_example_text)});

  // Five buckets on one side and seven on the other: only the second window has a finding.
  std::vector<metric_point> shifted;
  for (const auto& p : points) shifted.push_back(point(p.time + 10, p.value, p.pod, p.direction));
  const auto split = k8snetio::detect_anomalous_network_io(shifted, table, hourly).findings;
  REQUIRE(split.size() == 1);
  CHECK(split[0].count == 7);
  CHECK(split[0].window_start == 1700002800);
  CHECK(k8snetio::detect_anomalous_network_io(shifted, table).findings.at(0).count == 12);

  detection_options odd;
  odd.window_seconds = 3605;  // not a multiple of the 10 s span
  CHECK_THROWS_AS(k8snetio::detect_anomalous_network_io(points, table, odd), std::invalid_argument);
}

TEST_CASE("E2E property: shuffling the input points gives identical findings") {
  const auto table = generated_table();
  const auto points = generated_detection_points();
  const auto reference = k8snetio::detect_anomalous_network_io(points, table).findings;
  REQUIRE(reference.size() == 2);  // prod's spiking pods: not vacuous
  CHECK(reference[0].pod == gen_pods[0]);
  CHECK(reference[0].count == 20);
  CHECK(reference[1].pod == gen_pods[3]);

  const auto golden = golden_detection_points();
  const auto golden_table = k8snetio::build_network_io_baseline(golden_training_points()).table;
  const auto golden_reference =
      k8snetio::detect_anomalous_network_io(golden, golden_table).findings;
  for (std::uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    INFO("seed " << seed);
    auto shuffled = points;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(seed));
    CHECK(k8snetio::detect_anomalous_network_io(shuffled, table).findings == reference);
    auto golden_shuffled = golden;
    std::shuffle(golden_shuffled.begin(), golden_shuffled.end(), std::mt19937(seed));
    CHECK(k8snetio::detect_anomalous_network_io(golden_shuffled, golden_table).findings ==
          golden_reference);
  }
}

TEST_CASE("E2E property: shuffling the training points gives identical baseline tables") {
  k8snetio::baseline_run_options any_order;
  any_order.span.allowed_lateness = std::nullopt;
  const auto points = generated_points(t0, 150, 3);
  const auto reference = k8snetio::build_network_io_baseline(points, any_order);
  REQUIRE(reference.table.size() == 8);  // {prod, dev} × {api, db-0, kube-proxy, web-0}
  // Time-ordered, the streaming default gives the same table.
  CHECK(k8snetio::build_network_io_baseline(points).table.rows() == reference.table.rows());
  for (std::uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    INFO("seed " << seed);
    auto shuffled = points;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(seed));
    const auto result = k8snetio::build_network_io_baseline(shuffled, any_order);
    CHECK(result.table.rows() == reference.table.rows());
    CHECK(result.stats.aggregated == reference.stats.aggregated);
    CHECK(result.stats.late == 0);
  }
}

TEST_CASE("E2E property: many small batches through the detector push API equal one call") {
  const auto table = generated_table();
  const auto points = generated_detection_points();
  const auto one_call = k8snetio::detect_anomalous_network_io(points, table);
  REQUIRE_FALSE(one_call.findings.empty());
  for (std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
    INFO("batch " << batch);
    k8snetio::detector<2, baseline_table<2>> d(k8snetio::anomalous_network_io, table, {});
    for (std::size_t start = 0; start < points.size(); start += batch) {
      const std::size_t end = std::min(points.size(), start + batch);
      for (std::size_t i = start; i < end; ++i) d.add(points[i]);
      CHECK(d.stats().points_in == end);
    }
    const auto pushed = d.finish();
    CHECK(pushed.findings == one_call.findings);
    CHECK(pushed.stats.aggregated == one_call.stats.aggregated);
    CHECK(pushed.stats.rows_out == one_call.stats.rows_out);
  }
}

TEST_CASE("E2E property: many small batches through the baseline_runner push API equal one call") {
  const auto points = generated_points(t0, 150, 4);
  const auto one_call = k8snetio::build_network_io_baseline(points);
  const auto piped = points | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
                     k8snetio::build_baseline(k8snetio::anomalous_network_io);
  CHECK(piped.rows() == one_call.table.rows());
  for (std::size_t batch : {std::size_t{1}, std::size_t{13}, std::size_t{100}}) {
    INFO("batch " << batch);
    k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io);
    std::size_t most_open = 0;
    for (std::size_t start = 0; start < points.size(); start += batch) {
      for (std::size_t i = start; i < std::min(points.size(), start + batch); ++i)
        runner.add(points[i]);
      most_open = std::max(most_open, runner.open_groups());
    }
    CHECK(most_open <= 20);  // one bucket's series: 2 clusters × 5 pods × 2 directions
    const auto pushed = runner.finish();
    CHECK(pushed.table.rows() == one_call.table.rows());
    CHECK(pushed.stats.aggregated == one_call.stats.aggregated);
    CHECK(pushed.stats.late == 0);
  }
}

TEST_CASE("E2E property: merging two time-split baseline_runner shards equals one run") {
  const auto points = generated_points(t0, 150, 5);
  const auto one_run = k8snetio::build_network_io_baseline(points);
  const double split = static_cast<double>(t0 + 10 * 70);  // a bucket boundary
  const auto first_half = [split](const metric_point& p) { return p.time < split; };

  SECTION("the later shard is merged as it is") {
    k8snetio::baseline_runner<2> early(k8snetio::anomalous_network_io);
    k8snetio::baseline_runner<2> late(k8snetio::anomalous_network_io);
    for (const auto& p : points) (first_half(p) ? early : late).add(p);
    early.merge(std::move(late));
    const auto merged = early.finish();
    REQUIRE(merged.table.size() == one_run.table.size());
    for (std::size_t i = 0; i < merged.table.size(); ++i) {
      INFO("key " << one_run.table.rows()[i].key);
      CHECK(merged.table.rows()[i].entry.count.value_or(0) ==
            one_run.table.rows()[i].entry.count.value_or(0));
      CHECK(merged.table.rows()[i].entry.last_seen.value_or(0) ==
            one_run.table.rows()[i].entry.last_seen.value_or(0));
    }
    CHECK(merged.table.rows() == one_run.table.rows());
  }
  SECTION("both shards finished before the merge") {
    k8snetio::baseline_runner<2> early(k8snetio::anomalous_network_io);
    k8snetio::baseline_runner<2> late(k8snetio::anomalous_network_io);
    for (const auto& p : points) (first_half(p) ? early : late).add(p);
    (void)early.finish();
    (void)late.finish();
    early.merge(std::move(late));
    CHECK(early.finish().table.rows() == one_run.table.rows());
  }
}

// ---- The library surface: rules held by value, rule-first adaptors that compose ---------------

namespace {

/// A one-measure rule made from strings that die when it returns: the rule owns its texts.
k8snetio::rule_definition<1> rule_from_config(const std::string& name) {
  const std::string measure = "egress_network_io", infix = " higher than average by ";
  const std::string id = "config-" + name, prefix = "Egress from container on host ";
  const k8snetio::measure_set<1> measures{{measure}, infix, {0}};
  const k8snetio::rule_metadata metadata{name, id, "T1048", "system", 30, prefix};
  return k8snetio::rule_definition<1>(measures, metadata, [](std::string_view direction) {
    return direction == "transmit" ? std::optional<std::size_t>(0) : std::nullopt;
  });
}

/// What SPL returns of a finding, window aside (the pipeline's window spans the anomalous
/// buckets, the one-call form's the input).
std::vector<std::string> found(const std::vector<finding>& findings) {
  std::vector<std::string> out;
  for (const finding& f : findings) {
    std::string s = f.cluster + "|" + f.host + "|" + f.pod + "|" + f.service + "|" +
                    std::to_string(f.count) + "|" + std::string(f.rule->name);
    for (const std::string& a : f.anomalies) s += "|" + a;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

TEST_CASE("S2 a rule made from strings that die owns its texts; its findings outlive it") {
  const auto training = generated_points(t0 - 3000, 200, 1);
  const auto hour = generated_detection_points();
  std::vector<finding> one_call, piped;
  {
    const auto rule = rule_from_config(std::string("Egress rule loaded from configuration"));
    const auto baseline = k8snetio::build_baseline(rule, training);
    REQUIRE(baseline.table.measures().names[0] == "egress_network_io");
    one_call = k8snetio::detect(rule, hour, baseline.table).findings;
    piped = hour | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
            k8snetio::pivot_direction(rule) | k8snetio::lookup_baseline(baseline.table) |
            k8snetio::score_sigma(rule) | k8snetio::persist_over(rule, 5);
  }                               // the rule, its table and every string it was made from are gone
  REQUIRE(one_call.size() == 2);  // pods 0 and 3 of prod spike their transmit
  CHECK(found(piped) == found(one_call));
  for (const finding& f : one_call) {
    REQUIRE(f.rule != nullptr);
    CHECK(f.rule->name == "Egress rule loaded from configuration");
    CHECK(f.rule->id == "config-Egress rule loaded from configuration");
    CHECK(f.risk_message() == "Egress from container on host " + f.host);
    REQUIRE(!f.anomalies.empty());
    CHECK(f.anomalies[0].starts_with("egress_network_io higher than average by "));
  }
}

TEST_CASE("S2 rule-first adaptors give the one-call findings, for both rules") {
  const auto training = generated_points(t0 - 3000, 200, 1);
  const auto hour = generated_detection_points();
  for (const auto* rule : {&k8snetio::anomalous_network_io, &k8snetio::network_io_ratio}) {
    INFO(rule->metadata->name);
    const auto table = k8snetio::build_baseline(*rule, training).table;
    const auto expected = k8snetio::detect(*rule, hour, table).findings;
    REQUIRE(!expected.empty());
    const auto piped = hour | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
                       k8snetio::pivot_direction(*rule) | k8snetio::lookup_baseline(table) |
                       k8snetio::score_sigma(*rule) | k8snetio::persist_over(*rule, 5);
    CHECK(found(piped) == found(expected));
  }
}

TEST_CASE("S2 adaptors compose before a range is given, with each other and range-v3's views") {
  const auto hour = generated_detection_points();
  const auto& rule = k8snetio::anomalous_network_io;
  const auto table = generated_table();
  const auto step_by_step = hour | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
                            k8snetio::pivot_direction(rule) | k8snetio::lookup_baseline(table) |
                            k8snetio::score_sigma(rule) | k8snetio::persist_over(rule, 5);
  REQUIRE(step_by_step.size() == 2);

  const auto d1_to_d3 =
      k8snetio::aggregate_spans() | k8snetio::normalize_service() | k8snetio::pivot_direction(rule);
  const auto d4_to_d8 = k8snetio::lookup_baseline(table) | k8snetio::score_sigma(rule) |
                        k8snetio::persist_over(rule, 5);
  CHECK((hour | d1_to_d3 | d4_to_d8) == step_by_step);
  CHECK((hour | (d1_to_d3 | d4_to_d8)) == step_by_step);

  // With range-v3's view closures, on either side: keep one cluster's rows, then count.
  const auto prod_only =
      ranges::views::filter([](const k8snetio::measure_row<2>& r) { return r.cluster == "prod"; });
  const auto prod_rows = d1_to_d3 | prod_only;
  std::size_t prod = 0, all = 0;
  for (const auto& r : hour | prod_rows) prod += r.cluster == "prod" ? 1 : 100000;
  for (const auto& r : hour | d1_to_d3) all += r.cluster == "prod" ? 1 : 0;
  CHECK(prod == all);
  CHECK(prod > 0);
  const auto first_rows = ranges::views::take(30) | k8snetio::aggregate_spans();
  std::size_t n = 0;
  for (const auto& r : hour | first_rows) n += r.time >= t1 ? 1 : 0;
  CHECK(n > 0);
  CHECK(n < 30);  // 30 points make fewer D1 rows
}

TEST_CASE("B1 R5 build_baseline(rule) as a pipe equals the engine's table, for both rules") {
  const auto points = generated_points(t0, 150, 4);
  for (const auto* rule : {&k8snetio::anomalous_network_io, &k8snetio::network_io_ratio}) {
    INFO(rule->metadata->name);
    const auto engine = k8snetio::build_baseline(*rule, points).table;
    const auto piped = points | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
                       k8snetio::build_baseline(*rule);
    REQUIRE(engine.size() > 0);
    REQUIRE(piped.size() == engine.size());
    CHECK(piped.measures() == engine.measures());
    for (std::size_t i = 0; i < engine.size(); ++i) {
      const auto& a = piped.rows()[i];
      const auto& b = engine.rows()[i];
      CHECK(a.key == b.key);
      CHECK(a.entry.count == b.entry.count);
      CHECK(a.entry.last_seen == b.entry.last_seen);
      for (std::size_t m = 0; m < 2; ++m)
        for (const auto& [x, y] : {std::pair{a.entry.avg[m], b.entry.avg[m]},
                                   std::pair{a.entry.stdev[m], b.entry.stdev[m]}}) {
          REQUIRE(x.value.has_value() == y.value.has_value());
          if (x.value)
            CHECK(std::abs(*x.value - *y.value) <= 1e-12 * std::max(1.0, std::abs(*y.value)));
        }
    }
  }
}

TEST_CASE("D2.4 make_detector and make_baseline_runner report a bad pattern as a result") {
  const auto table = generated_table();
  detection_options bad;
  bad.service_pattern = "-(\\w{5}$";
  const auto d = k8snetio::make_detector(k8snetio::anomalous_network_io, table, bad);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == k8snetio::error_code::bad_rule);
  CHECK_THAT(d.error().what(),
             Catch::Contains("invalid service pattern") && Catch::Contains("-(\\w{5}$"));
  k8snetio::baseline_run_options bad_run;
  bad_run.service_pattern = bad.service_pattern;
  const auto r = k8snetio::make_baseline_runner(k8snetio::anomalous_network_io, bad_run);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == k8snetio::error_code::bad_rule);
  CHECK_THAT(r.error().what(), Catch::Contains("invalid service pattern"));

  detection_options uneven;
  uneven.window_seconds = 15;  // not a multiple of the 10-second span
  const auto w = k8snetio::make_detector(k8snetio::anomalous_network_io, table, uneven);
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().code == k8snetio::error_code::bad_rule);
  CHECK_THAT(w.error().what(), Catch::Contains("window_seconds"));

  detection_options good;
  good.service_pattern = "-[abcdef0-9]{8,10}-\\w{5}$|-\\w{5}$";  // D2.1's, in PCRE2
  auto ok = k8snetio::make_detector(k8snetio::anomalous_network_io, table, good);
  REQUIRE(ok.has_value());
  for (const metric_point& p : generated_detection_points()) ok->add(p);
  ok->end_of_input();
  CHECK(ok->finish().findings.size() == 2);
}

TEST_CASE("S2 a measure set that could not read its own table back is refused") {
  using k8snetio::measure_set;
  const measure_set<2> twice{{"a", "a"}, " higher than average by ", {0, 1}};
  const measure_set<2> not_a_permutation{{"a", "b"}, " higher than average by ", {1, 1}};
  const measure_set<1> empty_name{{""}, " higher than average by ", {0}};
  const auto of = [](std::string_view) { return std::optional<std::size_t>(0); };
  CHECK_THROWS_WITH(k8snetio::rule_definition<2>(twice, k8snetio::anomalous_network_io_rule, of),
                    Catch::Contains("\"a\" is given twice"));
  CHECK_THROWS_WITH(
      k8snetio::rule_definition<2>(not_a_permutation, k8snetio::anomalous_network_io_rule, of),
      Catch::Contains("column_order is not a permutation"));
  CHECK_THROWS_WITH(
      k8snetio::rule_definition<1>(empty_name, k8snetio::anomalous_network_io_rule, of),
      Catch::Contains("empty name"));
  CHECK_THROWS_WITH(k8snetio::rule_definition<1>(measure_set<1>{{"x"}, "", {0}},
                                                 k8snetio::anomalous_network_io_rule, nullptr),
                    Catch::Contains("measure_of"));
}

TEST_CASE("S2 lookup_baseline shares a table given by shared_ptr") {
  const auto hour = generated_detection_points();
  const auto& rule = k8snetio::anomalous_network_io;
  auto table = std::make_shared<baseline_table<2>>(generated_table());
  const std::weak_ptr<baseline_table<2>> watch = table;
  const auto lookup = k8snetio::lookup_baseline(table);
  table.reset();
  REQUIRE_FALSE(watch.expired());  // the adaptor holds it
  const auto findings = hour | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
                        k8snetio::pivot_direction(rule) | lookup | k8snetio::score_sigma(rule) |
                        k8snetio::persist_over(rule, 5);
  CHECK(findings.size() == 2);
}

}  // namespace test_end_to_end
