// B1–B6 — BaselineBuilder (`stats avg(…) stdev(…) count latest(_time) as last_seen by key`):
// Splunk's published test vectors to the last digit, the stable option, shard merging, and the
// table's rows, order and text.
#include <k8snetio/k8snetio.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_baseline_builder {

using k8snetio::baseline_builder;
using k8snetio::baseline_cell;
using k8snetio::baseline_numerics;
using k8snetio::baseline_options;
using k8snetio::baseline_table;
using k8snetio::metric_point;
using k8snetio::moments;
using k8snetio::service_row;
using k8snetio::spl_number;

namespace {

constexpr std::size_t inbound = 0;
constexpr std::size_t outbound = 1;
constexpr auto splunk = baseline_numerics::splunk;
constexpr auto stable = baseline_numerics::stable;

moments of(const std::vector<double>& xs, baseline_numerics method = splunk) {
  moments m;
  for (double x : xs) m.add(x, method);
  return m;
}

service_row srow(std::string_view direction, std::int64_t time, double io,
                 std::string_view service = "web", std::string_view cluster = "prod",
                 std::string_view pod = "web-0") {
  return service_row{{cluster, pod, "node-1", direction, time, io}, service};
}

baseline_table<2> table_of(const std::vector<service_row>& rows, baseline_options options = {}) {
  baseline_builder<2> b(k8snetio::network_io_measures, options);
  for (const auto& r : rows) b.add(r, k8snetio::network_io_measure_of);
  return b.table();
}

/// A deterministic, well-conditioned sample: values in [1000, 2000) with fractions.
std::vector<double> sample(std::size_t n, std::uint64_t seed) {
  std::vector<double> xs;
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    xs.push_back(1000.0 + static_cast<double>(state >> 11) / 9007199254740992.0 * 1000.0);
  }
  return xs;
}

bool relatively_close(double a, double b, double tolerance) {
  return std::abs(a - b) <= tolerance * std::max(std::abs(a), std::abs(b));
}

metric_point point(double time, double value, std::string_view pod, std::string_view direction,
                   std::string_view node = "node-1", std::string_view cluster = "prod") {
  return metric_point{time, value, "k8s.pod.network.io", cluster, pod, node, direction};
}

}  // namespace

TEST_CASE("B3 Splunk's vector: stdev of 65 42 40 31 47 53 64 is 12.615183595289349") {
  const moments m = of({65, 42, 40, 31, 47, 53, 64});
  REQUIRE(m.stdev(splunk).has_value());
  CHECK(*m.stdev(splunk) == 12.615183595289349);
  CHECK(k8snetio::spl::format_number(*m.stdev(splunk)) == "12.615183595289349");
  CHECK(m.count() == 7);

  // Through the builder: the table cell's text is that number in F1.
  std::vector<service_row> rows;
  std::int64_t t = 0;
  for (double x : {65, 42, 40, 31, 47, 53, 64}) rows.push_back(srow("receive", t += 10, x));
  const auto table = table_of(rows);
  const auto* e = table.find("prod:web");
  REQUIRE(e != nullptr);
  CHECK(e->stdev[inbound].text == "12.615183595289349");
  CHECK(e->stdev[inbound].value == spl_number(12.615183595289349));
}

TEST_CASE("B3 Splunk's vector: the average of 100 values of 3.99 is 3.9900000000000055") {
  const moments m = of(std::vector<double>(100, 3.99));
  REQUIRE(m.mean(splunk).has_value());
  CHECK(*m.mean(splunk) == 3.9900000000000055);
  CHECK(k8snetio::spl::format_number(*m.mean(splunk)) == "3.9900000000000055");

  std::vector<service_row> rows;
  for (int i = 0; i < 100; ++i) rows.push_back(srow("transmit", 10 * i, 3.99));
  const auto table = table_of(rows);
  REQUIRE(table.find("prod:web") != nullptr);
  CHECK(table.find("prod:web")->avg[outbound].text == "3.9900000000000055");
}

TEST_CASE("B3 Splunk's vector: the average of 10000 values of 3.99 is 3.990000000000215") {
  const moments m = of(std::vector<double>(10000, 3.99));
  REQUIRE(m.mean(splunk).has_value());
  CHECK(*m.mean(splunk) == 3.990000000000215);
  CHECK(k8snetio::spl::format_number(*m.mean(splunk)) == "3.990000000000215");
}

