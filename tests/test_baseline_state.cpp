// engine.md S4, S4.1 and S6 for the baseline engine: a saved and restored baseline_runner reads
// the rest of its input to the table of one uninterrupted run, byte for byte; a bad snapshot is
// refused whole; states of disjoint shards merge into the state of the union; a rolling
// baseline of per-day states gives the table of a recompute over its days (B3, B7 kept).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/rolling_baseline.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/baseline_state_dir.hpp>
#include <k8snetio/k8snetio.hpp>
#include <k8snetio/stages/pcre2_service_normalizer.hpp>  // D2.4: service_pattern

#include "support.hpp"

namespace test_baseline_state {

namespace {

using k8snetio::metric_point;
using k8snetio::test::owned_point;

constexpr std::int64_t t0 = 1700006400;  // 2023-11-15T00:00:00Z, a day's start

/// Fractional values (so that the order of additions shows in the last bits), two clusters,
/// three services of several pods, both directions, two interfaces now and then; `buckets`
/// 10-second buckets from `start`.
std::vector<owned_point> time_major_points(int buckets, std::uint32_t seed,
                                           std::int64_t start = t0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.0, 1.0);
  const std::vector<std::string> pods = {
      "web-7d4b9c8f6d-x2k9p", "web-7d4b9c8f6d-q8w2e", "api-5f6d7c8b9a-z9y8x", "db-0", "db-1",
      "kube-proxy-a1b2c"};
  std::vector<owned_point> points;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(start + 10 * b);
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

std::vector<owned_point> series_major(std::vector<owned_point> points) {
  std::stable_sort(points.begin(), points.end(), [](const owned_point& a, const owned_point& b) {
    return std::tie(a.cluster, a.pod, a.node, a.direction) <
           std::tie(b.cluster, b.pod, b.node, b.direction);
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
std::string csv(const k8snetio::baseline_table<N>& table) {
  return k8snetio::io::write_baseline_csv(table);
}

k8snetio::baseline_run_options streaming() { return {}; }  // by_series: the CLI's first pass

template <std::size_t N>
std::string one_run(const k8snetio::rule_definition<N>& rule,
                    const std::vector<metric_point>& points,
                    k8snetio::baseline_run_options options = streaming()) {
  k8snetio::baseline_runner<N> runner(rule, options);
  for (const auto& p : points) REQUIRE(runner.add(p));
  return csv(runner.finish().table);
}

/// Same keys, counts and last_seen; every number within `tolerance` relative.
template <std::size_t N>
void check_close(const k8snetio::baseline_table<N>& a, const k8snetio::baseline_table<N>& b,
                 double tolerance) {
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() > 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a.rows()[i];
    const auto& y = b.rows()[i];
    INFO("key " << x.key);
    REQUIRE(x.key == y.key);
    CHECK(x.entry.count == y.entry.count);
    CHECK(x.entry.last_seen == y.entry.last_seen);
    const auto close = [tolerance](const k8snetio::baseline_cell& u,
                                   const k8snetio::baseline_cell& v) {
      if (!u.value || !v.value) return !u.value && !v.value;
      return std::abs(*u.value - *v.value) <= tolerance * std::max(std::abs(*u.value), 1e-300);
    };
    for (std::size_t m = 0; m < N; ++m) {
      CHECK(close(x.entry.avg[m], y.entry.avg[m]));
      CHECK(close(x.entry.stdev[m], y.entry.stdev[m]));
    }
  }
}

struct named_rule {
  const char* name;
  const k8snetio::rule_definition<2>* rule;
};
const named_rule rules[] = {{"io", &k8snetio::anomalous_network_io},
                            {"ratio", &k8snetio::network_io_ratio}};

}  // namespace

TEST_CASE("S4 baseline_runner: save, restore, rest of input = one run, both rules and orders") {
  const auto owned = time_major_points(40, 11);
  for (const auto& [order, points_owned] :
       {std::pair{"time-major", owned}, std::pair{"series-major", series_major(owned)}}) {
    const auto points = views(points_owned);
    for (const named_rule& r : rules) {
      INFO(r.name << " rule, " << order);
      const std::string expected = one_run(*r.rule, points);
      REQUIRE(expected.find('\n') != expected.size() - 1);  // rows, not a bare header
      std::size_t cuts = 0;
      for (std::size_t cut = 0; cut <= points.size(); cut += 1 + points.size() / 37) {
        INFO("cut after " << cut << " of " << points.size() << " points");
        k8snetio::baseline_runner<2> first(*r.rule, streaming());
        for (std::size_t i = 0; i < cut; ++i) REQUIRE(first.add(points[i]));
        const std::string state = first.save_state();
        k8snetio::baseline_runner<2> second(*r.rule, streaming());
        REQUIRE(second.restore_state(state));
        CHECK(second.save_state() == state);  // restored exactly, bit for bit
        for (std::size_t i = cut; i < points.size(); ++i) REQUIRE(second.add(points[i]));
        CHECK(csv(second.finish().table) == expected);
        ++cuts;
      }
      CHECK(cuts > 30);
    }
  }
}

TEST_CASE("S4 baseline_runner: the live watermark's R5 pivot and at_finish groups resume too") {
  const auto owned = time_major_points(30, 5);  // owns what the views point into
  const auto points = views(owned);
  for (const named_rule& r : rules) {
    INFO(r.name);
    k8snetio::baseline_run_options live;
    live.span.allowed_lateness = 20;
    k8snetio::baseline_run_options held;
    held.span.closing = k8snetio::group_closing::at_finish;
    for (const auto& options : {live, held}) {
      const std::string expected = one_run(*r.rule, points, options);
      for (std::size_t cut : {std::size_t{1}, points.size() / 3, points.size() / 2 + 7}) {
        k8snetio::baseline_runner<2> first(*r.rule, options);
        for (std::size_t i = 0; i < cut; ++i) REQUIRE(first.add(points[i]));
        k8snetio::baseline_runner<2> second(*r.rule, options);
        REQUIRE(second.restore_state(first.save_state()));
        for (std::size_t i = cut; i < points.size(); ++i) REQUIRE(second.add(points[i]));
        CHECK(csv(second.finish().table) == expected);
      }
    }
  }
}

TEST_CASE(
    "S4 baseline_runner: a truncated, corrupt, foreign or other-settings snapshot is "
    "refused, naming what is wrong, and the runner is left as it was") {
  const auto owned = time_major_points(20, 3);  // owns what the views point into
  const auto points = views(owned);
  const std::size_t cut = points.size() / 2;
  const std::string expected = one_run(k8snetio::anomalous_network_io, points);
  k8snetio::baseline_runner<2> saved(k8snetio::anomalous_network_io, streaming());
  for (std::size_t i = 0; i < cut; ++i) saved.add(points[i]);
  const std::string state = saved.save_state();

  // A runner with its own state: every refused restore must leave it untouched.
  k8snetio::baseline_runner<2> victim(k8snetio::anomalous_network_io, streaming());
  for (std::size_t i = 0; i < cut; ++i) victim.add(points[i]);
  const auto refused = [&](std::string_view bytes, std::string_view says,
                           std::string_view or_says = "") {
    const auto restored = victim.restore_state(bytes);
    REQUIRE(k8snetio::test::refused(restored));
    const std::string what = restored.error().what();
    INFO(what);
    CHECK((what.find(says) != std::string::npos ||
           (!or_says.empty() && what.find(or_says) != std::string::npos)));
  };
  // Cut inside a length-prefixed string, the envelope says how long it should have been.
  for (std::size_t n = 0; n < state.size(); n += 1 + state.size() / 61)
    refused(std::string_view(state).substr(0, n), n < 8 ? "magic" : "truncated", "bytes with");
  refused(std::string_view(state).substr(0, state.size() - 1), "truncated");
  std::string flipped = state;
  flipped[flipped.size() / 2] ^= 0x10;
  refused(flipped, "CRC-32");
  refused("PK\x03\x04 a zip file", "not a k8snetio state snapshot");
  refused(state + "x", "left over");

  k8snetio::rolling_baseline<2> other_kind(k8snetio::anomalous_network_io);
  other_kind.add_day(0, k8snetio::baseline_builder<2>(k8snetio::network_io_measures));
  refused(other_kind.save_day(0), "not of a baseline_runner");

  k8snetio::baseline_runner<2> ratio(k8snetio::network_io_ratio, streaming());
  refused(ratio.save_state(), "other settings");
  k8snetio::baseline_run_options stable;
  stable.numerics.numerics = k8snetio::baseline_numerics::stable;
  refused(k8snetio::baseline_runner<2>(k8snetio::anomalous_network_io, stable).save_state(),
          "numerics=stable");
  k8snetio::baseline_run_options pattern;
  pattern.service_pattern = "-\\d+$";
  refused(k8snetio::baseline_runner<2>(k8snetio::anomalous_network_io, pattern).save_state(),
          "service_pattern=-\\d+$");
  k8snetio::baseline_run_options minute;
  minute.span.span_seconds = 60;
  refused(k8snetio::baseline_runner<2>(k8snetio::anomalous_network_io, minute).save_state(),
          "span=60");

  // A forged count, sealed with a valid CRC: refused before anything is allocated for it.
  k8snetio::detail::snapshot_writer forged;
  k8snetio::aggregation_stats{}.save(forged);
  forged.u64(std::uint64_t{1} << 60);  // series
  refused(k8snetio::seal_snapshot("baseline_runner", victim.settings(), forged.bytes()),
          "a count of 1152921504606846976");

  for (std::size_t i = cut; i < points.size(); ++i) REQUIRE(victim.add(points[i]));
  CHECK(csv(victim.finish().table) == expected);
}

TEST_CASE(
    "S4.1 baseline states of disjoint time ranges merge into the state of the union, "
    "within 1e-12 relative (a key's sums are added shard by shard)") {
  const auto owned = time_major_points(40, 21);
  const auto points = views(owned);
  // The cut at a bucket boundary: every D1 group (and every R5 (key, _time) row) is whole.
  const auto boundary = std::find_if(points.begin(), points.end(), [](const metric_point& p) {
    return p.time >= static_cast<double>(t0 + 10 * 17);
  });
  const std::vector<metric_point> early(points.begin(), boundary), late(boundary, points.end());
  REQUIRE(!early.empty());
  REQUIRE(!late.empty());
  for (const named_rule& r : rules) {
    INFO(r.name);
    k8snetio::baseline_runner<2> a(*r.rule, streaming()), b(*r.rule, streaming());
    for (const auto& p : early) a.add(p);
    for (const auto& p : late) b.add(p);
    k8snetio::baseline_runner<2> merged(*r.rule, streaming());
    REQUIRE(merged.restore_state(a.save_state()));
    REQUIRE(merged.merge_state(b.save_state()));
    // The merged state saves and restores like any other.
    k8snetio::baseline_runner<2> again(*r.rule, streaming());
    REQUIRE(again.restore_state(merged.save_state()));
    const auto result = again.finish();
    k8snetio::baseline_runner<2> whole(*r.rule, streaming());
    for (const auto& p : points) whole.add(p);
    check_close(result.table, whole.finish().table, 1e-12);
    CHECK(result.stats.points_in == points.size());
    // A shard that holds its keys whole keeps bit parity: b's keys, merged into nothing.
    k8snetio::baseline_runner<2> alone(*r.rule, streaming());
    REQUIRE(alone.merge_state(b.save_state()));
    CHECK(csv(alone.finish().table) == one_run(*r.rule, late));
  }
}
TEST_CASE(
    "S4.1 baseline states of disjoint series merge into the state of the union: bit for "
    "bit by cluster, within 1e-12 relative when a key's pods are split") {
  const auto owned = time_major_points(40, 23);  // owns what the views point into
  const auto points = views(owned);
  for (const named_rule& r : rules) {
    INFO(r.name);
    k8snetio::baseline_runner<2> prod(*r.rule, streaming()), dev(*r.rule, streaming());
    for (const auto& p : points) (p.cluster == "prod" ? prod : dev).add(p);
    k8snetio::baseline_runner<2> merged(*r.rule, streaming());
    REQUIRE(merged.restore_state(prod.save_state()));
    REQUIRE(merged.merge_state(dev.save_state()));
    CHECK(csv(merged.finish().table) == one_run(*r.rule, points));
  }
  // B1–B4 take the D1 rows one by one: pods of one key may be in different shards (R5 means
  // across pods, so its shards must hold whole services).
  k8snetio::baseline_runner<2> odd(k8snetio::anomalous_network_io, streaming()),
      even(k8snetio::anomalous_network_io, streaming());
  for (const auto& p : points) (p.pod.back() % 2 ? odd : even).add(p);
  k8snetio::baseline_runner<2> merged(k8snetio::anomalous_network_io, streaming());
  REQUIRE(merged.restore_state(odd.save_state()));
  REQUIRE(merged.merge_state(even.save_state()));
  k8snetio::baseline_runner<2> whole(k8snetio::anomalous_network_io, streaming());
  for (const auto& p : points) whole.add(p);
  check_close(merged.finish().table, whole.finish().table, 1e-12);
}

namespace {

/// `days` days of `per_day` buckets each, starting at the day of t0.
std::vector<owned_point> days_of_points(int days, int per_day, std::uint32_t seed) {
  std::vector<owned_point> all;
  for (int d = 0; d < days; ++d) {
    auto day = time_major_points(per_day, seed + static_cast<std::uint32_t>(d),
                                 t0 + d * k8snetio::seconds_per_day + 3600 * (d % 5));
    all.insert(all.end(), day.begin(), day.end());
  }
  return all;
}

/// One day's state, as a daily runner reads it.
template <std::size_t N>
std::map<std::int64_t, k8snetio::baseline_builder<N>> day_states(
    const k8snetio::rule_definition<N>& rule, const std::vector<metric_point>& points,
    k8snetio::baseline_run_options options = {}) {
  k8snetio::daily_baseline_runner<N> daily(rule, options);
  for (const auto& p : points) REQUIRE(daily.add(p));
  return daily.finish();
}

}  // namespace

TEST_CASE(
    "S6 rolling baseline: add a day, drop past the horizon, the table of a recompute "
    "within 1e-12, from saved day states only") {
  const int days = 7;
  const auto owned = days_of_points(days, 25, 31);
  const auto points = views(owned);
  const std::int64_t first_day = k8snetio::utc_day_of(t0);
  for (const named_rule& r : rules) {
    INFO(r.name);
    k8snetio::rolling_baseline_options horizon;
    horizon.horizon_days = 3;
    std::vector<std::string> saved;  // the state on disk: one snapshot per day
    for (int d = 0; d < days; ++d) {
      const std::int64_t day = first_day + d;
      INFO("day " << k8snetio::utc_day_text(day));
      std::vector<metric_point> today;
      for (const auto& p : points)
        if (k8snetio::utc_day_of(static_cast<std::int64_t>(p.time)) == day) today.push_back(p);
      // A new process: the old days come from their snapshots, never from their points.
      k8snetio::rolling_baseline<2> rolling(*r.rule, {}, horizon);
      for (const std::string& s : saved) REQUIRE(rolling.restore_day(s));
      const auto states = day_states(*r.rule, today);
      REQUIRE(states.size() == 1);
      REQUIRE(states.begin()->first == day);
      rolling.add_day(day, states.begin()->second);
      const auto dropped = rolling.drop_past_horizon();
      CHECK(dropped.size() == (d >= 3 ? 1u : 0u));
      CHECK(rolling.size() == static_cast<std::size_t>(std::min(d + 1, 3)));
      saved.clear();
      for (std::int64_t kept : rolling.days()) saved.push_back(rolling.save_day(kept));

      std::vector<metric_point> window;  // the recompute: every point of the kept days
      for (const auto& p : points) {
        const std::int64_t pd = k8snetio::utc_day_of(static_cast<std::int64_t>(p.time));
        if (pd > day - 3 && pd <= day) window.push_back(p);
      }
      const auto recompute = k8snetio::build_baseline(*r.rule, window);
      check_close(rolling.result().table, recompute.table, 1e-12);
      if (d == 0) CHECK(csv(rolling.result().table) == csv(recompute.table));  // one day: exact
    }
  }
}

TEST_CASE("S6 an input of several days splits into the states of its days, in any order") {
  const auto owned = days_of_points(3, 20, 41);
  const auto points = views(owned);
  for (const named_rule& r : rules) {
    INFO(r.name);
    const auto together = day_states(*r.rule, points);
    REQUIRE(together.size() == 3);
    k8snetio::rolling_baseline<2> a(*r.rule), b(*r.rule);
    for (const auto& [day, state] : together) a.add_day(day, state);
    for (std::int64_t day : a.days()) {
      std::vector<metric_point> one;
      for (const auto& p : points)
        if (k8snetio::utc_day_of(static_cast<std::int64_t>(p.time)) == day) one.push_back(p);
      b.add_day(day, day_states(*r.rule, one).at(day));
      CHECK(a.save_day(day) == b.save_day(day));
    }
    // Series-major input of several days: each day's runner sees its series in order.
    const auto sorted_owned = series_major(owned);
    const auto sorted = views(sorted_owned);
    const auto again = day_states(*r.rule, sorted);
    k8snetio::rolling_baseline<2> c(*r.rule);
    for (const auto& [day, state] : again) c.add_day(day, state);
    check_close(c.result().table, a.result().table, 1e-12);
  }
}

TEST_CASE("S4 S6 a day file of snapshot format version 1 still restores; a detector's does not") {
  const auto owned = days_of_points(1, 20, 43);
  const auto points = views(owned);
  k8snetio::rolling_baseline<2> a(k8snetio::anomalous_network_io);
  for (const auto& [day, state] : day_states(k8snetio::anomalous_network_io, points))
    a.add_day(day, state);
  REQUIRE(a.days().size() == 1);
  const std::int64_t day = a.days().front();
  // The same day file as a build before version 2 wrote it: version 1, its CRC-32 made again.
  std::string v1 = a.save_day(day);
  v1[8] = 1;
  v1.resize(v1.size() - 4);
  const std::uint32_t crc = k8snetio::detail::crc32(v1);
  for (int i = 0; i < 4; ++i) v1.push_back(static_cast<char>((crc >> (8 * i)) & 0xFFu));
  k8snetio::rolling_baseline<2> b(k8snetio::anomalous_network_io);
  REQUIRE(b.restore_day(v1));
  CHECK(b.save_day(day) == a.save_day(day));
  // A detector's state holds a span aggregator, whose layout changed in version 2.
  const auto learned = a.result();
  k8snetio::detector<2, k8snetio::baseline_table<2>> d(k8snetio::anomalous_network_io,
                                                       learned.table, {});
  std::string state = d.save_state();
  state[8] = 1;
  state.resize(state.size() - 4);
  const std::uint32_t state_crc = k8snetio::detail::crc32(state);
  for (int i = 0; i < 4; ++i) state.push_back(static_cast<char>((state_crc >> (8 * i)) & 0xFFu));
  CHECK_THAT(k8snetio::test::refusal(d.restore_state(state)), Catch::Contains("format version 1"));
}

TEST_CASE("S6 the horizon counts back from the newest day held: 30 by default") {
  k8snetio::rolling_baseline<2> rolling(k8snetio::anomalous_network_io);
  const std::int64_t start = k8snetio::utc_day_of(t0);
  for (int d = 0; d < 35; ++d) {
    std::vector<metric_point> one = {{static_cast<double>((start + d) * 86400 + 5), 1.0 + d, "",
                                      "prod", "web-0", "node-1", "transmit"}};
    rolling.add_day(start + d, day_states(k8snetio::anomalous_network_io, one).at(start + d));
  }
  CHECK(rolling.rolling_options().horizon_days == 30);
  const auto dropped = rolling.drop_past_horizon();
  CHECK(dropped == std::vector<std::int64_t>{start, start + 1, start + 2, start + 3, start + 4});
  CHECK(rolling.days().front() == start + 5);
  const auto table = rolling.result().table;
  REQUIRE(table.size() == 1);
  CHECK(table.rows()[0].entry.count == std::optional<std::uint64_t>(30));
  CHECK(table.rows()[0].entry.last_seen == (start + 34) * 86400);
}

TEST_CASE("S6 B3 Splunk's numerics across days: the stdev test vector to the last digit") {
  // {65, 42, 40, 31, 47, 53, 64} over three days: integer sums are exact in any grouping.
  const double values[] = {65, 42, 40, 31, 47, 53, 64};
  const std::int64_t start = k8snetio::utc_day_of(t0);
  k8snetio::rolling_baseline<2> rolling(k8snetio::anomalous_network_io);
  std::vector<std::string> saved;
  for (int d = 0; d < 3; ++d) {
    std::vector<metric_point> points;
    for (int i = 0; i < 7; ++i)
      if (i % 3 == d)
        points.push_back({static_cast<double>((start + d) * 86400 + 10 * i), values[i], "", "prod",
                          "web-0", "node-1", "transmit"});
    rolling.add_day(start + d, day_states(k8snetio::anomalous_network_io, points).at(start + d));
  }
  k8snetio::rolling_baseline<2> restored(k8snetio::anomalous_network_io);
  for (std::int64_t day : rolling.days()) REQUIRE(restored.restore_day(rolling.save_day(day)));
  const auto table = restored.result().table;
  const std::size_t out = *k8snetio::network_io_measures.index_of("outbound_network_io");
  REQUIRE(table.size() == 1);
  CHECK(table.rows()[0].entry.stdev[out].text == "12.615183595289349");
  CHECK(table.rows()[0].entry.count == std::optional<std::uint64_t>(7));
}

TEST_CASE(
    "S6 B7 a day whose sums overflow gives empty cells, named, until it leaves the "
    "horizon") {
  const std::int64_t start = k8snetio::utc_day_of(t0);
  k8snetio::rolling_baseline_options two;
  two.horizon_days = 2;
  k8snetio::rolling_baseline<2> rolling(k8snetio::anomalous_network_io, {}, two);
  const auto day_of_values = [&](std::int64_t day, double value) {
    std::vector<metric_point> points;
    for (int i = 0; i < 3; ++i)
      points.push_back({static_cast<double>(day * 86400 + 10 * i), value, "", "prod", "huge-0",
                        "node-1", "transmit"});
    return day_states(k8snetio::anomalous_network_io, points).at(day);
  };
  rolling.add_day(start, day_of_values(start, 1e308));
  rolling.add_day(start + 1, day_of_values(start + 1, 5));
  const std::size_t out = *k8snetio::network_io_measures.index_of("outbound_network_io");
  auto result = rolling.result();
  CHECK(result.overflowed == std::vector<std::string>{"prod:huge-0"});
  REQUIRE(result.table.size() == 1);
  CHECK_FALSE(result.table.rows()[0].entry.avg[out].value);
  CHECK(csv(result.table).find("inf") == std::string::npos);
  // A saved overflowed day restores as it was (the inf sums are bits, not text).
  k8snetio::rolling_baseline<2> restored(k8snetio::anomalous_network_io, {}, two);
  for (std::int64_t day : rolling.days()) REQUIRE(restored.restore_day(rolling.save_day(day)));
  CHECK(restored.result().overflowed == std::vector<std::string>{"prod:huge-0"});

  rolling.add_day(start + 2, day_of_values(start + 2, 7));
  CHECK(rolling.drop_past_horizon() == std::vector<std::int64_t>{start});
  result = rolling.result();
  CHECK(result.overflowed.empty());
  CHECK(result.table.rows()[0].entry.avg[out] == k8snetio::baseline_cell{6.0, "6"});
}

TEST_CASE("S6 S4 a day state of another rule or settings, or a corrupt one, is refused") {
  const std::int64_t start = k8snetio::utc_day_of(t0);
  std::vector<metric_point> points = {
      {static_cast<double>(start * 86400 + 5), 3.0, "", "prod", "web-0", "node-1", "transmit"}};
  k8snetio::rolling_baseline<2> io(k8snetio::anomalous_network_io);
  io.add_day(start, day_states(k8snetio::anomalous_network_io, points).at(start));
  const std::string day = io.save_day(start);
  k8snetio::rolling_baseline<2> ratio(k8snetio::network_io_ratio);
  CHECK_THAT(k8snetio::test::refusal(ratio.restore_day(day)), Catch::Contains("other settings"));
  CHECK(ratio.size() == 0);
  std::string flipped = day;
  flipped[flipped.size() - 10] ^= 1;
  CHECK_THAT(k8snetio::test::refusal(io.restore_day(flipped)), Catch::Contains("CRC-32"));
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io);
  CHECK_THAT(k8snetio::test::refusal(io.restore_day(runner.save_state())),
             Catch::Contains("not of a baseline_day"));
  CHECK(io.result().table.rows()[0].entry.count == std::optional<std::uint64_t>(1));
}

TEST_CASE("S6 UTC days: epoch days to YYYY-MM-DD and back") {
  CHECK(k8snetio::utc_day_text(0) == "1970-01-01");
  CHECK(k8snetio::utc_day_text(k8snetio::utc_day_of(t0)) == "2023-11-15");
  CHECK(k8snetio::utc_day_of(-1) == -1);
  CHECK(k8snetio::utc_day_text(-1) == "1969-12-31");
  for (std::int64_t d : {0, 59, 60, 11016, 19676, 2932000})
    CHECK(k8snetio::parse_utc_day(k8snetio::utc_day_text(d)) == std::optional<std::int64_t>(d));
  CHECK_FALSE(k8snetio::parse_utc_day("2026-02-30"));
  CHECK_FALSE(k8snetio::parse_utc_day("2026-1-01x"));
  CHECK(k8snetio::parse_utc_day("2024-02-29") == std::optional<std::int64_t>(19782));
}

TEST_CASE(
    "S4 a forged count in the R5 pivot, the builder or a day state is refused before "
    "anything is allocated for it") {
  const k8snetio::baseline_run_options options = streaming();
  k8snetio::baseline_runner<2> runner(k8snetio::network_io_ratio, options);
  const auto forged_runner = [&](bool in_pivot) {
    k8snetio::detail::snapshot_writer w;
    k8snetio::span_aggregator(options.span).save(w);
    w.u8(1);  // the pivot: per service (R5), 2 measures, nothing popped
    w.u64(2);
    w.u64(0);
    w.boolean(false);
    w.i64(std::numeric_limits<std::int64_t>::min());
    if (in_pivot) {
      w.u64(std::uint64_t{1} << 60);
    } else {
      w.u64(0);
      w.u64(2);  // the builder: 2 measures, then its keys
      w.u64(std::uint64_t{1} << 60);
    }
    return k8snetio::seal_snapshot("baseline_runner", runner.settings(), w.bytes());
  };
  for (bool in_pivot : {true, false}) {
    INFO((in_pivot ? "pivot" : "builder"));
    CHECK_THAT(k8snetio::test::refusal(runner.restore_state(forged_runner(in_pivot))),
               Catch::Contains("a count of 1152921504606846976"));
  }
  k8snetio::rolling_baseline<2> rolling(k8snetio::anomalous_network_io);
  k8snetio::detail::snapshot_writer day;
  day.i64(19676);
  day.u64(2);
  day.u64(std::uint64_t{1} << 60);
  CHECK_THAT(k8snetio::test::refusal(rolling.restore_day(
                 k8snetio::seal_snapshot("baseline_day", rolling.settings(), day.bytes()))),
             Catch::Contains("a count of 1152921504606846976"));
  CHECK(rolling.size() == 0);
}

// ---- L8, K6: the live learner: per-day states of what a live engine receives ---------------

namespace {

constexpr std::int64_t learn_lateness = 30;

k8snetio::baseline_run_options live_options() {
  k8snetio::baseline_run_options o;
  o.span.allowed_lateness = learn_lateness;
  return o;
}

/// `days` days of points, each day `per_day` buckets spread over the day (every 10 minutes),
/// shuffled within 20 seconds of event time (less than the lateness): live arrival order.
std::vector<owned_point> live_days(int days, int per_day, std::uint32_t seed) {
  std::vector<owned_point> all;
  for (int d = 0; d < days; ++d)
    for (int b = 0; b < per_day; ++b) {
      auto bucket = time_major_points(1, seed + static_cast<std::uint32_t>(d * 1000 + b),
                                      t0 + d * k8snetio::seconds_per_day + 600 * b);
      all.insert(all.end(), bucket.begin(), bucket.end());
    }
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i + 1 < all.size(); ++i) {  // swap neighbours a little apart in time
    const std::size_t j = i + 1 + rng() % 3;
    if (j < all.size() && std::abs(all[j].time - all[i].time) < 20 && rng() % 2)
      std::swap(all[i], all[j]);
  }
  return all;
}

}  // namespace

TEST_CASE("L8 K6 learner: complete days equal the rolling baseline of those days") {
  const auto owned = live_days(4, 30, 7);
  const auto points = views(owned);
  const std::int64_t first_day = k8snetio::utc_day_of(t0);
  for (const named_rule& r : rules) {
    INFO(r.name);
    k8snetio::rolling_baseline_options horizon;
    horizon.horizon_days = 2;
    k8snetio::baseline_learner<2> learner(*r.rule, live_options(), horizon);
    std::vector<std::int64_t> completed;
    for (const auto& p : points) {
      REQUIRE(learner.add(p));
      for (std::int64_t d : learner.take_completed_days()) completed.push_back(d);
    }
    // The fourth day is still open: its end has not been passed by the lateness.
    CHECK(completed == std::vector<std::int64_t>{first_day, first_day + 1, first_day + 2});
    CHECK(learner.open_days() == std::vector<std::int64_t>{first_day + 3});
    CHECK(learner.rolling().days() == std::vector<std::int64_t>{first_day + 1, first_day + 2});
    CHECK(learner.late_points() == 0);

    // The same days read as files by `baseline --state` (daily runner, rolling baseline) ...
    std::vector<metric_point> kept;
    for (const auto& p : points) {
      const std::int64_t d = k8snetio::utc_day_of(static_cast<std::int64_t>(p.time));
      if (d == first_day + 1 || d == first_day + 2) kept.push_back(p);
    }
    k8snetio::rolling_baseline<2> files(*r.rule, {}, horizon);
    for (const auto& [day, state] : day_states(*r.rule, kept)) files.add_day(day, state);
    CHECK(csv(learner.rolling().result().table) == csv(files.result().table));
    // ... and a recompute over them, within 1e-12 relative.
    check_close(learner.rolling().result().table, k8snetio::build_baseline(*r.rule, kept).table,
                1e-12);
  }
}

TEST_CASE("L8 K6 learner: a point of a completed day is late, counted, never folded") {
  const auto owned = live_days(2, 10, 3);
  auto points = views(owned);
  k8snetio::baseline_learner<2> learner(k8snetio::anomalous_network_io, live_options());
  for (const auto& p : points) REQUIRE(learner.add(p));
  // Day 2's points pushed day 1 past its end by more than the lateness.
  REQUIRE(learner.take_completed_days() == std::vector<std::int64_t>{k8snetio::utc_day_of(t0)});
  const std::string before = csv(learner.rolling().result().table);
  metric_point stale = points.front();
  const auto used = learner.add(stale);
  CHECK(used.reason == k8snetio::drop_reason::late);
  CHECK(learner.late_points() == 1);
  CHECK(csv(learner.rolling().result().table) == before);
  CHECK_THROWS_AS(k8snetio::baseline_learner<2>(k8snetio::anomalous_network_io, {}),
                  std::invalid_argument);  // no lateness: not a live learner
}

TEST_CASE("L8 K6 S4 learner: save, restore, rest of the points = one run, at every cut") {
  const auto owned = live_days(3, 12, 11);
  const auto points = views(owned);
  for (const named_rule& r : rules) {
    INFO(r.name);
    k8snetio::baseline_learner<2> whole(*r.rule, live_options());
    for (const auto& p : points) REQUIRE(whole.add(p));
    const std::string expected = csv(whole.rolling().result().table);
    REQUIRE(whole.rolling().size() == 2);
    for (std::size_t cut = 0; cut <= points.size(); cut += points.size() / 23 + 1) {
      INFO("cut at point " << cut);
      k8snetio::baseline_learner<2> first(*r.rule, live_options());
      for (std::size_t i = 0; i < cut; ++i) REQUIRE(first.add(points[i]));
      const std::string saved = first.save_state();
      k8snetio::baseline_learner<2> second(*r.rule, live_options());
      REQUIRE(second.restore_state(saved));
      CHECK(second.save_state() == saved);
      for (std::size_t i = cut; i < points.size(); ++i) REQUIRE(second.add(points[i]));
      CHECK(second.rolling().days() == whole.rolling().days());
      CHECK(second.open_days() == whole.open_days());
      CHECK(csv(second.rolling().result().table) == expected);
      CHECK(second.save_state() == whole.save_state());
    }
  }
}

TEST_CASE("L8 K6 S4 learner: a corrupt, foreign or other-settings state is refused whole") {
  const auto owned = live_days(2, 6, 5);
  const auto points = views(owned);
  k8snetio::baseline_learner<2> learner(k8snetio::anomalous_network_io, live_options());
  for (const auto& p : points) REQUIRE(learner.add(p));
  const std::string saved = learner.save_state();

  k8snetio::baseline_learner<2> target(k8snetio::anomalous_network_io, live_options());
  const std::string empty = target.save_state();
  std::string corrupt = saved;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x10);
  CHECK(k8snetio::test::refused(target.restore_state(corrupt)));
  CHECK(k8snetio::test::refused(target.restore_state(saved.substr(0, saved.size() - 9))));
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io, live_options());
  CHECK_THAT(k8snetio::test::refusal(target.restore_state(runner.save_state())),
             Catch::Contains("baseline_runner"));
  k8snetio::baseline_learner<2> ratio(k8snetio::network_io_ratio, live_options());
  CHECK(k8snetio::test::refused(ratio.restore_state(saved)));
  auto other = live_options();
  other.span.allowed_lateness = 60;
  k8snetio::baseline_learner<2> later(k8snetio::anomalous_network_io, other);
  CHECK_THAT(k8snetio::test::refusal(later.restore_state(saved)), Catch::Contains("lateness=30"));
  CHECK(target.save_state() == empty);  // nothing half-loaded
  REQUIRE(target.restore_state(saved));
  CHECK(target.save_state() == saved);
}

}  // namespace test_baseline_state

