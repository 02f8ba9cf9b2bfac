// D6 — SigmaAnomalyScorer (`eval anomalies = "" | foreach stdev_* […] | eval replace(anomalies,
// ",\s$", "") | where anomalies != ""`): the condition, the text byte for byte, the visiting
// order, the zero-stdev quirk and its option, and the null rules N1–N4 and F1–F3 as they show
// in the text.
#include <k8snetio/k8snetio.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_sigma_anomaly_scorer {

using k8snetio::anomalous_row;
using k8snetio::baseline_cell;
using k8snetio::baseline_entry;
using k8snetio::baseline_table;
using k8snetio::measure_order;
using k8snetio::measure_row;
using k8snetio::scorer_options;
using k8snetio::sigma_anomaly_scorer;
using k8snetio::spl_number;
using k8snetio::zero_stdev_policy;

namespace {

constexpr std::size_t inbound = 0;
constexpr std::size_t outbound = 1;

baseline_cell cell(double v) { return baseline_cell::from_number(v); }
baseline_cell cell(double v, std::string text) { return baseline_cell{v, std::move(text)}; }
const baseline_cell null_cell{std::nullopt, ""};

/// The spec §8 baseline row prod:checkout.
baseline_entry<2> checkout_baseline() {
  baseline_entry<2> e;
  e.avg[inbound] = cell(2000);
  e.stdev[inbound] = cell(500);
  e.avg[outbound] = cell(1000);
  e.stdev[outbound] = cell(100);
  return e;
}

measure_row<2> row(spl_number in, spl_number out, std::int64_t time = 1700000000) {
  return measure_row<2>{"prod", "node-1", "checkout-7d4b9c8f6d-x2k9p", "checkout", time, {in, out}};
}

std::optional<std::string> describe(spl_number in, spl_number out,
                                    const baseline_entry<2>& base = checkout_baseline(),
                                    scorer_options options = {}) {
  const sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures, options);
  return scorer.describe(row(in, out), &base);
}

constexpr std::string_view worked_example_text =
    "outbound_network_io higher than average by 5.00 Standard Deviations. "
    "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100";

constexpr std::string_view inbound_5_text =
    "inbound_network_io higher than average by 5.00 Standard Deviations. "
    "inbound_network_io=4500 avg_inbound_network_io=2000 'stdev_inbound_network_io'=500";
constexpr std::string_view outbound_6_text =
    "outbound_network_io higher than average by 6.00 Standard Deviations. "
    "outbound_network_io=1600 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100";

std::string joined(std::string_view first, std::string_view second) {
  return std::string(first) + ", " + std::string(second);
}

/// Runs the adaptor over (row, baseline) pairs against a table holding prod:checkout.
std::vector<anomalous_row> score_all(const std::vector<measure_row<2>>& rows,
                                     const baseline_table<2>& table, scorer_options options = {},
                                     std::optional<std::array<std::size_t, 2>> order = {}) {
  std::vector<anomalous_row> out;
  for (auto&& r : rows | k8snetio::lookup_baseline(table) |
                      k8snetio::score_sigma(options, k8snetio::network_io_measures, order))
    out.push_back(r);
  return out;
}

baseline_table<2> table_with(const baseline_entry<2>& e) {
  baseline_table<2> t;
  t.insert("prod:checkout", e);
  return t;
}

}  // namespace

TEST_CASE("D6.3 the spec section 8 worked example text byte for byte") {
  const auto text = describe(2100, 1500);
  REQUIRE(text.has_value());
  CHECK(*text == worked_example_text);
}

TEST_CASE("D6.2 the condition is v > avg + sigma times stdev, strictly") {
  // Threshold 1000 + 4 * 100 = 1400.
  CHECK_FALSE(describe(std::nullopt, 1400).has_value());
  CHECK_FALSE(describe(std::nullopt, 1399).has_value());
  const double just_above = std::nextafter(1400.0, 2000.0);
  const auto text = describe(std::nullopt, just_above);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 4.00 Standard Deviations. "
        "outbound_network_io=1400.0000000000002 avg_outbound_network_io=1000 "
        "'stdev_outbound_network_io'=100");
  // Inbound: 2000 + 4 * 500 = 4000.
  CHECK_FALSE(describe(4000, std::nullopt).has_value());
  CHECK(describe(4001, std::nullopt).has_value());
}

