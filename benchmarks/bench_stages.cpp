// Throughput of the detection's stages in memory, on data shaped like gen_scale.py's (1000 pods
// over 2 clusters and ~100 services, both directions, interfaces eth0 and eth1: 4000 series,
// one point per series every 10 s, in time order, ~1 % of pods with spikes): the hot scoring
// loop (D6, rows/s), span aggregation (D1, points/s), the default service normalizer (D2,
// names/s), the baseline builder's fold (B1–B5, rows/s), the direction pivot (D3, rows/s) and
// the whole detection and baseline over in-memory points (points/s). No I/O: bench_metrics_csv and
// bench_json_readers time the readers, benchmarks/compare_duckdb.sh k8s-netio end to end.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/k8snetio.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>
#include <k8snetio/stages/pcre2_service_normalizer.hpp>

namespace {

using namespace k8snetio;

constexpr std::int64_t span = 10;
constexpr std::int64_t start_time = 1700000000;

struct pod_info {
  std::string_view cluster, node, pod, service;
  double transmit, receive, spread;  // mean bytes/s per direction, relative spread
};

/// Pods and their strings (which the points borrow): the same on every run (fixed seed).
struct world {
  std::deque<std::string> strings;  // never relocates: the views below stay valid
  std::vector<pod_info> pods;

  std::string_view keep(std::string s) { return strings.emplace_back(std::move(s)); }

