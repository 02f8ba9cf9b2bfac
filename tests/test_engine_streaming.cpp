// engine.md S1, S2.1–S2.3 for detection: one streaming engine whose findings do not depend on
// the input's order or chunking, whose memory does not grow with the window, and which, fed
// live (an allowed lateness), hands out a window's findings as soon as the window closes.
#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <k8snetio/k8snetio.hpp>
#include <k8snetio/stages/pcre2_service_normalizer.hpp>  // D2.4: service_pattern

namespace test_engine_streaming {

namespace {

using k8snetio::finding;
using k8snetio::metric_point;

constexpr std::int64_t t0 = 1700000000;

struct owned {
  double time, value;
  std::string cluster, pod, node, direction;
};

/// `buckets` buckets of six pods in two clusters, both directions; from bucket `spike_from`
/// on, two pods of prod send far more (they become findings after six such buckets).
std::vector<owned> traffic(int buckets, std::uint32_t seed, int spike_from = 1 << 30) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.0, 100.0);
  const std::vector<std::string> pods = {"web-7d4b9c8f6d-x2k9p", "web-7d4b9c8f6d-q8w2e",
                                         "api-5f6d7c8b9a-z9y8x", "db-0",
                                         "kube-proxy-a1b2c",     "cache-0"};
  std::vector<owned> out;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(t0 + 10 * b);
    for (const char* cluster : {"prod", "dev"}) {
      for (std::size_t p = 0; p < pods.size(); ++p) {
        const bool spike = b >= spike_from && std::string(cluster) == "prod" && (p == 0 || p == 3);
        const std::string node = p % 2 ? "node-2" : "node-1";
        const double tx = 1000 + noise(rng) + (spike ? 9000 : 0);
        out.push_back({t + 1.25, tx, cluster, pods[p], node, "transmit"});
        if (b % 4 == 0) out.push_back({t + 2.5, tx + 3.5, cluster, pods[p], node, "transmit"});
        if (p != 5)  // cache-0 sends only: its rows have one direction (D3.1 null inbound)
          out.push_back({t + 3.75, 3000 + noise(rng), cluster, pods[p], node, "receive"});
      }
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

std::vector<owned> series_major(std::vector<owned> points) {
  std::stable_sort(points.begin(), points.end(), [](const owned& a, const owned& b) {
    return std::tie(a.cluster, a.pod, a.node, a.direction) <
           std::tie(b.cluster, b.pod, b.node, b.direction);
  });
  return points;
}

const k8snetio::baseline_table<2>& trained() {
  static const auto table = k8snetio::build_network_io_baseline(views(traffic(200, 1))).table;
  return table;
}

k8snetio::detection_options held(k8snetio::detection_options o = {}) {
  o.span.closing = k8snetio::group_closing::at_finish;
  return o;
}

}  // namespace

TEST_CASE("S2.3 detection: every input order gives the findings of the input held whole") {
  const auto hour = traffic(360, 2, 300);
  auto reversed = hour;
  std::reverse(reversed.begin(), reversed.end());
  auto shuffled = hour;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(5));
  k8snetio::detection_options windowed;
  windowed.window_seconds = 600;
  for (const auto& options : {k8snetio::detection_options{}, windowed}) {
    const auto reference =
        k8snetio::detect_anomalous_network_io(views(hour), trained(), held(options));
    // web-…-x2k9p and db-0 in prod; with 600 s windows the spike spans two windows.
    REQUIRE(reference.findings.size() == (options.window_seconds ? 4u : 2u));
    for (const auto& input : {hour, series_major(hour), reversed, shuffled}) {
      const auto found = k8snetio::detect_anomalous_network_io(views(input), trained(), options);
      CHECK(found.findings == reference.findings);
      CHECK(found.stats.aggregated == reference.stats.aggregated);
    }
  }
}

TEST_CASE("S1 detection: time-major and series-major input stream without a second pass") {
  const auto hour = traffic(360, 3, 300);
  const auto reference = k8snetio::detect_anomalous_network_io(views(hour), trained(), held());
  for (const auto& input : {hour, series_major(hour)}) {
    k8snetio::detector<2, k8snetio::baseline_table<2>> d(k8snetio::anomalous_network_io, trained(),
                                                         {});
    for (const auto& p : views(input)) CHECK(d.add(p));
    CHECK_FALSE(d.failure());
    CHECK(d.finish().findings == reference.findings);
  }
}

