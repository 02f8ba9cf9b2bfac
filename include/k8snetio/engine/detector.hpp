// The full detection of a rule (D1–D9) as one pipeline of the shared stages, with a push API
// (`add` points as they come, `finish` for the findings) and a one-call form over a range. The
// engine's parts, each with its share of the state snapshot (S4), are in engine/detector/.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "../detail/snapshot.hpp"
#include "../model/baseline_table.hpp"
#include "../model/drop_reason.hpp"
#include "../model/finding.hpp"
#include "../model/rule_definition.hpp"
#include "../stages/kernel/baseline_lookup.hpp"
#include "../stages/kernel/direction_pivot.hpp"
#include "../stages/kernel/persistence_filter.hpp"
#include "../stages/kernel/service_normalizer.hpp"
#include "../stages/kernel/sigma_anomaly_scorer.hpp"
#include "../stages/kernel/span_aggregator.hpp"
#include "detector/detector_windows.hpp"
#include "detector/held_rows.hpp"
#include "detector/lookup_misses.hpp"
#include "detector/pod_registry.hpp"
#include "detector/series_recorder.hpp"
#include "detector/service_resolver.hpp"

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
///
/// The detector composes parts (engine/detector/), each owning its fields and its part of the
/// state snapshot: the pods (pod_registry), the rows held between D1 and D6 (held_rows), the
/// windows and findings not yet taken (detector_windows), what the lookups could not map
/// (lookup_misses) and the recorded series of findings (series_recorder). The detector itself
/// holds the stages, the per-series resolution (D2–D5) and the flow between the parts.
template <std::size_t N, baseline_source<N> Baseline>
class detector {
 public:
  detector(const rule_definition<N>& rule, const Baseline& baseline, detection_options options);

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
  add_outcome add(const metric_point& p);

  const aggregation_stats& stats() const noexcept { return aggregator_.stats(); }

  /// Set when the answer can no longer be exact: drop_reason::out_of_order (read the input
  /// again with group_closing::at_finish) or drop_reason::memory_limit. `finish` then throws
  /// incomplete_detection.
  [[nodiscard]] std::optional<drop_reason> failure() const noexcept { return failure_; }

  /// Pods held (S5: those alive, those with rows waiting, and those with an anomalous bucket).
  std::size_t pods_held() const noexcept { return pods_.held(); }

  /// Rows held: open D1 groups plus half-joined pivot rows (for tests and progress).
  std::size_t open_rows() const noexcept {
    return aggregator_.open_groups() + rows_.pending.size();
  }

  /// keep_finding_series: the pod buckets recorded for findings' series (for tests).
  std::size_t recorded_buckets() const noexcept { return recorder_.buckets(); }

  /// Live use (an allowed lateness): the findings of the windows the watermark has closed
  /// since the last call, windows in time order, D7.3 order within each (S2.1).
  [[nodiscard]] std::vector<finding> take_closed();

  /// S4: the whole state as a checked snapshot (detail/snapshot.hpp): open buckets, half-joined
  /// and anomalous rows, per-window counts, findings not yet taken, statistics. A detector made
  /// with the same rule and options that restores it and reads the rest of the input gives
  /// byte for byte the output of one uninterrupted run. With keep_finding_series the pods'
  /// recorded buckets and the series of findings not yet taken follow, at the end (the settings
  /// record the option, so a snapshot without it keeps its layout). The baseline and the D8
  /// filter are not in it: they are the restoring caller's (a refreshed baseline applies from
  /// then on).
  [[nodiscard]] std::string save_state() const;

  /// S4: continues from a snapshot of save_state. A6: an error of code bad_snapshot, and this
  /// detector kept as it was, when the snapshot is truncated, corrupt, of another kind or
  /// version, or was taken under other settings (the message names both).
  [[nodiscard]] result<void> restore_state(std::string_view snapshot) {
    return detail::restore_result([&] { restore_or_throw(snapshot); });
  }

  /// S4: the rule and every option a saved state depends on, as the snapshot records them.
  std::string settings() const;

  /// The input has ended: closes every bucket, so that failure() is final. finish() calls it.
  void end_of_input();