TEST_CASE("B3 exactly one value gives stdev 0 and none gives null") {
  const moments one = of({42.5});
  CHECK(one.mean(splunk) == spl_number(42.5));
  CHECK(one.stdev(splunk) == spl_number(0.0));
  CHECK(of({42.5}, stable).stdev(stable) == spl_number(0.0));
  const moments none;
  CHECK_FALSE(none.mean(splunk).has_value());
  CHECK_FALSE(none.stdev(splunk).has_value());
  CHECK_FALSE(none.stdev(stable).has_value());

  // In the table: transmit once, receive never.
  const auto table = table_of({srow("transmit", 0, 42.5)});
  const auto* e = table.find("prod:web");
  REQUIRE(e != nullptr);
  CHECK(e->avg[outbound] == baseline_cell{42.5, "42.5"});
  CHECK(e->stdev[outbound] == baseline_cell{0.0, "0"});
  CHECK(e->avg[inbound] == baseline_cell{std::nullopt, ""});
  CHECK(e->stdev[inbound] == baseline_cell{std::nullopt, ""});
}

TEST_CASE("B3 the sample variance divides by n - 1 and is clamped at 0") {
  // {10, 20, 30}: sum of squared deviations 200, / (3 - 1) = 100, stdev 10.
  CHECK(of({10, 20, 30}).stdev(splunk) == spl_number(10.0));
  CHECK(of({10, 20, 30}).mean(splunk) == spl_number(20.0));
  // Three 3.99s: sumsq - sum * mean is -7.1e-15 in double arithmetic; clamped, not NaN.
  CHECK(of({3.99, 3.99, 3.99}).stdev(splunk) == spl_number(0.0));
  CHECK(of({0.1, 0.1, 0.1}).stdev(splunk) == spl_number(0.0));
}

TEST_CASE("B3 plain sums in input order") {
  // 1e16 + 1 rounds back to 1e16: the order of the values shows in the mean.
  CHECK(of({1e16, 1, -1e16}).mean(splunk) == spl_number(0.0));
  CHECK(of({1e16, -1e16, 1}).mean(splunk) == spl_number(1.0 / 3.0));
  const auto table =
      table_of({srow("transmit", 0, 1e16), srow("transmit", 10, 1), srow("transmit", 20, -1e16)});
  REQUIRE(table.find("prod:web") != nullptr);
  CHECK(table.find("prod:web")->avg[outbound].text == "0");
}

TEST_CASE("B3 stable numerics agree with the default to 1e-9 relative on well-conditioned data") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const auto xs = sample(5000, seed);
    const moments a = of(xs, splunk), b = of(xs, stable);
    INFO("seed " << seed);
    CHECK(relatively_close(*a.mean(splunk), *b.mean(stable), 1e-9));
    CHECK(relatively_close(*a.stdev(splunk), *b.stdev(stable), 1e-9));
  }
  CHECK(relatively_close(*of({65, 42, 40, 31, 47, 53, 64}, stable).stdev(stable),
                         12.615183595289349, 1e-9));
  // And through the builder's option.
  std::vector<service_row> rows;
  const auto xs = sample(1000, 7);
  for (std::size_t i = 0; i < xs.size(); ++i)
    rows.push_back(srow(i % 2 ? "receive" : "transmit", static_cast<std::int64_t>(i), xs[i]));
  const auto plain = table_of(rows);
  const auto welford = table_of(rows, baseline_options{stable});
  const auto* p = plain.find("prod:web");
  const auto* w = welford.find("prod:web");
  REQUIRE(p != nullptr);
  REQUIRE(w != nullptr);
  for (std::size_t m = 0; m < 2; ++m) {
    CHECK(relatively_close(*p->avg[m].value, *w->avg[m].value, 1e-9));
    CHECK(relatively_close(*p->stdev[m].value, *w->stdev[m].value, 1e-9));
  }
  CHECK(p->count == w->count);
  CHECK(p->last_seen == w->last_seen);
}

TEST_CASE("B3 the stable option does not cancel on large tightly spread values") {
  // 1e9 + {0, 1, 2}: the sample stdev is exactly 1.
  const moments m = of({1e9, 1e9 + 1, 1e9 + 2}, stable);
  CHECK(m.mean(stable) == spl_number(1e9 + 1));
  CHECK(m.stdev(stable) == spl_number(1.0));
}

