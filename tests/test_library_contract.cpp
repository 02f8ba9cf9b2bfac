// library.md A1 and A2: what a C++ team embedding the library can rely on. No silent wrong
// answer (A1.1 another rule's baseline table is refused in every engine and adaptor; A1.2 a
// rule may be a temporary, a baseline may not (tests/compile_errors); A1.4 points the rule does
// not map are counted and named) and one answer however the library is composed (A2: the
// stages and the engine agree, windows included, also for a rule that maps two directions to
// one measure, D3's mean).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <simdjson.h>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/read_inputs.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/k8snetio.hpp>

#include "library_contract/two_to_one_rule.hpp"

namespace test_library_contract {

namespace {

namespace k = k8snetio;

constexpr std::int64_t t0 = 1'700'000'000;

struct owned_point {
  double time, value;
  std::string pod, direction;
};

std::vector<k::metric_point> views(const std::vector<owned_point>& points) {
  std::vector<k::metric_point> out;
  for (const owned_point& p : points)
    out.push_back({p.time, p.value, k::default_metric_name, "c1", p.pod, "node-1", p.direction});
  return out;
}

/// `buckets` buckets of two pods of service "web", both directions, steady traffic; pod
/// web-x2k9p sends `burst` times more in buckets [from, from + 8).
std::vector<owned_point> traffic(std::int64_t start, int buckets, double burst = 1, int from = 0,
                                 std::vector<std::string> directions = {"transmit", "receive"}) {
  std::vector<owned_point> out;
  for (int i = 0; i < buckets; ++i) {
    const double t = static_cast<double>(start + 10 * i) + 1;
    for (const char* pod : {"web-abcde", "web-x2k9p"}) {
      const bool spike = std::string_view(pod) == "web-x2k9p" && i >= from && i < from + 8;
      for (const std::string& dir : directions)
        out.push_back({t, (1000 + (i % 7) * 10) * (spike ? burst : 1), pod, dir});
    }
  }
  return out;
}

const std::vector<owned_point>& history() {
  static const std::vector<owned_point> h = traffic(t0 - 3600, 360);
  return h;
}

/// The series-major order of the same points: every series whole, one after another.
std::vector<k::metric_point> series_major(std::vector<k::metric_point> points) {
  std::stable_sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return std::tie(a.pod, a.direction) < std::tie(b.pod, b.direction);
  });
  return points;
}

}  // namespace

// ---- A1.1 ---------------------------------------------------------------------------------------

TEST_CASE("A1.1 the detector refuses the baseline table of another rule, both ways") {
  const auto points = views(history());
  const auto io_table = k::build_network_io_baseline(points).table;
  const auto ratio_table = k::build_network_io_ratio_baseline(points).table;
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH((k::detector(k::anomalous_network_io, ratio_table, {})),
                    Contains("the table of another rule") && Contains("inbound:outbound"));
  CHECK_THROWS_WITH((k::detector(k::network_io_ratio, io_table, {})),
                    Contains("the table of another rule") && Contains("inbound_network_io"));
  // The one-call forms and the factory too.
  CHECK_THROWS_AS(k::detect_anomalous_network_io(points, ratio_table), std::invalid_argument);
  CHECK_THROWS_AS(k::detect_network_io_ratio(points, io_table), std::invalid_argument);
  const auto made = k::make_detector(k::anomalous_network_io, ratio_table, {});
  REQUIRE_FALSE(made);
  CHECK(made.error().code == k::error_code::bad_rule);
  CHECK_THAT(made.error().what(), Contains("another rule"));
  // Its own table is taken.
  CHECK_NOTHROW(k::detector(k::anomalous_network_io, io_table, {}));
  CHECK_NOTHROW(k::detector(k::network_io_ratio, ratio_table, {}));
}