  /// D2–D9 for everything still open: the findings of each window not yet taken by
  /// take_closed, windows in time order. Throws incomplete_detection if failure() is set.
  [[nodiscard]] detection_result finish();

 private:
  /// D2–D5 of one series, resolved once per series id (and again for a reused id, S5).
  struct series_state {
    std::uint32_t pod = 0;                        ///< dense id of (cluster, node, pod)
    std::optional<std::size_t> measure;           ///< D3: the measure its direction feeds, if any
    std::string_view service;                     ///< D2, resolved once
    const baseline_entry<N>* baseline = nullptr;  ///< D4, D5, resolved once
    detail::lookup_misses::unbaselined_state* unbaselined = nullptr;  ///< D5.4: no baseline row
    bool resolved = false;
    bool pattern_limit = false;  ///< D2.4: its pod name hit the user pattern's limit
    std::uint32_t epoch = 0;     ///< S5: the aggregator's epoch of the id when resolved
  };
  using rows_type = detail::held_rows<N>;
  using pending_iterator = typename rows_type::pending_map::iterator;
  using anomalous_iterator = typename rows_type::anomalous_map::iterator;

  void restore_or_throw(std::string_view snapshot);
  void note_failure(drop_reason r);
  series_state& series(const span_row& r, std::uint32_t id);
  void join(const span_row& r, std::uint32_t id);
  bool seals() const noexcept {
    return !options_.span.allowed_lateness && options_.span.closing == group_closing::by_series;
  }
  void seal(std::uint32_t pod, std::int64_t time);
  pending_iterator complete(pending_iterator it);
  void seal_oldest();
  std::size_t seal_window() const noexcept {
    return std::max(options_.span.series_window, 4 * series_.size());
  }
  void close_measures_through(std::int64_t t);
  anomalous_iterator score_anomalous(anomalous_iterator it);
  void close_through(std::int64_t t);
  void score_through(std::int64_t t);
  void count(const anomalous_row& hit);
  void hand_out(std::vector<finding>&& found, std::vector<finding>& to);
  void release_pods();
  std::optional<std::uint32_t> pod_of(const finding& f) {
    return pods_.find(f.cluster, f.host, f.pod);
  }
  void add_context(finding& f);
  void add_series(finding& f);

  rule_definition<N> rule_;
  const Baseline* baseline_;
  detection_options options_;
  span_aggregator aggregator_;
  detail::service_resolver services_;
  baseline_lookup<N, Baseline> lookup_;
  sigma_anomaly_scorer<N> scorer_;
  std::vector<series_state> series_;
  detail::pod_registry pods_;
  rows_type rows_;
  detail::detector_windows windows_;
  detail::lookup_misses misses_;
  detail::series_recorder<N> recorder_;
  std::optional<drop_reason> failure_;
  std::string key_;
};

// ---- construction, the push API ---------------------------------------------------------------

template <std::size_t N, baseline_source<N> Baseline>
detector<N, Baseline>::detector(const rule_definition<N>& rule, const Baseline& baseline,
                                detection_options options)
    : rule_(rule),
      baseline_(&baseline),
      options_(std::move(options)),
      aggregator_(options_.span),
      services_(options_.service_pattern),
      lookup_(baseline),
      scorer_(*rule.measures, options_.scoring),
      windows_({options_.min_count, rule_.metadata, options_.span.span_seconds,
                options_.window_seconds}),
      misses_(options_.span.span_seconds) {
  if (std::string why = baseline_mismatch(rule, baseline); !why.empty())
    throw std::invalid_argument("detector: " + why);  // A1.1
  if (options_.window_seconds &&
      (*options_.window_seconds < 1 || *options_.window_seconds % options_.span.span_seconds))
    throw std::invalid_argument(
        "detector: window_seconds must be a positive multiple of span_seconds");
  if constexpr (requires { baseline.stdev_column_order(); })
    scorer_.use_table_order(baseline.stdev_column_order());
}

