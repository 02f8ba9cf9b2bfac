// The full detection of a rule (D1–D9) as one pipeline of the shared stages, with a push API
// (`add` points as they come, `finish` for the findings) and a one-call form over a range.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <range/v3/range/concepts.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>
#include <tl/expected.hpp>

#include "../detail/direction_tally.hpp"
#include "../detail/flat_hash.hpp"
#include "../detail/materialized.hpp"
#include "../detail/snapshot.hpp"
#include "../detail/symbol_table.hpp"
#include "../model/drop_reason.hpp"
#include "../model/finding.hpp"
#include "../model/rule_definition.hpp"
#include "../stages/baseline_lookup.hpp"
#include "../stages/direction_pivot.hpp"
#include "../stages/persistence_filter.hpp"
#include "../stages/service_normalizer.hpp"
#include "../stages/sigma_anomaly_scorer.hpp"
#include "../stages/span_aggregator.hpp"

namespace k8snetio {

/// Every option the detection names, with the spec's defaults.
struct detection_options {
  /// D1: span (10 s), metric name; buckets close per series (S1.1, S2.2), or with an allowed
  /// lateness by the live watermark (S1.3), or all at finish (group_closing::at_finish).
  span_options span = [] {
    span_options s;
    s.closing = group_closing::by_series;
    s.idle_seconds = 3600;  // S5: a pod gone for an hour releases its series
    return s;
  }();
  std::optional<std::string> service_pattern{};  ///< D2.2: unset = the hand-written D2.1 default
  scorer_options scoring{};                      ///< D6: sigma (4), measure order, zero stdev
  std::uint64_t min_count = 5;                   ///< D7.2: count > min_count
  std::optional<std::int64_t> window_seconds{};  ///< D9: epoch-aligned tumbling windows
  std::function<bool(const finding&)> filter{};  ///< D8: the `…_filter` macro
  /// S3 (live): a provisional finding the moment a pod's count passes min_count, the final one
  /// when its window closes; every finding then has a status. Off: exactly the batch output.
  bool early_alerts = false;
  /// O5: each finding carries its pod's values per bucket across the window (finding::series),
  /// for the HTML report's chart. The detector then records every baselined pod's pivoted
  /// values per bucket until its window closes (or the pod is released, S5): memory grows with
  /// pods × buckets per window, so it is off by default (S2.2 holds only then).
  bool keep_finding_series = false;
};

/// D5.4: a key seen in the input with no row in the baseline table (it cannot alert).
struct unbaselined_key {
  std::string key;
  std::uint64_t pods = 0;     ///< distinct (cluster, node, pod)
  std::uint64_t buckets = 0;  ///< distinct bucket starts
  friend bool operator==(const unbaselined_key&, const unbaselined_key&) = default;
};

struct detection_result {
  std::vector<finding> findings;
  aggregation_stats stats;
  std::vector<unbaselined_key> unbaselined;  ///< D5.4, sorted by key
  std::uint64_t service_pattern_limit = 0;   ///< D2.4: D1 rows whose pod name hit the limit
  /// A1.4 (drop_reason::unmapped_direction): points of the rule's metric whose direction feeds
  /// none of the rule's measures (D3.2: their rows alert on nothing), and those directions with
  /// their point counts, sorted (at most detail::max_named_directions of them are named).
  std::uint64_t unmapped_direction = 0;
  std::vector<std::pair<std::string, std::uint64_t>> unmapped_directions;
};

namespace detail {
template <class>
inline constexpr bool always_false = false;
}  // namespace detail

/// A1.1: "" when `baseline` may serve `rule` (its measures are the rule's, or the store does not
/// say what it holds), else the sentence that refuses it.
template <std::size_t N, class Baseline>
std::string baseline_mismatch(const rule_definition<N>& rule, const Baseline& baseline) {
  if constexpr (requires { baseline.measures().names; }) {
    const auto& have = baseline.measures().names;
    const auto& want = rule.measures->names;
    if (std::equal(have.begin(), have.end(), want.begin(), want.end())) return {};
    const auto list = [](const auto& names) {
      std::string out;
      for (std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
      return out;
    };
    return "the baseline table holds the measures (" + list(have) + ") but the rule \"" +
           std::string(rule.metadata->name) + "\" scores (" + list(want) +
           "): it is the table of another rule";
  } else {
    return {};
  }
}

namespace detail {

/// D2 for the engines: the hand-written default (D2.1) or a user pattern on PCRE2 (D2.2, D2.4).
/// A name on which the user pattern hits its limit has no service (nullopt): the engines drop
/// its rows and count them. Services are kept for the resolver's lifetime (they are the keys);
/// the cache of pod names is cleared when it grows past `cache_limit`, so that pods replaced
/// every rollout do not grow memory (S5).
class service_resolver {
 public:
  /// Throws std::invalid_argument naming the pattern's error when it does not compile.
  explicit service_resolver(const std::optional<std::string>& pattern) {
    if (pattern && *pattern != default_service_pattern) {
      auto compiled = compile_service_pattern(*pattern);
      if (!compiled) throw std::invalid_argument(compiled.error());
      user_ = std::move(*compiled);
    }
  }

  /// The service of `pod`; the view lives as long as the resolver.
  std::optional<std::string_view> operator()(std::string_view pod) {
    auto it = cache_.find(pod);
    if (it == cache_.end()) {
      const std::optional<std::string> service =
          user_ ? user_(pod) : std::optional(default_service_normalizer{}(pod));
      if (cache_.size() >= cache_limit) cache_.clear();
      it = cache_
               .emplace(std::string(pod),
                        service ? std::optional(services_.intern(*service)) : std::nullopt)
               .first;
    }
    if (!it->second) return std::nullopt;
    return services_.view(*it->second);
  }

  static constexpr std::size_t cache_limit = std::size_t{1} << 16;

 private:
  compiled_service_pattern user_;  // D2.4: empty for the default
  symbol_table services_;          // stable views
  std::unordered_map<std::string, std::optional<std::uint32_t>, string_hash, std::equal_to<>>
      cache_;
};

}  // namespace detail

/// `finish` on a detector whose answer would not be exact (see detector::failure).
class incomplete_detection : public std::runtime_error {
 public:
  explicit incomplete_detection(drop_reason why)
      : std::runtime_error(why == drop_reason::memory_limit
                               ? "detection: holding this input needs more groups than "
                                 "span_options::max_open_groups allows"
                               : "detection: the input is neither time-major nor series-major; "
                                 "read it again with group_closing::at_finish"),
        reason(why) {}
  drop_reason reason;
};

/// Runs a rule as one streaming engine over the stages: D1 (span_aggregator) closes buckets per
/// series; each closed row gets its service (D2) and baseline entry (D4, D5) once per series.
/// D3 puts one D1 row per direction into a pivoted row, so the pivot's mean is that row:
/// - a rule without a derived step (the main rule) scores each measure as its row comes (D6
///   compares a measure only with its own baseline) and keeps only exceeding measures, joined
///   per pod and bucket when the window closes: memory holds the open buckets and the
///   anomalous measures, never a window's rows (S2.2), in time-major and series-major input;
/// - a rule with one (R1: the ratios need both directions) joins the directions of a pod's
///   bucket first; a half-joined row is scored once the pod has moved on, and a direction that
///   comes later for it makes `failure()` say so.
/// Complete rows are scored (D6) and counted in their window's persistence_filter (D7). With
/// group_closing::at_finish every bucket is held (any order); with by_series a point or row for
/// a bucket already closed sets `failure()`, and the caller reads the input again held.
template <std::size_t N, baseline_source<N> Baseline>
class detector {
 public:
  detector(const rule_definition<N>& rule, const Baseline& baseline, detection_options options)
      : rule_(rule),
        baseline_(&baseline),
        options_(std::move(options)),
        aggregator_(options_.span),
        services_(options_.service_pattern),
        lookup_(baseline),
        scorer_(*rule.measures, options_.scoring) {
    if (std::string why = baseline_mismatch(rule, baseline); !why.empty())
      throw std::invalid_argument("detector: " + why);  // A1.1
    if (options_.window_seconds &&
        (*options_.window_seconds < 1 || *options_.window_seconds % options_.span.span_seconds))
      throw std::invalid_argument(
          "detector: window_seconds must be a positive multiple of span_seconds");
    if constexpr (requires { baseline.stdev_column_order(); })
      scorer_.use_table_order(baseline.stdev_column_order());
  }

  /// A1.2: the detector keeps a reference to its baseline, so a temporary one is refused.
  template <class B>
  requires std::same_as<B, Baseline> detector(const rule_definition<N>&, const B&&,
                                              detection_options) {
    static_assert(detail::always_false<B>,
                  "detector: the baseline is a temporary and would be destroyed while the "
                  "detector reads it; keep it in a variable that outlives the detector");
  }

  // The series state holds views of the aggregator's strings and of the normalizer's cache.
  detector(const detector&) = delete;
  detector& operator=(const detector&) = delete;
  detector(detector&&) = default;
  detector& operator=(detector&&) = default;

  /// D1 for one point, then D2–D7 for every bucket this point lets the engine close. Bad
  /// points are counted in stats() (D1.1, D1.2) and their reason returned, never thrown.
  add_outcome add(const metric_point& p) {
    const add_outcome used = aggregator_.add(p);
    if (!used) {
      note_failure(used.reason);
      // S5.1: live, a point refused at a cap still moved the watermark; close what it passed.
      if (!aggregator_.refusal_moves_watermark(used.reason)) return used;
    } else {
      (void)unmapped_.maps(p.direction, rule_.measure_of, N);  // A1.4: counted when not
    }
    aggregator_.emit_closed([this](const span_row& r, std::uint32_t series) { join(r, series); });
    if (options_.span.allowed_lateness)
      if (auto t = aggregator_.complete_through()) {
        if (options_.early_alerts) score_through(*t);
        close_through(*t);
      }
    return used;
  }

  const aggregation_stats& stats() const noexcept { return aggregator_.stats(); }

  /// Set when the answer can no longer be exact: drop_reason::out_of_order (read the input
  /// again with group_closing::at_finish) or drop_reason::memory_limit. `finish` then throws
  /// incomplete_detection.
  [[nodiscard]] std::optional<drop_reason> failure() const noexcept { return failure_; }

  /// Pods held (S5: those alive, those with rows waiting, and those with an anomalous bucket).
  std::size_t pods_held() const noexcept { return pod_ids_.size(); }

  /// Rows held: open D1 groups plus half-joined pivot rows (for tests and progress).
  std::size_t open_rows() const noexcept { return aggregator_.open_groups() + pending_.size(); }

  /// keep_finding_series: the pod buckets recorded for findings' series (for tests).
  std::size_t recorded_buckets() const noexcept {
    std::size_t n = 0;
    for (const pod_state& p : pods_) n += p.series.size();
    return n;
  }

  /// Live use (an allowed lateness): the findings of the windows the watermark has closed
  /// since the last call, windows in time order, D7.3 order within each (S2.1).
  [[nodiscard]] std::vector<finding> take_closed() {
    std::vector<finding> out;
    out.swap(closed_);
    return out;
  }

  /// S4: the whole state as a checked snapshot (engine/snapshot.hpp): open buckets, half-joined
  /// and anomalous rows, per-window counts, findings not yet taken, statistics. A detector made
  /// with the same rule and options that restores it and reads the rest of the input gives
  /// byte for byte the output of one uninterrupted run. With keep_finding_series the pods'
  /// recorded buckets and the series of findings not yet taken follow, at the end (the settings
  /// record the option, so a snapshot without it keeps its layout). The baseline and the D8 filter
  /// are not in it: they are the restoring caller's (a refreshed baseline applies from then on).
  [[nodiscard]] std::string save_state() const {
    detail::snapshot_writer w;
    aggregator_.save(w);
    w.u64(pods_.size());
    for (std::size_t i = 0; i < pods_.size(); ++i) {
      w.boolean(pods_[i].live);
      if (!pods_[i].live) continue;
      w.str(pod_names_[i]);
      w.str(pods_[i].namespace_name);
      w.str(pods_[i].pod_uid);
      w.i64(pods_[i].sealed_through);
      w.i64(pods_[i].newest);
      w.u64(pods_[i].waiting.size());
      for (std::int64_t t : pods_[i].waiting) w.i64(t);
      w.boolean(pods_[i].kept);
    }
    w.u64(free_pods_.size());
    for (std::uint32_t id : free_pods_) w.u32(id);
    w.u64(next_pod_sweep_);
    const auto save_row = [&w](const pending_key& k, std::string_view cluster,
                               std::string_view node, std::string_view pod,
                               std::string_view service,
                               const std::array<std::optional<double>, N>& values) {
      w.u32(k.pod);
      w.i64(k.time);
      for (std::string_view v : {cluster, node, pod, service}) w.str(v);
      for (const auto& v : values) w.opt_f64(v);
    };
    w.u64(pending_.size());
    for (const auto& [k, p] : pending_) {
      save_row(k, p.row.cluster, p.row.node, p.row.pod, p.row.service, p.row.values);
      w.u64(p.filled);
      for (std::size_t m = 0; m < N; ++m) {
        w.f64(p.sum[m]);
        w.u64(p.count[m]);
      }
    }
    w.u64(order_.size());
    for (const pending_key& k : order_) {
      w.u32(k.pod);
      w.i64(k.time);
    }
    w.u64(anomalous_.size());
    for (const auto& [k, a] : anomalous_)
      save_row(k, a.cluster, a.node, a.pod, a.service, a.values);
    w.opt_i64(closed_before_);
    w.opt_i64(swept_through_);
    w.u64(windows_.size());
    for (const auto& [start, filter] : windows_) {
      w.i64(start);
      filter.save(w);
    }
    w.u64(closed_.size());
    for (const finding& f : closed_) detail::save_finding(w, f);
    w.u8(failure_ ? static_cast<std::uint8_t>(*failure_) + 1 : 0);
    w.u64(unbaselined_.size());
    for (const auto& [key, u] : unbaselined_) {
      w.str(key);
      std::vector<std::string_view> pods(u.pods.begin(), u.pods.end());
      std::sort(pods.begin(), pods.end());
      w.u64(pods.size());
      for (std::string_view pod : pods) w.str(pod);
      std::vector<std::int64_t> buckets(u.buckets.begin(), u.buckets.end());
      std::sort(buckets.begin(), buckets.end());
      w.u64(buckets.size());
      for (std::int64_t t : buckets) w.i64(t);
    }
    w.u64(pattern_limit_rows_);
    unmapped_.save(w);
    if (options_.keep_finding_series) {
      // Only then (the settings say so): a snapshot without series keeps its earlier layout.
      for (std::size_t i = 0; i < pods_.size(); ++i) {
        if (!pods_[i].live) continue;
        w.u64(pods_[i].series.size());
        for (const recorded_bucket& b : pods_[i].series) {
          w.i64(b.time);
          for (const auto& v : b.values) w.opt_f64(v);
        }
      }
      for (const finding& f : closed_) save_series(w, f.series);
    }
    return seal_snapshot("detector", settings(), w.bytes());
  }

  /// S4: continues from a snapshot of save_state. A6: an error of code bad_snapshot, and this
  /// detector kept as it was, when the snapshot is truncated, corrupt, of another kind or
  /// version, or was taken under other settings (the message names both).
  [[nodiscard]] result<void> restore_state(std::string_view snapshot) {
    return detail::restore_result([&] { restore_or_throw(snapshot); });
  }

 private:
  void restore_or_throw(std::string_view snapshot) {
    detail::snapshot_reader r(
        open_snapshot(snapshot, "detector", settings(), nullptr, snapshot_aggregator_version),
        "detector state");
    detector d(rule_, *baseline_, options_);
    d.aggregator_.restore(r);
    const std::size_t pods = r.count(1);
    if (pods >= std::numeric_limits<std::uint32_t>::max()) r.fail("too many pods");
    d.pods_.resize(pods);
    d.pod_names_.resize(pods);
    for (std::size_t i = 0; i < pods; ++i) {
      pod_state& p = d.pods_[i];
      p.live = r.boolean();
      if (!p.live) continue;
      const auto [it, fresh] =
          d.pod_ids_.try_emplace(std::string(r.str()), static_cast<std::uint32_t>(i));
      if (!fresh) r.fail("a pod named twice");
      if (std::count(it->first.begin(), it->first.end(), '\0') != 2)
        r.fail("a pod key that is not cluster, node and pod");
      d.pod_names_[i] = it->first;
      p.namespace_name = r.str();
      p.pod_uid = r.str();
      p.sealed_through = r.i64();
      p.newest = r.i64();
      p.waiting.resize(r.count(8));
      for (std::int64_t& t : p.waiting) t = r.i64();
      p.kept = r.boolean();
    }
    const std::size_t freed = r.count(4);
    for (std::size_t i = 0; i < freed; ++i) {
      const std::uint32_t id = r.u32();
      if (id >= pods || d.pods_[id].live) r.fail("a free pod id that is not free");
      d.free_pods_.push_back(id);
    }
    if (d.pod_ids_.size() + d.free_pods_.size() != pods)
      r.fail("the free pod ids do not match the released pods");
    d.next_pod_sweep_ = static_cast<std::size_t>(r.u64());
    const auto restore_row = [&r, &d, pods](pending_key& k, std::string_view& cluster,
                                            std::string_view& node, std::string_view& pod,
                                            std::string_view& service,
                                            std::array<std::optional<double>, N>& values) {
      k.pod = r.u32();
      k.time = r.i64();
      if (k.pod >= pods || !d.pods_[k.pod].live) r.fail("a row of a pod that does not exist");
      for (std::string_view* v : {&cluster, &node, &pod, &service})
        *v = d.restored_.view(d.restored_.intern(r.str()));
      for (auto& v : values) v = r.opt_f64();
    };
    const std::size_t pending = r.count(12 + 32 + N + 8 + 16 * N);
    for (std::size_t i = 0; i < pending; ++i) {
      pending_key k{};
      pending_row p{};
      restore_row(k, p.row.cluster, p.row.node, p.row.pod, p.row.service, p.row.values);
      p.row.time = k.time;
      p.filled = r.u64();
      if (p.filled > N) r.fail("a half-joined row with more measures than the rule has");
      std::size_t counted = 0;
      for (std::size_t m = 0; m < N; ++m) {
        p.sum[m] = r.f64();
        p.count[m] = r.u64();
        counted += p.count[m] > 0;
      }
      if (counted != p.filled) r.fail("a half-joined row whose measures do not add up");
      if (!d.pending_.emplace(k, std::move(p)).second) r.fail("a half-joined row twice");
    }
    const std::size_t order = r.count(12);
    for (std::size_t i = 0; i < order; ++i) {
      pending_key k{r.u32(), 0};
      k.time = r.i64();
      d.order_.push_back(k);
    }
    const std::size_t anomalous = r.count(12 + 32 + N);
    for (std::size_t i = 0; i < anomalous; ++i) {
      pending_key k{};
      anomalous_measures a{};
      restore_row(k, a.cluster, a.node, a.pod, a.service, a.values);
      if (!d.anomalous_.emplace(k, a).second) r.fail("an anomalous bucket twice");
    }
    d.closed_before_ = r.opt_i64();
    d.swept_through_ = r.opt_i64();
    const std::size_t windows = r.count(8 + 4 + 8);
    for (std::size_t i = 0; i < windows; ++i) {
      const std::int64_t start = r.i64();
      if (d.windows_.contains(start)) r.fail("a window twice");
      d.window_for(start).restore(r);
      if (d.window_of(start) != start) r.fail("a window that does not start on its boundary");
    }
    d.closed_.resize(r.count(detail::saved_finding_min_bytes));
    for (finding& f : d.closed_) f = detail::restore_finding(r, rule_.metadata);
    if (const std::uint8_t failure =
            r.choice(static_cast<std::uint8_t>(drop_reason::memory_limit) + 1, "the failure"))
      d.failure_ = static_cast<drop_reason>(failure - 1);
    const std::size_t keys = r.count(8 + 16);
    for (std::size_t i = 0; i < keys; ++i) {
      auto [it, fresh] = d.unbaselined_.try_emplace(std::string(r.str()));
      if (!fresh) r.fail("an unbaselined key twice");
      const std::size_t n = r.count(8);
      for (std::size_t j = 0; j < n; ++j) it->second.pods.emplace(r.str());
      const std::size_t b = r.count(8);
      for (std::size_t j = 0; j < b; ++j) it->second.buckets.insert(r.i64());
    }
    d.pattern_limit_rows_ = r.u64();
    d.unmapped_.restore(r);
    if (options_.keep_finding_series) {
      for (std::size_t i = 0; i < pods; ++i) {
        if (!d.pods_[i].live) continue;
        auto& series = d.pods_[i].series;
        series.resize(r.count(8 + N));
        for (recorded_bucket& b : series) {
          b.time = r.i64();
          for (auto& v : b.values) v = r.opt_f64();
        }
        for (std::size_t j = 1; j < series.size(); ++j)
          if (series[j - 1].time >= series[j].time) r.fail("a pod's buckets out of order");
      }
      for (finding& f : d.closed_) f.series = restore_series(r);
    }
    r.expect_end();
    *this = std::move(d);
  }

 public:
  /// S4: the rule and every option a saved state depends on, as the snapshot records them.
  std::string settings() const {
    std::string measures;
    for (std::string_view m : rule_.measures->names) {
      if (!measures.empty()) measures += ',';
      measures += m;
    }
    return fmt::format(
        "rule={};measures={};{};service_pattern={};sigma={};order={};zero_stdev={};"
        "min_count={};window={};early_alerts={}{}",
        rule_.metadata->name, measures, snapshot_settings(options_.span),
        options_.service_pattern.value_or("(default)"), options_.scoring.sigma,
        static_cast<int>(options_.scoring.order), static_cast<int>(options_.scoring.zero_stdev),
        options_.min_count,
        options_.window_seconds ? fmt::format("{}", *options_.window_seconds) : "input",
        options_.early_alerts, options_.keep_finding_series ? ";finding_series=on" : "");
  }

  /// The input has ended: closes every bucket, so that failure() is final. finish() calls it.
  void end_of_input() {
    aggregator_.finish([this](const span_row& r, std::uint32_t series) { join(r, series); });
  }

  /// D2–D9 for everything still open: the findings of each window not yet taken by
  /// take_closed, windows in time order. Throws incomplete_detection if failure() is set.
  [[nodiscard]] detection_result finish() {
    end_of_input();
    if (failure_) throw incomplete_detection(*failure_);
    for (auto it = pending_.begin(); it != pending_.end();) it = complete(it);
    close_measures_through(std::numeric_limits<std::int64_t>::max());
    detection_result result;
    result.stats = aggregator_.stats();
    result.findings = take_closed();
    result.service_pattern_limit = pattern_limit_rows_;
    result.unmapped_direction = unmapped_.points();
    result.unmapped_directions = unmapped_.named();
    for (const auto& [key, u] : unbaselined_)
      result.unbaselined.push_back({key, u.pods.size(), u.buckets.size()});
    std::sort(result.unbaselined.begin(), result.unbaselined.end(),
              [](const unbaselined_key& a, const unbaselined_key& b) { return a.key < b.key; });
    for (auto& [start, filter] : windows_) {
      if (!options_.window_seconds)
        filter.set_window(result.stats.first_bucket.value_or(0),
                          result.stats.last_bucket.value_or(0) + options_.span.span_seconds);
      hand_out(filter.findings(), result.findings);
    }
    windows_.clear();
    return result;
  }

 private:
  struct unbaselined_state {
    std::unordered_set<std::string> pods;  ///< (cluster, node, pod) keys: pod ids are reused
    std::unordered_set<std::int64_t> buckets;
  };
  struct series_state {
    std::uint32_t pod = 0;                        ///< dense id of (cluster, node, pod)
    std::optional<std::size_t> measure;           ///< D3: the measure its direction feeds, if any
    std::string_view service;                     ///< D2, resolved once
    const baseline_entry<N>* baseline = nullptr;  ///< D4, D5, resolved once
    unbaselined_state* unbaselined = nullptr;     ///< D5.4: its key has no baseline row
    bool resolved = false;
    bool pattern_limit = false;  ///< D2.4: its pod name hit the user pattern's limit
    std::uint32_t epoch = 0;     ///< S5: the aggregator's epoch of the id when resolved
  };
  /// Main rule: the exceeding measures of one pod's bucket, joined when its window closes.
  struct anomalous_measures {
    std::string_view cluster, node, pod, service;
    std::array<std::optional<double>, N> values{};  ///< the exceeding measures only
  };
  /// keep_finding_series: one pod's pivoted (R1: derived) values in one bucket.
  struct recorded_bucket {
    std::int64_t time = 0;
    std::array<spl_number, N> values{};
  };
  struct pod_state {
    std::string namespace_name, pod_uid;  ///< I3.3: context for its findings
    std::int64_t sealed_through = std::numeric_limits<std::int64_t>::min();
    std::int64_t newest = std::numeric_limits<std::int64_t>::min();  ///< latest row's bucket
    std::vector<std::int64_t> waiting;  ///< buckets of its half-joined rows (by_series)
    bool kept = false;  ///< it had an anomalous bucket: kept for its findings' context
    bool live = true;   ///< false: released (S5), its id is free
    std::vector<recorded_bucket> series;  ///< keep_finding_series: its buckets, ascending
  };
  struct pending_row {
    measure_row<N> row;
    std::size_t filled = 0;                ///< measures present: complete at N
    std::array<double, N> sum{};           ///< D3: the io of the rows each measure had
    std::array<std::uint64_t, N> count{};  ///< D3: and how many
  };
  struct pending_key {
    std::uint32_t pod;
    std::int64_t time;
    friend bool operator==(const pending_key&, const pending_key&) = default;
  };
  struct pending_hash {
    std::size_t operator()(const pending_key& k) const noexcept {
      return static_cast<std::size_t>(detail::hash_mix(k.pod, static_cast<std::uint64_t>(k.time)));
    }
  };
  using pending_map = std::unordered_map<pending_key, pending_row, pending_hash>;

  void note_failure(drop_reason r) {
    // S5.1: live, a point refused at the cap is counted and named, and the rest goes on.
    if (r == drop_reason::memory_limit && options_.span.allowed_lateness) return;
    if (!failure_ && (r == drop_reason::out_of_order || r == drop_reason::memory_limit))
      failure_ = r;
  }

  series_state& series(const span_row& r, std::uint32_t id) {
    if (id >= series_.size()) series_.resize(aggregator_.series_count());
    series_state& s = series_[id];
    if (!s.resolved || s.epoch != aggregator_.series_epoch(id)) {  // S5: a new series' id
      s = series_state{};
      s.resolved = true;
      s.epoch = aggregator_.series_epoch(id);
      const auto service = services_(r.pod);
      s.pattern_limit = !service;
      s.service = service.value_or(std::string_view());
      s.measure = rule_.measure_of(r.direction);
      make_key(key_, r.cluster, s.service);
      s.baseline = baseline_->find(key_);
      if (!s.baseline && !s.pattern_limit)
        s.unbaselined = &unbaselined_.try_emplace(key_).first->second;
      pod_key_.assign(r.cluster);
      pod_key_ += '\0';
      pod_key_ += r.node;
      pod_key_ += '\0';
      pod_key_ += r.pod;
      auto it = pod_ids_.find(pod_key_);
      if (it == pod_ids_.end()) {
        if (options_.span.idle_seconds > 0 && pod_ids_.size() >= next_pod_sweep_) release_pods();
        std::uint32_t pod;
        if (!free_pods_.empty()) {
          pod = free_pods_.back();
          free_pods_.pop_back();
          pods_[pod] = pod_state{};
        } else {
          pod = static_cast<std::uint32_t>(pods_.size());
          pods_.emplace_back();
          pod_names_.emplace_back();
        }
        it = pod_ids_.emplace(pod_key_, pod).first;
        pod_names_[pod] = it->first;
      }
      s.pod = it->second;
      if (s.unbaselined) s.unbaselined->pods.emplace(pod_names_[s.pod]);  // D5.4
    }
    return s;
  }

  /// D3: a D1 row joins its pod's bucket; the row is scored once every measure has come.
  void join(const span_row& r, std::uint32_t id) {
    const series_state& s = series(r, id);
    if (pod_state& pod = pods_[s.pod]; pod.namespace_name.empty() && pod.pod_uid.empty()) {
      // I3.3: the pod's namespace and uid, from the first of its series' points that had them.
      const auto [namespace_name, pod_uid] = aggregator_.series_context(id);
      pod.namespace_name = namespace_name;
      pod.pod_uid = pod_uid;
    }
    if (s.pattern_limit) {
      ++pattern_limit_rows_;  // D2.4: dropped and counted
      return;
    }
    if (s.unbaselined) s.unbaselined->buckets.insert(r.time);  // D5.4
    if (!s.measure || *s.measure >= N) return;  // D3.2: a row of nulls alerts on nothing
    if (!rule_.derive && rule_.one_direction_per_measure) {
      if (options_.keep_finding_series && s.baseline)
        recorded(s.pod, r.time).values[*s.measure] = r.io;
      // D6.2 per measure: v > a + k·s involves this measure alone. Keep it only if it exceeds.
      if (!s.baseline) return;  // D5.2: no row, every comparison false (N1)
      const std::size_t m = *s.measure;
      if (!scorer_.exceeds(r.io, s.baseline->avg[m], s.baseline->stdev[m])) return;
      auto [it, fresh] = anomalous_.try_emplace(pending_key{s.pod, r.time});
      if (fresh) {
        const auto [cluster, node, pod] = pod_parts(s.pod);
        it->second = {cluster, node, pod, s.service, {}};
      }
      it->second.values[m] = r.io;
      return;
    }
    const pending_key key{s.pod, r.time};
    const bool sealing = seals();
    auto it = pending_.find(key);
    if (it == pending_.end()) {
      if (r.time <= pods_[s.pod].sealed_through) {
        // Its bucket was scored without this direction: the answer would change.
        note_failure(drop_reason::out_of_order);
        return;
      }
      const auto [cluster, node, pod] = pod_parts(s.pod);
      it = pending_.emplace(key, pending_row{{cluster, node, pod, s.service, r.time, {}}, 0}).first;
      order_.push_back(key);
      if (sealing) pods_[s.pod].waiting.push_back(r.time);
    }
    // D3: a measure is the mean of the rows of every direction that feeds it, summed in the
    // order they come, as direction_pivot computes it (one D3 for the engine and the stages).
    pending_row& p = it->second;
    const std::size_t m = *s.measure;
    if (p.count[m]++ == 0) ++p.filled;
    p.sum[m] += r.io;
    p.row.values[m] = p.sum[m] / static_cast<double>(p.count[m]);
    // Complete once every measure has its row, when each has one direction only; otherwise
    // another direction may still come for the bucket: it completes when sealed or at the end.
    if (p.filled == N && rule_.one_direction_per_measure) {
      complete(it);
      if (sealing) std::erase(pods_[s.pod].waiting, r.time);
    }
    if (sealing) {
      // A later bucket of the pod: its earlier half-joined rows are taken as complete (a
      // direction that comes for them after all ends the streaming attempt: failure()).
      pod_state& pod = pods_[s.pod];
      if (r.time > pod.newest) {
        pod.newest = r.time;
        std::erase_if(pod.waiting, [&](std::int64_t t) {
          if (t >= r.time) return false;
          seal(s.pod, t);
          return true;
        });
      }
    }
    seal_oldest();
  }

  bool seals() const noexcept {
    return !options_.span.allowed_lateness && options_.span.closing == group_closing::by_series;
  }

  /// Scores a half-joined row as it is; a row for its bucket is refused from now on.
  void seal(std::uint32_t pod, std::int64_t time) {
    auto it = pending_.find(pending_key{pod, time});
    if (it == pending_.end()) return;
    pod_state& p = pods_[pod];
    if (time > p.sealed_through) p.sealed_through = time;
    complete(it);
  }

  /// Scores a pivoted row (R1, D4–D7) and forgets it.
  typename pending_map::iterator complete(typename pending_map::iterator it) {
    measure_row<N>& row = it->second.row;
    if (rule_.derive) rule_.derive(row);
    const looked_up_row<N> looked = lookup_(row);
    if (looked.baseline && options_.keep_finding_series)
      recorded(it->first.pod, it->first.time).values = row.values;
    if (looked.baseline) {
      if (auto hit = scorer_.score(looked)) {
        pods_[it->first.pod].kept = true;
        count(*hit);
      }
    }
    return pending_.erase(it);
  }

  /// by_series: a row still waiting for a direction far behind the newest is scored as it is;
  /// a later row for its bucket is then refused (failure). at_finish never seals: every row is
  /// held, and all of them arrive before the pivot completes.
  void seal_oldest() {
    const bool sealing = seals();
    while (!order_.empty()) {
      const pending_key front = order_.front();
      if (pending_.contains(front)) {
        if (!sealing || order_.size() <= seal_window()) return;
        seal(front.pod, front.time);
        std::erase(pods_[front.pod].waiting, front.time);
      }
      order_.pop_front();
    }
  }

  std::size_t seal_window() const noexcept {
    return std::max(options_.span.series_window, 4 * series_.size());
  }

  /// Main rule: D6.3–D6.6 for the buckets through `t` that had an exceeding measure, through
  /// the scorer's own decision and text (every other measure of such a bucket did not exceed).
  void close_measures_through(std::int64_t t) {
    for (auto it = anomalous_.begin(); it != anomalous_.end();) {
      if (it->first.time > t) {
        ++it;
        continue;
      }
      it = score_anomalous(it);
    }
  }

  using anomalous_map = std::unordered_map<pending_key, anomalous_measures, pending_hash>;
  typename anomalous_map::iterator score_anomalous(typename anomalous_map::iterator it) {
    const anomalous_measures& a = it->second;
    measure_row<N> row{a.cluster, a.node, a.pod, a.service, it->first.time, a.values};
    if (auto hit = scorer_.score(lookup_(row))) {
      pods_[it->first.pod].kept = true;
      count(*hit);
    }
    return anomalous_.erase(it);
  }

  /// Live: every bucket through `t` is complete, and so is every window that ends by then: its
  /// findings move to `closed_` (S2.1). A sweep happens only when `t` crosses a window's end.
  void close_through(std::int64_t t) {
    if (!options_.window_seconds) return;  // one window: it closes with the input
    const std::int64_t closing = window_of(t + options_.span.span_seconds);
    if (closed_before_ && closing <= *closed_before_) return;
    closed_before_ = closing;
    for (auto it = pending_.begin(); it != pending_.end();)
      it = it->second.row.time <= t ? complete(it) : std::next(it);
    close_measures_through(t);
    while (!windows_.empty() && windows_.begin()->first < closing) {
      hand_out(windows_.begin()->second.findings(), closed_);
      windows_.erase(windows_.begin());
    }
    if (options_.keep_finding_series)  // the closed windows' buckets are drawn or never will be
      for (pod_state& p : pods_)
        std::erase_if(p.series, [closing](const recorded_bucket& b) { return b.time < closing; });
  }

  std::int64_t window_of(std::int64_t bucket) const noexcept {
    if (!options_.window_seconds) return 0;
    const std::int64_t w = *options_.window_seconds;
    return (bucket >= 0 ? bucket / w : (bucket - w + 1) / w) * w;
  }

  /// D7 for one anomalous bucket; S3: the moment a pod passes the threshold, a provisional
  /// finding goes out at once.
  void count(const anomalous_row& hit) {
    auto provisional = window_for(hit.time).add(hit);
    if (!provisional || !options_.early_alerts) return;
    add_context(*provisional);
    add_series(*provisional);
    if (!options_.filter || options_.filter(*provisional))
      closed_.push_back(std::move(*provisional));
  }

  /// Findings of a closed window; final ones when early alerts are on (S3).
  void hand_out(std::vector<finding>&& found, std::vector<finding>& to) {
    for (finding& f : found) {
      add_context(f);
      if (options_.filter && !options_.filter(f)) continue;
      add_series(f);
      if (options_.early_alerts) f.status = finding_status::final;
      to.push_back(std::move(f));
    }
  }

  /// S5: releases the pods none of whose series the aggregator still holds and that no row
  /// waits on (pods with an anomalous bucket are kept for their findings' context); next time
  /// when the pods held have doubled, so that sweeps cost O(1) a pod.
  void release_pods() {
    std::vector<bool> used(pods_.size());
    std::string key;
    aggregator_.for_each_series(
        [&](std::string_view cluster, std::string_view pod, std::string_view node) {
          key.assign(cluster);
          key += '\0';
          key += node;
          key += '\0';
          key += pod;
          if (auto it = pod_ids_.find(key); it != pod_ids_.end()) used[it->second] = true;
        });
    for (const auto& [k, p] : pending_) used[k.pod] = true;
    for (const pending_key& k : order_) used[k.pod] = true;
    for (const auto& [k, a] : anomalous_) used[k.pod] = true;
    for (std::uint32_t id = 0; id < pods_.size(); ++id) {
      pod_state& p = pods_[id];
      if (!p.live || used[id] || p.kept || !p.waiting.empty()) continue;
      pod_ids_.erase(pod_ids_.find(pod_names_[id]));
      pod_names_[id] = {};
      p = pod_state{};
      p.live = false;
      free_pods_.push_back(id);
    }
    next_pod_sweep_ = std::max<std::size_t>(4096, 2 * pod_ids_.size());
  }

  /// The id of a finding's pod, if it is held (a pod with a finding is: it is kept).
  std::optional<std::uint32_t> pod_of(const finding& f) {
    pod_key_.assign(f.cluster);
    pod_key_ += '\0';
    pod_key_ += f.host;
    pod_key_ += '\0';
    pod_key_ += f.pod;
    if (auto it = pod_ids_.find(pod_key_); it != pod_ids_.end()) return it->second;
    return std::nullopt;
  }

  /// I3.3: the namespace and pod uid of the finding's pod, when its points had them.
  void add_context(finding& f) {
    if (const auto pod = pod_of(f)) {
      f.namespace_name = pods_[*pod].namespace_name;
      f.pod_uid = pods_[*pod].pod_uid;
    }
  }

  /// keep_finding_series: the bucket of a pod's recorded series, made when new. Buckets mostly
  /// come in time order per pod (a series-major input gives a direction's buckets again).
  recorded_bucket& recorded(std::uint32_t pod, std::int64_t time) {
    auto& series = pods_[pod].series;
    if (series.empty() || series.back().time < time)
      return series.emplace_back(recorded_bucket{time, {}});
    auto it = std::lower_bound(series.begin(), series.end(), time,
                               [](const recorded_bucket& b, std::int64_t t) { return b.time < t; });
    if (it == series.end() || it->time != time) it = series.insert(it, recorded_bucket{time, {}});
    return *it;
  }

  /// O5: the pod's recorded buckets in the finding's window (D9; without windows, all of them:
  /// the window is the input), with its service's baseline per measure.
  void add_series(finding& f) {
    if (!options_.keep_finding_series) return;
    finding_series out;
    make_key(key_, f.cluster, f.service);
    const baseline_entry<N>* baseline = baseline_->find(key_);
    for (std::size_t m = 0; m < N; ++m) {
      measure_series& ms = out.measures.emplace_back();
      ms.measure = rule_.measures->names[m];
      if (baseline) {
        ms.avg = baseline->avg[m].value;
        ms.stdev = baseline->stdev[m].value;
      }
    }
    if (const auto pod = pod_of(f)) {
      for (const recorded_bucket& b : pods_[*pod].series) {
        if (options_.window_seconds && (b.time < f.window_start || b.time >= f.window_end))
          continue;
        out.times.push_back(b.time);
        for (std::size_t m = 0; m < N; ++m) out.measures[m].values.push_back(b.values[m]);
      }
    }
    f.series = std::move(out);
  }

  static void save_series(detail::snapshot_writer& w, const std::optional<finding_series>& s) {
    w.boolean(s.has_value());
    if (!s) return;
    w.u64(s->times.size());
    for (std::int64_t t : s->times) w.i64(t);
    w.u64(s->measures.size());
    for (const measure_series& m : s->measures) {
      w.str(m.measure);
      w.opt_f64(m.avg);
      w.opt_f64(m.stdev);
      for (const auto& v : m.values) w.opt_f64(v);
    }
  }

  static std::optional<finding_series> restore_series(detail::snapshot_reader& r) {
    if (!r.boolean()) return std::nullopt;
    finding_series s;
    s.times.resize(r.count(8));
    for (std::int64_t& t : s.times) t = r.i64();
    s.measures.resize(r.count(8 + 2 + s.times.size()));
    if (s.measures.size() != N) r.fail("a finding's series with another number of measures");
    for (measure_series& m : s.measures) {
      m.measure = r.str();
      m.avg = r.opt_f64();
      m.stdev = r.opt_f64();
      m.values.resize(s.times.size());
      for (auto& v : m.values) v = r.opt_f64();
    }
    return s;
  }

  /// Live with early alerts: scores every bucket through `t` as soon as it is complete, so
  /// that counts are current (S3), not only at a window's end.
  void score_through(std::int64_t t) {
    if (swept_through_ && t <= *swept_through_) return;
    swept_through_ = t;
    // Provisional findings go out in the order buckets are counted: (time, pod), whatever
    // the hash tables' order (which differs after a restore, S4).
    std::vector<pending_key> due;
    for (const auto& [k, p] : pending_)
      if (k.time <= t) due.push_back(k);
    for (const auto& [k, a] : anomalous_)
      if (k.time <= t) due.push_back(k);
    std::sort(due.begin(), due.end(), [this](const pending_key& a, const pending_key& b) {
      return a.time != b.time ? a.time < b.time : pod_name(a.pod) < pod_name(b.pod);
    });
    for (const pending_key& k : due) {
      if (auto it = pending_.find(k); it != pending_.end()) complete(it);
      if (auto it = anomalous_.find(k); it != anomalous_.end()) score_anomalous(it);
    }
  }

  /// The key (cluster NUL node NUL pod) of a pod id.
  std::string_view pod_name(std::uint32_t pod) const { return pod_names_[pod]; }

  /// The cluster, node and pod of a pod id, as views that live as long as the detector: rows
  /// held across buckets point here, not at the aggregator's names of a series, which go when
  /// the series is released (S5).
  std::tuple<std::string_view, std::string_view, std::string_view> pod_parts(
      std::uint32_t pod) const {
    const std::string_view key = pod_names_[pod];
    const std::size_t a = key.find('\0');
    const std::size_t b = key.find('\0', a + 1);
    return {key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1)};
  }

  persistence_filter& window_for(std::int64_t bucket) {
    // One window (no D9 split): its bounds, first to last bucket of the input, are set at finish.
    const std::int64_t start = window_of(bucket);
    auto it = windows_.find(start);
    if (it != windows_.end()) return it->second;
    persistence_options persist;
    persist.min_count = options_.min_count;
    persist.rule = rule_.metadata;
    persist.span_seconds = options_.span.span_seconds;
    // D8's filter runs in hand_out, once the finding has its context (I3.3).
    if (options_.window_seconds) {
      persist.window_start = start;
      persist.window_end = start + *options_.window_seconds;
    }
    return windows_.emplace(start, persistence_filter(std::move(persist))).first->second;
  }

  rule_definition<N> rule_;
  const Baseline* baseline_;
  detection_options options_;
  span_aggregator aggregator_;
  detail::service_resolver services_;
  baseline_lookup<N, Baseline> lookup_;
  sigma_anomaly_scorer<N> scorer_;
  std::vector<series_state> series_;
  std::unordered_map<std::string, std::uint32_t, detail::string_hash, std::equal_to<>> pod_ids_;
  std::vector<pod_state> pods_;
  std::string pod_key_;
  pending_map pending_;
  std::deque<pending_key> order_;  // pending rows in the order they opened (lazily pruned)
  std::unordered_map<pending_key, anomalous_measures, pending_hash> anomalous_;
  std::optional<std::int64_t> closed_before_;  // live: windows before it were handed out
  std::optional<std::int64_t> swept_through_;  // live, early alerts: buckets scored so far
  std::string key_;
  std::map<std::int64_t, persistence_filter> windows_;
  std::vector<finding> closed_;
  std::optional<drop_reason> failure_;
  std::unordered_map<std::string, unbaselined_state> unbaselined_;  // node-based: stable
  std::uint64_t pattern_limit_rows_ = 0;
  detail::direction_tally unmapped_;         // A1.4
  detail::symbol_table restored_;            // S4: the strings of restored rows
  std::vector<std::string_view> pod_names_;  // pod id → its key in pod_ids_ (node-based: stable)
  std::vector<std::uint32_t> free_pods_;     // S5: released pod ids, reused last first
  std::size_t next_pod_sweep_ = 4096;        // S5: pods held at the next sweep
};

/// One call: the findings of `rule` over a range of metric points, in any order (S1): a forward
/// range is streamed once when it is time-major or series-major and read a second time with
/// every bucket held when it is not; a single-pass range is held from the start.
template <std::size_t N, ranges::input_range Points, baseline_source<N> Baseline>
[[nodiscard]] detection_result detect(const rule_definition<N>& rule, Points&& points,
                                      const Baseline& baseline, detection_options options = {}) {
  if (!options.span.allowed_lateness && options.span.closing == group_closing::by_series) {
    if constexpr (ranges::forward_range<Points>) {
      detector<N, Baseline> streaming(rule, baseline, options);
      for (const metric_point& p : points) streaming.add(p);
      streaming.end_of_input();
      if (!streaming.failure()) return streaming.finish();
    }
    options.span.closing = group_closing::at_finish;
  }
  detector<N, Baseline> d(rule, baseline, std::move(options));
  for (const metric_point& p : points) d.add(p);
  return d.finish();
}

/// The engine, or an error of code bad_rule (A6) saying why it cannot be made with these
/// options: a baseline table of another rule (A1.1), a user service pattern that does not compile
/// (D2.4, with PCRE2's reason and offset), a window that is not a positive multiple of the span.
/// What a SIEM that loads rules and options from configuration calls, to report a bad pattern when
/// it loads it rather than when data comes.
template <std::size_t N, baseline_source<N> Baseline>
[[nodiscard]] result<detector<N, Baseline>> make_detector(const rule_definition<N>& rule,
                                                          const Baseline& baseline,
                                                          detection_options options) {
  try {
    return detector<N, Baseline>(rule, baseline, std::move(options));
  } catch (const std::invalid_argument& e) {
    return make_error(error_code::bad_rule, "rule " + std::string(rule.metadata->name), 0,
                      e.what());
  }
}

/// A1.2: the engine keeps a reference to its baseline, so a temporary one is refused.
template <std::size_t N, baseline_source<N> Baseline>
void make_detector(const rule_definition<N>&, const Baseline&&, detection_options) {
  static_assert(detail::always_false<Baseline>,
                "make_detector: the baseline is a temporary and would be destroyed while the "
                "detector reads it; keep it in a variable that outlives the detector");
}

}  // namespace k8snetio
