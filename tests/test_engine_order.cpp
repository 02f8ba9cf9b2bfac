// engine.md S1, S1.1 and detection.md B7: the baseline engine gives the spec's table for any
// order of its input (time-major, series-major, reversed, shuffled), streams time-major and
// series-major input in bounded memory, and never folds a point into an answer it cannot be
// exact for.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <range/v3/view/facade.hpp>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/k8snetio.hpp>

#include "support.hpp"

namespace test_engine_order {

namespace {

using k8snetio::metric_point;
using k8snetio::test::owned_point;

constexpr std::int64_t t0 = 1700000000;

/// Fractional values (so that the order of additions shows in the last bits), two clusters,
/// three services of several pods, both directions, two interfaces now and then.
std::vector<owned_point> time_major_points(int buckets, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.0, 1.0);
  const std::vector<std::string> pods = {
      "web-7d4b9c8f6d-x2k9p", "web-7d4b9c8f6d-q8w2e", "api-5f6d7c8b9a-z9y8x", "db-0", "db-1",
      "kube-proxy-a1b2c"};
  std::vector<owned_point> points;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(t0 + 10 * b);
    for (const char* cluster : {"prod", "dev"}) {
      for (std::size_t p = 0; p < pods.size(); ++p) {
        const std::string node = p % 2 ? "node-2" : "node-1";
        const double base = 1000.0 * static_cast<double>(p + 1);
        const auto add = [&](double time, double value, const char* direction) {
          points.push_back({time, value, "k8s.pod.network.io", cluster, pods[p], node, direction});
        };
        add(t + 1.5, base * (1 + noise(rng)), "transmit");
        if (b % 3 == 0) add(t + 2.5, base * (1.1 + noise(rng)), "transmit");
        add(t + 3.25, 3 * base * (1 + noise(rng)), "receive");
      }
    }
  }
  return points;
}

/// Each series (cluster, pod, node, direction) in time order, one series after another.
std::vector<owned_point> series_major(std::vector<owned_point> points) {
  std::stable_sort(points.begin(), points.end(), [](const owned_point& a, const owned_point& b) {
    return std::tie(a.cluster, a.pod, a.node, a.direction) <
           std::tie(b.cluster, b.pod, b.node, b.direction);  // stable: time order kept
  });
  return points;
}

std::vector<metric_point> views(const std::vector<owned_point>& points) {
  std::vector<metric_point> out;
  for (const auto& p : points)
    out.push_back({p.time, p.value, p.metric_name, p.cluster, p.pod, p.node, p.direction});
  return out;
}

template <std::size_t N>
std::string table_csv(const k8snetio::baseline_table<N>& table) {
  return k8snetio::io::write_baseline_csv(table);
}

/// The reference of D1.4/B3 for one file: every group held, folded in first-appearance order.
template <std::size_t N>
std::string reference_csv(const k8snetio::rule_definition<N>& rule,
                          const std::vector<metric_point>& points) {
  k8snetio::baseline_run_options hold;
  hold.span.closing = k8snetio::group_closing::at_finish;
  return table_csv(k8snetio::build_baseline(rule, points, hold).table);
}

/// Same keys, counts and last_seen; every number within `tolerance` relative.
template <std::size_t N>
void check_close(const k8snetio::baseline_table<N>& a, const k8snetio::baseline_table<N>& b,
                 double avg_tolerance, double stdev_tolerance) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a.rows()[i];
    const auto& y = b.rows()[i];
    INFO("key " << x.key);
    REQUIRE(x.key == y.key);
    CHECK(x.entry.count == y.entry.count);
    CHECK(x.entry.last_seen == y.entry.last_seen);
    for (std::size_t m = 0; m < N; ++m) {
      const auto close = [](const k8snetio::baseline_cell& u, const k8snetio::baseline_cell& v,
                            double tolerance) {
        if (!u.value || !v.value) return !u.value && !v.value;
        return std::abs(*u.value - *v.value) <= tolerance * std::max(std::abs(*u.value), 1e-300);
      };
      CHECK(close(x.entry.avg[m], y.entry.avg[m], avg_tolerance));
      CHECK(close(x.entry.stdev[m], y.entry.stdev[m], stdev_tolerance));
    }
  }
}

}  // namespace

