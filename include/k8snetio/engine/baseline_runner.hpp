// The baseline search of a rule (B1–B6, R5) over a stream of points: D1 → D2 → (the rule's
// pivot and step, for R5) → BaselineBuilder. By default the D1 groups close per series
// (group_closing::by_series), so time-major and series-major input of any length stream in flat
// memory. Any other order is never answered wrongly: a point whose group was already folded
// makes `failure()` say so, and the caller reads the input again with every group held until
// `finish` (group_closing::at_finish, under a memory limit). `build_baseline` over a forward
// range, and io::read_inputs_exactly (io/input/read_exactly.hpp) over files and standard
// input, do that second pass.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>
#include "../detail/to_text.hpp"

#include "../detail/direction_tally.hpp"
#include "../model/drop_reason.hpp"

#include "../detail/snapshot.hpp"
#include "../model/rule_definition.hpp"
#include "../stages/kernel/baseline_builder.hpp"
#include "../stages/kernel/direction_pivot.hpp"
#include "../stages/kernel/service_normalizer.hpp"
#include "../stages/kernel/span_aggregator.hpp"
#include "detector.hpp"

namespace k8snetio {

struct baseline_run_options {
  /// D1. By default groups close per series (S1.1); group_closing::at_finish holds every
  /// group (any order, memory grows); an allowed lateness is the live watermark (S1.3).
  span_options span = [] {
    span_options s;
    s.closing = group_closing::by_series;
    s.idle_seconds = 3600;  // S5: a pod gone for an hour releases its series
    return s;
  }();
  std::optional<std::string> service_pattern{};  ///< D2.2
  baseline_options numerics{};                   ///< B3: Splunk's sums or the stable method
};

template <std::size_t N>
struct baseline_result {
  baseline_table<N> table;
  aggregation_stats stats;
  std::vector<std::string> overflowed;      ///< B7: keys whose sums overflowed (empty cells)
  std::uint64_t service_pattern_limit = 0;  ///< D2.4: D1 rows whose pod name hit the limit
  /// A1.4 (drop_reason::unmapped_direction): points of the rule's metric whose direction feeds
  /// none of the rule's measures (they add nothing to any key), and those directions with their
  /// point counts, sorted (at most detail::max_named_directions of them are named).
  std::uint64_t unmapped_direction = 0;
  std::vector<std::pair<std::string, std::uint64_t>> unmapped_directions;
};

/// `finish` on a runner whose answer would not be exact (see baseline_runner::failure).
class incomplete_baseline : public std::runtime_error {
 public:
  explicit incomplete_baseline(drop_reason why)
      : std::runtime_error(why == drop_reason::memory_limit
                               ? "baseline: holding this input needs more groups than "
                                 "span_options::max_open_groups allows"
                               : "baseline: the input is neither time-major nor series-major; "
                                 "read it again with group_closing::at_finish"),
        reason(why) {}
  drop_reason reason;
};

template <std::size_t N>
class baseline_runner {
 public:
  baseline_runner(const rule_definition<N>& rule, baseline_run_options options = {});

  // by_series_ points into builder_: a copy would point into the original's.
  baseline_runner(const baseline_runner&) = delete;
  baseline_runner& operator=(const baseline_runner&) = delete;
  baseline_runner(baseline_runner&&) = default;
  baseline_runner& operator=(baseline_runner&&) = default;

  /// D1 for one point, then folds whatever the closing policy lets us close.
  add_outcome add(const metric_point& p);

  /// Set when the answer can no longer be exact: drop_reason::out_of_order (read the input
  /// again with group_closing::at_finish) or drop_reason::memory_limit (the limit is too low
  /// for this input's order). `finish` then throws incomplete_baseline.
  std::optional<drop_reason> failure() const noexcept { return failure_; }

  const aggregation_stats& stats() const noexcept { return aggregator_.stats(); }

  /// Groups still held in memory (for tests and progress reports).
  std::size_t open_groups() const noexcept { return aggregator_.open_groups() + pivot_.size(); }

  [[nodiscard]] baseline_result<N> finish();

  /// The end of this runner's input: folds every group still open and gives the per-key state
  /// (the builder), e.g. one day's state of a rolling baseline (S6). Throws incomplete_baseline
  /// as finish does.
  const baseline_builder<N>& finish_state();

  /// Every point counted so far, this runner's and those of the runners merged into it.
  aggregation_stats total_stats() const;

  /// D2.4: D1 rows dropped because their pod name hit the service pattern's limit.
  std::uint64_t service_pattern_limit_rows() const noexcept { return pattern_limit_rows_; }