template <std::size_t N, baseline_source<N> Baseline>
add_outcome detector<N, Baseline>::add(const metric_point& p) {
  const add_outcome used = aggregator_.add(p);
  if (!used) {
    note_failure(used.reason);
    // S5.1: live, a point refused at a cap still moved the watermark; close what it passed.
    if (!aggregator_.refusal_moves_watermark(used.reason)) return used;
  } else {
    (void)misses_.unmapped().maps(p.direction, rule_.measure_of, N);  // A1.4: counted when not
  }
  aggregator_.emit_closed([this](const span_row& r, std::uint32_t series) { join(r, series); });
  if (options_.span.allowed_lateness)
    if (auto t = aggregator_.complete_through()) {
      if (options_.early_alerts) score_through(*t);
      close_through(*t);
    }
  return used;
}

template <std::size_t N, baseline_source<N> Baseline>
std::vector<finding> detector<N, Baseline>::take_closed() {
  std::vector<finding> out;
  out.swap(windows_.closed());
  return out;
}

template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::end_of_input() {
  aggregator_.finish([this](const span_row& r, std::uint32_t series) { join(r, series); });
}

template <std::size_t N, baseline_source<N> Baseline>
detection_result detector<N, Baseline>::finish() {
  end_of_input();
  if (failure_) throw incomplete_detection(*failure_);
  for (auto it = rows_.pending.begin(); it != rows_.pending.end();) it = complete(it);
  close_measures_through(std::numeric_limits<std::int64_t>::max());
  detection_result result;
  result.stats = aggregator_.stats();
  result.findings = take_closed();
  result.service_pattern_limit = misses_.pattern_limit_rows();
  result.unmapped_direction = misses_.unmapped().points();
  result.unmapped_directions = misses_.unmapped().named();
  result.unbaselined = misses_.unbaselined_keys();
  for (auto& [start, filter] : windows_.open()) {
    if (!options_.window_seconds)
      filter.set_window(result.stats.first_bucket.value_or(0),
                        result.stats.last_bucket.value_or(0) + options_.span.span_seconds);
    hand_out(filter.findings(), result.findings);
  }
  windows_.open().clear();
  return result;
}

template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::note_failure(drop_reason r) {
  // S5.1: live, a point refused at the cap is counted and named, and the rest goes on.
  if (r == drop_reason::memory_limit && options_.span.allowed_lateness) return;
  if (!failure_ && (r == drop_reason::out_of_order || r == drop_reason::memory_limit)) failure_ = r;
}

// ---- D2–D5 per series, D3's join ---------------------------------------------------------------

template <std::size_t N, baseline_source<N> Baseline>
auto detector<N, Baseline>::series(const span_row& r, std::uint32_t id) -> series_state& {
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
    if (!s.baseline && !s.pattern_limit) s.unbaselined = &misses_.unbaselined(key_);
    auto pod = pods_.find(r.cluster, r.node, r.pod);
    if (!pod) {
      if (options_.span.idle_seconds > 0 && pods_.sweep_due()) release_pods();
      pod = pods_.add(r.cluster, r.node, r.pod);
    }
    s.pod = *pod;
    if (s.unbaselined) s.unbaselined->pods.emplace(pods_.name(s.pod));  // D5.4
  }
  return s;
}