TEST_CASE("A1.1 the stages refuse the baseline table of another rule after the rule's pivot") {
  const auto points = views(history());
  const auto io_table = k::build_network_io_baseline(points).table;
  const auto ratio_table = k::build_network_io_ratio_baseline(points).table;
  const auto rows = points | k::aggregate_spans() | k::normalize_service();
  CHECK_THROWS_WITH(
      rows | k::pivot_direction(k::anomalous_network_io) | k::lookup_baseline(ratio_table),
      Catch::Matchers::Contains("the table of another rule"));
  CHECK_THROWS_AS(rows | k::pivot_direction(k::network_io_ratio) | k::lookup_baseline(io_table),
                  std::invalid_argument);
  // Composed first, then applied: the same check.
  const auto wrong = k::pivot_direction(k::anomalous_network_io) | k::lookup_baseline(ratio_table);
  CHECK_THROWS_AS(rows | wrong, std::invalid_argument);
  const auto right = k::pivot_direction(k::anomalous_network_io) | k::lookup_baseline(io_table);
  CHECK_NOTHROW(rows | right);
}

// ---- A1.2 ---------------------------------------------------------------------------------------

TEST_CASE("A1.2 a rule built from temporaries may be dropped: engines and findings share it") {
  std::optional<k::detector<2, k::baseline_table<2>>> engine;
  const auto points = views(history());
  std::optional<k::baseline_table<2>> table;
  {
    // The rule's texts come from strings that die at the end of this block, and so does the
    // rule; a copy of the main rule under another name.
    std::string name = "A user's rule";
    std::string inbound = "inbound_network_io", outbound = "outbound_network_io";
    const k::measure_set<2> measures{{inbound, outbound}, " higher than average by ", {1, 0}};
    k::rule_metadata meta = k::anomalous_network_io_rule;
    meta.name = name;
    const k::rule_definition<2> rule(measures, meta, &k::network_io_measure_of);
    table.emplace(k::build_baseline(rule, points).table);
    engine.emplace(rule, *table, k::detection_options{});
    name.assign(name.size(), 'X');
    inbound.assign(inbound.size(), 'X');
  }
  const auto today = traffic(t0, 360, 100, 100);  // views() borrows its strings
  for (const auto& p : views(today)) (void)engine->add(p);
  const auto result = engine->finish();
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].rule->name == "A user's rule");
  CHECK(result.findings[0].anomalies[0].find("inbound_network_io") != std::string::npos);
}

// ---- A1.4 ---------------------------------------------------------------------------------------

TEST_CASE("A1.4 points whose direction the rule does not map are counted and named") {
  const auto points = views(history());
  const auto table = k::build_network_io_baseline(points).table;
  // tx/rx instead of transmit/receive: nothing maps, nothing can alert.
  const auto renamed = traffic(t0, 60, 100, 10, {"tx", "rx"});
  k::detector engine(k::anomalous_network_io, table, {});
  for (const auto& p : views(renamed)) CHECK(engine.add(p));  // used by D1 (D3.2: null rows)
  const auto result = engine.finish();
  CHECK(result.findings.empty());
  CHECK(result.unmapped_direction == renamed.size());
  const std::vector<std::pair<std::string, std::uint64_t>> named = {{"rx", renamed.size() / 2},
                                                                    {"tx", renamed.size() / 2}};
  CHECK(result.unmapped_directions == named);
  CHECK(k::to_string(k::drop_reason::unmapped_direction) == "unmapped direction");

  // Mixed with mapped points, only the unmapped ones are counted; the findings are those of the
  // mapped points alone.
  auto mixed = traffic(t0, 60, 100, 10);
  const auto extra = traffic(t0, 60, 1, 0, {"dropped"});
  mixed.insert(mixed.end(), extra.begin(), extra.end());
  const auto with_extra = k::detect_anomalous_network_io(views(mixed), table);
  const auto without = k::detect_anomalous_network_io(views(traffic(t0, 60, 100, 10)), table);
  CHECK(with_extra.unmapped_direction == extra.size());
  CHECK(without.unmapped_direction == 0);
  CHECK(with_extra.findings == without.findings);
  CHECK(with_extra.findings.size() == 1);
}