TEST_CASE("S1 baseline: every order gives the reference table of that same input, byte for byte") {
  const auto time_major = time_major_points(90, 7);
  auto reversed = time_major;
  std::reverse(reversed.begin(), reversed.end());
  auto shuffled = time_major;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(11));
  const std::vector<std::pair<const char*, std::vector<owned_point>>> orders = {
      {"time-major", time_major},
      {"series-major", series_major(time_major)},
      {"reversed", reversed},
      {"shuffled", shuffled}};

  const auto expected_rows = k8snetio::build_network_io_baseline(views(time_major)).table;
  REQUIRE(expected_rows.size() == 10);  // {prod, dev} × {web, api, db-0, db-1, kube-proxy}
  for (const auto& [name, owned] : orders) {
    INFO(name);
    const auto points = views(owned);
    // Byte-identical to the reference for the same file (first-appearance order of D1.4/B3).
    const auto streamed = k8snetio::build_network_io_baseline(points);
    CHECK(table_csv(streamed.table) == reference_csv(k8snetio::anomalous_network_io, points));
    CHECK(streamed.stats.late == 0);
    CHECK(streamed.stats.out_of_order == 0);  // the result's stats are the exact pass's
    CHECK(streamed.stats.aggregated == points.size());
    const auto ratio = k8snetio::build_network_io_ratio_baseline(points);
    CHECK(table_csv(ratio.table) == reference_csv(k8snetio::network_io_ratio, points));
    // Across orders: the same keys, counts and times; the numbers differ at most in the last
    // bits that a different order of additions changes (the stdev of Splunk's formula
    // amplifies them by mean²/variance, hence its looser bound).
    check_close(streamed.table, expected_rows, 1e-12, 1e-9);
  }
}

TEST_CASE("S1 time-major and series-major input stream without a second pass") {
  const auto time_major = time_major_points(60, 3);
  for (const auto& owned : {time_major, series_major(time_major)}) {
    const auto points = views(owned);
    k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io);
    for (const auto& p : points) CHECK(runner.add(p));
    CHECK_FALSE(runner.failure());
    CHECK(table_csv(runner.finish().table) ==
          reference_csv(k8snetio::anomalous_network_io, points));
  }
}

TEST_CASE("S1.1 streaming memory: open groups stay bounded on long time-major input") {
  const auto owned = time_major_points(400, 5);  // owns the strings the views point into
  const auto points = views(owned);
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io);
  std::size_t most_open = 0;
  for (const auto& p : points) {
    runner.add(p);
    most_open = std::max(most_open, runner.open_groups());
  }
  CHECK_FALSE(runner.failure());
  // 24 series (2 clusters × 6 pods × 2 directions): at most one bucket of them plus the next.
  CHECK(most_open <= 2 * 24);
}

TEST_CASE("S1.1 streaming memory: series-major input is held only up to the series window") {
  const auto owned = series_major(time_major_points(400, 5));
  const auto points = views(owned);
  k8snetio::baseline_run_options options;
  options.span.series_window = 100;
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io, options);
  std::size_t most_open = 0;
  for (const auto& p : points) {
    runner.add(p);
    most_open = std::max(most_open, runner.open_groups());
  }
  CHECK_FALSE(runner.failure());
  CHECK(most_open <= 101);
  CHECK(table_csv(runner.finish().table) == reference_csv(k8snetio::anomalous_network_io, points));
}