TEST_CASE("B3 merging in-order shards equals one pass in Splunk mode") {
  // Integer values: every partial sum is exact, so shard sums added equal the sequential sum.
  std::vector<double> xs;
  for (int i = 0; i < 1000; ++i) xs.push_back(static_cast<double>((i * 7919) % 1013));
  const moments whole = of(xs);
  for (std::size_t split :
       {std::size_t{0}, std::size_t{1}, std::size_t{500}, std::size_t{999}, std::size_t{1000}}) {
    moments first, second;
    for (std::size_t i = 0; i < xs.size(); ++i) (i < split ? first : second).add(xs[i], splunk);
    first.merge(second, splunk);
    INFO("split " << split);
    CHECK(first.count() == whole.count());
    CHECK(first.mean(splunk) == whole.mean(splunk));
    CHECK(first.stdev(splunk) == whole.stdev(splunk));
  }
  // The stable method merges with Chan's formula: equal to one pass within rounding.
  const auto ys = sample(2000, 11);
  const moments one_pass = of(ys, stable);
  moments a, b;
  for (std::size_t i = 0; i < ys.size(); ++i) (i < 700 ? a : b).add(ys[i], stable);
  a.merge(b, stable);
  CHECK(a.count() == 2000);
  CHECK(relatively_close(*a.mean(stable), *one_pass.mean(stable), 1e-12));
  CHECK(relatively_close(*a.stdev(stable), *one_pass.stdev(stable), 1e-12));
}

TEST_CASE("B3 baseline_builder merge adds shards: sums counts and last_seen") {
  std::vector<service_row> rows;
  for (int i = 0; i < 60; ++i) {
    rows.push_back(srow("transmit", 10 * i, i * 3, i % 3 ? "web" : "db"));
    rows.push_back(srow("receive", 10 * i, 1000 - i, i % 2 ? "web" : "cart"));
  }
  const auto whole = table_of(rows);
  baseline_builder<2> first(k8snetio::network_io_measures), second(k8snetio::network_io_measures);
  for (std::size_t i = 0; i < rows.size(); ++i)
    (i < 50 ? first : second).add(rows[i], k8snetio::network_io_measure_of);
  first.merge(second);
  const auto merged = first.table();
  CHECK(merged.rows() == whole.rows());
  REQUIRE(merged.find("prod:web") != nullptr);
  CHECK(merged.find("prod:web")->last_seen == std::optional<std::int64_t>(590));
}

TEST_CASE("B1 the baseline reads D1 rows per pod direction and bucket, not pivoted") {
  // Bucket 1700000000: pod A transmits 10 and 20 (D1: 15) and receives 30; pod B of the same
  // service transmits 40. Key prod:checkout: transmit {15, 40}, receive {30}, 3 rows.
  const std::vector<metric_point> points{
      point(1700000001, 10, "checkout-7d4b9c8f6d-x2k9p", "transmit"),
      point(1700000002, 20, "checkout-7d4b9c8f6d-x2k9p", "transmit"),
      point(1700000003, 30, "checkout-7d4b9c8f6d-x2k9p", "receive"),
      point(1700000004, 40, "checkout-7d4b9c8f6d-abcde", "transmit", "node-2"),
  };
  const auto check = [](const baseline_table<2>& table) {
    REQUIRE(table.size() == 1);
    CHECK(table.rows()[0].key == "prod:checkout");
    const auto& e = table.rows()[0].entry;
    // avg 27.5; var = (15² + 40² - 55 · 27.5) / 1 = 312.5.
    CHECK(e.avg[outbound] == baseline_cell{27.5, "27.5"});
    CHECK(e.stdev[outbound] == baseline_cell{17.67766952966369, "17.67766952966369"});
    CHECK(e.avg[inbound] == baseline_cell{30.0, "30"});
    CHECK(e.stdev[inbound] == baseline_cell{0.0, "0"});
    CHECK(e.count == std::optional<std::uint64_t>(3));
    CHECK(e.last_seen == std::optional<std::int64_t>(1700000000));
  };
  check(points | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
        k8snetio::build_baseline(k8snetio::anomalous_network_io));
  const auto result = k8snetio::build_network_io_baseline(points);
  check(result.table);
  CHECK(result.stats.points_in == 4);
  CHECK(result.stats.aggregated == 4);
}