  /// A1.4: the points whose direction fed none of the rule's measures, this runner's and those
  /// of the runners merged into it.
  const detail::direction_tally& unmapped() const noexcept { return unmapped_; }

  /// S4: the rule and every option a saved state depends on, as the snapshot records them.
  std::string settings() const;

  /// S4: the whole state as a checked snapshot (engine/snapshot.hpp): the D1 groups still open,
  /// the R5 pivot's partial rows, every key's sums and counts (B2–B5), the statistics. A runner
  /// made with the same rule and options that restores it and reads the rest of the input
  /// writes byte for byte the table of one uninterrupted run.
  [[nodiscard]] std::string save_state() const;

  /// S4: continues from a snapshot of save_state. A6: an error of code bad_snapshot, and this
  /// runner kept as it was, when the snapshot is truncated, corrupt, of another kind or version,
  /// or was taken under other settings (the message names both).
  [[nodiscard]] result<void> restore_state(std::string_view snapshot);

  /// S4.1: merges a saved state of a later part of the input (or of other series) into this
  /// one, as merge does; the snapshot is checked as restore_state checks it (bad_snapshot).
  [[nodiscard]] result<void> merge_state(std::string_view later_snapshot);

  /// Shards: appends a runner that read a later part of the input. Both are flushed first, so
  /// the sums keep input order, this runner's rows then `later`'s (B3); `later` is spent.
  void merge(baseline_runner&& later);

 private:
  void restore_or_throw(std::string_view snapshot);
  void count_unmapped(const metric_point& p);
  void flush();
  void fold(const span_row& r, std::uint32_t series);
  void fold_pivoted(measure_row<N> r);