TEST_CASE(
    "S1 detection: directions sorted apart stream for the main rule; the ratio rule, "
    "which joins them, reads such input a second time") {
  // Every transmit row of the input before any receive row.
  const auto hour = traffic(120, 4, 100);
  auto by_direction = hour;
  std::stable_sort(by_direction.begin(), by_direction.end(),
                   [](const owned& a, const owned& b) { return a.direction > b.direction; });
  k8snetio::detection_options small;
  small.span.series_window = 16;

  k8snetio::detector<2, k8snetio::baseline_table<2>> main_rule(k8snetio::anomalous_network_io,
                                                               trained(), small);
  for (const auto& p : views(by_direction)) main_rule.add(p);
  main_rule.end_of_input();
  CHECK_FALSE(main_rule.failure());
  const auto main_found = main_rule.finish().findings;
  CHECK(main_found ==
        k8snetio::detect_anomalous_network_io(views(hour), trained(), held()).findings);
  CHECK_FALSE(main_found.empty());

  static const auto ratio_table =
      k8snetio::build_network_io_ratio_baseline(views(traffic(200, 1))).table;
  k8snetio::detector<2, k8snetio::baseline_table<2>> ratio(k8snetio::network_io_ratio, ratio_table,
                                                           small);
  for (const auto& p : views(by_direction)) ratio.add(p);
  ratio.end_of_input();
  REQUIRE(ratio.failure() == k8snetio::drop_reason::out_of_order);
  CHECK_THROWS_AS(ratio.finish(), k8snetio::incomplete_detection);
  // The one-call form reads it again held, and gets the reference.
  CHECK(k8snetio::detect_network_io_ratio(views(by_direction), ratio_table, small).findings ==
        k8snetio::detect_network_io_ratio(views(hour), ratio_table, held()).findings);
}

TEST_CASE("S2.2 detection memory does not grow with the window or the input") {
  const auto most_open = [](int buckets, std::int64_t window) {
    k8snetio::detection_options options;
    options.window_seconds = window;
    k8snetio::detector<2, k8snetio::baseline_table<2>> d(k8snetio::anomalous_network_io, trained(),
                                                         options);
    std::size_t most = 0;
    const auto input = traffic(buckets, 6, buckets / 2);  // owns the strings of the views
    for (const auto& p : views(input)) {
      d.add(p);
      most = std::max(most, d.open_rows());
    }
    CHECK_FALSE(d.failure());
    return most;
  };
  const std::size_t one_window = most_open(360, 3600);
  const std::size_t six_windows = most_open(6 * 360, 3600);
  // Open buckets of the 24 series plus half-joined rows: a few buckets' worth, whatever the
  // length; never the window's 8,000 rows.
  CHECK(one_window <= 4 * 24);
  CHECK(six_windows <= one_window + 8);
}

TEST_CASE("S2.1 live: a window's findings come out once the watermark passes its end") {
  k8snetio::detection_options live;
  live.span.allowed_lateness = 0;
  live.window_seconds = 600;  // 60 buckets a window
  const auto input = traffic(180, 7, 40);
  const auto points = views(input);
  k8snetio::detector<2, k8snetio::baseline_table<2>> d(k8snetio::anomalous_network_io, trained(),
                                                       live);
  std::vector<finding> early;
  std::size_t first_seen_at = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    d.add(points[i]);
    auto closed = d.take_closed();
    if (!closed.empty() && early.empty()) first_seen_at = i;
    std::move(closed.begin(), closed.end(), std::back_inserter(early));
  }
  REQUIRE_FALSE(early.empty());
  // The spike starts at bucket t0+400, the start of a window (t0 is 200 s into a 600 s window).
  // That window's last bucket is complete, with lateness 0, once bucket t0+1000 begins: its
  // findings came out then, long before the input ended.
  const std::int64_t spiked_window = t0 - t0 % 600 + 600;
  CHECK(early.front().window_start == spiked_window);
  CHECK(points[first_seen_at].time >= static_cast<double>(spiked_window + 600));
  CHECK(points[first_seen_at].time < static_cast<double>(spiked_window + 610));
  auto rest = d.finish();
  std::move(rest.findings.begin(), rest.findings.end(), std::back_inserter(early));
  // The same findings as the batch run over the same points, windows in time order.
  k8snetio::detection_options batch;
  batch.window_seconds = 600;
  CHECK(early == k8snetio::detect_anomalous_network_io(points, trained(), batch).findings);
}

TEST_CASE("D5.4 keys seen without a baseline row are counted with their pods and buckets") {
  const auto input = traffic(30, 8);
  std::vector<owned> more = input;
  for (int b = 0; b < 30; ++b)  // a service the baseline has never seen, in a new cluster
    more.push_back(
        {static_cast<double>(t0 + 10 * b) + 5, 10, "staging", "new-svc-abcde", "n-9", "transmit"});
  const auto result = k8snetio::detect_anomalous_network_io(views(more), trained());
  REQUIRE(result.unbaselined.size() == 1);
  CHECK(result.unbaselined[0] == k8snetio::unbaselined_key{"staging:new-svc", 1, 30});
}