  explicit world(int n_pods) {
    static constexpr std::array<std::string_view, 10> words = {
        "checkout", "cart",   "payments", "auth",      "search",
        "catalog",  "orders", "shipping", "inventory", "billing"};
    std::mt19937_64 rng(7);
    const auto pick = [&rng](std::string_view alphabet, int n) {
      std::string s;
      for (int i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
      return s;
    };
    const int n_services = std::max(1, n_pods / 10);
    const int n_nodes = std::max(3, n_pods / 40);
    std::lognormal_distribution<double> level(9.5, 1.2);
    std::uniform_real_distribution<double> spread(0.05, 0.25);
    std::vector<std::string_view> clusters = {keep("prod-eu"), keep("prod-us")};
    std::vector<std::string_view> services, suffixes;
    std::vector<int> kinds;  // 0 Deployment, 1 StatefulSet, 2 DaemonSet
    std::vector<std::array<double, 3>> profiles;
    for (int s = 0; s < n_services; ++s) {
      const auto w = words[static_cast<std::size_t>(s) % words.size()];
      services.push_back(keep(s < static_cast<int>(words.size())
                                  ? std::string(w)
                                  : fmt::format("{}-v{}", w, s / words.size() + 1)));
      const auto r = rng() % 10;
      kinds.push_back(r < 8 ? 0 : r < 9 ? 1 : 2);
      suffixes.push_back(keep(pick("0123456789abcdef", 9 + static_cast<int>(rng() % 2))));
      profiles.push_back({level(rng) + 500, level(rng) + 500, spread(rng)});
    }
    for (int p = 0; p < n_pods; ++p) {
      const auto s = static_cast<std::size_t>((p / 2) % n_services);
      std::string name(services[s]);
      if (kinds[s] == 0)
        name += fmt::format("-{}-{}", suffixes[s], pick("bcdfghjklmnpqrstvwxz2456789", 5));
      else if (kinds[s] == 1)
        name += fmt::format("-{}", p / (2 * n_services));
      else
        name += "-" + pick("bcdfghjklmnpqrstvwxz2456789", 5);
      const auto c = static_cast<std::size_t>(p % 2);
      const auto node = keep(fmt::format("ip-10-{}-{}-{}.ec2.internal", c, 0,
                                         rng() % static_cast<std::uint64_t>(n_nodes) + 4));
      const auto pod = keep(std::move(name));
      pods.push_back({clusters[c], node, pod, keep(default_service_name(pod)), profiles[s][0],
                      profiles[s][1], profiles[s][2]});
    }
  }
};

const world& the_world() {
  static const world w(1000);
  return w;
}

/// Points with their own copy of their strings, one after the other, as a reader hands them
/// over (views into its buffer): the aggregator cannot tell two series apart by address.
struct point_set {
  std::vector<metric_point> points;
  std::vector<char> text;
};

/// `minutes` of points of every series, in time order as gen_scale.py writes them. With
/// `spikes`, ~1 % of the pods get a large value in 10 random buckets of each hour.
point_set make_points(int minutes, std::uint64_t seed, bool spikes) {
  const world& w = the_world();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  struct series {
    const pod_info* pod;
    std::string_view direction;
    double mean, sd;
    double phase;
  };
  std::vector<series> all;
  for (const pod_info& p : w.pods)
    for (std::string_view d : {"transmit", "receive"})
      for (double share : {0.8, 0.2}) {
        const double m = (d == "transmit" ? p.transmit : p.receive) * share;
        all.push_back({&p, d, m, m * p.spread, static_cast<double>(rng() % 10000) / 1000.0});
      }
  std::vector<bool> spiking(w.pods.size(), false);
  if (spikes)
    for (std::size_t i = 0; i < w.pods.size() / 100; ++i) spiking[rng() % w.pods.size()] = true;
  const int buckets = minutes * 6;
  std::size_t bytes = 0;
  for (const series& s : all)
    bytes += default_metric_name.size() + s.pod->cluster.size() + s.pod->pod.size() +
             s.pod->node.size() + s.direction.size();
  point_set out;
  out.text.reserve(bytes * static_cast<std::size_t>(buckets));  // never reallocates below
  out.points.reserve(static_cast<std::size_t>(buckets) * all.size());
  const auto copy = [&out](std::string_view s) {
    const char* at = out.text.data() + out.text.size();
    out.text.insert(out.text.end(), s.begin(), s.end());
    return std::string_view(at, s.size());
  };
  for (int b = 0; b < buckets; ++b) {
    const bool spike_bucket = b % 360 < 10;  // the first 10 buckets of each hour
    for (const series& s : all) {
      double v = std::max(0.0, std::floor(s.mean + s.sd * noise(rng)));
      if (spike_bucket && spiking[static_cast<std::size_t>(s.pod - w.pods.data())])
        v = std::floor(s.mean * 8);
      out.points.push_back(metric_point{static_cast<double>(start_time + b * span) + s.phase, v,
                                        copy(default_metric_name), copy(s.pod->cluster),
                                        copy(s.pod->pod), copy(s.pod->node), copy(s.direction)});
    }
  }
  return out;
}

void points_rate(benchmark::State& state, std::size_t per_iteration, const char* name) {
  state.counters[name] = benchmark::Counter(
      static_cast<double>(per_iteration) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------------------------------------
// D6: the scoring loop. Pivoted rows with their baseline entries, ~1 % anomalous.

struct scoring_corpus {
  baseline_table<2> table;
  std::vector<looked_up_row<2>> rows;
  std::size_t anomalous = 0;
};

scoring_corpus make_scoring_corpus(std::size_t n_rows) {
  const world& w = the_world();
  scoring_corpus c;
  for (const pod_info& p : w.pods) {
    const std::string key = make_key(p.cluster, p.service);
    if (c.table.find(key)) continue;
    baseline_entry<2> e;
    e.avg[0] = baseline_cell::from_number(p.receive);
    e.avg[1] = baseline_cell::from_number(p.transmit);
    e.stdev[0] = baseline_cell::from_number(p.receive * p.spread);
    e.stdev[1] = baseline_cell::from_number(p.transmit * p.spread);
    c.table.insert(key, std::move(e));
  }
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 1.0);
  c.rows.reserve(n_rows);
  for (std::size_t i = 0; i < n_rows; ++i) {
    const pod_info& p = w.pods[i % w.pods.size()];
    const auto* base = c.table.find(make_key(p.cluster, p.service));
    measure_row<2> r{p.cluster,
                     p.node,
                     p.pod,
                     p.service,
                     start_time + static_cast<std::int64_t>(i / w.pods.size()) * span,
                     {}};
    for (std::size_t m = 0; m < 2; ++m)
      r.values[m] = *base->avg[m].value + *base->stdev[m].value * noise(rng);
    if (rng() % 100 == 0) r.values[rng() % 2] = *base->avg[0].value + 1e6;  // anomalous
    c.rows.push_back({r, base});
  }
  const sigma_anomaly_scorer<2> scorer(network_io_measures);
  for (const auto& r : c.rows) c.anomalous += scorer.keeps(r.row, r.baseline);
  return c;
}

/// sigma_anomaly_scorer::keeps over contiguous rows: the numeric decision only.
void scoring_keeps(benchmark::State& state) {
  const auto c = make_scoring_corpus(static_cast<std::size_t>(state.range(0)));
  const sigma_anomaly_scorer<2> scorer(network_io_measures);
  for (auto _ : state) {
    std::size_t kept = 0;
    for (const auto& r : c.rows) kept += scorer.keeps(r.row, r.baseline);
    benchmark::DoNotOptimize(kept);
  }
  points_rate(state, c.rows.size(), "rows/s");
  state.counters["anomalous%"] =
      100.0 * static_cast<double>(c.anomalous) / static_cast<double>(c.rows.size());
}
// 16 Ki rows (1.7 MB) stay in cache; 1 Mi rows (110 MB) stream from memory.
BENCHMARK(scoring_keeps)->Arg(1 << 14)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

/// keeps, then the anomaly text for the kept rows (describe), as score_sigma does.
void scoring_keeps_and_describe(benchmark::State& state) {
  const auto c = make_scoring_corpus(static_cast<std::size_t>(state.range(0)));
  const sigma_anomaly_scorer<2> scorer(network_io_measures);
  for (auto _ : state) {
    std::size_t bytes = 0;
    for (const auto& r : c.rows)
      if (scorer.keeps(r.row, r.baseline)) bytes += scorer.describe(r.row, r.baseline)->size();
    benchmark::DoNotOptimize(bytes);
  }
  points_rate(state, c.rows.size(), "rows/s");
}
BENCHMARK(scoring_keeps_and_describe)->Arg(1 << 14)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

/// The lazy score_sigma view over the same rows (filter, then text).
void scoring_score_sigma_view(benchmark::State& state) {
  const auto c = make_scoring_corpus(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::size_t bytes = 0;
    for (const anomalous_row& a : c.rows | score_sigma(anomalous_network_io))
      bytes += a.anomalies.size();
    benchmark::DoNotOptimize(bytes);
  }
  points_rate(state, c.rows.size(), "rows/s");
}
BENCHMARK(scoring_score_sigma_view)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

/// A reference, not library code: the same decision with each key's thresholds
/// avg + k·stdev precomputed into contiguous doubles (null: +inf), what the target
/// of 200 M rows/s assumes. It shows what the row layout (four string views and optionals
/// per row, baseline cells behind a pointer) costs.
void scoring_reference_flat_thresholds(benchmark::State& state) {
  const auto c = make_scoring_corpus(static_cast<std::size_t>(state.range(0)));
  std::vector<double> values, thresholds;
  for (const auto& r : c.rows)
    for (std::size_t m = 0; m < 2; ++m) {
      values.push_back(r.row.values[m].value_or(-HUGE_VAL));
      const auto t = spl::add(r.baseline->avg[m].value, spl::mul(4.0, r.baseline->stdev[m].value));
      thresholds.push_back(t.value_or(HUGE_VAL));
    }
  for (auto _ : state) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < values.size(); i += 2)
      kept += static_cast<unsigned>(values[i] > thresholds[i]) |
              static_cast<unsigned>(values[i + 1] > thresholds[i + 1]);  // no branch
    benchmark::DoNotOptimize(kept);
  }
  points_rate(state, c.rows.size(), "rows/s");
}
BENCHMARK(scoring_reference_flat_thresholds)
    ->Arg(1 << 14)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// D1: span aggregation over one hour of points (4000 series, 1.44 M points).

const std::vector<metric_point>& hour_of_points() {
  static const auto set = make_points(60, 1, true);
  return set.points;
}

/// Detection's use: no lateness, every group held until finish (the whole window).
void span_aggregation_whole_window(benchmark::State& state) {
  const auto& points = hour_of_points();
  std::size_t rows = 0;
  for (auto _ : state) {
    span_aggregator agg;
    for (const metric_point& p : points) agg.add(p);
    rows = 0;
    agg.finish([&rows](const span_row&) { ++rows; });
    benchmark::DoNotOptimize(rows);
  }
  points_rate(state, points.size(), "points/s");
  state.counters["rows"] = static_cast<double>(rows);
}
BENCHMARK(span_aggregation_whole_window)->Unit(benchmark::kMillisecond);

/// The baseline's use: lateness 0, emit_closed after every point (memory for one bucket).
void span_aggregation_streaming(benchmark::State& state) {
  const auto& points = hour_of_points();
  span_options options;
  options.allowed_lateness = 0;
  for (auto _ : state) {
    span_aggregator agg(options);
    std::size_t rows = 0;
    const auto sink = [&rows](const span_row&) { ++rows; };
    for (const metric_point& p : points) {
      agg.add(p);
      agg.emit_closed(sink);
    }
    agg.finish(sink);
    benchmark::DoNotOptimize(rows);
  }
  points_rate(state, points.size(), "points/s");
}
BENCHMARK(span_aggregation_streaming)->Unit(benchmark::kMillisecond);

/// The same points shuffled (a worst case for locality: any order is legal without lateness).
void span_aggregation_shuffled(benchmark::State& state) {
  static const auto points = [] {
    auto p = hour_of_points();
    std::shuffle(p.begin(), p.end(), std::mt19937_64(5));
    return p;
  }();
  for (auto _ : state) {
    span_aggregator agg;
    for (const metric_point& p : points) agg.add(p);
    std::size_t rows = 0;
    agg.finish([&rows](const span_row&) { ++rows; });
    benchmark::DoNotOptimize(rows);
  }
  points_rate(state, points.size(), "points/s");
}
BENCHMARK(span_aggregation_shuffled)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// D2: the default service normalizer over the 1000 pods' names, round and round.

std::vector<std::string_view> pod_names() {
  std::vector<std::string_view> names;
  for (const pod_info& p : the_world().pods) names.push_back(p.pod);
  return names;
}

/// find_default_service_suffix: the constexpr, allocation-free core.
void service_find_suffix(benchmark::State& state) {
  const auto names = pod_names();
  for (auto _ : state) {
    std::size_t total = 0;
    for (std::string_view n : names)
      total += find_default_service_suffix(n).value_or(service_match{}).begin;
    benchmark::DoNotOptimize(total);
  }
  points_rate(state, names.size(), "names/s");
}
BENCHMARK(service_find_suffix);

/// default_service_name: the core plus the std::string it returns.
void service_default_name(benchmark::State& state) {
  const auto names = pod_names();
  for (auto _ : state) {
    std::size_t total = 0;
    for (std::string_view n : names) total += default_service_name(n).size();
    benchmark::DoNotOptimize(total);
  }
  points_rate(state, names.size(), "names/s");
}
BENCHMARK(service_default_name);

/// caching_service_normalizer: what the pipeline calls once per D1 row (all hits here).
void service_caching_normalizer(benchmark::State& state) {
  const auto names = pod_names();
  caching_service_normalizer<> normalize;
  for (std::string_view n : names) normalize(n);
  for (auto _ : state) {
    std::size_t total = 0;
    for (std::string_view n : names) total += normalize(n).size();
    benchmark::DoNotOptimize(total);
  }
  points_rate(state, names.size(), "names/s");
}
BENCHMARK(service_caching_normalizer);

/// The regex normalizer (D2.2) on the default pattern, for scale: std::regex per name.
void service_regex_normalizer(benchmark::State& state) {
  const auto names = pod_names();
  const regex_service_normalizer normalize{default_service_pattern};
  for (auto _ : state) {
    std::size_t total = 0;
    for (std::string_view n : names) total += normalize(n).size();
    benchmark::DoNotOptimize(total);
  }
  points_rate(state, names.size(), "names/s");
}
BENCHMARK(service_regex_normalizer);

// ---------------------------------------------------------------------------------------------
// B1–B5: the baseline builder's fold over one hour of D1 rows with their service.

const std::vector<service_row>& hour_of_service_rows() {
  static const auto rows = [] {
    std::vector<service_row> out;
    std::mt19937_64 rng(11);
    for (int b = 0; b < 360; ++b)
      for (const pod_info& p : the_world().pods)
        for (std::string_view d : {"transmit", "receive"})
          out.push_back(service_row{span_row{p.cluster, p.pod, p.node, d, start_time + b * span,
                                             static_cast<double>(rng() % 100000)},
                                    p.service});
    return out;
  }();
  return rows;
}

void baseline_builder_fold(benchmark::State& state) {
  const auto& rows = hour_of_service_rows();
  for (auto _ : state) {
    baseline_builder<2> builder(network_io_measures);
    for (const service_row& r : rows) builder.add(r, network_io_measure_of);
    benchmark::DoNotOptimize(builder.size());
  }
  points_rate(state, rows.size(), "rows/s");
}
BENCHMARK(baseline_builder_fold)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// D3: the direction pivot of one hour of D1 rows (the detection's group-by after D1/D2).

void direction_pivot_hour(benchmark::State& state) {
  const auto& rows = hour_of_service_rows();
  for (auto _ : state) {
    auto pivoted = rows | pivot_direction(anomalous_network_io);
    benchmark::DoNotOptimize(pivoted.size());
  }
  points_rate(state, rows.size(), "rows/s");
}
BENCHMARK(direction_pivot_hour)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// End to end in memory: the points of one hour through the whole detection (D1–D8) and the
// whole baseline (B1–B6), without reading or writing files.

const baseline_table<2>& trained_table() {
  static const auto table = [] {
    const auto training = make_points(60, 2, false);
    return build_network_io_baseline(training.points).table;
  }();
  return table;
}

void detection_in_memory(benchmark::State& state) {
  const auto& points = hour_of_points();
  const auto& table = trained_table();
  std::size_t findings = 0;
  for (auto _ : state) {
    auto result = detect_anomalous_network_io(points, table);
    findings = result.findings.size();
    benchmark::DoNotOptimize(result);
  }
  points_rate(state, points.size(), "points/s");
  state.counters["findings"] = static_cast<double>(findings);
}
BENCHMARK(detection_in_memory)->Unit(benchmark::kMillisecond);

void baseline_in_memory(benchmark::State& state) {
  const auto& points = hour_of_points();
  std::size_t keys = 0;
  for (auto _ : state) {
    auto result = build_network_io_baseline(points);
    keys = result.table.size();
    benchmark::DoNotOptimize(result);
  }
  points_rate(state, points.size(), "points/s");
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(baseline_in_memory)->Unit(benchmark::kMillisecond);

}  // namespace