TEST_CASE("D6.2 the sigma factor is configurable") {
  scorer_options two_sigma;
  two_sigma.sigma = 2;
  CHECK_FALSE(describe(std::nullopt, 1250).has_value());  // default: 1250 <= 1400
  const auto text = describe(std::nullopt, 1250, checkout_baseline(), two_sigma);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 2.50 Standard Deviations. "
        "outbound_network_io=1250 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100");
  CHECK_FALSE(describe(std::nullopt, 1200, checkout_baseline(), two_sigma).has_value());

  const sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures, two_sigma);
  CHECK(scorer.options().sigma == 2);
  CHECK(scorer.exceeds(1201, cell(1000), cell(100)));
  CHECK_FALSE(scorer.exceeds(1200, cell(1000), cell(100)));
}

TEST_CASE("D6.2 N1 a null value avg or stdev makes the comparison false") {
  const sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures);
  CHECK_FALSE(scorer.exceeds(std::nullopt, cell(0), cell(0)));
  CHECK_FALSE(scorer.exceeds(1e300, null_cell, cell(0)));
  CHECK_FALSE(scorer.exceeds(1e300, cell(0), null_cell));
  CHECK(scorer.exceeds(1e300, cell(0), cell(0)));

  baseline_entry<2> no_avg = checkout_baseline();
  no_avg.avg[outbound] = null_cell;
  CHECK_FALSE(describe(std::nullopt, 1e12, no_avg).has_value());
  baseline_entry<2> no_stdev = checkout_baseline();
  no_stdev.stdev[outbound] = null_cell;
  CHECK_FALSE(describe(std::nullopt, 1e12, no_stdev).has_value());
  // The other measure still counts on its own.
  const auto text = describe(4500, 1e12, no_stdev);
  REQUIRE(text.has_value());
  CHECK(*text == inbound_5_text);
}

TEST_CASE("D6.1 measures are visited in lexicographic order: inbound then outbound") {
  const auto text = describe(4500, 1600);
  REQUIRE(text.has_value());
  CHECK(*text == joined(inbound_5_text, outbound_6_text));
}

TEST_CASE("D6.1 lexicographic order is by field name, not by measure index") {
  // A rule whose first measure sorts last: foreach stdev_* visits alpha before zeta.
  static constexpr k8snetio::measure_set<2> zeta_alpha{
      {"zeta", "alpha"}, " higher than average by ", {0, 1}};
  baseline_entry<2> base;
  base.avg = {cell(0), cell(0)};
  base.stdev = {cell(1), cell(1)};
  const sigma_anomaly_scorer<2> scorer(zeta_alpha);
  const measure_row<2> r{"c", "n", "p", "s", 0, {5.0, 6.0}};
  const auto text = scorer.describe(r, &base);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "alpha higher than average by 6.00 Standard Deviations. alpha=6 avg_alpha=0 "
        "'stdev_alpha'=1, zeta higher than average by 5.00 Standard Deviations. zeta=5 "
        "avg_zeta=0 'stdev_zeta'=1");
}

TEST_CASE("D6.1 option: the table order set by set_stdev_column_order") {
  baseline_table<2> table = table_with(checkout_baseline());
  const std::vector<measure_row<2>> rows{row(4500, 1600)};
  scorer_options by_table;
  by_table.order = measure_order::table;

  table.set_stdev_column_order({outbound, inbound});
  auto out = score_all(rows, table, by_table, table.stdev_column_order());
  REQUIRE(out.size() == 1);
  CHECK(out[0].anomalies == joined(outbound_6_text, inbound_5_text));

  table.set_stdev_column_order({inbound, outbound});
  out = score_all(rows, table, by_table, table.stdev_column_order());
  REQUIRE(out.size() == 1);
  CHECK(out[0].anomalies == joined(inbound_5_text, outbound_6_text));

  // The default (lexicographic) ignores the table's order.
  table.set_stdev_column_order({outbound, inbound});
  out = score_all(rows, table, scorer_options{}, table.stdev_column_order());
  REQUIRE(out.size() == 1);
  CHECK(out[0].anomalies == joined(inbound_5_text, outbound_6_text));

  // The scorer object: use_table_order only acts under measure_order::table.
  sigma_anomaly_scorer<2> by_table_scorer(k8snetio::network_io_measures, by_table);
  by_table_scorer.use_table_order({outbound, inbound});
  const baseline_entry<2> base = checkout_baseline();
  CHECK(by_table_scorer.describe(rows[0], &base) == joined(outbound_6_text, inbound_5_text));
  sigma_anomaly_scorer<2> default_scorer(k8snetio::network_io_measures);
  default_scorer.use_table_order({outbound, inbound});
  CHECK(default_scorer.describe(rows[0], &base) == joined(inbound_5_text, outbound_6_text));
}