namespace {
/// Every start a distinct_buckets holds, ascending, from its runs and its unaligned starts.
std::vector<std::int64_t> starts_of(const k8snetio::detail::distinct_buckets& b,
                                    std::int64_t step) {
  std::vector<std::int64_t> out;
  for (const auto& r : b.runs())
    for (std::uint64_t k = 0; k < r.count; ++k)
      out.push_back(r.first + static_cast<std::int64_t>(k) * step);
  const auto other = b.unaligned();
  out.insert(out.end(), other.begin(), other.end());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST_CASE("D5.4 S1.1 an unbaselined key's distinct buckets are counted exactly in any order") {
  // detail::distinct_buckets against std::set: in order, nearly in order (late rows), reversed,
  // shuffled, with repeats, with gaps, with starts off the span's multiples; enough shuffled
  // starts to fold the out-of-order ones into runs; then the detector on shuffled rows.
  std::mt19937_64 rng(54);
  for (int shape = 0; shape < 7; ++shape)
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<std::int64_t> starts;
      const int n =
          shape == 6 ? 6000 + static_cast<int>(rng() % 3000) : 1 + static_cast<int>(rng() % 400);
      for (int i = 0; i < n; ++i) starts.push_back(t0 + 10 * i);
      if (shape == 1)  // late rows: each start may swap with one up to 5 places later
        for (std::size_t i = 0; i + 1 < starts.size(); ++i)
          std::swap(starts[i], starts[std::min(starts.size() - 1, i + rng() % 6)]);
      if (shape == 2) std::reverse(starts.begin(), starts.end());
      if (shape == 3 || shape == 6) std::shuffle(starts.begin(), starts.end(), rng);
      if (shape == 4)  // every start two to four times, shuffled
        for (int i = 0; i < n; ++i)
          for (std::uint64_t k = rng() % 3 + 1; k > 0; --k) starts.push_back(t0 + 10 * i);
      if (shape == 4) std::shuffle(starts.begin(), starts.end(), rng);
      if (shape == 5) {  // gaps (a pod that comes and goes) and starts between the multiples
        std::erase_if(starts, [&](std::int64_t) { return rng() % 4 == 0; });
        for (int i = 0; i < 20; ++i)
          starts.push_back(t0 + 10 * static_cast<std::int64_t>(rng() % 400) + 3);
        std::shuffle(starts.begin(), starts.end(), rng);
      }
      k8snetio::detail::distinct_buckets got(10);
      std::set<std::int64_t> want;
      for (std::int64_t t : starts) {
        got.insert(t);
        want.insert(t);
        REQUIRE(got.size() == want.size());
      }
      CHECK(std::vector<std::int64_t>(want.begin(), want.end()) == starts_of(got, 10));
      if (shape <= 4 || shape == 6) CHECK(got.runs().size() == 1);  // no gap: one run
    }
  // The same counts from the detector, with its rows in a shuffled order.
  std::vector<owned> more = traffic(30, 8);
  for (int b = 0; b < 30; ++b)
    for (int repeat = 0; repeat < 2; ++repeat)
      more.push_back({static_cast<double>(t0 + 10 * b) + 5 + repeat, 10, "staging", "new-svc-abcde",
                      "n-9", "transmit"});
  std::shuffle(more.begin(), more.end(), rng);
  const auto result = k8snetio::detect_anomalous_network_io(views(more), trained());
  REQUIRE(result.unbaselined.size() == 1);
  CHECK(result.unbaselined[0] == k8snetio::unbaselined_key{"staging:new-svc", 1, 30});
}

TEST_CASE("D5.4 a key without a baseline row holds one run however long it is seen") {
  // A live service's month of a new service: 259,200 buckets in order, a few late ones among
  // them, and the memory is one run, not 8 bytes a bucket.
  k8snetio::detail::distinct_buckets buckets(10);
  for (std::int64_t b = 0; b < 259'200; ++b) {
    buckets.insert(t0 + 10 * b);
    if (b % 1000 == 999) buckets.insert(t0 + 10 * (b - 7));  // late, already held
  }
  CHECK(buckets.size() == 259'200);
  CHECK(buckets.pieces() == 1);
  REQUIRE(buckets.runs().size() == 1);
  CHECK(buckets.runs()[0] == k8snetio::detail::distinct_buckets::run{t0, 259'200});
  // A pod that is gone for an hour and comes back: two runs.
  for (std::int64_t b = 259'200 + 360; b < 259'200 + 720; ++b) buckets.insert(t0 + 10 * b);
  CHECK(buckets.size() == 259'560);
  CHECK(buckets.pieces() == 2);
}

TEST_CASE("D2.4 the engines drop and count rows whose pod name hits the user pattern's limit") {
  std::vector<owned> input = traffic(12, 9);
  const std::string hostile(40, 'a');  // (a+)+$ backtracks exponentially on "aaa…ab"
  for (int b = 0; b < 12; ++b)
    input.push_back(
        {static_cast<double>(t0 + 10 * b) + 5, 10, "prod", hostile + "b", "node-1", "transmit"});
  k8snetio::detection_options options;
  options.service_pattern = "(a+)+$";
  const auto found = k8snetio::detect_anomalous_network_io(views(input), trained(), options);
  CHECK(found.service_pattern_limit == 12);
  k8snetio::baseline_run_options baseline_options;
  baseline_options.service_pattern = "(a+)+$";
  const auto table = k8snetio::build_network_io_baseline(views(input), baseline_options);
  CHECK(table.service_pattern_limit == 12);
  CHECK_FALSE(table.table.find("prod:" + hostile + "b"));
  CHECK(table.table.find("prod:db-0"));  // every other name still flows
}

TEST_CASE("D6.3 a finding carries its anomalous measures as data, the text's own numbers") {
  const auto input = traffic(120, 10, 100);
  const auto result = k8snetio::detect_anomalous_network_io(views(input), trained());
  REQUIRE_FALSE(result.findings.empty());
  for (const finding& f : result.findings) {
    INFO(f.pod);
    REQUIRE(f.measures.size() >= f.count);  // at least one exceeding measure per bucket
    CHECK(std::is_sorted(f.measures.begin(), f.measures.end(),
                         [](const auto& a, const auto& b) { return a.time < b.time; }));
    for (const auto& m : f.measures) {
      REQUIRE(m.avg);
      REQUIRE(m.stdev);
      REQUIRE(m.z);
      CHECK(m.value > *m.avg + 4 * *m.stdev);
      CHECK(*m.z == (m.value - *m.avg) / *m.stdev);
      // The same numbers are in one of the finding's texts, rendered by D6.3.
      std::string z_text;
      k8snetio::spl::append_round2(z_text, *m.z);
      const std::string needle = m.measure + " higher than average by " + z_text;
      CHECK(std::any_of(f.anomalies.begin(), f.anomalies.end(),
                        [&](const std::string& t) { return t.find(needle) != std::string::npos; }));
    }
    CHECK(f.largest_z() ==
          std::max_element(f.measures.begin(), f.measures.end(), [](const auto& a, const auto& b) {
            return *a.z < *b.z;
          })->z);
  }
}

TEST_CASE(
    "S3 early alert: a provisional finding after the 6th anomalous bucket, the final one "
    "when the window closes") {
  k8snetio::detection_options live;
  live.span.allowed_lateness = 0;
  live.window_seconds = 600;
  live.early_alerts = true;
  const auto input = traffic(180, 7, 40);  // the spike starts at t0+400, a window's start
  const auto points = views(input);
  k8snetio::detector<2, k8snetio::baseline_table<2>> d(k8snetio::anomalous_network_io, trained(),
                                                       live);
  std::vector<std::pair<double, finding>> out;  // (time of the point after which it came, …)
  for (const auto& p : points) {
    d.add(p);
    for (auto& f : d.take_closed()) out.emplace_back(p.time, std::move(f));
  }
  const std::int64_t spiked_window = t0 - t0 % 600 + 600;
  REQUIRE(out.size() >= 2);
  const double first_time = out.front().first;
  const finding& first = out.front().second;
  CHECK(first.status == k8snetio::finding_status::provisional);
  CHECK(first.count == 6);  // the moment count > min_count (5)
  // The 6th anomalous bucket is t0+450; it is complete once bucket t0+460 begins.
  CHECK(first_time >= static_cast<double>(t0 + 460));
  CHECK(first_time < static_cast<double>(t0 + 470));
  CHECK(first.window_start == spiked_window);
  // The final finding of the same pod follows when the window closes, with the full count.
  const auto final_one = std::find_if(out.begin(), out.end(), [&](const auto& e) {
    return e.second.pod == first.pod && e.second.status == k8snetio::finding_status::final;
  });
  REQUIRE(final_one != out.end());
  CHECK(final_one->second.count == 60);
  CHECK(final_one->first >= static_cast<double>(spiked_window + 600));
  // Without early alerts, no status and no provisional findings: the batch output.
  k8snetio::detection_options batch;
  batch.window_seconds = 600;
  for (const auto& f : k8snetio::detect_anomalous_network_io(points, trained(), batch).findings)
    CHECK(f.status == k8snetio::finding_status::none);
}

TEST_CASE(
    "S1.3 live: a point for a bucket the watermark has completed is late: refused and "
    "counted, never merged") {
  k8snetio::detection_options live;
  live.span.allowed_lateness = 0;
  live.window_seconds = 600;
  k8snetio::detector<2, k8snetio::baseline_table<2>> d(k8snetio::anomalous_network_io, trained(),
                                                       live);
  const auto at = [](double t) {
    return metric_point{t, 1000, "", "prod", "db-0", "node-2", "transmit"};
  };
  CHECK(d.add(at(static_cast<double>(t0 + 1))));
  // Bucket t0+20 begins: with lateness 0 the watermark is at t0+10, so bucket t0 is complete.
  CHECK(d.add(at(static_cast<double>(t0 + 21))));
  const k8snetio::add_outcome late = d.add(at(static_cast<double>(t0 + 2)));
  CHECK(late.reason == k8snetio::drop_reason::late);
  CHECK(d.stats().late == 1);
  CHECK_FALSE(d.failure());  // live lateness is not a failure of the engine
}

TEST_CASE(
    "S5.1 RT-9 live detection at max_open_groups is never wedged: refused points move the "
    "watermark, windows close and release their groups, across a save and restore; batch "
    "with a cap too low stays an error") {
  using engine = k8snetio::detector<2, k8snetio::baseline_table<2>>;
  k8snetio::detection_options live;
  live.span.allowed_lateness = 30;
  live.window_seconds = 600;
  const auto owned_input = traffic(180, 7, 40);
  const auto input = views(owned_input);
  // Uncapped, the same points: the reference (the spike is in the second window and later).
  const auto run = [&](engine& d, const std::vector<metric_point>& points, std::size_t from,
                       std::size_t to, std::vector<finding>& out) {
    for (std::size_t i = from; i < to; ++i) {
      d.add(points[i]);
      for (auto& f : d.take_closed()) out.push_back(std::move(f));
    }
  };
  std::vector<finding> reference;
  {
    engine d(k8snetio::anomalous_network_io, trained(), live);
    run(d, input, 0, input.size(), reference);
    for (auto& f : d.finish().findings) reference.push_back(std::move(f));
  }
  REQUIRE(!reference.empty());
  // 400 new pods in the first bucket fill a cap of 160 groups (the traffic holds about 110).
  std::vector<owned> burst;
  for (int i = 0; i < 400; ++i)
    burst.push_back({static_cast<double>(t0) + 0.5, 1, "prod", "burst-" + std::to_string(i),
                     "node-9", "transmit"});
  auto points = views(burst);
  points.insert(points.end(), input.begin(), input.end());
  k8snetio::detection_options capped = live;
  capped.span.max_open_groups = 160;
  for (const std::size_t cut : {std::size_t{0}, std::size_t{500}, points.size() / 2}) {
    std::vector<finding> found;
    std::string state;
    std::uint64_t refused = 0;
    {
      engine a(k8snetio::anomalous_network_io, trained(), capped);
      run(a, points, 0, cut, found);
      state = a.save_state();
      refused = a.stats().memory_limit;
    }
    engine b(k8snetio::anomalous_network_io, trained(), capped);
    REQUIRE(b.restore_state(state));
    run(b, points, cut, points.size(), found);
    INFO("saved and restored after point " << cut);
    CHECK(b.stats().memory_limit >= 400 - 160);  // counted and named
    CHECK(b.stats().memory_limit >= refused);
    CHECK(b.stats().last_bucket == static_cast<std::int64_t>(t0 + 1790));  // the watermark moved
    CHECK(b.open_rows() < 160);
    CHECK_FALSE(b.failure());
    for (auto& f : b.finish().findings) found.push_back(std::move(f));
    CHECK(found == reference);
  }
  // Batch keeps its rule: a cap too low for the input is an error, never a silent drop.
  k8snetio::detection_options batch;
  batch.window_seconds = 600;
  batch.span.max_open_groups = 160;
  engine held_back(k8snetio::anomalous_network_io, trained(), batch);
  for (const auto& p : points) held_back.add(p);
  CHECK(held_back.failure() == k8snetio::drop_reason::memory_limit);
  CHECK_THROWS_AS(held_back.finish(), k8snetio::incomplete_detection);
}

}  // namespace test_engine_streaming