TEST_CASE("A1.4 the unmapped count survives save and restore") {
  const auto table = k::build_network_io_baseline(views(history())).table;
  const auto owned = traffic(t0, 60, 1, 0, {"transmit", "receive", "tx"});
  const auto points = views(owned);
  const std::size_t half = points.size() / 2;
  k::detector first(k::anomalous_network_io, table, {});
  for (std::size_t i = 0; i < half; ++i) (void)first.add(points[i]);
  k::detector second(k::anomalous_network_io, table, {});
  REQUIRE(second.restore_state(first.save_state()));
  for (std::size_t i = half; i < points.size(); ++i) (void)second.add(points[i]);
  const auto result = second.finish();
  CHECK(result.unmapped_direction == points.size() / 3);
  REQUIRE(result.unmapped_directions.size() == 1);
  CHECK(result.unmapped_directions[0].first == "tx");
}

TEST_CASE("A1.4 the baseline runner counts and names the directions the rule does not map") {
  // tx/rx instead of transmit/receive: a table of empty cells (B4 still counts the rows), and
  // the result says why.
  const auto renamed = traffic(t0, 60, 1, 0, {"tx", "rx"});
  const auto none = k::build_network_io_baseline(views(renamed));
  for (const auto& row : none.table.rows())
    for (std::size_t m = 0; m < 2; ++m) {
      CHECK_FALSE(row.entry.avg[m].value.has_value());
      CHECK_FALSE(row.entry.stdev[m].value.has_value());
    }
  CHECK(none.stats.aggregated == renamed.size());
  CHECK(none.unmapped_direction == renamed.size());
  const std::vector<std::pair<std::string, std::uint64_t>> named = {{"rx", renamed.size() / 2},
                                                                    {"tx", renamed.size() / 2}};
  CHECK(none.unmapped_directions == named);

  // Mixed with mapped points: only the unmapped ones are counted, and every average and stdev
  // is that of the mapped points alone (B4's row count counts every row, as SPL's does).
  auto mixed = traffic(t0, 60);
  const auto extra = traffic(t0, 60, 1, 0, {"dropped"});
  mixed.insert(mixed.end(), extra.begin(), extra.end());
  const auto with_extra = k::build_network_io_baseline(views(mixed));
  const auto without = k::build_network_io_baseline(views(traffic(t0, 60)));
  CHECK(with_extra.unmapped_direction == extra.size());
  REQUIRE(with_extra.unmapped_directions.size() == 1);
  CHECK(with_extra.unmapped_directions[0].first == "dropped");
  CHECK(without.unmapped_direction == 0);
  CHECK(without.unmapped_directions.empty());
  REQUIRE(with_extra.table.size() == without.table.size());
  for (std::size_t i = 0; i < without.table.size(); ++i) {
    const auto& a = with_extra.table.rows()[i];
    const auto& b = without.table.rows()[i];
    CHECK(a.key == b.key);
    CHECK(a.entry.avg == b.entry.avg);
    CHECK(a.entry.stdev == b.entry.stdev);
    CHECK(b.entry.avg[0].value.has_value());
  }
}

TEST_CASE("A1.4 the baseline runner's unmapped count survives save, restore and merge") {
  const auto owned = traffic(t0, 60, 1, 0, {"transmit", "receive", "tx"});
  const auto points = views(owned);
  const std::size_t half = points.size() / 2;
  k::baseline_runner<2> first(k::anomalous_network_io);
  for (std::size_t i = 0; i < half; ++i) (void)first.add(points[i]);
  k::baseline_runner<2> second(k::anomalous_network_io);
  REQUIRE(second.restore_state(first.save_state()));
  for (std::size_t i = half; i < points.size(); ++i) (void)second.add(points[i]);
  const auto restored = second.finish();
  CHECK(restored.unmapped_direction == points.size() / 3);
  REQUIRE(restored.unmapped_directions.size() == 1);
  CHECK(restored.unmapped_directions[0] ==
        std::pair<std::string, std::uint64_t>{"tx", points.size() / 3});

  // Shards: the later part's runner merged into the earlier one's counts both parts.
  k::baseline_runner<2> early(k::anomalous_network_io), later(k::anomalous_network_io);
  for (std::size_t i = 0; i < half; ++i) (void)early.add(points[i]);
  for (std::size_t i = half; i < points.size(); ++i) (void)later.add(points[i]);
  REQUIRE(early.merge_state(later.save_state()));
  CHECK(early.finish().unmapped_direction == points.size() / 3);

  // Per day (baseline --state --add): every day's runner together.
  k::daily_baseline_runner<2> daily(k::anomalous_network_io);
  for (const auto& p : points) (void)daily.add(p);
  CHECK(daily.unmapped().points() == points.size() / 3);
  CHECK(daily.unmapped().named().size() == 1);
}