/// D3: a D1 row joins its pod's bucket; the row is scored once every measure has come.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::join(const span_row& r, std::uint32_t id) {
  const series_state& s = series(r, id);
  if (auto& pod = pods_[s.pod]; pod.namespace_name.empty() && pod.pod_uid.empty()) {
    // I3.3: the pod's namespace and uid, from the first of its series' points that had them.
    const auto [namespace_name, pod_uid] = aggregator_.series_context(id);
    pod.namespace_name = namespace_name;
    pod.pod_uid = pod_uid;
  }
  if (s.pattern_limit) {
    misses_.pattern_limit_row();  // D2.4: dropped and counted
    return;
  }
  if (s.unbaselined) s.unbaselined->buckets.insert(r.time);  // D5.4
  if (!s.measure || *s.measure >= N) return;  // D3.2: a row of nulls alerts on nothing
  if (!rule_.derive && rule_.one_direction_per_measure) {
    if (options_.keep_finding_series && s.baseline)
      recorder_.at(s.pod, r.time).values[*s.measure] = r.io;
    // D6.2 per measure: v > a + k·s involves this measure alone. Keep it only if it exceeds.
    if (!s.baseline) return;  // D5.2: no row, every comparison false (N1)
    const std::size_t m = *s.measure;
    if (!scorer_.exceeds(r.io, s.baseline->avg[m], s.baseline->stdev[m])) return;
    auto [it, fresh] = rows_.anomalous.try_emplace(detail::pod_bucket{s.pod, r.time});
    if (fresh) {
      const auto [cluster, node, pod] = pods_.parts(s.pod);
      it->second = {cluster, node, pod, s.service, {}};
    }
    it->second.values[m] = r.io;
    return;
  }
  const detail::pod_bucket key{s.pod, r.time};
  const bool sealing = seals();
  auto it = rows_.pending.find(key);
  if (it == rows_.pending.end()) {
    if (r.time <= pods_[s.pod].sealed_through) {
      // Its bucket was scored without this direction: the answer would change.
      note_failure(drop_reason::out_of_order);
      return;
    }
    const auto [cluster, node, pod] = pods_.parts(s.pod);
    it = rows_.pending
             .emplace(
                 key,
                 typename rows_type::pending_row{{cluster, node, pod, s.service, r.time, {}}, 0})
             .first;
    rows_.order.push_back(key);
    if (sealing) pods_[s.pod].waiting.push_back(r.time);
  }
  // D3: a measure is the mean of the rows of every direction that feeds it, summed in the
  // order they come, as direction_pivot computes it (one D3 for the engine and the stages).
  auto& p = it->second;
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
    auto& pod = pods_[s.pod];
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

// ---- sealing and scoring (D4–D7) ---------------------------------------------------------------

/// Scores a half-joined row as it is; a row for its bucket is refused from now on.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::seal(std::uint32_t pod, std::int64_t time) {
  auto it = rows_.pending.find(detail::pod_bucket{pod, time});
  if (it == rows_.pending.end()) return;
  auto& p = pods_[pod];
  if (time > p.sealed_through) p.sealed_through = time;
  complete(it);
}

/// Scores a pivoted row (R1, D4–D7) and forgets it.
template <std::size_t N, baseline_source<N> Baseline>
auto detector<N, Baseline>::complete(pending_iterator it) -> pending_iterator {
  measure_row<N>& row = it->second.row;
  if (rule_.derive) rule_.derive(row);
  const looked_up_row<N> looked = lookup_(row);
  if (looked.baseline && options_.keep_finding_series)
    recorder_.at(it->first.pod, it->first.time).values = row.values;
  if (looked.baseline) {
    if (auto hit = scorer_.score(looked)) {
      pods_[it->first.pod].kept = true;
      count(*hit);
    }
  }
  return rows_.pending.erase(it);
}

/// by_series: a row still waiting for a direction far behind the newest is scored as it is;
/// a later row for its bucket is then refused (failure). at_finish never seals: every row is
/// held, and all of them arrive before the pivot completes.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::seal_oldest() {
  const bool sealing = seals();
  while (!rows_.order.empty()) {
    const detail::pod_bucket front = rows_.order.front();
    if (rows_.pending.contains(front)) {
      if (!sealing || rows_.order.size() <= seal_window()) return;
      seal(front.pod, front.time);
      std::erase(pods_[front.pod].waiting, front.time);
    }
    rows_.order.pop_front();
  }
}

/// Main rule: D6.3–D6.6 for the buckets through `t` that had an exceeding measure, through
/// the scorer's own decision and text (every other measure of such a bucket did not exceed).
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::close_measures_through(std::int64_t t) {
  for (auto it = rows_.anomalous.begin(); it != rows_.anomalous.end();) {
    if (it->first.time > t) {
      ++it;
      continue;
    }
    it = score_anomalous(it);
  }
}

