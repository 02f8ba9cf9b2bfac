// R1–R5 — the sibling rule "Kubernetes Anomalous Inbound to Outbound Network IO Ratio" and its
// baseline: the ratio step with SPL nulls, the lookup of the colon-named columns, the text and
// order of R3, persistence and metadata (R4), the per-service baseline pivot (R5) with its CSV,
// a hand-computed golden case end to end, and the proof that both rules run the same stages.
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/k8snetio.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace test_network_io_ratio {

using k8snetio::baseline_cell;
using k8snetio::baseline_entry;
using k8snetio::baseline_table;
using k8snetio::detection_options;
using k8snetio::finding;
using k8snetio::measure_order;
using k8snetio::measure_row;
using k8snetio::metric_point;
using k8snetio::network_io_ratio_measures;
using k8snetio::network_io_ratio_rule;
using k8snetio::scorer_options;
using k8snetio::spl_number;
using k8snetio::zero_stdev_policy;

namespace {

constexpr std::size_t inbound_to_outbound = 0;  // "inbound:outbound"
constexpr std::size_t outbound_to_inbound = 1;  // "outbound:inbound"
constexpr std::int64_t t0 = 1700000000;

constexpr std::string_view pod_a = "checkout-7d4b9c8f6d-aaaaa";  // service "checkout"
constexpr std::string_view pod_b = "checkout-7d4b9c8f6d-bbbbb";
constexpr std::string_view pod_c = "checkout-7d4b9c8f6d-ccccc";
constexpr std::string_view pod_d = "checkout-7d4b9c8f6d-ddddd";
constexpr std::string_view pod_e = "checkout-7d4b9c8f6d-eeeee";
constexpr std::string_view cart_pod = "cart-5d8f9c7b6a-abcde";  // service "cart"

constexpr std::string_view ratio_header =
    "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,"
    "count,last_seen";

metric_point point(double time, double value, std::string_view pod, std::string_view direction,
                   std::string_view node = "node-1", std::string_view cluster = "prod") {
  return metric_point{time, value, "k8s.pod.network.io", cluster, pod, node, direction};
}

/// One bucket of a pod: a receive point and a transmit point.
void add_bucket(std::vector<metric_point>& points, std::int64_t bucket, double receive,
                double transmit, std::string_view pod = pod_a, std::string_view node = "node-1",
                std::string_view cluster = "prod") {
  points.push_back(point(static_cast<double>(bucket) + 1, receive, pod, "receive", node, cluster));
  points.push_back(
      point(static_cast<double>(bucket) + 2, transmit, pod, "transmit", node, cluster));
}

/// A number as the text F1 gives it, or "null": exact (F1 reads back as the same double).
std::string show(spl_number v) { return v ? k8snetio::spl::format_number(*v) : "null"; }

std::string show(const baseline_cell& c) {
  return c.value ? "{" + show(c.value) + " '" + c.text + "'}" : "{null '" + c.text + "'}";
}

/// A ratio baseline row: avg and stdev of inbound:outbound, then of outbound:inbound.
baseline_entry<2> ratio_entry(spl_number avg_io, spl_number stdev_io, spl_number avg_oi,
                              spl_number stdev_oi) {
  baseline_entry<2> e;
  e.avg[inbound_to_outbound] = baseline_cell::from_number(avg_io);
  e.stdev[inbound_to_outbound] = baseline_cell::from_number(stdev_io);
  e.avg[outbound_to_inbound] = baseline_cell::from_number(avg_oi);
  e.stdev[outbound_to_inbound] = baseline_cell::from_number(stdev_oi);
  return e;
}

baseline_table<2> ratio_table(
    std::initializer_list<std::pair<std::string, baseline_entry<2>>> rows) {
  baseline_table<2> t(network_io_ratio_measures);
  for (const auto& [key, e] : rows) REQUIRE(t.insert(key, e));
  return t;
}

baseline_table<2> read_ratio_csv(std::string_view text) {
  auto r = k8snetio::io::read_baseline_csv<2>(text, "ratio.csv", network_io_ratio_measures);
  REQUIRE(r.has_value());
  return std::move(*r);
}

/// Every field of every finding, one line each, so that a mismatch shows what differs.
std::string render(const std::vector<finding>& findings) {
  std::string out;
  for (const finding& f : findings) {
    out += f.cluster + "|" + f.host + "|" + f.pod + "|" + f.service + "|" +
           std::to_string(f.count) + "|" + std::to_string(f.window_start) + "|" +
           std::to_string(f.window_end) + "|" + std::string(f.rule->name) + "|";
    for (const std::string& a : f.anomalies) out += "[" + a + "]";
    out += "\n";
  }
  return out;
}

/// The ratio rule through its anomalies alone: the kept rows' texts, in row order.
template <class Points>
std::vector<std::string> ratio_texts(const Points& points, const baseline_table<2>& table,
                                     scorer_options options = {}) {
  using namespace k8snetio;
  std::vector<std::string> out;
  for (const anomalous_row& r :
       points | aggregate_spans() | normalize_service() | pivot_direction(network_io_ratio) |
           lookup_baseline(table) |
           score_sigma<2>(options, network_io_ratio_measures, table.stdev_column_order()))
    out.push_back(r.anomalies);
  return out;
}

}  // namespace

// ---- R1: the ratio step ------------------------------------------------------------------------

TEST_CASE("R1 to_network_io_ratios replaces inbound and outbound by their two ratios") {
  measure_row<2> row{"prod", "node-1", pod_a, "checkout", t0, {300.0, 100.0}};
  k8snetio::to_network_io_ratios(row);
  CHECK(show(row.values[inbound_to_outbound]) == "3");  // 300 / 100, not the raw 300
  CHECK(show(row.values[outbound_to_inbound]) == "0.3333333333333333");  // 100 / 300
  CHECK(row.cluster == "prod");
  CHECK(row.node == "node-1");
  CHECK(row.pod == pod_a);
  CHECK(row.service == "checkout");
  CHECK(row.time == t0);

  measure_row<2> zero_receive{"prod", "node-1", pod_a, "checkout", t0, {0.0, 50.0}};
  k8snetio::to_network_io_ratios(zero_receive);
  CHECK(show(zero_receive.values[inbound_to_outbound]) == "0");
  CHECK(show(zero_receive.values[outbound_to_inbound]) == "null");  // 50 / 0 (N2)

  measure_row<2> transmit_only{"prod", "node-1", pod_a, "checkout", t0, {std::nullopt, 50.0}};
  k8snetio::to_network_io_ratios(transmit_only);
  CHECK(show(transmit_only.values[inbound_to_outbound]) == "null");
  CHECK(show(transmit_only.values[outbound_to_inbound]) == "null");
}

TEST_CASE(
    "R1 compute_ratios after D1-D3: hand-computed ratios, a missing side and a zero divisor") {
  using namespace k8snetio;
  const std::int64_t b = t0;
  std::vector<metric_point> points;
  // A: transmit 80 (eth0) and 120 (eth1) average to 100 (D1); receive 300.
  points.push_back(point(b + 1, 80, pod_a, "transmit"));
  points.push_back(point(b + 2, 120, pod_a, "transmit"));
  points.push_back(point(b + 3, 300, pod_a, "receive"));
  points.push_back(point(b + 1, 100, pod_b, "transmit"));  // B: transmit only
  add_bucket(points, b, 0, 50, pod_c);                     // C: receive io 0
  add_bucket(points, b, 50, 0, pod_d);                     // D: transmit io 0
  points.push_back(point(b + 4, 70, pod_e, "receive"));    // E: receive only

  std::map<std::string, std::pair<std::string, std::string>, std::less<>> pivoted, ratios;
  for (const measure_row<2>& r :
       points | aggregate_spans() | normalize_service() | pivot_direction(anomalous_network_io))
    pivoted[std::string(r.pod)] = {show(r.values[0]), show(r.values[1])};
  // The rule-first pivot applies the rule's step (R1): the same as the pivot, then the step.
  auto rows = points | aggregate_spans() | normalize_service() | pivot_direction(network_io_ratio);
  const auto stepped = points | aggregate_spans() | normalize_service() |
                       pivot_direction<2>(network_io_measure_of) | compute_ratios();
  CHECK(std::vector<measure_row<2>>(rows.begin(), rows.end()) ==
        std::vector<measure_row<2>>(stepped.begin(), stepped.end()));
  std::size_t n = 0;
  for (const measure_row<2>& r : rows) {
    ++n;
    CHECK(r.cluster == "prod");
    CHECK(r.node == "node-1");
    CHECK(r.service == "checkout");
    CHECK(r.time == b);
    ratios[std::string(r.pod)] = {show(r.values[inbound_to_outbound]),
                                  show(r.values[outbound_to_inbound])};
  }
  CHECK(n == 5);

  // Before: the raw measures {inbound_network_io, outbound_network_io}.
  CHECK(pivoted[std::string(pod_a)] == std::pair<std::string, std::string>{"300", "100"});
  // After: the same slots hold {inbound:outbound, outbound:inbound}.
  CHECK(ratios[std::string(pod_a)] ==
        std::pair<std::string, std::string>{"3", "0.3333333333333333"});
  CHECK(ratios[std::string(pod_b)] == std::pair<std::string, std::string>{"null", "null"});
  CHECK(ratios[std::string(pod_c)] == std::pair<std::string, std::string>{"0", "null"});
  CHECK(ratios[std::string(pod_d)] == std::pair<std::string, std::string>{"null", "0"});
  CHECK(ratios[std::string(pod_e)] == std::pair<std::string, std::string>{"null", "null"});
}

TEST_CASE("R1 a pod with only transmit io or a zero divisor is never anomalous on that ratio") {
  // Baseline thresholds near zero: any non-null ratio above 0.0004 would be anomalous.
  const auto table = ratio_table({{"prod:checkout", ratio_entry(0, 0.0001, 0, 0.0001)}});
  std::vector<metric_point> points;
  for (int i = 0; i < 6; ++i) {
    const std::int64_t b = t0 + 10 * i;
    points.push_back(point(static_cast<double>(b) + 1, 500, pod_b, "transmit"));  // no receive
    add_bucket(points, b, 0, 500, pod_c);  // receive io 0: outbound:inbound null, in:out 0
  }
  CHECK(ratio_texts(points, table).empty());
  CHECK(k8snetio::detect_network_io_ratio(points, table).findings.empty());
}

// ---- R2: the lookup ----------------------------------------------------------------------------

TEST_CASE("R2 the lookup gives avg and stdev of both ratio measures by key") {
  using namespace k8snetio;
  CHECK(network_io_ratio_measures.index_of("inbound:outbound") == inbound_to_outbound);
  CHECK(network_io_ratio_measures.index_of("outbound:inbound") == outbound_to_inbound);

  // Columns in another order than R5's, and an extra column: taken by header name.
  const auto table = read_ratio_csv(
      "stdev_outbound:inbound,key,avg_outbound:inbound,extra,stdev_inbound:outbound,"
      "avg_inbound:outbound\n"
      "0.1,prod:checkout,0.5,x,0.2,2\n"
      "0.04,dev:checkout,0.25,y,0.3,4\n");

  std::vector<metric_point> points;
  add_bucket(points, t0, 300, 100, pod_a);
  add_bucket(points, t0, 300, 100, pod_a, "node-1", "dev");
  add_bucket(points, t0, 300, 100, cart_pod);  // prod:cart is not in the table
  std::map<std::string, const baseline_entry<2>*, std::less<>> found;
  std::size_t n = 0;
  for (const looked_up_row<2>& r : points | aggregate_spans() | normalize_service() |
                                       pivot_direction(network_io_ratio) | lookup_baseline(table)) {
    ++n;
    found[make_key(r.row.cluster, r.row.service)] = r.baseline;
    CHECK(show(r.row.values[inbound_to_outbound]) == "3");
  }
  CHECK(n == 3);
  REQUIRE(found.size() == 3);
  CHECK(found["prod:cart"] == nullptr);
  REQUIRE(found["prod:checkout"] == table.find("prod:checkout"));
  REQUIRE(found["dev:checkout"] == table.find("dev:checkout"));
  const baseline_entry<2>& prod = *found["prod:checkout"];
  CHECK(show(prod.avg[inbound_to_outbound]) == "{2 '2'}");
  CHECK(show(prod.stdev[inbound_to_outbound]) == "{0.2 '0.2'}");
  CHECK(show(prod.avg[outbound_to_inbound]) == "{0.5 '0.5'}");
  CHECK(show(prod.stdev[outbound_to_inbound]) == "{0.1 '0.1'}");
  const baseline_entry<2>& dev = *found["dev:checkout"];
  CHECK(show(dev.avg[inbound_to_outbound]) == "{4 '4'}");
  CHECK(show(dev.stdev[inbound_to_outbound]) == "{0.3 '0.3'}");
  CHECK(show(dev.avg[outbound_to_inbound]) == "{0.25 '0.25'}");
  CHECK(show(dev.stdev[outbound_to_inbound]) == "{0.04 '0.04'}");
}

TEST_CASE(
    "R2 a ratio baseline row with an empty stdev cell: that measure is never anomalous (N1)") {
  const auto table = read_ratio_csv(std::string(ratio_header) +
                                    "\nprod:checkout,2,0.0001,,0.0001,10,1700000000\n");
  const baseline_entry<2>* e = table.find("prod:checkout");
  REQUIRE(e != nullptr);
  CHECK(show(e->stdev[inbound_to_outbound]) == "{null ''}");
  CHECK(show(e->stdev[outbound_to_inbound]) == "{0.0001 '0.0001'}");

  // inbound:outbound 1000 is far above avg 2, but its stdev is null: the comparison is false.
  // outbound:inbound 0.001 > 0.0001 + 4 * 0.0001: anomalous, z = 9. A null stdev read as 0
  // would drop the row (D6.4) or print "inf"; read as null it leaves the other measure alone.
  std::vector<metric_point> points;
  for (int i = 0; i < 6; ++i) add_bucket(points, t0 + 10 * i, 100000, 100, pod_a);
  const std::string text =
      "outbound:inbound ratio higher than average by 9.00 Standard Deviations. "
      "outbound:inbound=0.001 avg_outbound:inbound=0.0001 'stdev_outbound:inbound'=0.0001";
  for (auto policy : {zero_stdev_policy::drop_row, zero_stdev_policy::print_inf}) {
    scorer_options o;
    o.zero_stdev = policy;
    CHECK(ratio_texts(points, table, o) == std::vector<std::string>(6, text));
    detection_options d;
    d.scoring = o;
    const auto result = k8snetio::detect_network_io_ratio(points, table, d);
    CHECK(render(result.findings) ==
          "prod|node-1|" + std::string(pod_a) + "|checkout|6|1700000000|1700000060|" +
              std::string(network_io_ratio_rule.name) + "|[" + text + "]\n");
  }

  const k8snetio::sigma_anomaly_scorer<2> scorer(network_io_ratio_measures);
  CHECK_FALSE(scorer.exceeds(1e300, e->avg[inbound_to_outbound], e->stdev[inbound_to_outbound]));
}

// ---- R3: scoring and text ----------------------------------------------------------------------

TEST_CASE("R3 the ratio anomaly text byte for byte") {
  const auto table = ratio_table({{"prod:checkout", ratio_entry(2, 0.2, 0.5, 0.1)}});
  std::vector<metric_point> points;
  add_bucket(points, t0, 300, 100, pod_a);       // 3 > 2 + 4 * 0.2: z = 5
  add_bucket(points, t0 + 10, 400, 100, pod_a);  // 4: z = 10
  add_bucket(points, t0 + 20, 280, 100, pod_a);  // 2.8 is not > 2.8
  CHECK(ratio_texts(points, table) ==
        std::vector<std::string>{
            "inbound:outbound ratio higher than average by 5.00 Standard Deviations. "
            "inbound:outbound=3 avg_inbound:outbound=2 'stdev_inbound:outbound'=0.2",
            "inbound:outbound ratio higher than average by 10.00 Standard Deviations. "
            "inbound:outbound=4 avg_inbound:outbound=2 'stdev_inbound:outbound'=0.2"});
}

TEST_CASE("R3 inbound:outbound is visited before outbound:inbound, whatever the table's order") {
  // Both anomalous: inbound:outbound 1 > 0.5 + 4 * 0.1 (z 5); outbound:inbound 1 > 0.6 + 4 *
  // 0.05 (z 8). The table lists stdev_outbound:inbound first.
  const auto table = read_ratio_csv(
      "key,stdev_outbound:inbound,stdev_inbound:outbound,avg_outbound:inbound,"
      "avg_inbound:outbound\n"
      "prod:checkout,0.05,0.1,0.6,0.5\n");
  std::vector<metric_point> points;
  add_bucket(points, t0, 100, 100, pod_a);
  const std::string io_text =
      "inbound:outbound ratio higher than average by 5.00 Standard Deviations. "
      "inbound:outbound=1 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.1";
  const std::string oi_text =
      "outbound:inbound ratio higher than average by 8.00 Standard Deviations. "
      "outbound:inbound=1 avg_outbound:inbound=0.6 'stdev_outbound:inbound'=0.05";
  CHECK(ratio_texts(points, table) == std::vector<std::string>{io_text + ", " + oi_text});

  scorer_options by_table;
  by_table.order = measure_order::table;  // the D6.1 option: the table's stdev_* order
  CHECK(ratio_texts(points, table, by_table) == std::vector<std::string>{oi_text + ", " + io_text});
}

TEST_CASE("R3 a zero stdev drops the whole row by default, or prints inf when asked") {
  // inbound:outbound 3 > 2 with stdev 0; outbound:inbound 1/3 > 0.1 + 4 * 0.05 (z 4.67).
  const auto table = ratio_table({{"prod:checkout", ratio_entry(2, 0, 0.1, 0.05)}});
  std::vector<metric_point> points;
  for (int i = 0; i < 6; ++i) add_bucket(points, t0 + 10 * i, 300, 100, pod_a);

  CHECK(ratio_texts(points, table).empty());
  CHECK(k8snetio::detect_network_io_ratio(points, table).findings.empty());

  scorer_options inf;
  inf.zero_stdev = zero_stdev_policy::print_inf;
  const std::string text =
      "inbound:outbound ratio higher than average by inf Standard Deviations. "
      "inbound:outbound=3 avg_inbound:outbound=2 'stdev_inbound:outbound'=0, "
      "outbound:inbound ratio higher than average by 4.67 Standard Deviations. "
      "outbound:inbound=0.3333333333333333 avg_outbound:inbound=0.1 "
      "'stdev_outbound:inbound'=0.05";
  CHECK(ratio_texts(points, table, inf) == std::vector<std::string>(6, text));
  detection_options d;
  d.scoring = inf;
  const auto result = k8snetio::detect_network_io_ratio(points, table, d);
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].anomalies == std::vector<std::string>{text});
}

