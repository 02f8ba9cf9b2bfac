// D5 — BaselineLookup (`lookup k8s_container_network_io_baseline key`): exact match on the D4
// key, the four baseline fields or none, and the table that refuses a duplicate key (D5.3; the
// CSV loader's error message is tested with the loader).
#include <k8snetio/k8snetio.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_baseline_lookup {

using k8snetio::baseline_cell;
using k8snetio::baseline_entry;
using k8snetio::baseline_table;
using k8snetio::looked_up_row;
using k8snetio::measure_row;
using k8snetio::spl_number;

namespace {

constexpr std::size_t inbound = 0;
constexpr std::size_t outbound = 1;

baseline_entry<2> entry(spl_number avg_in, spl_number stdev_in, spl_number avg_out,
                        spl_number stdev_out) {
  baseline_entry<2> e;
  e.avg[inbound] = baseline_cell::from_number(avg_in);
  e.stdev[inbound] = baseline_cell::from_number(stdev_in);
  e.avg[outbound] = baseline_cell::from_number(avg_out);
  e.stdev[outbound] = baseline_cell::from_number(stdev_out);
  return e;
}

measure_row<2> mrow(std::string_view cluster, std::string_view service, spl_number in = 1.0,
                    spl_number out = 2.0) {
  return measure_row<2>{cluster, "node-1", "pod-1", service, 1700000000, {in, out}};
}

std::vector<looked_up_row<2>> look_up(const std::vector<measure_row<2>>& rows,
                                      const baseline_table<2>& table) {
  std::vector<looked_up_row<2>> out;
  for (const auto& r : rows | k8snetio::lookup_baseline(table)) out.push_back(r);
  return out;
}

/// A user's own store: anything with find(key) → const baseline_entry<2>*.
struct map_store {
  std::map<std::string, baseline_entry<2>, std::less<>> entries;
  const baseline_entry<2>* find(std::string_view key) const {
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  }
};

static_assert(k8snetio::baseline_source<baseline_table<2>, 2>);
static_assert(k8snetio::baseline_source<map_store, 2>);
static_assert(!k8snetio::baseline_source<std::vector<int>, 2>);

}  // namespace

TEST_CASE("D5.1 the key matches exactly and case-sensitively") {
  baseline_table<2> table;
  REQUIRE(table.insert("prod:checkout", entry(2000, 500, 1000, 100)));
  const auto out =
      look_up({mrow("prod", "checkout"), mrow("Prod", "checkout"), mrow("prod", "Checkout"),
               mrow("prod", "checkout "), mrow("prod", "checkou"), mrow("prod:checkout", ""),
               mrow("prod ", "checkout")},
              table);
  REQUIRE(out.size() == 7);
  CHECK(out[0].baseline == table.find("prod:checkout"));
  CHECK(out[0].baseline != nullptr);
  for (std::size_t i = 1; i < out.size(); ++i) {
    INFO("row " << i << ": " << out[i].row.cluster << ":" << out[i].row.service);
    CHECK(out[i].baseline == nullptr);
  }
  CHECK(table.find("PROD:CHECKOUT") == nullptr);
  CHECK(table.find("prod:checkout") != nullptr);
}

TEST_CASE("D5.2 a match gives avg and stdev of both measures") {
  baseline_table<2> table;
  table.insert("prod:checkout", entry(2000, 500, 1000, 100));
  const auto out = look_up({mrow("prod", "checkout", 2100.0, 1500.0)}, table);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].baseline != nullptr);
  const baseline_entry<2>& b = *out[0].baseline;
  CHECK(b.avg[inbound].value == spl_number(2000));
  CHECK(b.stdev[inbound].value == spl_number(500));
  CHECK(b.avg[outbound].value == spl_number(1000));
  CHECK(b.stdev[outbound].value == spl_number(100));
  CHECK(b.avg[outbound].text == "1000");
  // The row itself passes unchanged.
  CHECK(out[0].row == mrow("prod", "checkout", 2100.0, 1500.0));
}