// ---- A2 -----------------------------------------------------------------------------------------

namespace {

using k8snetio::test::two_to_one_rule;

/// Every key of the points with avg 1000 and stdev 20 for both measures.
k::baseline_table<2> flat_table(const k::rule_definition<2>& rule) {
  k::baseline_table<2> table(rule.measures);
  k::baseline_entry<2> e;
  for (std::size_t m = 0; m < 2; ++m) {
    e.avg[m] = k::baseline_cell::from_number(1000.0);
    e.stdev[m] = k::baseline_cell::from_number(20.0);
  }
  table.insert("c1:web", e);
  return table;
}

/// Transmit bursts to 5000 while egress stays at 1000 in web-x2k9p's buckets [10, 18): their
/// mean (3000) exceeds 1000 + 4·20, each alone does not decide it. Egress comes last, so an
/// engine that kept the last value would see 1000 and find nothing.
std::vector<owned_point> two_to_one_traffic() {
  std::vector<owned_point> out;
  for (int i = 0; i < 60; ++i) {
    const double t = static_cast<double>(t0 + 10 * i) + 1;
    for (const char* pod : {"web-abcde", "web-x2k9p"}) {
      const bool spike = std::string_view(pod) == "web-x2k9p" && i >= 10 && i < 18;
      out.push_back({t, spike ? 5000.0 : 1000.0, pod, "transmit"});
      out.push_back({t, 1000.0, pod, "receive"});
      out.push_back({t, 1000.0, pod, "egress"});
    }
  }
  // A stray anomalous bucket of the other pod, late in the input: one bucket, no finding, but
  // it must not move web-x2k9p's window either.
  out.push_back({static_cast<double>(t0 + 10 * 50) + 2, 90000.0, "web-abcde", "receive"});
  return out;
}

template <std::size_t N>
std::vector<k::finding> pipeline(const std::vector<k::metric_point>& points,
                                 const k::rule_definition<N>& rule,
                                 const k::baseline_table<N>& table) {
  const auto spans = points | k::aggregate_spans();
  return spans | k::normalize_service() | k::pivot_direction(rule) | k::lookup_baseline(table) |
         k::score_sigma(rule) | k::persist_over(rule, 5, k::search_window_of(spans));
}

}  // namespace

TEST_CASE(
    "A2 the stages and the engine give the same findings for a rule mapping two directions "
    "to one measure (D3's mean), in any order") {
  const auto rule = two_to_one_rule();
  const auto table = flat_table(rule);
  const auto owned = two_to_one_traffic();
  const auto time_major = views(owned);
  const auto by_series = series_major(time_major);

  const auto staged = pipeline(time_major, rule, table);
  REQUIRE(staged.size() == 1);
  CHECK(staged[0].pod == "web-x2k9p");
  CHECK(staged[0].count == 8);
  CHECK(staged[0].window_start == t0);
  CHECK(staged[0].window_end == t0 + 600);

  for (const auto* input : {&time_major, &by_series}) {
    CHECK(k::detect(rule, *input, table).findings == staged);
    // The push API, streamed (by_series closing) and held (at_finish).
    for (const auto closing : {k::group_closing::by_series, k::group_closing::at_finish}) {
      k::detection_options options;
      options.span.closing = closing;
      k::detector engine(rule, table, options);
      for (const auto& p : *input) (void)engine.add(p);
      engine.end_of_input();
      if (engine.failure()) {
        // Series-major input cannot be streamed exactly for this rule: the engine says so.
        CHECK(closing == k::group_closing::by_series);
        continue;
      }
      CHECK(engine.finish().findings == staged);
    }
  }
  // The stages agree with themselves on the other order.
  CHECK(pipeline(by_series, rule, table) == staged);
}