TEST_CASE("R3 baseline numbers are echoed as the cell's own text (F3)") {
  const auto table = read_ratio_csv(std::string(ratio_header) +
                                    "\nprod:checkout,2.00,0.50,0.200,1.0e-1,7,1700000000.5\n");
  std::vector<metric_point> points;
  add_bucket(points, t0, 300, 100, pod_a);
  CHECK(ratio_texts(points, table) ==
        std::vector<std::string>{
            "inbound:outbound ratio higher than average by 5.00 Standard Deviations. "
            "inbound:outbound=3 avg_inbound:outbound=2.00 'stdev_inbound:outbound'=0.200"});
  // outbound:inbound is echoed the same way when it is the anomalous one.
  std::vector<metric_point> sending;
  add_bucket(sending, t0, 100, 200, pod_a);  // 2 > 0.5 + 4 * 0.1: z 15
  CHECK(ratio_texts(sending, table) ==
        std::vector<std::string>{
            "outbound:inbound ratio higher than average by 15.00 Standard Deviations. "
            "outbound:inbound=2 avg_outbound:inbound=0.50 'stdev_outbound:inbound'=1.0e-1"});
}

// ---- R4: persistence, order and metadata -------------------------------------------------------

TEST_CASE("R4 more than 5 anomalous buckets make a finding with the ratio rule's metadata") {
  const auto table = ratio_table({{"prod:checkout", ratio_entry(2, 0.2, 0.5, 0.1)}});
  const std::string text =
      "inbound:outbound ratio higher than average by 5.00 Standard Deviations. "
      "inbound:outbound=3 avg_inbound:outbound=2 'stdev_inbound:outbound'=0.2";
  std::vector<metric_point> six, five;
  for (int i = 0; i < 6; ++i) add_bucket(six, t0 + 10 * i, 300, 100, pod_a);
  for (int i = 0; i < 5; ++i) add_bucket(five, t0 + 10 * i, 300, 100, pod_a);

  CHECK(k8snetio::detect_network_io_ratio(five, table).findings.empty());
  const auto result = k8snetio::detect_network_io_ratio(six, table);
  REQUIRE(result.findings.size() == 1);
  const finding& f = result.findings[0];
  CHECK(f.cluster == "prod");
  CHECK(f.host == "node-1");
  CHECK(f.pod == pod_a);
  CHECK(f.service == "checkout");
  CHECK(f.count == 6);
  CHECK(f.anomalies == std::vector<std::string>{text});
  CHECK(f.window_start == t0);
  CHECK(f.window_end == t0 + 60);
  CHECK(*f.rule == network_io_ratio_rule);
  CHECK(f.rule->name == "Kubernetes Anomalous Inbound to Outbound Network IO Ratio");
  CHECK(f.rule->id == "9d8f6e3f-39df-46d8-a9d4-96173edc501f");
  CHECK(f.rule->mitre_attack_id == "T1204");
  CHECK(f.rule->risk_object_type == "system");
  CHECK(f.rule->risk_score == 20);
  CHECK(f.risk_message() ==
        "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host node-1");

  detection_options stricter;
  stricter.min_count = 6;  // D7.2's threshold is configurable: 6 is not > 6
  CHECK(k8snetio::detect_network_io_ratio(six, table, stricter).findings.empty());
}

