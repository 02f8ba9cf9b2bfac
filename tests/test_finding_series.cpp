// O5's chart data: with detection_options::keep_finding_series a finding carries its pod's
// pivoted values (D3, after R1 for the ratio rule) in every bucket of its window, normal buckets
// before the first anomaly included, and its service's baseline; off by default. The series
// follow S3 (provisional findings), S4 (save and restore) and S5 (released pods drop theirs).
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <k8snetio/k8snetio.hpp>

#include "support.hpp"

namespace test_finding_series {

namespace {

using k8snetio::finding;
using k8snetio::metric_point;
using detector = k8snetio::detector<2, k8snetio::baseline_table<2>>;

constexpr std::int64_t t0 = 1700000000;

using owned = k8snetio::test::test_point;
using k8snetio::test::views;

/// `buckets` buckets of four pods, both directions (one pod sends only, and every 7th bucket a
/// pod's receive is missing); from bucket `spike_from` on, two pods of prod send far more.
std::vector<owned> traffic(int buckets, std::uint32_t seed, int spike_from = 1 << 30) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.0, 100.0);
  const std::vector<std::string> pods = {"web-7d4b9c8f6d-x2k9p", "api-5f6d7c8b9a-z9y8x", "db-0",
                                         "cache-0"};
  std::vector<owned> out;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(t0 + 10 * b);
    for (std::size_t p = 0; p < pods.size(); ++p) {
      const bool spike = b >= spike_from && (p == 0 || p == 2);
      const std::string node = p % 2 ? "node-2" : "node-1";
      const double tx = 1000 + noise(rng) + (spike ? 9000 : 0);
      const double rx = 3000 + noise(rng) + (spike ? 100 : 0);
      out.push_back({t + 1.25, tx, "prod", pods[p], node, "transmit"});
      if (b % 3 == 0) out.push_back({t + 2.5, tx + 3.5, "prod", pods[p], node, "transmit"});
      if (p != 3 && (b + static_cast<int>(p)) % 7 != 0)
        out.push_back({t + 3.75, rx, "prod", pods[p], node, "receive"});
    }
  }
  return out;
}

std::vector<owned> series_major(std::vector<owned> points) {
  std::stable_sort(points.begin(), points.end(), [](const owned& a, const owned& b) {
    return std::tie(a.cluster, a.pod, a.node, a.direction) <
           std::tie(b.cluster, b.pod, b.node, b.direction);
  });
  return points;
}

const std::vector<owned>& learning() {
  static const auto points = traffic(150, 1);
  return points;
}
const k8snetio::baseline_table<2>& io_table() {
  static const auto table = k8snetio::build_network_io_baseline(views(learning())).table;
  return table;
}
const k8snetio::baseline_table<2>& ratio_table() {
  static const auto table = k8snetio::build_network_io_ratio_baseline(views(learning())).table;
  return table;
}

using pod_bucket = std::tuple<std::string, std::string, std::string, std::int64_t>;
using pivoted_values = std::map<pod_bucket, std::array<k8snetio::spl_number, 2>>;

/// The D3 rows (and R1's ratios) of the input through the stages' own pipeline.
pivoted_values pivoted(const std::vector<metric_point>& points, bool ratios) {
  using namespace k8snetio;
  pivoted_values out;
  const auto rows =
      points | aggregate_spans() | normalize_service() | pivot_direction(anomalous_network_io);
  for (measure_row<2> r : rows) {
    if (ratios) to_network_io_ratios(r);
    out[{std::string(r.cluster), std::string(r.node), std::string(r.pod), r.time}] = r.values;
  }
  return out;
}

/// Every finding a detector hands out over `points`: taken as windows close, then at finish.
std::vector<finding> run(const k8snetio::rule_definition<2>& rule,
                         const k8snetio::baseline_table<2>& table,
                         const k8snetio::detection_options& options,
                         const std::vector<metric_point>& points,
                         std::optional<std::size_t> cut = std::nullopt) {
  auto d = std::make_unique<detector>(rule, table, options);
  std::vector<finding> out;
  for (std::size_t i = 0; i < points.size(); ++i) {
    d->add(points[i]);
    if (cut && i == *cut) {
      const std::string state = d->save_state();
      d = std::make_unique<detector>(rule, table, options);
      REQUIRE(d->restore_state(state));
    }
    for (finding& f : d->take_closed()) out.push_back(std::move(f));
  }
  d->end_of_input();
  if (d->failure()) {  // the ratio rule over directions sorted apart: read again, held (S1)
    auto held = options;
    held.span.closing = k8snetio::group_closing::at_finish;
    return run(rule, table, held, points, cut);
  }
  for (finding& f : d->finish().findings) out.push_back(std::move(f));
  return out;
}