TEST_CASE("D5.2 an empty cell is null") {
  baseline_table<2> table;
  baseline_entry<2> e = entry(2000, 500, 1000, 100);
  e.avg[inbound] = baseline_cell{std::nullopt, ""};
  e.stdev[outbound] = baseline_cell{std::nullopt, ""};
  table.insert("prod:web", e);
  const auto out = look_up({mrow("prod", "web", 1e9, 1e9)}, table);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].baseline != nullptr);
  CHECK_FALSE(out[0].baseline->avg[inbound].value.has_value());
  CHECK(out[0].baseline->stdev[inbound].value == spl_number(500));
  CHECK(out[0].baseline->avg[outbound].value == spl_number(1000));
  CHECK_FALSE(out[0].baseline->stdev[outbound].value.has_value());
  CHECK(baseline_cell::from_number(std::nullopt) == baseline_cell{std::nullopt, ""});

  // N1: a null avg or stdev makes the comparison false, however large the value.
  const k8snetio::sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures);
  CHECK_FALSE(scorer.keeps(out[0].row, out[0].baseline));
}

TEST_CASE("D5.2 with no match all four fields are null") {
  baseline_table<2> table;
  table.insert("prod:checkout", entry(0, 0, 0, 0));
  const auto out = look_up({mrow("prod", "cart", 1e9, 1e9)}, table);
  REQUIRE(out.size() == 1);
  CHECK(out[0].baseline == nullptr);
  const k8snetio::sigma_anomaly_scorer<2> scorer(k8snetio::network_io_measures);
  CHECK_FALSE(scorer.keeps(out[0].row, out[0].baseline));
  CHECK_FALSE(scorer.score(out[0]).has_value());
}

TEST_CASE("D5.3 insert returns false on a duplicate key and keeps the first row") {
  baseline_table<2> table;
  CHECK(table.insert("prod:checkout", entry(1, 2, 3, 4)));
  CHECK_FALSE(table.insert("prod:checkout", entry(10, 20, 30, 40)));
  CHECK(table.insert("Prod:checkout", entry(5, 6, 7, 8)));  // another key: case matters
  CHECK(table.size() == 2);
  const baseline_entry<2>* e = table.find("prod:checkout");
  REQUIRE(e != nullptr);
  CHECK(*e == entry(1, 2, 3, 4));
  CHECK(table.rows().size() == 2);
  CHECK(table.rows()[0].key == "prod:checkout");
  CHECK(table.rows()[1].key == "Prod:checkout");
}

TEST_CASE("D5.1 lookups stay right after the table is sorted") {
  baseline_table<2> table;
  table.insert("prod:web", entry(1, 1, 1, 1));
  table.insert("dev:web", entry(2, 2, 2, 2));
  table.insert("Prod:web", entry(3, 3, 3, 3));
  table.sort();
  REQUIRE(table.rows().size() == 3);
  CHECK(table.rows()[0].key == "Prod:web");
  CHECK(table.rows()[1].key == "dev:web");
  CHECK(table.rows()[2].key == "prod:web");
  REQUIRE(table.find("prod:web") != nullptr);
  CHECK(*table.find("prod:web") == entry(1, 1, 1, 1));
  CHECK(*table.find("dev:web") == entry(2, 2, 2, 2));
  CHECK(*table.find("Prod:web") == entry(3, 3, 3, 3));
}

TEST_CASE("D2.3 a row with an empty service looks up the key cluster:") {
  baseline_table<2> table;
  table.insert("prod:", entry(1, 2, 3, 4));
  table.insert("prod:web", entry(5, 6, 7, 8));
  const auto out = look_up({mrow("prod", ""), mrow("dev", "")}, table);
  REQUIRE(out.size() == 2);
  CHECK(out[0].baseline == table.find("prod:"));
  CHECK(out[0].baseline != nullptr);
  CHECK(out[1].baseline == nullptr);
}

TEST_CASE("D5 lookup_baseline takes any baseline_source") {
  map_store store;
  store.entries.emplace("prod:checkout", entry(2000, 500, 1000, 100));
  const std::vector<measure_row<2>> rows{mrow("prod", "checkout"), mrow("prod", "cart")};
  std::vector<looked_up_row<2>> out;
  for (const auto& r : rows | k8snetio::lookup_baseline(store)) out.push_back(r);
  REQUIRE(out.size() == 2);
  CHECK(out[0].baseline == &store.entries.at("prod:checkout"));
  CHECK(out[1].baseline == nullptr);
}

}  // namespace test_baseline_lookup