TEST_CASE("B2 avg per direction over the key's rows and null when there are none") {
  const auto table = table_of({
      srow("transmit", 0, 100), srow("transmit", 10, 300),  // web: transmit only
      srow("receive", 0, 7, "db"), srow("receive", 10, 8, "db"),
      srow("Receive", 20, 1e9, "db"),  // not receive: counts in B4 only
  });
  const auto* web = table.find("prod:web");
  REQUIRE(web != nullptr);
  CHECK(web->avg[outbound].value == spl_number(200));
  CHECK_FALSE(web->avg[inbound].value.has_value());
  CHECK_FALSE(web->stdev[inbound].value.has_value());
  const auto* db = table.find("prod:db");
  REQUIRE(db != nullptr);
  CHECK(db->avg[inbound].value == spl_number(7.5));
  CHECK_FALSE(db->avg[outbound].value.has_value());
  CHECK(db->count == std::optional<std::uint64_t>(3));
}

TEST_CASE("B4 count is the number of D1 rows for the key with all directions") {
  const auto table = table_of({
      srow("transmit", 0, 1), srow("receive", 0, 1), srow("unknown", 0, 1),
      srow("transmit", 10, 1, "web", "prod", "web-1"),  // another pod of the service
      srow("transmit", 10, 1, "web", "dev"),            // another cluster: another key
  });
  REQUIRE(table.find("prod:web") != nullptr);
  CHECK(table.find("prod:web")->count == std::optional<std::uint64_t>(4));
  REQUIRE(table.find("dev:web") != nullptr);
  CHECK(table.find("dev:web")->count == std::optional<std::uint64_t>(1));
}

TEST_CASE("B5 last_seen is the largest bucket start of the key's rows") {
  const auto table = table_of({srow("transmit", 1700000050, 1), srow("receive", 1700000090, 1),
                               srow("unknown", 1700000120, 1), srow("transmit", 1700000000, 1)});
  REQUIRE(table.find("prod:web") != nullptr);
  CHECK(table.find("prod:web")->last_seen == std::optional<std::int64_t>(1700000120));
}

TEST_CASE("B6 one row per key sorted by key in byte order") {
  const auto table = table_of({
      srow("transmit", 0, 1, "web", "prod"),
      srow("transmit", 0, 2, "web", "Prod"),
      srow("transmit", 0, 3, "api", "prod"),
      srow("transmit", 0, 4, "web", "dev"),
      srow("transmit", 10, 5, "web", "prod"),
      srow("transmit", 0, 6, "", "prod"),
  });
  REQUIRE(table.size() == 5);
  std::vector<std::string> keys;
  for (const auto& r : table.rows()) keys.push_back(r.key);
  CHECK(keys == std::vector<std::string>{"Prod:web", "dev:web", "prod:", "prod:api", "prod:web"});
  CHECK(table.rows()[4].entry.avg[outbound].text == "3");
}

TEST_CASE("B6 numbers as F1 text and null as an empty cell") {
  const auto table = table_of(
      {srow("transmit", 0, 0.1), srow("transmit", 10, 0.2), srow("transmit", 20, 1e16 * 3)});
  const auto* e = table.find("prod:web");
  REQUIRE(e != nullptr);
  CHECK(e->avg[outbound].text == k8snetio::spl::format_number(*e->avg[outbound].value));
  CHECK(e->avg[outbound].text == "1e+16");  // (0.1 + 0.2 + 3e16) / 3, exponent form
  CHECK(e->stdev[outbound].text == k8snetio::spl::format_number(*e->stdev[outbound].value));
  CHECK(e->avg[inbound].text.empty());
  CHECK_FALSE(e->avg[inbound].value.has_value());
  CHECK(e->count == std::optional<std::uint64_t>(3));
  CHECK(e->last_seen == std::optional<std::int64_t>(20));
}

TEST_CASE("B6 the table's measure columns: outbound before inbound") {
  // key,avg_outbound_network_io,avg_inbound_network_io,stdev_outbound_network_io,
  // stdev_inbound_network_io,count,last_seen
  CHECK(k8snetio::network_io_measures.column_order ==
        std::array<std::size_t, 2>{outbound, inbound});
  CHECK(k8snetio::network_io_measures.names[outbound] == "outbound_network_io");
  CHECK(k8snetio::network_io_measures.names[inbound] == "inbound_network_io");
  const auto table = table_of({srow("transmit", 0, 1)});
  CHECK(table.stdev_column_order() == std::array<std::size_t, 2>{outbound, inbound});
}

}  // namespace test_baseline_builder