/// Checks each finding's series against the pivoted input: every bucket of the pod in the
/// window (all of them for a final finding, those so far for a provisional one), the values
/// exactly, the baseline of its service. Returns how many findings drew normal buckets before
/// their first anomalous one.
std::size_t check_series(const std::vector<finding>& found, const pivoted_values& expected,
                         const k8snetio::rule_definition<2>& rule,
                         const k8snetio::baseline_table<2>& table) {
  std::size_t with_earlier_buckets = 0;
  for (const finding& f : found) {
    INFO(f.pod << " window " << f.window_start << " status " << static_cast<int>(f.status));
    REQUIRE(f.series);
    const auto& s = *f.series;
    REQUIRE(s.measures.size() == 2);
    const auto* entry = table.find(k8snetio::make_key(f.cluster, f.service));
    REQUIRE(entry);
    std::vector<std::int64_t> times;
    for (const auto& [key, values] : expected) {
      const auto& [cluster, node, pod, time] = key;
      if (cluster == f.cluster && node == f.host && pod == f.pod && time >= f.window_start &&
          time < f.window_end)
        times.push_back(time);
    }
    if (f.status == k8snetio::finding_status::provisional) {
      REQUIRE(s.times.size() <= times.size());
      times.resize(s.times.size());  // the buckets so far
      CHECK(s.times.size() >= f.count);
    }
    REQUIRE(s.times == times);
    for (std::size_t m = 0; m < 2; ++m) {
      CHECK(s.measures[m].measure == rule.measures->names[m]);
      CHECK(s.measures[m].avg == entry->avg[m].value);
      CHECK(s.measures[m].stdev == entry->stdev[m].value);
      REQUIRE(s.measures[m].values.size() == s.times.size());
      for (std::size_t i = 0; i < s.times.size(); ++i) {
        INFO("measure " << m << " bucket " << s.times[i]);
        CHECK(s.measures[m].values[i] == expected.at({f.cluster, f.host, f.pod, s.times[i]})[m]);
      }
    }
    // Every anomalous bucket is among the drawn ones, with the same value.
    for (const auto& a : f.measures) {
      const auto at = std::find(s.times.begin(), s.times.end(), a.time);
      REQUIRE(at != s.times.end());
      const auto m = static_cast<std::size_t>(
          std::distance(s.measures.begin(), std::find_if(s.measures.begin(), s.measures.end(),
                                                         [&](const k8snetio::measure_series& ms) {
                                                           return ms.measure == a.measure;
                                                         })));
      REQUIRE(m < 2);
      CHECK(s.measures[m].values[static_cast<std::size_t>(at - s.times.begin())] == a.value);
    }
    if (!f.measures.empty() && !s.times.empty() && s.times.front() < f.measures.front().time)
      ++with_earlier_buckets;
  }
  return with_earlier_buckets;
}

struct variant {
  const char* name;
  std::vector<owned> points;
  k8snetio::detection_options options;
};

std::vector<variant> variants() {
  const auto input = traffic(160, 5, 60);
  k8snetio::detection_options batch;
  batch.keep_finding_series = true;
  k8snetio::detection_options windows = batch;
  windows.window_seconds = 300;
  k8snetio::detection_options held = batch;
  held.span.closing = k8snetio::group_closing::at_finish;
  held.window_seconds = 600;
  k8snetio::detection_options early = batch;
  early.span.allowed_lateness = 0;
  early.window_seconds = 600;
  early.early_alerts = true;
  return {{"time-major, one window", input, batch},
          {"series-major, 5-minute windows", series_major(input), windows},
          {"held, 10-minute windows", series_major(input), held},
          {"live, early alerts, 10-minute windows", input, early}};
}

void check_rule(const k8snetio::rule_definition<2>& rule, const k8snetio::baseline_table<2>& table,
                bool ratios) {
  for (const variant& v : variants()) {
    INFO(v.name);
    const auto points = views(v.points);
    const auto expected = pivoted(points, ratios);
    const auto found = run(rule, table, v.options, points);
    REQUIRE(found.size() >= 2);
    CHECK(check_series(found, expected, rule, table) >= 2);
    if (v.options.early_alerts)
      CHECK(std::any_of(found.begin(), found.end(), [](const finding& f) {
        return f.status == k8snetio::finding_status::provisional;
      }));
  }
}

}  // namespace

TEST_CASE("O5 finding series are off by default") {
  const auto input = traffic(160, 5, 60);  // owns the strings the points view
  const auto points = views(input);
  const auto found = k8snetio::detect_anomalous_network_io(points, io_table()).findings;
  REQUIRE(!found.empty());
  for (const finding& f : found) CHECK_FALSE(f.series);
  detector d(k8snetio::anomalous_network_io, io_table(), {});
  for (const auto& p : points) d.add(p);
  CHECK(d.recorded_buckets() == 0);
  CHECK(d.settings().find("finding_series") == std::string::npos);
}

TEST_CASE("O5 series hold every bucket of the window, io rule") {
  check_rule(k8snetio::anomalous_network_io, io_table(), false);
}