TEST_CASE("A2 the shipped rules: the stages with the search window and the engine agree") {
  const auto owned = traffic(t0, 360, 100, 100);
  const auto points = views(owned);
  const auto table = k::build_network_io_baseline(views(history())).table;
  const auto staged = pipeline(points, k::anomalous_network_io, table);
  REQUIRE(staged.size() == 1);
  CHECK(k::detect_anomalous_network_io(points, table).findings == staged);
  CHECK(k::detect_anomalous_network_io(series_major(points), table).findings == staged);
}

TEST_CASE("A2 a rule made with one direction per measure is the main rule's equal") {
  const k::rule_definition<2> by_name(k::network_io_measures, k::anomalous_network_io_rule,
                                      {"receive", "transmit"});
  CHECK(by_name.one_direction_per_measure);
  CHECK(by_name.measure_of("receive") == 0);
  CHECK(by_name.measure_of("transmit") == 1);
  CHECK_FALSE(by_name.measure_of("tx"));
  const auto owned = traffic(t0, 360, 100, 100);
  const auto points = views(owned);
  const auto table = k::build_network_io_baseline(views(history())).table;
  const auto expected = k::detect_anomalous_network_io(points, table).findings;
  REQUIRE(expected.size() == 1);
  CHECK(k::detect(by_name, series_major(points), table).findings == expected);
  CHECK_THROWS_WITH(k::rule_definition<2>(k::network_io_measures, k::anomalous_network_io_rule,
                                          {"transmit", "transmit"}),
                    Catch::Matchers::Contains("feeds two measures"));
}

TEST_CASE("A2 without a window, persist_over dates a finding from its own pod's buckets only") {
  const auto rule = two_to_one_rule();
  const auto table = flat_table(rule);
  const auto owned = two_to_one_traffic();
  const auto points = views(owned);
  const auto findings = points | k::aggregate_spans() | k::normalize_service() |
                        k::pivot_direction(rule) | k::lookup_baseline(table) |
                        k::score_sigma(rule) | k::persist_over(rule, 5);
  REQUIRE(findings.size() == 1);
  // web-x2k9p's anomalous buckets are 10…17; web-abcde's stray bucket 50 does not count.
  CHECK(findings[0].window_start == t0 + 100);
  CHECK(findings[0].window_end == t0 + 180);
}

// ---- A6 -----------------------------------------------------------------------------------------