TEST_CASE("R4 findings sorted by cluster, node, pod, service and distinct texts in byte order") {
  const auto table = ratio_table({{"prod:checkout", ratio_entry(2, 0.2, 0.5, 0.1)},
                                  {"dev:checkout", ratio_entry(2, 0.2, 0.5, 0.1)}});
  std::vector<metric_point> points;
  for (int i = 0; i < 6; ++i) {
    const std::int64_t b = t0 + 10 * i;
    // Input order unlike the output order; "Node-3" sorts before "node-1" in byte order.
    add_bucket(points, b, 300, 100, pod_a, "node-2");
    add_bucket(points, b, 300, 100, "checkout-7d4b9c8f6d-zzzzz", "node-1");
    add_bucket(points, b, i < 3 ? 300 : 400, 100, "checkout-7d4b9c8f6d-mmmmm", "node-1");
    add_bucket(points, b, 300, 100, pod_b, "Node-3");
    add_bucket(points, b, 300, 100, pod_a, "node-9", "dev");
  }
  const std::string z5 =
      "[inbound:outbound ratio higher than average by 5.00 Standard Deviations. "
      "inbound:outbound=3 avg_inbound:outbound=2 'stdev_inbound:outbound'=0.2]";
  const std::string z10 =
      "[inbound:outbound ratio higher than average by 10.00 Standard Deviations. "
      "inbound:outbound=4 avg_inbound:outbound=2 'stdev_inbound:outbound'=0.2]";
  const std::string tail =
      "|checkout|6|1700000000|1700000060|" + std::string(network_io_ratio_rule.name) + "|";
  const auto result = k8snetio::detect_network_io_ratio(points, table);
  CHECK(render(result.findings) == "dev|node-9|checkout-7d4b9c8f6d-aaaaa" + tail + z5 + "\n" +
                                       "prod|Node-3|checkout-7d4b9c8f6d-bbbbb" + tail + z5 + "\n" +
                                       "prod|node-1|checkout-7d4b9c8f6d-mmmmm" + tail + z10 + z5 +
                                       "\n" + "prod|node-1|checkout-7d4b9c8f6d-zzzzz" + tail + z5 +
                                       "\n" + "prod|node-2|checkout-7d4b9c8f6d-aaaaa" + tail + z5 +
                                       "\n");
  for (const finding& f : result.findings) CHECK(*f.rule == network_io_ratio_rule);

  detection_options only_node_1;  // D8: the `…_filter` macro
  only_node_1.filter = [](const finding& f) { return f.host == "node-1"; };
  CHECK(render(k8snetio::detect_network_io_ratio(points, table, only_node_1).findings) ==
        "prod|node-1|checkout-7d4b9c8f6d-mmmmm" + tail + z10 + z5 + "\n" +
            "prod|node-1|checkout-7d4b9c8f6d-zzzzz" + tail + z5 + "\n");
}

