// D6 — SigmaAnomalyScorer: `eval anomalies = "" | foreach stdev_* [eval anomalies = if(m > avg_m
// + k * stdev_m, anomalies + "<text>", anomalies)] | eval replace(anomalies, ",\s$", "")
// | where anomalies != ""`. The decision is numeric and cheap; text is formatted only for the
// rows that are kept (D6.1–D6.6, N1–N4, F1–F3; R3 with the ratio rule's measure_set).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <range/v3/view/all.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/transform.hpp>

#include "../detail/pipe.hpp"
#include "kernel/sigma_anomaly_scorer.hpp"

namespace k8snetio {

namespace detail {

/// The scoring view: a numeric filter, then text for the kept rows only. `keep` holds what the
/// scorer's measure texts point into.
template <std::size_t N, class R>
auto scored_rows(R&& rows, std::shared_ptr<sigma_anomaly_scorer<N>> scorer,
                 std::shared_ptr<const void> keep) {
  static_assert(std::convertible_to<ranges::range_reference_t<R>, const looked_up_row<N>&>,
                "score_sigma: the input must be a range of k8snetio::looked_up_row<N> with the "
                "rule's N (pipe it through lookup_baseline() first)");
  return ranges::views::all(std::forward<R>(rows)) |
         ranges::views::filter(
             [scorer](const looked_up_row<N>& r) { return scorer->keeps(r.row, r.baseline); }) |
         ranges::views::transform([scorer, keep](const looked_up_row<N>& r) {
           return *scorer->score(r);  // the text and its numbers (A8), as the engine's
         });
}

}  // namespace detail

/// Adaptor: `looked_up_rows | score_sigma(rule, options)` → a lazy view of anomalous_row:
/// a numeric filter, then text for the kept rows only. N and the measures are the rule's, and
/// the adaptor and its views keep the rule's texts alive.
/// `table_order` is the baseline's stdev_* column order, used when options.order is `table`.
template <std::size_t N>
auto score_sigma(const rule_definition<N>& rule, scorer_options options = {},
                 std::optional<std::array<std::size_t, N>> table_order = std::nullopt) {
  return detail::make_stage(
      [options, measures = rule.measures, table_order]<ranges::viewable_range R>(R&& rows) {
        auto scorer = std::make_shared<sigma_anomaly_scorer<N>>(*measures, options);
        if (table_order) scorer->use_table_order(*table_order);
        return detail::scored_rows<N>(std::forward<R>(rows), std::move(scorer), measures);
      });
}

/// Adaptor over a measure_set of the caller's, copied; its texts (string views) must outlive
/// the view. A rule_definition's measures own theirs: prefer score_sigma(rule, …).
template <std::size_t N>
auto score_sigma(scorer_options options, const measure_set<N>& measures,
                 std::optional<std::array<std::size_t, N>> table_order = std::nullopt) {
  return detail::make_stage([options, measures, table_order]<ranges::viewable_range R>(R&& rows) {
    auto scorer = std::make_shared<sigma_anomaly_scorer<N>>(measures, options);
    if (table_order) scorer->use_table_order(*table_order);
    return detail::scored_rows<N>(std::forward<R>(rows), std::move(scorer), nullptr);
  });
}

}  // namespace k8snetio