TEST_CASE("A6 readers and loaders return coded, positioned errors that name no CLI flag") {
  namespace io = k::io;
  const auto no_flag = [](const std::string& text) {
    INFO(text);
    CHECK(text.find("--") == std::string::npos);
  };
  SECTION("a metrics header without the node column") {
    io::metrics_csv_reader reader("n.csv");
    std::size_t points = 0;
    const auto read = reader.read(
        "metric_timestamp,_value,k8s.cluster.name,k8s.pod.name,direction\n"
        "1,2,c,p,transmit\n",
        [&points](const k::metric_point&) { ++points; });
    REQUIRE_FALSE(read);
    CHECK(read.error().code == io::error_code::bad_header);
    CHECK(read.error().file == "n.csv");
    CHECK(read.error().line == 1);
    CHECK(read.error().field == "k8s.node.name");
    CHECK(read.error().message.find("reader_options::default_node") != std::string::npos);
    no_flag(read.error().what());
    CHECK(points == 0);
  }
  SECTION("a time that looks like epoch milliseconds: the skip names the library's option") {
    io::metrics_csv_reader reader("ms.csv");
    const auto read = reader.read(
        "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,"
        "direction\n1700000010123,k8s.pod.network.io,5,c,n,p,transmit\n",
        [](const k::metric_point&) {});
    REQUIRE(read);
    REQUIRE(reader.report().examples.size() == 1);
    CHECK(reader.report().examples[0].detail.find("set reader_options::epoch_unit to ms") !=
          std::string::npos);
    no_flag(reader.report().examples[0].to_string());
  }
  SECTION("the hints for missing dimensions") {
    io::read_report report;
    report.missing_dimensions = {3, 0, 2, 0};
    const auto hints = report.hints();
    REQUIRE(hints.size() == 2);
    CHECK(hints[0].find("reader_options::default_cluster") != std::string::npos);
    CHECK(hints[1].find("reader_options::default_node") != std::string::npos);
    for (const auto& hint : hints) no_flag(hint);
  }
  SECTION("a baseline table of another rule") {
    std::string ratio_text;
    io::write_baseline_csv(ratio_text, k::build_network_io_ratio_baseline(views(history())).table);
    const auto loaded = io::read_baseline_csv<2>(ratio_text, "ratio.csv");
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code == io::error_code::no_baseline_columns);
    CHECK(loaded.error().file == "ratio.csv");
    CHECK(loaded.error().line == 1);
    CHECK(loaded.error().message.find("another rule") != std::string::npos);
    no_flag(loaded.error().what());
  }
  SECTION("a baseline table given as metrics") {
    const auto path = std::filesystem::temp_directory_path() / "k8snetio-a6-baseline-input.csv";
    {
      std::string table_text;
      io::write_baseline_csv(table_text, k::build_network_io_baseline(views(history())).table);
      std::ofstream(path) << table_text;
    }
    const auto read = io::read_inputs({path.string()}, {}, [](const k::metric_point&) {});
    std::filesystem::remove(path);
    REQUIRE_FALSE(read);
    CHECK(read.error().code == io::error_code::unknown_format);
    CHECK(read.error().file == path.string());
    CHECK(read.error().message.find("input_options::format") != std::string::npos);
    no_flag(read.error().what());
  }
}

namespace {

/// A6: a refusal in the library's one style, naming a library concept and no CLI flag.
void check_refusal(const k::error& e, k::error_code code, std::string_view where) {
  const std::string text = e.what();
  INFO(text);
  CHECK(e.code == code);
  CHECK(e.file == where);
  CHECK(text.starts_with(fmt::format("[k8snetio.error.{}] {}: ", static_cast<int>(code), where)));
  CHECK(text.find("--") == std::string::npos);
}

}  // namespace

TEST_CASE(
    "A6 restoring a truncated, corrupt or foreign snapshot returns bad_snapshot; the "
    "engine goes on from its own state") {
  const auto table = k::build_network_io_baseline(views(history())).table;
  const auto owned = traffic(t0, 60, 8, 20);  // web-x2k9p 8x in buckets 20…27: one finding
  const auto points = views(owned);
  const std::size_t half = points.size() / 2;
  const auto whole = k::detect(k::anomalous_network_io, points, table).findings;
  REQUIRE(whole.size() == 1);

  // Another engine's state, taken earlier: restoring it would change the answer.
  k::detector other(k::anomalous_network_io, table, {});
  for (std::size_t i = 0; i < half / 3; ++i) (void)other.add(points[i]);
  const std::string good = other.save_state();
  std::string corrupt = good;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x20);
  k::baseline_runner<2> runner(k::anomalous_network_io);
  k::detection_options windowed;
  windowed.window_seconds = 600;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"truncated", good.substr(0, good.size() - 5)},
      {"truncated in its header", good.substr(0, 20)},
      {"corrupt", corrupt},
      {"not a snapshot", "metric_timestamp,_value\n1,2\n"},
      {"a baseline runner's", runner.save_state()},
      {"other settings", k::detector(k::anomalous_network_io, table, windowed).save_state()}};
  for (const auto& [what, bytes] : bad) {
    INFO(what);
    k::detector engine(k::anomalous_network_io, table, {});
    for (std::size_t i = 0; i < half; ++i) (void)engine.add(points[i]);
    const std::string before = engine.save_state();
    const auto restored = engine.restore_state(bytes);
    REQUIRE_FALSE(restored);
    check_refusal(restored.error(), k::error_code::bad_snapshot, "state snapshot");
    CHECK(engine.save_state() == before);  // nothing half-loaded
    for (std::size_t i = half; i < points.size(); ++i) (void)engine.add(points[i]);
    CHECK(engine.finish().findings == whole);  // the same findings as without the attempt
  }
  // The good one is taken (the check above can fail).
  k::detector engine(k::anomalous_network_io, table, {});
  REQUIRE(engine.restore_state(good));
  CHECK(engine.save_state() == good);
}