TEST_CASE("O5 series hold every bucket of the window, ratio rule") {
  check_rule(k8snetio::network_io_ratio, ratio_table(), true);
}

TEST_CASE("O5 S4 series survive save and restore") {
  for (const variant& v : variants()) {
    INFO(v.name);
    const auto points = views(v.points);
    for (const auto* rule : {&k8snetio::anomalous_network_io, &k8snetio::network_io_ratio}) {
      const auto& table = rule == &k8snetio::network_io_ratio ? ratio_table() : io_table();
      const auto whole = run(*rule, table, v.options, points);
      REQUIRE(!whole.empty());
      for (std::size_t k = 0; k < 9; ++k) {
        const std::size_t cut = points.size() * k / 9 + k % 2;
        INFO("cut after point " << cut);
        const auto restored = run(*rule, table, v.options, points, cut);
        REQUIRE(restored.size() == whole.size());
        for (std::size_t i = 0; i < whole.size(); ++i) {
          CHECK(restored[i] == whole[i]);
          CHECK(restored[i].status == whole[i].status);
          CHECK(restored[i].series == whole[i].series);
        }
      }
    }
  }
}

TEST_CASE("O5 S4 a snapshot records whether series are kept") {
  const auto input = traffic(40, 6, 10);
  const auto points = views(input);
  k8snetio::detection_options off;
  k8snetio::detection_options on;
  on.keep_finding_series = true;
  detector plain(k8snetio::anomalous_network_io, io_table(), off);
  detector drawing(k8snetio::anomalous_network_io, io_table(), on);
  for (std::size_t i = 0; i < points.size() / 2; ++i) {
    plain.add(points[i]);
    drawing.add(points[i]);
  }
  CHECK(drawing.settings().ends_with(";finding_series=on"));
  CHECK(plain.save_state().size() < drawing.save_state().size());
  detector other(k8snetio::anomalous_network_io, io_table(), on);
  CHECK_THAT(k8snetio::test::refusal(other.restore_state(plain.save_state())),
             Catch::Contains("other settings") && Catch::Contains("finding_series=on"));
  detector again(k8snetio::anomalous_network_io, io_table(), off);
  CHECK_THAT(k8snetio::test::refusal(again.restore_state(drawing.save_state())),
             Catch::Contains("other settings"));
  // Truncated near its end, where the series are: refused.
  const std::string state = drawing.save_state();
  for (std::size_t n = state.size() - 1; n + 200 > state.size(); n -= 7) {
    detector fresh(k8snetio::anomalous_network_io, io_table(), on);
    CHECK(k8snetio::test::refused(fresh.restore_state(state.substr(0, n))));
  }
}

TEST_CASE("O5 S2.2 recorded buckets go when their window closes") {
  const auto input = traffic(400, 7, 100);
  const auto points = views(input);
  k8snetio::detection_options live;
  live.keep_finding_series = true;
  live.span.allowed_lateness = 20;
  live.window_seconds = 300;  // 30 buckets
  detector d(k8snetio::anomalous_network_io, io_table(), live);
  std::size_t most = 0, findings = 0;
  for (const auto& p : points) {
    d.add(p);
    most = std::max(most, d.recorded_buckets());
    for (const finding& f : d.take_closed()) {
      ++findings;
      REQUIRE(f.series);
      CHECK(f.series->times.size() == 30);
    }
  }
  CHECK(findings > 0);
  CHECK(most > 0);
  // Four pods, one window of 30 buckets plus the lateness' 3 (at most), never the 400 buckets.
  CHECK(most <= 4 * (30 + 3));
}

TEST_CASE("O5 S5 released pods drop their recorded buckets") {
  // 6000 short-lived pods of one service (3 buckets each, 20 alive at a time), no anomaly.
  std::vector<owned> input;
  for (int i = 0; i < 6000; ++i) {
    const std::string pod = fmt::format("churn-7d4b9c8f6d-{:05d}", i);
    for (int b = 0; b < 3; ++b) {
      const double t = static_cast<double>(t0 + 10 * (i / 20 * 3 + b));
      input.push_back({t + 1, 1000.0 + i % 7, "prod", pod, "node-1", "transmit"});
      input.push_back({t + 2, 2000.0 + i % 5, "prod", pod, "node-1", "receive"});
    }
  }
  const auto points = views(input);
  const auto table = k8snetio::build_network_io_baseline(points).table;
  k8snetio::detection_options options;
  options.keep_finding_series = true;
  options.span.idle_seconds = 60;
  detector d(k8snetio::anomalous_network_io, table, options);
  for (const auto& p : points) d.add(p);
  // Without releases every pod's 3 buckets would stay: 18 000.
  CHECK(d.pods_held() < 4096 + 100);
  CHECK(d.recorded_buckets() <= 3 * d.pods_held());
  CHECK(d.recorded_buckets() < 3 * 4096 + 300);
  CHECK(d.finish().findings.empty());
}

}  // namespace test_finding_series