  rule_definition<N> rule_;
  baseline_run_options options_;
  span_aggregator aggregator_;
  detail::service_resolver services_;
  std::uint64_t pattern_limit_rows_ = 0;
  direction_pivot<N> pivot_;
  baseline_builder<N> builder_;
  aggregation_stats merged_stats_;
  std::optional<drop_reason> failure_;
  detail::direction_tally unmapped_;  // A1.4
  enum class mapping : std::uint8_t { unknown, mapped, unmapped };
  std::uint64_t mapped_batch_ = 0;         // the series_hint batch of mapped_by_series_
  std::vector<mapping> mapped_by_series_;  // A1.4 answers by the batch's series index
  std::string key_;
  struct series_state {
    bool resolved = false;
    std::optional<std::string_view> service;  ///< D2; null: the pattern's limit (D2.4)
    baseline_accumulator<N>* acc = nullptr;
    std::optional<std::size_t> measure;
    std::string_view cluster;  ///< in clusters_
    std::uint32_t epoch = 0;   ///< S5: the aggregator's epoch of the id when resolved
  };
  std::vector<series_state> by_series_;
  detail::symbol_table clusters_;  // stable views
};

// Members are defined out of class, so that the compiled mode's explicit instantiation
// (src/compiled.cpp, A4) leaves a user's translation unit nothing of them to compile.

template <std::size_t N>
baseline_runner<N>::baseline_runner(const rule_definition<N>& rule, baseline_run_options options)
    : rule_(rule),
      options_(std::move(options)),
      aggregator_(options_.span),
      services_(options_.service_pattern),
      pivot_(rule.measure_of, pivot_grouping::per_service),
      builder_(rule.measures, options_.numerics) {}

template <std::size_t N>
add_outcome baseline_runner<N>::add(const metric_point& p) {
  const add_outcome used = aggregator_.add(p);
  if (!used) {
    if (!failure_ &&
        (used.reason == drop_reason::out_of_order || used.reason == drop_reason::memory_limit))
      failure_ = used.reason;
    // S5.1: live, a point refused at a cap still moved the watermark; close what it passed.
    if (!aggregator_.refusal_moves_watermark(used.reason)) return used;
  }
  count_unmapped(p);  // A1.4
#if defined(__GNUC__)
  // The per-series state the next point's row is likely to need (see span_aggregator).
  if (const std::uint32_t next = aggregator_.likely_next_series(); next < by_series_.size())
    __builtin_prefetch(&by_series_[next]);
#endif
  aggregator_.emit_closed([this](const span_row& r, std::uint32_t series) { fold(r, series); });
  // R5 across pods: with the live watermark a (key, _time) row is complete once its bucket
  // is; otherwise the pivot's rows wait for finish (one per key and bucket).
  if (rule_.baseline_per_service && options_.span.allowed_lateness)
    if (auto t = aggregator_.complete_through())
      pivot_.flush_through(*t, [this](const measure_row<N>& r) { fold_pivoted(r); });
  return used;
}

template <std::size_t N>
baseline_result<N> baseline_runner<N>::finish() {
  if (failure_) throw incomplete_baseline(*failure_);
  flush();
  aggregation_stats stats = merged_stats_;
  stats += aggregator_.stats();
  return {builder_.table(),           stats,
          builder_.overflowed_keys(), pattern_limit_rows_,
          unmapped_.points(),         unmapped_.named()};
}

template <std::size_t N>
const baseline_builder<N>& baseline_runner<N>::finish_state() {
  if (failure_) throw incomplete_baseline(*failure_);
  flush();
  return builder_;
}

template <std::size_t N>
aggregation_stats baseline_runner<N>::total_stats() const {
  aggregation_stats stats = merged_stats_;
  stats += aggregator_.stats();
  return stats;
}

template <std::size_t N>
std::string baseline_runner<N>::settings() const {
  std::string measures;
  for (std::string_view m : rule_.measures->names) {
    if (!measures.empty()) measures += ',';
    measures += m;
  }
  return detail::concat(
      "rule=", rule_.metadata->name, ";measures=", measures,
      ";per_service=", rule_.baseline_per_service, ";", snapshot_settings(options_.span),
      ";service_pattern=", options_.service_pattern.value_or("(default)"),
      ";numerics=", options_.numerics.numerics == baseline_numerics::splunk ? "splunk" : "stable");
}

template <std::size_t N>
std::string baseline_runner<N>::save_state() const {
  detail::snapshot_writer w;
  aggregator_.save(w);
  pivot_.save(w);
  builder_.save(w);
  merged_stats_.save(w);
  w.u64(pattern_limit_rows_);
  w.u8(failure_ ? static_cast<std::uint8_t>(*failure_) + 1 : 0);
  unmapped_.save(w);
  return seal_snapshot("baseline_runner", settings(), w.bytes());
}

template <std::size_t N>
result<void> baseline_runner<N>::restore_state(std::string_view snapshot) {
  return detail::restore_result([&] { restore_or_throw(snapshot); });
}

template <std::size_t N>
result<void> baseline_runner<N>::merge_state(std::string_view later_snapshot) {
  baseline_runner later(rule_, options_);
  auto restored = later.restore_state(later_snapshot);
  if (restored) merge(std::move(later));
  return restored;
}

template <std::size_t N>
void baseline_runner<N>::restore_or_throw(std::string_view snapshot) {
  detail::snapshot_reader r(
      open_snapshot(snapshot, "baseline_runner", settings(), nullptr, snapshot_aggregator_version),
      "baseline_runner state");
  baseline_runner b(rule_, options_);
  b.aggregator_.restore(r);
  b.pivot_.restore(r);
  b.builder_.restore(r);
  b.merged_stats_.restore(r);
  b.pattern_limit_rows_ = r.u64();
  if (const std::uint8_t failure =
          r.choice(static_cast<std::uint8_t>(drop_reason::memory_limit) + 1, "the failure"))
    b.failure_ = static_cast<drop_reason>(failure - 1);
  if (r.remaining()) b.unmapped_.restore(r);  // a state saved before A1.4 ends here
  r.expect_end();
  *this = std::move(b);
}

template <std::size_t N>
void baseline_runner<N>::merge(baseline_runner&& later) {
  flush();
  later.flush();
  builder_.merge(later.builder_);
  if (!failure_) failure_ = later.failure_;
  merged_stats_ += later.merged_stats_;
  merged_stats_ += later.aggregator_.stats();
  pattern_limit_rows_ += later.pattern_limit_rows_;
  unmapped_.merge(later.unmapped_);
}

/// A1.4: counts the point when its direction feeds none of the rule's measures. A reader that
/// grouped the batch by series (detail::series_hint) lets the answer be kept per series of the
/// batch, so that the direction's bytes, parsed on another core, are read once per series rather
/// than once per point; the counts are the same.
template <std::size_t N>
void baseline_runner<N>::count_unmapped(const metric_point& p) {
  const detail::series_hint& hint = detail::current_series_hint;
  if (hint.point != &p || hint.batch == 0) {
    (void)unmapped_.maps(p.direction, rule_.measure_of, N);
    return;
  }
  if (hint.batch != mapped_batch_) {
    mapped_batch_ = hint.batch;
    mapped_by_series_.assign(hint.count, mapping::unknown);
  }
  if (hint.index >= mapped_by_series_.size()) {
    (void)unmapped_.maps(p.direction, rule_.measure_of, N);
    return;
  }
  mapping& m = mapped_by_series_[hint.index];
  if (m == mapping::mapped) return;
  const bool mapped = unmapped_.maps(p.direction, rule_.measure_of, N);  // counts when not
  m = mapped ? mapping::mapped : mapping::unmapped;
}

/// Folds every group still open (the end of this runner's part of the input).
template <std::size_t N>
void baseline_runner<N>::flush() {
  aggregator_.finish([this](const span_row& r, std::uint32_t series) { fold(r, series); });
  pivot_.finish([this](const measure_row<N>& r) { fold_pivoted(r); });
}

template <std::size_t N>
void baseline_runner<N>::fold(const span_row& r, std::uint32_t series) {
  // A series has one cluster, pod and direction: its service, accumulator and measure are
  // resolved once.
  if (series >= by_series_.size()) by_series_.resize(aggregator_.series_count());
  series_state& st = by_series_[series];
  if (!st.resolved || st.epoch != aggregator_.series_epoch(series)) {  // S5: a new series' id
    st = series_state{};
    st.resolved = true;
    st.epoch = aggregator_.series_epoch(series);
    st.cluster = clusters_.view(clusters_.intern(r.cluster));
    st.service = services_(r.pod);
    st.measure = rule_.measure_of(r.direction);
    if (st.service && !rule_.baseline_per_service) {
      make_key(key_, r.cluster, *st.service);
      st.acc = &builder_.accumulator_for(key_);  // stable: the builder's map is node-based
    }
  }
  if (!st.service) {
    ++pattern_limit_rows_;  // D2.4: dropped and counted
    return;
  }
  if (rule_.baseline_per_service) {
    // R5: per (key, _time) across pods. The pivot holds the row past the series' release
    // (S5): its cluster is the runner's own copy, not the series' name.
    service_row row{r, *st.service};
    row.cluster = st.cluster;
    pivot_.add(row);
    return;
  }
  // B1–B4: the D1 rows themselves, each feeding the measure its direction names.
  std::array<spl_number, N> values{};
  if (st.measure && *st.measure < N) values[*st.measure] = r.io;
  builder_.add_to(*st.acc, r.time, values);
}

template <std::size_t N>
void baseline_runner<N>::fold_pivoted(measure_row<N> r) {
  if (rule_.derive) rule_.derive(r);
  make_key(key_, r.cluster, r.service);
  builder_.add(key_, r.time, r.values);
}

/// One call: the baseline table of `rule` over a range of metric points, in any order (S1). A
/// forward range is read once when it is time-major or series-major, and a second time with
/// every group held when it is not; a single-pass range is held from the start. Throws
/// incomplete_baseline when span.max_open_groups is too low for the input.
template <std::size_t N, std::ranges::input_range Points>
[[nodiscard]] baseline_result<N> build_baseline(const rule_definition<N>& rule, Points&& points,
                                                baseline_run_options options = {}) {
  if (!options.span.allowed_lateness && options.span.closing == group_closing::by_series) {
    if constexpr (std::ranges::forward_range<Points>) {
      baseline_runner<N> streaming(rule, options);
      for (const metric_point& p : points) streaming.add(p);
      if (!streaming.failure()) return streaming.finish();
    }
    options.span.closing = group_closing::at_finish;
  }
  baseline_runner<N> runner(rule, std::move(options));
  for (const metric_point& p : points) runner.add(p);
  return runner.finish();
}

/// The engine, or an error of code bad_rule (A6) saying why it cannot be made with these
/// options (a user service pattern that does not compile, D2.4): see make_detector.
template <std::size_t N>
[[nodiscard]] result<baseline_runner<N>> make_baseline_runner(const rule_definition<N>& rule,
                                                              baseline_run_options options = {}) {
  try {
    return baseline_runner<N>(rule, std::move(options));
  } catch (const std::invalid_argument& e) {
    return make_error(error_code::bad_rule, "rule " + std::string(rule.metadata->name), 0,
                      e.what());
  }
}

#if defined(K8SNETIO_COMPILED)
// A4, compiled mode (the k8snetio::compiled target): the shipped rules' instantiation is
// compiled once, in src/compiled.cpp; a user's translation unit only declares it.
extern template class baseline_runner<2>;
#endif

}  // namespace k8snetio
