// The full detection of a rule (D1–D9) as one pipeline of the shared stages, with a push API
// (`add` points as they come, `finish` for the findings) and a one-call form over a range.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <range/v3/range/concepts.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>

#include "../stages/baseline_lookup.hpp"
#include "../detail/materialized.hpp"
#include "../stages/direction_pivot.hpp"
#include "../model/finding.hpp"
#include "../stages/persistence_filter.hpp"
#include "../stages/service_normalizer.hpp"
#include "../stages/sigma_anomaly_scorer.hpp"
#include "../stages/span_aggregator.hpp"
#include "../rules/rule_definition.hpp"

namespace k8snetio {

/// Every option the detection names, with the spec's defaults.
struct detection_options {
  span_options span{};                        ///< D1: span (10 s), metric name
  std::optional<std::string> service_pattern{}; ///< D2.2: unset = the hand-written D2.1 default
  scorer_options scoring{};                   ///< D6: sigma (4), measure order, zero stdev
  std::uint64_t min_count = 5;                ///< D7.2: count > min_count
  std::optional<std::int64_t> window_seconds{};///< D9: epoch-aligned tumbling windows
  std::function<bool(const finding&)> filter{};///< D8: the `…_filter` macro
};

struct detection_result {
  std::vector<finding> findings;
  aggregation_stats stats;
};

namespace detail {

using any_service_normalizer =
    caching_service_normalizer<std::function<std::string(std::string_view)>>;

inline std::shared_ptr<any_service_normalizer> make_service_normalizer(
    const std::optional<std::string>& pattern) {
  if (!pattern || *pattern == default_service_pattern)
    return std::make_shared<any_service_normalizer>(default_service_normalizer{});
  return std::make_shared<any_service_normalizer>(regex_service_normalizer(*pattern));
}

/// Applies a rule's per-row step (R1), or nothing.
template <std::size_t N>
auto derive_rows(void (*derive)(measure_row<N>&)) {
  return make_stage([derive]<ranges::viewable_range R>(R&& rows) {
    return ranges::views::all(std::forward<R>(rows)) |
           ranges::views::transform([derive](measure_row<N> row) {
             if (derive) derive(row);
             return row;
           });
  });
}

}  // namespace detail

/// Runs a rule. Holds the D1 rows of the search window(s) until `finish`.
template <std::size_t N, baseline_source<N> Baseline>
class detector {
 public:
  detector(const rule_definition<N>& rule, const Baseline& baseline, detection_options options)
      : rule_(rule), baseline_(&baseline), options_(std::move(options)),
        aggregator_(options_.span) {
    if (options_.window_seconds &&
        (*options_.window_seconds < 1 || *options_.window_seconds % options_.span.span_seconds))
      throw std::invalid_argument(
          "detector: window_seconds must be a positive multiple of span_seconds");
  }

  /// D1 for one point; bad points are counted in stats() (D1.1, D1.2), never thrown.
  bool add(const metric_point& p) { return aggregator_.add(p); }

  const aggregation_stats& stats() const noexcept { return aggregator_.stats(); }

  /// D2–D9 over everything added: the findings of each window, windows in time order.
  detection_result finish() {
    std::map<std::int64_t, std::vector<span_row>> windows;
    const auto window_of = [this](std::int64_t bucket) -> std::int64_t {
      if (!options_.window_seconds) return 0;
      const std::int64_t w = *options_.window_seconds;
      return (bucket >= 0 ? bucket / w : (bucket - w + 1) / w) * w;
    };
    if (!options_.window_seconds)  // one window: its size is known, so no regrowth
      windows[0].reserve(aggregator_.open_groups());
    aggregator_.finish([&](const span_row& r) { windows[window_of(r.time)].push_back(r); });

    detection_result result;
    result.stats = aggregator_.stats();
    for (auto& [start, rows] : windows) {
      persistence_options persist;
      persist.min_count = options_.min_count;
      persist.rule = rule_.metadata;
      persist.span_seconds = options_.span.span_seconds;
      persist.filter = options_.filter;
      if (options_.window_seconds) {
        persist.window_start = start;
        persist.window_end = start + *options_.window_seconds;
      } else {
        persist.window_start = result.stats.first_bucket.value_or(0);
        persist.window_end = result.stats.last_bucket.value_or(0) + options_.span.span_seconds;
      }
      auto found = run_window(std::move(rows), std::move(persist));
      std::move(found.begin(), found.end(), std::back_inserter(result.findings));
    }
    return result;
  }

 private:
  std::vector<finding> run_window(std::vector<span_row> rows, persistence_options persist) {
    auto normalizer = detail::make_service_normalizer(options_.service_pattern);
    std::optional<std::array<std::size_t, N>> table_order;
    if constexpr (requires { baseline_->stdev_column_order(); })
      table_order = baseline_->stdev_column_order();
    return detail::materialized<span_row>(std::move(rows), nullptr)  //
           | normalize_service(normalizer)                           // D2
           | pivot_direction<N>(rule_.measure_of)                    // D3
           | detail::derive_rows<N>(rule_.derive)                    // R1, if any
           | lookup_baseline<N>(*baseline_)                          // D4, D5
           | score_sigma<N>(options_.scoring, *rule_.measures, table_order)  // D6
           | persist_over(std::move(persist));                       // D7, D8
  }

  rule_definition<N> rule_;
  const Baseline* baseline_;
  detection_options options_;
  span_aggregator aggregator_;
};

/// One call: the findings of `rule` over a range of metric points.
template <std::size_t N, ranges::input_range Points, baseline_source<N> Baseline>
detection_result detect(const rule_definition<N>& rule, Points&& points, const Baseline& baseline,
                        detection_options options = {}) {
  detector<N, Baseline> d(rule, baseline, std::move(options));
  for (const metric_point& p : points) d.add(p);
  return d.finish();
}

}  // namespace k8snetio