TEST_CASE("S1 a point for a folded group is refused, never merged, and finish refuses to answer") {
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io);
  const auto at = [](double t, double v) {
    return metric_point{t, v, "", "prod", "web-7d4b9c8f6d-x2k9p", "node-1", "transmit"};
  };
  CHECK(runner.add(at(t0 + 1, 10)));
  CHECK(runner.add(at(t0 + 11, 20)));  // the series moves on: bucket t0 is folded
  const k8snetio::add_outcome late = runner.add(at(t0 + 2, 30));
  CHECK_FALSE(late);
  CHECK(late.reason == k8snetio::drop_reason::out_of_order);
  REQUIRE(runner.failure() == k8snetio::drop_reason::out_of_order);
  CHECK(runner.stats().out_of_order == 1);
  CHECK_THROWS_AS(runner.finish(), k8snetio::incomplete_baseline);
}

TEST_CASE("S1.1 holding an unordered input past max_open_groups stops with an error") {
  auto points = time_major_points(50, 9);
  std::shuffle(points.begin(), points.end(), std::mt19937(1));
  k8snetio::baseline_run_options options;
  options.span.max_open_groups = 100;
  CHECK_THROWS_AS(k8snetio::build_network_io_baseline(views(points), options),
                  k8snetio::incomplete_baseline);
  options.span.max_open_groups = 0;
  CHECK(k8snetio::build_network_io_baseline(views(points), options).table.size() == 10);
}

TEST_CASE("S1 a single-pass range is held from the start and still exact") {
  auto owned = time_major_points(30, 4);
  std::shuffle(owned.begin(), owned.end(), std::mt19937(2));
  const auto points = views(owned);
  // An input_range over the same points: it can be read once only.
  struct input_only : ranges::view_facade<input_only> {
    const std::vector<metric_point>* v = nullptr;
    std::size_t i = 0;
    input_only() = default;
    explicit input_only(const std::vector<metric_point>& p) : v(&p) {}
    friend ranges::range_access;
    struct cursor {
      input_only* self;
      const metric_point& read() const { return (*self->v)[self->i]; }
      void next() { ++self->i; }
      bool equal(ranges::default_sentinel_t) const { return self->i == self->v->size(); }
    };
    cursor begin_cursor() { return {this}; }
  };
  input_only once(points);
  static_assert(!ranges::forward_range<input_only>);
  CHECK(table_csv(k8snetio::build_network_io_baseline(once).table) ==
        reference_csv(k8snetio::anomalous_network_io, points));
}

TEST_CASE("B7 O6.6 sums that overflow give empty cells for that key's measure, named, not inf") {
  std::vector<metric_point> points;
  for (int b = 0; b < 3; ++b) {
    const double t = static_cast<double>(t0 + 10 * b);
    points.push_back({t, 1e308, "", "prod", "huge-0", "node-1", "transmit"});
    points.push_back({t, 5, "", "prod", "huge-0", "node-1", "receive"});
    points.push_back({t, 7, "", "prod", "fine-0", "node-1", "transmit"});
  }
  const auto result = k8snetio::build_network_io_baseline(points);
  REQUIRE(result.overflowed == std::vector<std::string>{"prod:huge-0"});
  const auto* huge = result.table.find("prod:huge-0");
  REQUIRE(huge);
  const std::size_t out = *k8snetio::network_io_measures.index_of("outbound_network_io");
  const std::size_t in = *k8snetio::network_io_measures.index_of("inbound_network_io");
  CHECK_FALSE(huge->avg[out].value);
  CHECK(huge->avg[out].text.empty());
  CHECK_FALSE(huge->stdev[out].value);
  CHECK(huge->avg[in] == k8snetio::baseline_cell{5.0, "5"});
  CHECK(huge->count == std::optional<std::uint64_t>(6));
  // The table is one that detect loads: no inf or nan anywhere in its text.
  const std::string csv = table_csv(result.table);
  CHECK(csv.find("inf") == std::string::npos);
  CHECK(csv.find("nan") == std::string::npos);
  CHECK(k8snetio::io::read_baseline_csv<2>(csv, "b7.csv", k8snetio::network_io_measures));
}

}  // namespace test_engine_order