template <std::size_t N, baseline_source<N> Baseline>
auto detector<N, Baseline>::score_anomalous(anomalous_iterator it) -> anomalous_iterator {
  const auto& a = it->second;
  measure_row<N> row{a.cluster, a.node, a.pod, a.service, it->first.time, a.values};
  if (auto hit = scorer_.score(lookup_(row))) {
    pods_[it->first.pod].kept = true;
    count(*hit);
  }
  return rows_.anomalous.erase(it);
}

/// Live: every bucket through `t` is complete, and so is every window that ends by then: its
/// findings move to the closed ones (S2.1). A sweep happens only when `t` crosses a window's end.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::close_through(std::int64_t t) {
  const auto closing = windows_.closing_through(t);
  if (!closing) return;
  for (auto it = rows_.pending.begin(); it != rows_.pending.end();)
    it = it->second.row.time <= t ? complete(it) : std::next(it);
  close_measures_through(t);
  auto& open = windows_.open();
  while (!open.empty() && open.begin()->first < *closing) {
    hand_out(open.begin()->second.findings(), windows_.closed());
    open.erase(open.begin());
  }
  if (options_.keep_finding_series) recorder_.drop_before(*closing);
}

/// Live with early alerts: scores every bucket through `t` as soon as it is complete, so
/// that counts are current (S3), not only at a window's end.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::score_through(std::int64_t t) {
  if (!windows_.sweep_through(t)) return;
  // Provisional findings go out in the order buckets are counted: (time, pod), whatever
  // the hash tables' order (which differs after a restore, S4).
  std::vector<detail::pod_bucket> due;
  for (const auto& [k, p] : rows_.pending)
    if (k.time <= t) due.push_back(k);
  for (const auto& [k, a] : rows_.anomalous)
    if (k.time <= t) due.push_back(k);
  std::sort(due.begin(), due.end(),
            [this](const detail::pod_bucket& a, const detail::pod_bucket& b) {
              return a.time != b.time ? a.time < b.time : pods_.name(a.pod) < pods_.name(b.pod);
            });
  for (const detail::pod_bucket& k : due) {
    if (auto it = rows_.pending.find(k); it != rows_.pending.end()) complete(it);
    if (auto it = rows_.anomalous.find(k); it != rows_.anomalous.end()) score_anomalous(it);
  }
}

/// D7 for one anomalous bucket; S3: the moment a pod passes the threshold, a provisional
/// finding goes out at once.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::count(const anomalous_row& hit) {
  auto provisional = windows_.window_for(hit.time).add(hit);
  if (!provisional || !options_.early_alerts) return;
  add_context(*provisional);
  add_series(*provisional);
  if (!options_.filter || options_.filter(*provisional))
    windows_.closed().push_back(std::move(*provisional));
}

/// Findings of a closed window; final ones when early alerts are on (S3).
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::hand_out(std::vector<finding>&& found, std::vector<finding>& to) {
  for (finding& f : found) {
    add_context(f);
    if (options_.filter && !options_.filter(f)) continue;
    add_series(f);
    if (options_.early_alerts) f.status = finding_status::final;
    to.push_back(std::move(f));
  }
}

// ---- pods (S5) and the findings' context (I3.3, O5) --------------------------------------------

/// S5: releases the pods none of whose series the aggregator still holds and that no row
/// waits on (pods with an anomalous bucket are kept for their findings' context); next time
/// when the pods held have doubled, so that sweeps cost O(1) a pod.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::release_pods() {
  std::vector<bool> used(pods_.size());
  aggregator_.for_each_series(
      [&](std::string_view cluster, std::string_view pod, std::string_view node) {
        if (const auto id = pods_.find(cluster, node, pod)) used[*id] = true;
      });
  for (const auto& [k, p] : rows_.pending) used[k.pod] = true;
  for (const detail::pod_bucket& k : rows_.order) used[k.pod] = true;
  for (const auto& [k, a] : rows_.anomalous) used[k.pod] = true;
  for (const std::uint32_t id : pods_.release_unused(used)) recorder_.forget(id);
}

/// I3.3: the namespace and pod uid of the finding's pod, when its points had them.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::add_context(finding& f) {
  if (const auto pod = pod_of(f)) {
    f.namespace_name = pods_[*pod].namespace_name;
    f.pod_uid = pods_[*pod].pod_uid;
  }
}

