// engine.md S4 for detection: the streaming detector saves its whole state to a checked byte
// stream; a new detector that restores it and reads the rest of the input gives byte for byte
// the output of one uninterrupted run, wherever the input is cut. A truncated, corrupt,
// foreign or other-settings snapshot is refused with a clear error and nothing is loaded.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/k8snetio.hpp>

#include "support.hpp"

namespace test_engine_state {

namespace {

using k8snetio::finding;
using k8snetio::metric_point;

constexpr std::int64_t t0 = 1700000000;

struct owned {
  double time, value;
  std::string cluster, pod, node, direction;
};

/// `buckets` buckets of five pods, both directions (one pod sends only); from bucket
/// `spike_from` on, two pods of prod send far more and become findings.
std::vector<owned> traffic(int buckets, std::uint32_t seed, int spike_from = 1 << 30) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.0, 100.0);
  const std::vector<std::string> pods = {"web-7d4b9c8f6d-x2k9p", "web-7d4b9c8f6d-q8w2e",
                                         "api-5f6d7c8b9a-z9y8x", "db-0", "cache-0"};
  std::vector<owned> out;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(t0 + 10 * b);
    for (const char* cluster : {"prod", "dev"}) {
      for (std::size_t p = 0; p < pods.size(); ++p) {
        const bool spike = b >= spike_from && std::string(cluster) == "prod" && (p == 0 || p == 3);
        const std::string node = p % 2 ? "node-2" : "node-1";
        const double tx = 1000 + noise(rng) + (spike ? 9000 : 0);
        const double rx = 3000 + noise(rng) + (spike ? 100 : 0);
        out.push_back({t + 1.25, tx, cluster, pods[p], node, "transmit"});
        if (b % 3 == 0) out.push_back({t + 2.5, tx + 3.5, cluster, pods[p], node, "transmit"});
        if (p != 4) out.push_back({t + 3.75, rx, cluster, pods[p], node, "receive"});
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

std::vector<owned> shuffled(std::vector<owned> points, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::shuffle(points.begin(), points.end(), rng);
  return points;
}

const k8snetio::baseline_table<2>& io_table() {
  static const auto table = k8snetio::build_network_io_baseline(views(traffic(150, 1))).table;
  return table;
}
const k8snetio::baseline_table<2>& ratio_table() {
  static const auto table = k8snetio::build_network_io_ratio_baseline(views(traffic(150, 1))).table;
  return table;
}

/// Everything a detector hands out, every field (status and measures included), as bytes.
std::string bytes_of(const std::vector<finding>& found) {
  k8snetio::detail::snapshot_writer w;
  for (const finding& f : found) k8snetio::detail::save_finding(w, f);
  std::string out = std::move(w.bytes());
  k8snetio::io::write_findings_jsonl(out, found);
  return out;
}
std::string bytes_of(const k8snetio::aggregation_stats& s) {
  k8snetio::detail::snapshot_writer w;
  s.save(w);
  return std::move(w.bytes());
}

using detector = k8snetio::detector<2, k8snetio::baseline_table<2>>;

/// The output of one run over `points`, saved after point `cut` (before taking what that point
/// closed) and continued in a new detector restored from the snapshot; no cut: one run.
struct run_output {
  std::string findings, stats;
  std::size_t snapshot_bytes = 0;
};
run_output run(const k8snetio::rule_definition<2>& rule, const k8snetio::baseline_table<2>& table,
               const k8snetio::detection_options& options, const std::vector<metric_point>& points,
               std::optional<std::size_t> cut = std::nullopt) {
  auto d = std::make_unique<detector>(rule, table, options);
  std::vector<finding> out;
  run_output result;
  for (std::size_t i = 0; i < points.size(); ++i) {
    d->add(points[i]);
    if (cut && i == *cut) {
      const std::string state = d->save_state();
      result.snapshot_bytes = state.size();
      d = std::make_unique<detector>(rule, table, options);  // the first one is gone
      REQUIRE(d->restore_state(state));
    }
    for (finding& f : d->take_closed()) out.push_back(std::move(f));
  }
  auto rest = d->finish();
  for (finding& f : rest.findings) out.push_back(std::move(f));
  result.findings = bytes_of(out);
  result.stats = bytes_of(rest.stats);
  return result;
}

}  // namespace

TEST_CASE(
    "S4 S2.3 detector: save anywhere, restore in a new detector, read the rest = one "
    "uninterrupted run, byte for byte") {
  const auto input = traffic(160, 5, 60);
  struct variant {
    const char* name;
    const k8snetio::rule_definition<2>* rule;
    const k8snetio::baseline_table<2>* table;
    std::vector<owned> points;
    k8snetio::detection_options options;
  };
  k8snetio::detection_options batch;
  k8snetio::detection_options windows;
  windows.window_seconds = 300;
  k8snetio::detection_options held;
  held.span.closing = k8snetio::group_closing::at_finish;
  held.window_seconds = 600;
  k8snetio::detection_options live;
  live.span.allowed_lateness = 20;
  live.window_seconds = 300;
  k8snetio::detection_options early = live;
  early.early_alerts = true;
  early.span.allowed_lateness = 0;
  const std::vector<variant> variants = {
      {"io, time-major, one window", &k8snetio::anomalous_network_io, &io_table(), input, batch},
      {"io, series-major, 5-minute windows", &k8snetio::anomalous_network_io, &io_table(),
       series_major(input), windows},
      {"io, shuffled, held, 10-minute windows", &k8snetio::anomalous_network_io, &io_table(),
       shuffled(input, 3), held},
      {"io, live", &k8snetio::anomalous_network_io, &io_table(), input, live},
      {"io, live, early alerts", &k8snetio::anomalous_network_io, &io_table(), input, early},
      {"ratio, time-major, windows", &k8snetio::network_io_ratio, &ratio_table(), input, windows},
      // Directions sorted apart: the ratio rule cannot stream it (S1), it holds every bucket.
      {"ratio, series-major, held", &k8snetio::network_io_ratio, &ratio_table(),
       series_major(input), held},
      {"ratio, live, early alerts", &k8snetio::network_io_ratio, &ratio_table(), input, early},
  };
  for (const variant& v : variants) {
    INFO(v.name);
    const auto points = views(v.points);
    const run_output whole = run(*v.rule, *v.table, v.options, points);
    REQUIRE(whole.findings.find("\"k8s.pod.name\"") != std::string::npos);  // it found something
    // Many cuts: the ends, the spike's start, and points spread over the input.
    std::vector<std::size_t> cuts = {0, 1, points.size() - 1};
    for (std::size_t k = 1; k < 23; ++k) cuts.push_back(points.size() * k / 23 + k % 3);
    std::size_t largest = 0;
    for (std::size_t cut : cuts) {
      INFO("cut after point " << cut);
      const run_output restored = run(*v.rule, *v.table, v.options, points, cut);
      CHECK(restored.findings == whole.findings);
      CHECK(restored.stats == whole.stats);
      largest = std::max(largest, restored.snapshot_bytes);
    }
    CHECK(largest > 0);
  }
}

TEST_CASE(
    "S4 detector: a truncated, corrupt, foreign or other-settings snapshot is refused "
    "with a clear error, and nothing is loaded") {
  const auto input = traffic(40, 6, 10);
  const auto points = views(input);
  k8snetio::detection_options options;
  options.window_seconds = 300;
  detector d(k8snetio::anomalous_network_io, io_table(), options);
  for (std::size_t i = 0; i < points.size() / 2; ++i) d.add(points[i]);
  const std::string state = d.save_state();
  REQUIRE(state.size() > 100);

  const auto refusal = [&](const std::string& bytes, const k8snetio::detection_options& o) {
    detector fresh(k8snetio::anomalous_network_io, io_table(), o);
    const auto restored = fresh.restore_state(bytes);
    if (restored) return std::string("(accepted)");
    CHECK(restored.error().code == k8snetio::error_code::bad_snapshot);
    CHECK(restored.error().file == "state snapshot");
    // Nothing was loaded: the detector still gives the answer of a fresh one.
    for (const auto& p : points) fresh.add(p);
    const auto after = fresh.finish();
    CHECK(after.findings == k8snetio::detect_anomalous_network_io(points, io_table(), o).findings);
    CHECK(after.stats.points_in == points.size());
    return restored.error().what();
  };

  SECTION("every truncation") {
    for (std::size_t n = 0; n < state.size(); n += (n < 64 ? 1 : 37))
      CHECK(refusal(state.substr(0, n), options) != "(accepted)");
    CHECK_THAT(refusal(state.substr(0, 30), options), Catch::Contains("truncated"));
  }
  SECTION("a flipped byte anywhere is a checksum mismatch") {
    for (std::size_t at = 12; at < state.size(); at += 53) {
      std::string bad = state;
      bad[at] = static_cast<char>(bad[at] ^ 0x20);
      CHECK(refusal(bad, options) != "(accepted)");
    }
    std::string bad = state;
    bad[state.size() / 2] = static_cast<char>(bad[state.size() / 2] ^ 1);
    CHECK_THAT(refusal(bad, options), Catch::Contains("CRC-32"));
  }
  SECTION("not a snapshot, another version, another kind") {
    CHECK_THAT(refusal("metric_name,_time\n", options), Catch::Contains("not a k8snetio state"));
    std::string newer = state;
    newer[8] = static_cast<char>(k8snetio::snapshot_format_version + 1);  // version comes first:
    // the checksum no longer matters
    CHECK_THAT(
        refusal(newer, options),
        Catch::Contains(fmt::format("format version {}", k8snetio::snapshot_format_version + 1)));
    std::string older = state;  // version 1: before the aggregator kept its newest point time
    older[8] = 1;
    CHECK_THAT(refusal(older, options), Catch::Contains("format version 1"));
    const std::string foreign = k8snetio::seal_snapshot("baseline_runner", "x", "payload");
    CHECK_THAT(refusal(foreign, options), Catch::Contains("not of a detector"));
  }
  SECTION("other settings: the rule, sigma, window") {
    k8snetio::detection_options other = options;
    other.scoring.sigma = 3;
    const std::string message = refusal(state, other);
    CHECK_THAT(message, Catch::Contains("other settings") && Catch::Contains("sigma=4") &&
                            Catch::Contains("sigma=3"));
    other = options;
    other.window_seconds = 600;
    CHECK_THAT(refusal(state, other), Catch::Contains("window=600"));
    k8snetio::detector<2, k8snetio::baseline_table<2>> ratio(k8snetio::network_io_ratio,
                                                             ratio_table(), options);
    CHECK_THAT(k8snetio::test::refusal(ratio.restore_state(state)), Catch::Contains("Ratio"));
  }
  SECTION("a well-sealed payload with a forged count asks for no memory") {
    k8snetio::detail::snapshot_writer w;
    k8snetio::aggregation_stats{}.save(w);
    w.u64(std::uint64_t{1} << 60);  // "this many series"
    const std::string forged = k8snetio::seal_snapshot("detector", d.settings(), w.bytes());
    CHECK_THAT(refusal(forged, options), Catch::Contains("a count of"));
  }
}

namespace {

/// The points of tests/data/detector_state_v2.bin, a detector's state written by the build
/// before format version 3 (0887554): 60 buckets of two pods in prod (baselined) and two in
/// staging (no baseline row, D5.4), staging gone in buckets 20-24; the state was saved after
/// the first v2_cut points, under the default options.
std::vector<metric_point> v2_points() {
  static const std::vector<std::string> pods = {"web-7d4b9c8f6d-x2k9p", "api-5f6d7c8b9a-z9y8x"};
  std::vector<metric_point> out;
  for (int b = 0; b < 60; ++b) {
    const double t = static_cast<double>(t0 + 10 * b);
    for (const char* cluster : {"prod", "staging"}) {
      if (std::string_view(cluster) == "staging" && b >= 20 && b < 25) continue;
      for (const std::string& pod : pods) {
        out.push_back({t + 1.25, 1000.0 + b % 7, "", cluster, pod, "node-1", "transmit"});
        out.push_back({t + 3.75, 3000.0 + b % 5, "", cluster, pod, "node-1", "receive"});
      }
    }
  }
  return out;
}
constexpr std::size_t v2_cut = 300;

}  // namespace

TEST_CASE("S4 D5.4 a detector state of format version 2 still restores and goes on") {
  const std::vector<metric_point> points = v2_points();
  std::vector<metric_point> prod;
  for (const auto& p : points)
    if (p.cluster == "prod") prod.push_back(p);
  const auto table = k8snetio::build_network_io_baseline(prod).table;
  const std::string v2 = k8snetio::test::read_fixture("detector_state_v2.bin");
  REQUIRE(v2.size() > 12);
  REQUIRE(v2[8] == 2);  // what the fixture is: format version 2

  detector restored(k8snetio::anomalous_network_io, table, {});
  REQUIRE(restored.restore_state(v2));
  for (std::size_t i = v2_cut; i < points.size(); ++i) restored.add(points[i]);
  const auto got = restored.finish();
  const auto want = k8snetio::detect_anomalous_network_io(points, table, {});
  CHECK(bytes_of(got.findings) == bytes_of(want.findings));
  CHECK(bytes_of(got.stats) == bytes_of(want.stats));
  REQUIRE(want.unbaselined.size() == 2);
  CHECK(want.unbaselined[0] == k8snetio::unbaselined_key{"staging:api", 1, 55});
  CHECK(got.unbaselined == want.unbaselined);
  // Saved again, it is written in this build's format, and goes on to the same answer.
  detector again(k8snetio::anomalous_network_io, table, {});
  REQUIRE(again.restore_state(v2));
  const std::string v3 = again.save_state();
  CHECK(static_cast<std::uint32_t>(v3[8]) == k8snetio::snapshot_format_version);
  detector third(k8snetio::anomalous_network_io, table, {});
  REQUIRE(third.restore_state(v3));
  for (std::size_t i = v2_cut; i < points.size(); ++i) third.add(points[i]);
  const auto last = third.finish();
  CHECK(bytes_of(last.findings) == bytes_of(want.findings));
  CHECK(bytes_of(last.stats) == bytes_of(want.stats));
  CHECK(last.unbaselined == want.unbaselined);
}

TEST_CASE("S4 D5.4 the state of a key without a baseline row does not grow with its age") {
  // The same key seen for 100 buckets or 20,000: the same snapshot size (its buckets are one
  // run); with a gap of an hour, one run more (16 bytes).
  const auto state_after = [](std::int64_t buckets, std::int64_t gap) {
    detector d(k8snetio::anomalous_network_io, io_table(), {});
    for (std::int64_t b = 0; b < buckets; ++b) {
      const std::int64_t at = b < buckets / 2 ? b : b + gap;
      d.add({static_cast<double>(t0 + 10 * at) + 1, 10, "", "staging", "new-svc-abcde", "n-9",
             "transmit"});
      (void)d.take_closed();
    }
    const auto size = d.save_state().size();
    CHECK(d.finish().unbaselined ==
          std::vector<k8snetio::unbaselined_key>{
              {"staging:new-svc", 1, static_cast<std::uint64_t>(buckets)}});
    return size;
  };
  const std::size_t short_lived = state_after(100, 0);
  CHECK(state_after(20'000, 0) == short_lived);
  CHECK(state_after(20'000, 360) == short_lived + 16);
}

TEST_CASE("S4 D5.4 a forged run of buckets is refused") {
  const std::vector<metric_point> points = v2_points();
  detector d(k8snetio::anomalous_network_io, io_table(), {});
  for (const auto& p : points) d.add(p);
  const std::string payload(k8snetio::open_snapshot(d.save_state(), "detector", d.settings()));
  // staging:api's entry: its name, its one pod, then its runs: buckets 0-19 and 25-58 (59 is
  // still open).
  const std::string key = "staging:api";
  const std::size_t name = payload.find(key);
  REQUIRE(name != std::string::npos);
  k8snetio::detail::snapshot_reader r(std::string_view(payload).substr(name + key.size()));
  REQUIRE(r.u64() == 1);  // pods
  (void)r.str();
  REQUIRE(r.u64() == 2);  // runs
  const std::size_t run_at = name + key.size() + r.position();
  REQUIRE(r.i64() == t0);
  REQUIRE(r.u64() == 20);
  REQUIRE(r.i64() == t0 + 250);
  REQUIRE(r.u64() == 34);

  const auto refusal = [&](std::string forged) {
    detector fresh(k8snetio::anomalous_network_io, io_table(), {});
    const auto restored =
        fresh.restore_state(k8snetio::seal_snapshot("detector", d.settings(), forged));
    return restored ? std::string("(accepted)") : restored.error().what();
  };
  CHECK(refusal(payload) == "(accepted)");
  std::string empty_run = payload;
  empty_run[run_at + 8] = 0;  // a run of no bucket
  CHECK_THAT(refusal(empty_run), Catch::Contains("a run of 0 buckets"));
  std::string off_step = payload;
  off_step[run_at] = static_cast<char>(off_step[run_at] + 3);  // a start between the multiples
  CHECK_THAT(refusal(off_step), Catch::Contains("off the span's multiples"));
  std::string overlapping = payload;  // the first run reaching into the second
  overlapping[run_at + 8] = 26;
  CHECK_THAT(refusal(overlapping), Catch::Contains("not after the runs before it"));
  std::string whole_range = payload;  // from near INT64_MIN to near INT64_MAX: its last start
  // is computed without overflow (UBSan), and the next run is not after it
  const std::int64_t lowest = -9'223'372'036'854'775'800;
  const std::uint64_t longest = 1'844'674'407'370'955'161;
  for (int i = 0; i < 8; ++i) {
    whole_range[run_at + static_cast<std::size_t>(i)] =
        static_cast<char>((static_cast<std::uint64_t>(lowest) >> (8 * i)) & 0xFFu);
    whole_range[run_at + 8 + static_cast<std::size_t>(i)] =
        static_cast<char>((longest >> (8 * i)) & 0xFFu);
  }
  CHECK_THAT(refusal(whole_range), Catch::Contains("a run of 34 buckets") &&
                                       Catch::Contains("not after the runs before it"));
  std::string endless = payload;  // a run past the largest start
  for (int i = 0; i < 8; ++i) endless[run_at + 8 + static_cast<std::size_t>(i)] = '\xff';
  CHECK_THAT(refusal(endless), Catch::Contains("a run of 18446744073709551615 buckets"));
}

}  // namespace test_engine_state