// ---- R5: the baseline --------------------------------------------------------------------------

namespace {

/// Two pods of checkout (on two nodes) per bucket, one cart pod, one checkout pod in dev.
std::vector<metric_point> ratio_training_points() {
  std::vector<metric_point> p;
  // t0: A transmit 80, 120 (D1: 100), receive 300; B transmit 300, receive 100.
  //     outbound = mean(100, 300) = 200, inbound = mean(300, 100) = 200: ratios 1 and 1.
  p.push_back(point(t0 + 1, 80, pod_a, "transmit"));
  p.push_back(point(t0 + 2, 120, pod_a, "transmit"));
  p.push_back(point(t0 + 3, 300, pod_a, "receive"));
  p.push_back(point(t0 + 4, 300, pod_b, "transmit", "node-2"));
  p.push_back(point(t0 + 5, 100, pod_b, "receive", "node-2"));
  p.push_back(point(t0 + 6, 40, cart_pod, "receive"));  // prod:cart: ratios 4 and 0.25
  p.push_back(point(t0 + 7, 10, cart_pod, "transmit"));
  // t0+10: A 100 / 500, B 100 / 100 (transmit / receive): outbound 100, inbound 300: 3, 1/3.
  add_bucket(p, t0 + 10, 500, 100, pod_a);
  add_bucket(p, t0 + 10, 100, 100, pod_b, "node-2");
  p.push_back(point(t0 + 13, 50, pod_a, "transmit", "node-1", "dev"));  // dev: no receive
  // t0+20: transmit only (A 50, B 150): inbound null, both ratios null; the row still counts.
  p.push_back(point(t0 + 21, 50, pod_a, "transmit"));
  p.push_back(point(t0 + 22, 150, pod_b, "transmit", "node-2"));
  // t0+30: receive 0 on both: inbound:outbound 0 / 200 = 0, outbound:inbound 200 / 0 null.
  add_bucket(p, t0 + 30, 0, 200, pod_a);
  add_bucket(p, t0 + 30, 0, 200, pod_b, "node-2");
  return p;
}

// inbound:outbound over {1, 3, 0}: avg 4/3, sample stdev sqrt((10 - 4 * 4/3) / 2);
// outbound:inbound over {1, 1/3}: avg 2/3, stdev sqrt((1 + 1/9) - (4/3) * (2/3)).
constexpr std::string_view ratio_training_csv =
    "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,"
    "count,last_seen\n"
    "dev:checkout,,,,,1,1700000010\n"
    "prod:cart,4,0.25,0,0,1,1700000000\n"
    "prod:checkout,1.3333333333333333,0.6666666666666666,1.5275252316519468,0.4714045207910318,4,"
    "1700000030\n";

}  // namespace