// ---- issue 28: the state's values, its clock, its directory --------------------------------

namespace test_baseline_state {

namespace {

namespace io = k8snetio::io;

/// A day state of one key, with its count and last_seen set as given (a forged or damaged one
/// whose CRC is still right: save_day seals whatever it holds).
std::string day_with(std::string_view key, std::uint64_t count, std::int64_t last_seen) {
  const std::int64_t day = k8snetio::utc_day_of(t0);
  k8snetio::baseline_builder<2> state(k8snetio::network_io_measures);
  state.add(key, t0 + 10, {1.0, 2.0});
  auto& acc = state.accumulator_for(key);
  acc.count = count;
  acc.last_seen = last_seen;
  k8snetio::rolling_baseline<2> rolling(k8snetio::anomalous_network_io);
  rolling.add_day(day, state);
  return rolling.save_day(day);
}

/// A state directory others cannot write (whatever the umask), removed at the end.
struct state_folder {
  k8snetio::test::temp_dir dir;
  std::string path = dir.path.string();
  state_folder() { std::filesystem::permissions(path, std::filesystem::perms(0755)); }
  bool has(std::string_view name) const { return std::filesystem::exists(dir.file(name)); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (e.path().filename() != ".k8snetio-lock") out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

io::state_dir open_for_writing(const std::string& path) {
  auto dir = io::state_dir::open(path, io::state_dir::access::write);
  INFO((dir ? std::string() : dir.error().what()));
  REQUIRE(dir);
  return std::move(*dir);
}

}  // namespace

TEST_CASE("RT-22 S4 a day state whose values its own reader refuses is refused, naming the key") {
  const std::int64_t day = k8snetio::utc_day_of(t0);
  k8snetio::rolling_baseline<2> rolling(k8snetio::anomalous_network_io);
  CHECK(rolling.open_day(day_with("prod:web", 3, t0 + 10)));
  // A count of 2^64-1 wraps as soon as another day adds to it.
  CHECK_THAT(
      k8snetio::test::refusal(rolling.open_day(day_with("prod:web", ~std::uint64_t{0}, t0 + 10))),
      Catch::Contains("'prod:web' counts 18446744073709551615 rows in one day"));
  // A key without ':' makes a table that load_baseline_csv refuses (D5.5).
  CHECK_THAT(k8snetio::test::refusal(rolling.open_day(day_with("nocolon", 3, t0 + 10))),
             Catch::Contains("the key 'nocolon' has no ':'"));
  // A last_seen of INT64_MIN (or any time outside the day) is no time of that day.
  CHECK_THAT(k8snetio::test::refusal(rolling.open_day(
                 day_with("prod:web", 3, std::numeric_limits<std::int64_t>::min()))),
             Catch::Contains("'prod:web' has last_seen -9223372036854775808, outside its day "
                             "2023-11-15"));
  CHECK_THAT(k8snetio::test::refusal(rolling.open_day(day_with("prod:web", 3, t0 + 86400))),
             Catch::Contains("outside its day"));
  // Through the state directory's reader: the file is named.
  auto opened = io::open_day_bytes(rolling, day_with("nocolon", 3, t0 + 10),
                                   "st/2023-11-15.k8snetio-day", day);
  REQUIRE_FALSE(opened);
  CHECK_THAT(opened.error().what(),
             Catch::Contains("st/2023-11-15.k8snetio-day") && Catch::Contains("'nocolon'"));
  CHECK(rolling.size() == 0);
}

TEST_CASE("S1.4 S6 a baseline input stamped after the clock is refused, never a day of the state") {
  const std::int64_t day = k8snetio::utc_day_of(t0);
  // The clock is a parameter: "now" is two days after t0.
  const std::int64_t now = t0 + 2 * 86400 + 3600;
  CHECK(k8snetio::latest_plausible_day(now) == day + 2);
  // Five minutes of tolerance, as --max-future: just before midnight, tomorrow is plausible.
  CHECK(k8snetio::latest_plausible_day(t0 + 86400 - 60) == day + 1);
  CHECK(k8snetio::latest_plausible_day(t0 + 86400 - 600) == day);

  k8snetio::daily_baseline_runner<2> runner(k8snetio::anomalous_network_io);
  runner.refuse_after(static_cast<double>(now + k8snetio::baseline_max_future_seconds));
  const metric_point real{
      static_cast<double>(t0 + 5), 3.0, "", "prod", "web-0", "node-1", "transmit"};
  const metric_point from_2100{4102444800.0, 3.0, "", "prod", "web-0", "node-1", "transmit"};
  CHECK(runner.add(real));
  CHECK(runner.add(from_2100).reason == k8snetio::drop_reason::time_out_of_range);
  CHECK(runner.add(real));
  CHECK(runner.future_points() == 1);
  CHECK(runner.first_future_time() == std::optional<double>(4102444800.0));
  const auto days = runner.finish();
  REQUIRE(days.size() == 1);
  CHECK(days.begin()->first == day);
}

TEST_CASE("RT-5 a state directory is locked: a second writer is refused at once, naming the lock") {
  state_folder folder;
  {
    auto first = open_for_writing(folder.path);
    for (auto mode : {io::state_dir::access::write, io::state_dir::access::read}) {
      auto second = io::state_dir::open(folder.path, mode);
      REQUIRE_FALSE(second);
      CHECK_THAT(second.error().what(),
                 Catch::Contains(".k8snetio-lock") &&
                     Catch::Contains("another k8s-netio run is using this state directory"));
    }
  }
  // The lock goes with the run.
  CHECK(io::state_dir::open(folder.path, io::state_dir::access::write));
  CHECK(io::state_dir::open(folder.path, io::state_dir::access::read));
}

TEST_CASE("RT-24 S4 a commit of several days is all or nothing, across failures and kills") {
  const std::string a = "2023-11-15.k8snetio-day", b = "2023-11-16.k8snetio-day",
                    old = "2023-10-01.k8snetio-day";
  io::state_commit change;
  change.put = {{a, "day a"}, {b, "day b"}};
  change.drop = {old};
  const auto fill = [&](const state_folder& folder) {
    k8snetio::test::write_file(folder.dir.file(old), "old day");
  };
  const auto fail_at = [](std::string step_to_fail, int error) {
    return
        [step_to_fail, error](std::string_view step) { return step == step_to_fail ? error : 0; };
  };
  const std::vector<std::string> before{old}, after{a, b};

  SECTION("a full disk at the second day: nothing changes") {
    state_folder folder;
    fill(folder);
    auto dir = open_for_writing(folder.path);
    auto done = dir.commit(change, fail_at("write " + b, ENOSPC));
    REQUIRE_FALSE(done);
    CHECK_THAT(done.error().what(), Catch::Contains(b) && Catch::Contains("No space left") &&
                                        Catch::Contains("as it was"));
    CHECK(folder.names() == before);
  }
  SECTION("killed before the commit point: the next run removes what it left") {
    state_folder folder;
    fill(folder);
    {
      auto dir = open_for_writing(folder.path);
      REQUIRE_FALSE(dir.commit(change, fail_at("journal", -1)));
      CHECK(folder.has("." + a + ".pending"));
    }
    auto dir = open_for_writing(folder.path);
    auto note = dir.recover();
    REQUIRE(note);
    CHECK_THAT(*note, Catch::Contains("removed 2 temporary files"));
    CHECK(folder.names() == before);
  }
  SECTION("killed after the commit point, halfway through: the next run completes it") {
    state_folder folder;
    fill(folder);
    {
      auto dir = open_for_writing(folder.path);
      REQUIRE_FALSE(dir.commit(change, fail_at("apply " + b, -1)));
      CHECK(folder.has(a));
      CHECK_FALSE(folder.has(b));
      CHECK(dir.has_interrupted_commit());
    }
    {  // A reader sees that the state is half changed.
      auto reader = io::state_dir::open(folder.path, io::state_dir::access::read);
      REQUIRE(reader);
      CHECK(reader->has_interrupted_commit());
    }
    auto dir = open_for_writing(folder.path);
    auto note = dir.recover();
    REQUIRE(note);
    CHECK_THAT(*note, Catch::Contains("completed an interrupted change of 3 day files"));
    CHECK(folder.names() == after);
    CHECK_FALSE(dir.has_interrupted_commit());
    auto read = dir.read(b);
    REQUIRE(read);
    CHECK(read->first == "day b");
  }
  SECTION("no failure: every day in place, the old one gone, nothing else left") {
    state_folder folder;
    fill(folder);
    auto dir = open_for_writing(folder.path);
    REQUIRE(dir.commit(change));
    CHECK(folder.names() == after);
    auto listed = dir.list();
    REQUIRE(listed);
    CHECK(listed->size() == 2);
  }
}

TEST_CASE("RT-12 S6 a state directory's files are never reached through a link") {
  state_folder folder;
  k8snetio::test::temp_dir elsewhere;
  k8snetio::test::write_file(elsewhere.file("target"), "not a state");
  const std::string name = "2023-11-15.k8snetio-day";
  std::filesystem::create_symlink(elsewhere.file("target"), folder.dir.file(name));
  auto dir = open_for_writing(folder.path);
  auto listed = dir.list();
  REQUIRE_FALSE(listed);
  CHECK_THAT(listed.error().what(), Catch::Contains("must be a regular file"));
  auto read = dir.read(name);
  REQUIRE_FALSE(read);
  CHECK_THAT(read.error().what(), Catch::Contains("is a symbolic link"));
  // A commit replaces the link itself, never writes through it.
  io::state_commit change;
  change.put = {{name, "day"}};
  REQUIRE(dir.commit(change));
  std::ifstream target(elsewhere.file("target"));
  std::string kept((std::istreambuf_iterator<char>(target)), std::istreambuf_iterator<char>());
  CHECK(kept == "not a state");
  CHECK_FALSE(std::filesystem::is_symlink(folder.dir.file(name)));

  std::filesystem::permissions(folder.path, std::filesystem::perms(0777));
  auto open = io::state_dir::open(folder.path, io::state_dir::access::read);
  REQUIRE_FALSE(open);
  CHECK_THAT(open.error().what(), Catch::Contains("writable by every user (mode 0777)"));
}

}  // namespace test_baseline_state
