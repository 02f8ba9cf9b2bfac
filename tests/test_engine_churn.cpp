// engine.md S5, S5.1: under pod churn (new pod names every rollout) the engines hold the series
// alive now, not every name ever seen, and give the answer of engines that keep them all; a
// cap on series held refuses new ones, counted, and goes on with the rest.
#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/k8snetio.hpp>

namespace test_engine_churn {

namespace {

using k8snetio::metric_point;

constexpr std::int64_t t0 = 1700000000;

struct owned {
  double time, value;
  std::string cluster, pod, node, direction;
};

/// `pods` pod names over time, `alive` at once, each living `life` buckets, both directions;
/// every pod is `web-<hash>-<n>` of one service. Time-major.
std::vector<owned> churn(int pods, int alive, int life) {
  std::vector<owned> out;
  const int step = std::max(1, alive / life);  // new pods a bucket
  const int buckets = pods / step + life;
  for (int b = 0; b < buckets; ++b) {
    const int first = std::max(0, (b - life + 1) * step);
    const int last = std::min(pods, (b + 1) * step);
    for (int p = first; p < last; ++p) {
      std::string name = "web-7d4b9c8f6d-00000";  // D2.1: service "web"
      for (int k = 0, v = p; k < 5; ++k, v /= 36)
        name[name.size() - 1 - static_cast<std::size_t>(k)] =
            "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
      const double t = static_cast<double>(t0 + 10 * b);
      out.push_back({t + 1, 1000.0 + (p * 7 + b) % 97, "prod", name, "node-1", "transmit"});
      out.push_back({t + 2, 3000.0 + (p * 3 + b) % 89, "prod", name, "node-1", "receive"});
    }
  }
  return out;
}

std::vector<metric_point> views(const std::vector<owned>& points) {
  std::vector<metric_point> out;
  for (const auto& p : points)
    out.push_back({p.time, p.value, "", p.cluster, p.pod, p.node, p.direction});
  return out;
}

struct emitted {
  std::string cluster, pod, node, direction;
  std::int64_t time;
  double io;
  friend bool operator==(const emitted&, const emitted&) = default;
  friend auto operator<=>(const emitted&, const emitted&) = default;
};

std::vector<emitted> rows_of(k8snetio::span_aggregator& a, const std::vector<metric_point>& in,
                             std::size_t* most_live = nullptr) {
  std::vector<emitted> rows;
  const auto sink = [&rows](const k8snetio::span_row& r) {
    rows.push_back({std::string(r.cluster), std::string(r.pod), std::string(r.node),
                    std::string(r.direction), r.time, r.io});
  };
  for (const auto& p : in) {
    a.add(p);
    a.emit_closed(sink);
    if (most_live) *most_live = std::max(*most_live, a.live_series());
  }
  a.finish(sink);
  return rows;
}

k8snetio::span_options streaming(std::int64_t idle) {
  k8snetio::span_options o;
  o.closing = k8snetio::group_closing::by_series;
  o.idle_seconds = idle;
  return o;
}

}  // namespace

TEST_CASE(
    "S5 span_aggregator: idle series release their state; the rows are those of an "
    "aggregator that keeps every series") {
  const auto input = churn(20000, 100, 6);
  const auto points = views(input);
  k8snetio::span_aggregator keeping(streaming(0));
  std::size_t all = 0;
  const auto expected = rows_of(keeping, points, &all);
  CHECK(all == 40000);  // every name ever seen, both directions

  k8snetio::span_aggregator releasing(streaming(60));
  std::size_t most = 0;
  const auto rows = rows_of(releasing, points, &most);
  CHECK(rows == expected);
  CHECK(releasing.stats().out_of_order == 0);
  CHECK(releasing.stats().series_released > 30000);
  // Held at once: the pods alive plus those idle for less than a minute, and the sweep's slack.
  CHECK(most <= 2 * 4096);
  CHECK(releasing.series_count() <= 2 * 4096);  // ids are reused
}

TEST_CASE(
    "S5 a point of a released series for an emitted bucket is refused as out of order, "
    "never merged; the one-call functions then answer exactly from a second pass") {
  auto input = churn(20000, 100, 6);
  owned early = input.front();  // the first pod's first bucket, long released by the end
  early.value = 1e9;
  input.push_back(early);
  const auto points = views(input);
  k8snetio::span_aggregator a(streaming(60));
  rows_of(a, points);
  CHECK(a.stats().out_of_order == 1);

  k8snetio::baseline_run_options held;
  held.span.closing = k8snetio::group_closing::at_finish;
  const auto exact = k8snetio::build_network_io_baseline(points, held);
  const auto answered = k8snetio::build_network_io_baseline(points);
  CHECK(k8snetio::io::write_baseline_csv(answered.table) ==
        k8snetio::io::write_baseline_csv(exact.table));
  CHECK(exact.table.size() == 1);
  CHECK(answered.stats.out_of_order == 0);
}

TEST_CASE(
    "S5 series-major input with many pod names streams as before; nothing is released, "
    "since releasing would refuse it") {
  auto input = churn(6000, 100, 6);
  // Pods newest first: each new series starts far behind the newest bucket seen.
  std::stable_sort(input.begin(), input.end(), [](const owned& a, const owned& b) {
    return std::tie(b.pod, a.direction) < std::tie(a.pod, b.direction);
  });
  const auto points = views(input);
  k8snetio::span_aggregator keeping(streaming(0));
  const auto expected = rows_of(keeping, points);
  k8snetio::span_aggregator a(streaming(60));
  CHECK(rows_of(a, points) == expected);
  CHECK(a.stats().out_of_order == 0);
  CHECK(a.stats().series_released == 0);
}

TEST_CASE("S5 live, with an allowed lateness: idle series are released, the rows are the same") {
  const auto input = churn(20000, 100, 6);
  const auto points = views(input);
  k8snetio::span_options keep = streaming(0);
  keep.allowed_lateness = 10;
  k8snetio::span_options release = keep;
  release.idle_seconds = 60;
  k8snetio::span_aggregator keeping(keep), releasing(release);
  std::size_t most = 0;
  CHECK(rows_of(releasing, points, &most) == rows_of(keeping, points));
  CHECK(releasing.stats().series_released > 30000);
  CHECK(most <= 2 * 4096);
}

TEST_CASE(
    "S5 S4 detection under churn, both rules: the findings of a detector that keeps "
    "every series and pod, with pods held bounded, and a snapshot taken after releases "
    "restores exactly") {
  auto input = churn(12000, 100, 12);
  // A pod that sends far more for its whole life: a finding of both rules.
  for (auto& p : input)
    if (p.pod == "web-7d4b9c8f6d-003uw" && p.direction == "transmit") p.value = 1e6;
  const auto points = views(input);
  for (const auto* rule : {&k8snetio::anomalous_network_io, &k8snetio::network_io_ratio}) {
    INFO(rule->metadata->name);
    const auto table = k8snetio::build_baseline(*rule, points).table;
    k8snetio::detection_options keep;
    keep.span.idle_seconds = 0;
    keep.window_seconds = 3600;
    const auto expected = k8snetio::detect(*rule, points, table, keep);
    REQUIRE(expected.findings.size() == 1);
    CHECK(expected.stats.series_released == 0);

    k8snetio::detection_options release = keep;
    release.span.idle_seconds = 60;
    const auto uninterrupted = k8snetio::detect(*rule, points, table, release);
    CHECK(uninterrupted.findings == expected.findings);
    CHECK(uninterrupted.stats.series_released > 10000);
    k8snetio::detector<2, k8snetio::baseline_table<2>> d(*rule, table, release);
    std::size_t i = 0;
    std::size_t most_pods = 0;
    for (; i < points.size() / 2; ++i) {
      d.add(points[i]);
      most_pods = std::max(most_pods, d.pods_held());
    }
    REQUIRE(d.stats().series_released > 0);
    CHECK(most_pods <= 4096 + 256);  // of 6,000 pods so far: those alive, idle, since a sweep
    k8snetio::detector<2, k8snetio::baseline_table<2>> restored(*rule, table, release);
    REQUIRE(restored.restore_state(d.save_state()));
    for (; i < points.size(); ++i) {
      restored.add(points[i]);
      most_pods = std::max(most_pods, restored.pods_held());
    }
    CHECK(most_pods <= 4096 + 256);
    const auto found = restored.finish();
    CHECK(found.findings == expected.findings);
    CHECK(found.stats.aggregated == expected.stats.aggregated);
    CHECK(found.stats.series_released > 10000);
  }
}

TEST_CASE(
    "S5.1 the cap on series held: a new series beyond it is refused and counted; the "
    "series already held go on") {
  const auto input = churn(50, 50, 1000);
  const auto points = views(input);  // 50 pods alive together, 100 series
  k8snetio::span_options capped = streaming(0);
  capped.max_series = 60;
  k8snetio::span_aggregator a(capped);
  const auto rows = rows_of(a, points);
  CHECK(a.live_series() == 60);
  CHECK(a.stats().series_limit > 0);
  CHECK(a.stats().series_limit == a.stats().points_in - a.stats().aggregated);
  // Every row that came out is one of the first 60 series', whole.
  k8snetio::span_aggregator all(streaming(0));
  auto every = rows_of(all, points);
  std::sort(every.begin(), every.end());  // searched 60,000 times: sorted, not scanned
  const auto strays = std::count_if(rows.begin(), rows.end(), [&every](const emitted& r) {
    return !std::binary_search(every.begin(), every.end(), r);
  });
  CHECK(strays == 0);
  CHECK(rows.size() == every.size() * 60 / 100);
  const k8snetio::add_outcome refused = a.add(
      metric_point{static_cast<double>(t0), 1, "", "prod", "another-pod", "node-1", "transmit"});
  CHECK(refused.reason == k8snetio::drop_reason::series_limit);
}

TEST_CASE(
    "S5 baseline under churn, both rules: idle series released by default, the table of "
    "a runner that keeps every series, bit for bit") {
  const auto input = churn(20000, 100, 6);
  const auto points = views(input);
  k8snetio::baseline_run_options keep;
  keep.span.idle_seconds = 0;
  for (const auto* rule : {&k8snetio::anomalous_network_io, &k8snetio::network_io_ratio}) {
    INFO(rule->metadata->name);
    const auto expected = k8snetio::build_baseline(*rule, points, keep);
    k8snetio::baseline_runner<2> runner(*rule);  // the default options
    for (const auto& p : points) REQUIRE(runner.add(p));
    REQUIRE(runner.stats().series_released > 20000);  // idle for an hour
    const auto got = runner.finish();
    CHECK(k8snetio::io::write_baseline_csv(got.table) ==
          k8snetio::io::write_baseline_csv(expected.table));
    CHECK(got.table.size() == 1);
  }
}

}  // namespace test_engine_churn