TEST_CASE("R5 the ratio baseline pivots per key and bucket across pods, then avg and stdev (B3)") {
  const auto result = k8snetio::build_network_io_ratio_baseline(ratio_training_points());
  const baseline_table<2>& t = result.table;
  REQUIRE(t.size() == 3);
  CHECK(t.measures() == network_io_ratio_measures);

  const baseline_entry<2>* checkout = t.find("prod:checkout");
  REQUIRE(checkout != nullptr);
  CHECK(show(checkout->avg[inbound_to_outbound].value) == "1.3333333333333333");
  CHECK(show(checkout->stdev[inbound_to_outbound].value) == "1.5275252316519468");
  CHECK(show(checkout->avg[outbound_to_inbound].value) == "0.6666666666666666");
  CHECK(show(checkout->stdev[outbound_to_inbound].value) == "0.4714045207910318");
  CHECK(checkout->count == std::optional<std::uint64_t>(4));  // (key, _time) rows, not pods
  CHECK(checkout->last_seen == std::optional<std::int64_t>(t0 + 30));

  const baseline_entry<2>* cart = t.find("prod:cart");
  REQUIRE(cart != nullptr);
  CHECK(show(cart->avg[inbound_to_outbound]) == "{4 '4'}");
  CHECK(show(cart->avg[outbound_to_inbound]) == "{0.25 '0.25'}");
  CHECK(show(cart->stdev[inbound_to_outbound]) == "{0 '0'}");  // B3: one value gives 0
  CHECK(show(cart->stdev[outbound_to_inbound]) == "{0 '0'}");
  CHECK(cart->count == std::optional<std::uint64_t>(1));
  CHECK(cart->last_seen == std::optional<std::int64_t>(t0));

  const baseline_entry<2>* dev = t.find("dev:checkout");
  REQUIRE(dev != nullptr);
  for (std::size_t m : {inbound_to_outbound, outbound_to_inbound}) {
    CHECK(show(dev->avg[m]) == "{null ''}");  // B3: no value gives null
    CHECK(show(dev->stdev[m]) == "{null ''}");
  }
  CHECK(dev->count == std::optional<std::uint64_t>(1));
  CHECK(dev->last_seen == std::optional<std::int64_t>(t0 + 10));
}