TEST_CASE("A6 the baseline engines' restore and merge return bad_snapshot and keep their state") {
  const auto points = views(history());
  k::baseline_runner<2> runner(k::anomalous_network_io);
  for (std::size_t i = 0; i < points.size() / 2; ++i) (void)runner.add(points[i]);
  const std::string before = runner.save_state();
  std::string corrupt = before;
  corrupt[corrupt.size() / 3] = static_cast<char>(corrupt[corrupt.size() / 3] ^ 1);
  const auto table = k::build_network_io_baseline(points).table;
  const std::string detector_state = k::detector(k::anomalous_network_io, table, {}).save_state();
  for (const std::string& bytes : {corrupt, before.substr(0, before.size() / 2), detector_state}) {
    const auto restored = runner.restore_state(bytes);
    REQUIRE_FALSE(restored);
    check_refusal(restored.error(), k::error_code::bad_snapshot, "state snapshot");
    const auto merged = runner.merge_state(bytes);
    REQUIRE_FALSE(merged);
    check_refusal(merged.error(), k::error_code::bad_snapshot, "state snapshot");
    CHECK(runner.save_state() == before);
  }
  for (std::size_t i = points.size() / 2; i < points.size(); ++i) (void)runner.add(points[i]);
  k::baseline_runner<2> whole(k::anomalous_network_io);
  for (const auto& p : points) (void)whole.add(p);
  CHECK(runner.finish().table.rows() == whole.finish().table.rows());

  // The learner, whose state holds runners' states: a damaged part refuses the whole.
  k::baseline_run_options live;
  live.span.allowed_lateness = 30;
  k::baseline_learner<2> learner(k::anomalous_network_io, live);
  for (const auto& p : points) (void)learner.add(p);
  const std::string learned = learner.save_state();
  k::baseline_learner<2> fresh(k::anomalous_network_io, live);
  const std::string empty = fresh.save_state();
  const auto refused = fresh.restore_state(learned.substr(0, learned.size() - 1));
  REQUIRE_FALSE(refused);
  check_refusal(refused.error(), k::error_code::bad_snapshot, "state snapshot");
  CHECK(fresh.save_state() == empty);
  REQUIRE(fresh.restore_state(learned));
  CHECK(fresh.save_state() == learned);
}

TEST_CASE("A6 make_detector and make_baseline_runner refuse a rule that cannot work as bad_rule") {
  const auto table = k::build_network_io_baseline(views(history())).table;
  const std::string rule = "rule " + std::string(k::anomalous_network_io.metadata->name);
  k::detection_options pattern;
  pattern.service_pattern = "-(\\w{5}$";  // D2.4: does not compile
  const auto d = k::make_detector(k::anomalous_network_io, table, pattern);
  REQUIRE_FALSE(d);
  check_refusal(d.error(), k::error_code::bad_rule, rule);
  CHECK(d.error().message.find("-(\\w{5}$") != std::string::npos);
  k::baseline_run_options run;
  run.service_pattern = pattern.service_pattern;
  const auto r = k::make_baseline_runner(k::anomalous_network_io, run);
  REQUIRE_FALSE(r);
  check_refusal(r.error(), k::error_code::bad_rule, rule);
  k::detection_options uneven;
  uneven.window_seconds = 15;
  const auto w = k::make_detector(k::anomalous_network_io, table, uneven);
  REQUIRE_FALSE(w);
  check_refusal(w.error(), k::error_code::bad_rule, rule);
  CHECK(w.error().message.find("window_seconds") != std::string::npos);  // the option, no flag
  CHECK(k::make_detector(k::anomalous_network_io, table, {}));
  CHECK(k::make_baseline_runner(k::anomalous_network_io));
}