/// O5: the pod's recorded buckets in the finding's window (D9; without windows, all of them:
/// the window is the input), with its service's baseline per measure.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::add_series(finding& f) {
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
    for (const auto& b : recorder_.of(*pod)) {
      if (options_.window_seconds && (b.time < f.window_start || b.time >= f.window_end)) continue;
      out.times.push_back(b.time);
      for (std::size_t m = 0; m < N; ++m) out.measures[m].values.push_back(b.values[m]);
    }
  }
  f.series = std::move(out);
}

// ---- state (S4): each part saves and restores its own fields, in this order -------------------

template <std::size_t N, baseline_source<N> Baseline>
std::string detector<N, Baseline>::save_state() const {
  detail::snapshot_writer w;
  aggregator_.save(w);
  pods_.save(w);
  rows_.save(w);
  windows_.save(w);
  w.u8(failure_ ? static_cast<std::uint8_t>(*failure_) + 1 : 0);
  misses_.save(w);
  // Only then (the settings say so): a snapshot without series keeps its earlier layout.
  if (options_.keep_finding_series) recorder_.save(w, pods_, windows_.closed());
  return seal_snapshot("detector", settings(), w.bytes());
}

/// Restores into a fresh detector and moves it in last: a refused snapshot changes nothing.
template <std::size_t N, baseline_source<N> Baseline>
void detector<N, Baseline>::restore_or_throw(std::string_view snapshot) {
  snapshot_info info;
  detail::snapshot_reader r(
      open_snapshot(snapshot, "detector", settings(), &info, snapshot_aggregator_version),
      "detector state");
  detector d(rule_, *baseline_, options_);
  d.aggregator_.restore(r);
  d.pods_.restore(r);
  d.rows_.restore(r, d.pods_);
  d.windows_.restore(r);
  if (const std::uint8_t failure =
          r.choice(static_cast<std::uint8_t>(drop_reason::memory_limit) + 1, "the failure"))
    d.failure_ = static_cast<drop_reason>(failure - 1);
  d.misses_.restore(r, info.version);
  if (options_.keep_finding_series) d.recorder_.restore(r, d.pods_, d.windows_.closed());
  r.expect_end();
  *this = std::move(d);
}

template <std::size_t N, baseline_source<N> Baseline>
std::string detector<N, Baseline>::settings() const {
  std::string measures;
  for (std::string_view m : rule_.measures->names) {
    if (!measures.empty()) measures += ',';
    measures += m;
  }
  return detail::concat(
      "rule=", rule_.metadata->name, ";measures=", measures, ";", snapshot_settings(options_.span),
      ";service_pattern=", options_.service_pattern.value_or("(default)"),
      ";sigma=", options_.scoring.sigma, ";order=", static_cast<int>(options_.scoring.order),
      ";zero_stdev=", static_cast<int>(options_.scoring.zero_stdev),
      ";min_count=", options_.min_count,
      ";window=", options_.window_seconds ? detail::concat(*options_.window_seconds) : "input",
      ";early_alerts=", options_.early_alerts,
      options_.keep_finding_series ? ";finding_series=on" : "");
}

/// One call: the findings of `rule` over a range of metric points, in any order (S1): a forward
/// range is streamed once when it is time-major or series-major and read a second time with
/// every bucket held when it is not; a single-pass range is held from the start.
template <std::size_t N, std::ranges::input_range Points, baseline_source<N> Baseline>
[[nodiscard]] detection_result detect(const rule_definition<N>& rule, Points&& points,
                                      const Baseline& baseline, detection_options options = {}) {
  if (!options.span.allowed_lateness && options.span.closing == group_closing::by_series) {
    if constexpr (std::ranges::forward_range<Points>) {
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

#if defined(K8SNETIO_COMPILED)
// A4, compiled mode (the k8snetio::compiled target): the shipped rules' instantiation is
// compiled once, in src/compiled.cpp; a user's translation unit only declares it.
extern template class detector<2, baseline_table<2>>;
#endif

}  // namespace k8snetio