TEST_CASE("R5 the ratio baseline CSV has the exact header and reads back to an equal table") {
  const auto result = k8snetio::build_network_io_ratio_baseline(ratio_training_points());
  const std::string csv = k8snetio::io::write_baseline_csv(result.table);
  CHECK(csv.substr(0, csv.find('\n')) == ratio_header);
  CHECK(csv == ratio_training_csv);

  const auto back = read_ratio_csv(csv);
  CHECK(back.rows() == result.table.rows());
  CHECK(k8snetio::io::write_baseline_csv(back) == csv);
}

TEST_CASE("R5 the ratio baseline does not depend on lateness or input order") {
  const auto points = ratio_training_points();
  const std::string expected(ratio_training_csv);
  k8snetio::baseline_run_options any_order;
  any_order.span.allowed_lateness = std::nullopt;
  CHECK(k8snetio::io::write_baseline_csv(
            k8snetio::build_network_io_ratio_baseline(points, any_order).table) == expected);
  auto reversed = points;
  std::reverse(reversed.begin(), reversed.end());
  CHECK(k8snetio::io::write_baseline_csv(
            k8snetio::build_network_io_ratio_baseline(reversed, any_order).table) == expected);
}

TEST_CASE("R5 golden case end to end: training, ratio baseline, detection, one finding") {
  // Training, two buckets of two pods of checkout (transmit / receive):
  //   b1: A 100 / 100, B 100 / 100 -> outbound 100, inbound 100 -> ratios 1, 1
  //   b2: A 100 / 500, B 100 / 100 -> outbound 100, inbound 300 -> ratios 3, 1/3
  // inbound:outbound: avg 2, stdev sqrt((1 + 9 - 4 * 2) / 1) = sqrt(2) = 1.4142135623730951.
  // (Per pod the ratios would be {1, 1, 5, 1}: avg 2 but stdev 2, and count 4.)
  const std::int64_t train = t0 - 86400;
  std::vector<metric_point> training;
  add_bucket(training, train, 100, 100, pod_a);
  add_bucket(training, train, 100, 100, pod_b, "node-2");
  add_bucket(training, train + 10, 500, 100, pod_a);
  add_bucket(training, train + 10, 100, 100, pod_b, "node-2");
  const auto baseline = k8snetio::build_network_io_ratio_baseline(training);
  const std::string csv = k8snetio::io::write_baseline_csv(baseline.table);
  CHECK(csv == std::string(ratio_header) +
                   "\nprod:checkout,2,0.6666666666666666,1.4142135623730951,0.4714045207910318,2,"
                   "1699913610\n");

  // Detection: A receives 1000, sends 100 (10 > 2 + 4 * 1.414…: z = 8 / sqrt(2) = 5.66) in six
  // buckets; B stays at 1 (not anomalous); outbound:inbound 0.1 is below its average.
  std::vector<metric_point> detection;
  for (int i = 0; i < 6; ++i) {
    add_bucket(detection, t0 + 10 * i, 1000, 100, pod_a);
    add_bucket(detection, t0 + 10 * i, 100, 100, pod_b, "node-2");
  }
  const std::string expected =
      "prod|node-1|checkout-7d4b9c8f6d-aaaaa|checkout|6|1700000000|1700000060|"
      "Kubernetes Anomalous Inbound to Outbound Network IO Ratio|"
      "[inbound:outbound ratio higher than average by 5.66 Standard Deviations. "
      "inbound:outbound=10 avg_inbound:outbound=2 'stdev_inbound:outbound'=1.4142135623730951]\n";
  const auto direct = k8snetio::detect_network_io_ratio(detection, baseline.table);
  CHECK(render(direct.findings) == expected);
  const auto via_csv = k8snetio::detect_network_io_ratio(detection, read_ratio_csv(csv));
  CHECK(render(via_csv.findings) == expected);
  CHECK(via_csv.findings == direct.findings);
  REQUIRE(direct.findings.size() == 1);
  CHECK(direct.findings[0].risk_message() ==
        "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host node-1");
}