// ---- A8 -----------------------------------------------------------------------------------------

TEST_CASE("A8 a user's own rule gets complete OCSF and ES risk output from its own metadata") {
  // A rule of the user's: its own measures, texts, ids, ATT&CK technique and tactic, story.
  static constexpr k::measure_set<2> measures{
      {"egress_bytes", "ingress_bytes"}, " above its usual level by ", {0, 1}};
  static constexpr k::rule_metadata meta{"Pod exfiltration",
                                         "my-rule-0001",
                                         "T1048",
                                         "system",
                                         70,
                                         "Pod exfiltration suspected on host ",
                                         "Exfiltration Over Alternative Protocol",
                                         "TA0010",
                                         "Exfiltration",
                                         "Data Exfiltration"};
  const k::rule_definition<2> rule(measures, meta,
                                   std::array<std::string_view, 2>{"transmit", "receive"});
  const auto table = k::build_baseline(rule, views(history())).table;
  const auto result = k::detect(rule, views(traffic(t0, 60, 100, 10)), table);
  REQUIRE(result.findings.size() == 1);
  const k::finding& f = result.findings[0];
  REQUIRE_FALSE(f.measures.empty());  // the numbers behind the texts, as data

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const std::string ocsf = k::io::write_findings(result.findings, k::io::output_format::ocsf);
  REQUIRE_FALSE(parser.parse(simdjson::padded_string(ocsf)).get(doc));
  const auto info = doc["finding_info"];
  CHECK(std::string_view(info["title"]) == "Pod exfiltration");
  CHECK(std::string_view(info["analytic"]["uid"]) == "my-rule-0001");
  const auto attack = info["attacks"].at(0);
  CHECK(std::string_view(attack["technique"]["uid"]) == "T1048");
  CHECK(std::string_view(attack["technique"]["name"]) == "Exfiltration Over Alternative Protocol");
  CHECK(std::string_view(attack["tactic"]["uid"]) == "TA0010");
  CHECK(std::string_view(attack["tactic"]["name"]) == "Exfiltration");
  CHECK(std::int64_t(doc["risk_score"]) == 70);
  CHECK(std::string_view(doc["message"]) == "Pod exfiltration suspected on host node-1");
  // The anomaly numbers are the finding's, under the rule's measure names.
  simdjson::dom::array scores = doc["unmapped"]["anomaly_scores"];
  REQUIRE(scores.size() > 0);
  const auto first = k::io::anomaly_measurements(f).front();
  CHECK(std::string_view(scores.at(0)["measure"]) == first.measure);
  CHECK((first.measure == "egress_bytes" || first.measure == "ingress_bytes"));
  CHECK(double(scores.at(0)["observed"]) == *first.observed);
  CHECK(double(scores.at(0)["baseline"]["avg"]) == *first.avg);
  bool from_data = false;
  for (const auto& m : f.measures)
    from_data = from_data || (m.measure == first.measure && m.value == *first.observed);
  CHECK(from_data);

  const std::string risk = k::io::write_findings(result.findings, k::io::output_format::risk);
  REQUIRE_FALSE(parser.parse(simdjson::padded_string(risk)).get(doc));
  const auto event = doc["event"];
  CHECK(std::string_view(doc["source"]) == "ESCU - Pod exfiltration - Rule");
  CHECK(std::string_view(event["rule_id"]) == "my-rule-0001");
  CHECK(std::int64_t(event["risk_score"]) == 70);
  const auto only = [&](const char* key) {
    simdjson::dom::array values = event[key];
    return values.size() == 1 ? std::string(std::string_view(values.at(0))) : std::string();
  };
  CHECK(only("annotations.mitre_attack.mitre_technique_id") == "T1048");
  CHECK(only("annotations.mitre_attack.mitre_technique") ==
        "Exfiltration Over Alternative Protocol");
  CHECK(only("annotations.mitre_attack.mitre_tactic_id") == "TA0010");
  CHECK(only("annotations.mitre_attack.mitre_tactic") == "Exfiltration");
  CHECK(only("analyticstories") == "Data Exfiltration");
}

}  // namespace test_library_contract