TEST_CASE("D6.3 the literal single quotes around stdev_m on the left of its =") {
  const auto text = describe(4500, 1600);
  REQUIRE(text.has_value());
  CHECK(text->find(" 'stdev_inbound_network_io'=500") != std::string::npos);
  CHECK(text->find(" 'stdev_outbound_network_io'=100") != std::string::npos);
  CHECK(text->find(" avg_outbound_network_io=1000 ") != std::string::npos);
  CHECK(text->find("'avg_") == std::string::npos);  // only stdev is quoted
}

TEST_CASE("D6.3 F1 prints the value and F2 the z-score") {
  // v = 1e16: F1 gives 1e+16; z = (1e16 - 1000) / 100 = 99999999999990 in fixed notation.
  auto text = describe(std::nullopt, 1e16);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 99999999999990.00 Standard Deviations. "
        "outbound_network_io=1e+16 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100");
  // v = 1500.25: z = 5.0025 → 5.00.
  text = describe(std::nullopt, 1500.25);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 5.00 Standard Deviations. "
        "outbound_network_io=1500.25 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100");
  // z = 4.125 exactly: half away from zero gives 4.13 (half to even would give 4.12).
  baseline_entry<2> unit;
  unit.avg = {cell(0), cell(0)};
  unit.stdev = {cell(1), cell(1)};
  text = describe(std::nullopt, 4.125, unit);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 4.13 Standard Deviations. "
        "outbound_network_io=4.125 avg_outbound_network_io=0 'stdev_outbound_network_io'=1");
  // z = 2.555 (sigma 2): scaling gives 2.56 where printing 2.555 to two places gives 2.55.
  scorer_options two_sigma;
  two_sigma.sigma = 2;
  text = describe(std::nullopt, 2.555, unit, two_sigma);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 2.56 Standard Deviations. "
        "outbound_network_io=2.555 avg_outbound_network_io=0 'stdev_outbound_network_io'=1");
}

TEST_CASE("F3 a baseline cell is printed as its own text") {
  baseline_entry<2> base = checkout_baseline();
  base.avg[outbound] = cell(1000.5, "1000.50");
  base.stdev[outbound] = cell(100, "100.0");
  base.avg[inbound] = cell(2000, "2.0E3");
  base.stdev[inbound] = cell(500, "500.000");
  const auto text = describe(4500, 1700.5, base);
  REQUIRE(text.has_value());
  // z = (1700.5 - 1000.5) / 100 = 7 from the numbers; the cells' texts printed unchanged.
  CHECK(*text ==
        "inbound_network_io higher than average by 5.00 Standard Deviations. "
        "inbound_network_io=4500 avg_inbound_network_io=2.0E3 'stdev_inbound_network_io'=500.000, "
        "outbound_network_io higher than average by 7.00 Standard Deviations. "
        "outbound_network_io=1700.5 avg_outbound_network_io=1000.50 "
        "'stdev_outbound_network_io'=100.0");
}

TEST_CASE("D6.4 a zero stdev nulls the whole row even when the other measure is anomalous") {
  // Outbound: s = 0 and v > a: null z, null text, null anomalies. Inbound alone is anomalous.
  baseline_entry<2> zero_out = checkout_baseline();
  zero_out.stdev[outbound] = cell(0);
  CHECK_FALSE(describe(4500, 1500, zero_out).has_value());
  // Visited first (inbound) or last (outbound): the row is null either way.
  baseline_entry<2> zero_in = checkout_baseline();
  zero_in.stdev[inbound] = cell(0);
  CHECK_FALSE(describe(2001, 1600, zero_in).has_value());

  const sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures);
  CHECK_FALSE(scorer.keeps(row(4500, 1500), &zero_out));
  CHECK_FALSE(scorer.keeps(row(2001, 1600), &zero_in));
  // Through the adaptor (under drop_row, the default) the row never comes out.
  CHECK(score_all({row(4500, 1500)}, table_with(zero_out)).empty());
  // Without the zero stdev the same row is kept.
  CHECK(score_all({row(4500, 1500)}, table_with(checkout_baseline())).size() == 1);
}

TEST_CASE("D6.4 a zero stdev with the value not above the average leaves the row alone") {
  baseline_entry<2> zero_out = checkout_baseline();
  zero_out.stdev[outbound] = cell(0);
  // v == a: not v > a + k * 0, so no text for outbound and no null.
  const auto text = describe(4500, 1000, zero_out);
  REQUIRE(text.has_value());
  CHECK(*text == inbound_5_text);
  CHECK(describe(4500, 999, zero_out) == std::optional<std::string>(inbound_5_text));
}