// ---- Both rules are configurations of the same stages -----------------------------------------

TEST_CASE("R1 R3 R4 both rules are configurations of the same stages") {
  using namespace k8snetio;
  using mapping = std::optional<std::size_t> (*)(std::string_view);
  using step = void (*)(measure_row<2>&);
  CHECK(*network_io_ratio.measures == network_io_ratio_measures);
  CHECK(*network_io_ratio.metadata == network_io_ratio_rule);
  REQUIRE(network_io_ratio.measure_of.target<mapping>() != nullptr);  // the same D3
  CHECK(*network_io_ratio.measure_of.target<mapping>() == &network_io_measure_of);
  REQUIRE(network_io_ratio.derive.target<step>() != nullptr);
  CHECK(*network_io_ratio.derive.target<step>() == &to_network_io_ratios);
  CHECK(network_io_ratio.baseline_per_service);
  CHECK(*anomalous_network_io.measures == network_io_measures);
  CHECK(*anomalous_network_io.metadata == anomalous_network_io_rule);
  REQUIRE(anomalous_network_io.measure_of.target<mapping>() != nullptr);
  CHECK(*anomalous_network_io.measure_of.target<mapping>() == &network_io_measure_of);
  CHECK_FALSE(anomalous_network_io.derive);
  CHECK_FALSE(anomalous_network_io.baseline_per_service);

  baseline_table<2> main_table;  // spec §8
  {
    baseline_entry<2> e;
    e.avg[0] = baseline_cell::from_number(2000);
    e.stdev[0] = baseline_cell::from_number(500);
    e.avg[1] = baseline_cell::from_number(1000);
    e.stdev[1] = baseline_cell::from_number(100);
    REQUIRE(main_table.insert("prod:checkout", e));
  }
  const auto ratio = ratio_table({{"prod:checkout", ratio_entry(1, 0.05, 1, 0.5)}});

  // A quiet first bucket (1000 / 1000), then six buckets of spec §8: transmit 1400 and 1600,
  // receive 2100. A cart pod is anomalous for neither rule.
  std::vector<metric_point> points;
  add_bucket(points, t0, 1000, 1000, pod_a);
  for (int i = 1; i <= 6; ++i) {
    const double b = static_cast<double>(t0 + 10 * i);
    points.push_back(point(b + 1, 1400, pod_a, "transmit"));
    points.push_back(point(b + 2, 1600, pod_a, "transmit"));
    points.push_back(point(b + 3, 2100, pod_a, "receive"));
    points.push_back(point(b + 4, 5, cart_pod, "transmit"));
  }

  const auto main_result = detect_anomalous_network_io(points, main_table);
  const auto ratio_result = detect_network_io_ratio(points, ratio);
  const std::string head =
      "prod|node-1|checkout-7d4b9c8f6d-aaaaa|checkout|6|1700000000|1700000070|";
  CHECK(render(main_result.findings) ==
        head + "Kubernetes Anomalous Inbound Outbound Network IO|" +
            "[outbound_network_io higher than average by 5.00 Standard Deviations. "
            "outbound_network_io=1500 avg_outbound_network_io=1000 "
            "'stdev_outbound_network_io'=100]\n");
  // 2100 / 1500 = 1.4 > 1 + 4 * 0.05 (z 8); 1500 / 2100 is below 1 + 4 * 0.5.
  CHECK(render(ratio_result.findings) ==
        head + "Kubernetes Anomalous Inbound to Outbound Network IO Ratio|" +
            "[inbound:outbound ratio higher than average by 8.00 Standard Deviations. "
            "inbound:outbound=1.4 avg_inbound:outbound=1 'stdev_inbound:outbound'=0.05]\n");
  CHECK(main_result.stats.rows_out == ratio_result.stats.rows_out);  // the same D1

  // The literal pipelines: the ratio rule is the main rule's plus compute_ratios(), its
  // measure set and its metadata. The window is the detector's: first bucket to last + 10.
  scorer_options opts;
  const std::vector<finding> ratio_pipeline =
      points | aggregate_spans() | normalize_service() | pivot_direction<2>(network_io_measure_of) |
      compute_ratios() | lookup_baseline(ratio) | score_sigma(opts, network_io_ratio_measures) |
      persist_over({.min_count = 5,
                    .rule = network_io_ratio.metadata,
                    .window_start = t0,
                    .window_end = t0 + 70});
  CHECK(render(ratio_pipeline) == render(ratio_result.findings));
  CHECK(ratio_pipeline == ratio_result.findings);

  const std::vector<finding> main_pipeline =
      points | aggregate_spans() | normalize_service() | pivot_direction(anomalous_network_io) |
      lookup_baseline(main_table) | score_sigma(opts, network_io_measures) |
      persist_over({.min_count = 5,
                    .rule = anomalous_network_io.metadata,
                    .window_start = t0,
                    .window_end = t0 + 70});
  CHECK(render(main_pipeline) == render(main_result.findings));
  CHECK(main_pipeline == main_result.findings);
}

}  // namespace test_network_io_ratio