TEST_CASE("D6.4 option print_inf keeps the row with the z-score inf") {
  baseline_entry<2> zero_out = checkout_baseline();
  zero_out.stdev[outbound] = cell(0);
  scorer_options inf;
  inf.zero_stdev = zero_stdev_policy::print_inf;
  const std::string expected =
      joined(inbound_5_text,
             "outbound_network_io higher than average by inf Standard Deviations. "
             "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=0");
  CHECK(describe(4500, 1500, zero_out, inf) == std::optional<std::string>(expected));
  const auto out = score_all({row(4500, 1500)}, table_with(zero_out), inf);
  REQUIRE(out.size() == 1);
  CHECK(out[0].anomalies == expected);
  CHECK(scorer_options{}.zero_stdev == zero_stdev_policy::drop_row);  // off by default
}

TEST_CASE("D6.5 exactly one trailing comma and whitespace is removed") {
  // Every appended text ends in ", "; only the last one goes.
  auto text = describe(std::nullopt, 1500);
  REQUIRE(text.has_value());
  CHECK(text->back() == '0');
  // A cell whose own text ends in ", " (F3) shows that only one ", " is removed.
  baseline_entry<2> comma = checkout_baseline();
  comma.stdev[outbound] = cell(100, "100, ");
  text = describe(std::nullopt, 1500, comma);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 5.00 Standard Deviations. "
        "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100, ");
  comma.stdev[outbound] = cell(100, "100,");
  text = describe(std::nullopt, 1500, comma);
  REQUIRE(text.has_value());
  CHECK(*text ==
        "outbound_network_io higher than average by 5.00 Standard Deviations. "
        "outbound_network_io=1500 avg_outbound_network_io=1000 'stdev_outbound_network_io'=100,");
}

TEST_CASE("D6.6 a row is kept only when anomalies is non-empty") {
  const baseline_table<2> table = table_with(checkout_baseline());
  const std::vector<measure_row<2>> rows{
      row(2100, 1500, 1700000000),                  // anomalous: kept
      row(2100, 1400, 1700000010),                  // nothing exceeds: empty, dropped
      row(std::nullopt, std::nullopt, 1700000020),  // no measures: dropped
      {"prod", "node-1", "cart-0", "cart", 1700000030, {1e9, 1e9}},  // no baseline: dropped
  };
  const auto out = score_all(rows, table);
  REQUIRE(out.size() == 1);
  CHECK(out[0].cluster == "prod");
  CHECK(out[0].node == "node-1");
  CHECK(out[0].pod == "checkout-7d4b9c8f6d-x2k9p");
  CHECK(out[0].service == "checkout");
  CHECK(out[0].time == 1700000000);
  CHECK(out[0].anomalies == worked_example_text);

  const sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures);
  const baseline_entry<2> base = checkout_baseline();
  CHECK_FALSE(scorer.score({row(2100, 1400), &base}).has_value());
  CHECK_FALSE(scorer.score({row(2100, 1500), nullptr}).has_value());
  const auto kept = scorer.score({row(2100, 1500), &base});
  REQUIRE(kept.has_value());
  CHECK(kept->anomalies == worked_example_text);
}

TEST_CASE("N2 N3 division by a zero stdev gives a null text that makes anomalies null") {
  // inbound exceeds with s = 0: (v - a) / 0 is null (N2), "…" + null is null (N3), and the
  // outbound text appended to the null anomalies stays null (N3).
  baseline_entry<2> zero_in = checkout_baseline();
  zero_in.stdev[inbound] = cell(0);
  const sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures);
  CHECK_FALSE(scorer.describe(row(2001, 1600), &zero_in).has_value());
  CHECK_FALSE(scorer.score({row(2001, 1600), &zero_in}).has_value());
}

TEST_CASE("N4 where anomalies != empty drops a row whose anomalies is null") {
  baseline_entry<2> zero_out = checkout_baseline();
  zero_out.stdev[outbound] = cell(0);
  baseline_table<2> table;
  table.insert("prod:checkout", zero_out);
  table.insert("prod:cart", checkout_baseline());
  const std::vector<measure_row<2>> rows{
      row(4500, 1500),                                                     // null: dropped
      {"prod", "node-2", "cart-0", "cart", 1700000000, {4500.0, 1500.0}},  // kept
  };
  const auto out = score_all(rows, table);
  REQUIRE(out.size() == 1);
  CHECK(out[0].pod == "cart-0");
  CHECK(out[0].anomalies ==
        joined(inbound_5_text,
               "outbound_network_io higher than average by 5.00 Standard Deviations. "
               "outbound_network_io=1500 avg_outbound_network_io=1000 "
               "'stdev_outbound_network_io'=100"));
}

}  // namespace test_sigma_anomaly_scorer
