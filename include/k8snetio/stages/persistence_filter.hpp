// D7 — PersistenceFilter and D8: `stats count values(anomalies) by cluster node pod service
// | where count > 5 | rename service as k8s.service, k8s.node.name as host | `…_filter``.
// Anomalous buckets are counted per pod; a pod with more than `min_count` of them in the window
// is a finding. A group-by: it reads all of its input before it yields the first finding.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <range/v3/range/concepts.hpp>

#include "../detail/pipe.hpp"
#include "kernel/persistence_filter.hpp"
#include "sigma_anomaly_scorer.hpp"

namespace k8snetio {

/// Adaptor: `anomalous_rows | persist_over(options)` → std::vector<finding>. Eager.
/// options.rule must be set (the filter is made, and checks it, here, not when a range comes).
inline auto persist_over(persistence_options options) {
  const persistence_filter checked(options);
  return detail::make_stage([options = std::move(options)]<ranges::input_range R>(R&& rows) {
    static_assert(std::convertible_to<ranges::range_reference_t<R>, const anomalous_row&>,
                  "persist_over: the input must be a range of k8snetio::anomalous_row "
                  "(pipe it through score_sigma() first)");
    persistence_filter filter(options);
    for (auto&& r : rows) filter.add(r);
    return filter.findings();
  });
}

/// Rule-first: `anomalous_rows | persist_over(rule, 5)`, the rule's findings with count > 5,
/// each dated from its own pod's anomalous buckets (see persistence_options::window_start).
template <std::size_t N>
auto persist_over(const rule_definition<N>& rule, std::uint64_t min_count = 5) {
  persistence_options o;
  o.min_count = min_count;
  o.rule = rule.metadata;
  return persist_over(std::move(o));
}

/// A search window (D9): [start, end), epoch seconds.
struct search_window {
  std::int64_t start = 0;
  std::int64_t end = 0;
  friend bool operator==(const search_window&, const search_window&) = default;
};

/// D9's batch window as the engines take it: from the first to the last bucket of the D1 rows
/// (`points | aggregate_spans()`), the last one's end included; {0, 0} when there are none.
template <ranges::input_range R>
search_window search_window_of(R&& span_rows, std::int64_t span_seconds = 10) {
  std::optional<std::int64_t> first, last;
  for (const auto& r : span_rows) {
    if (!first || r.time < *first) first = r.time;
    if (!last || r.time > *last) last = r.time;
  }
  if (!first) return {};
  return {*first, *last + span_seconds};
}

/// Rule-first with the search window: every finding is dated [window.start, window.end), as
/// the engines date theirs (A2: the same findings, windows included).
template <std::size_t N>
auto persist_over(const rule_definition<N>& rule, std::uint64_t min_count, search_window window) {
  persistence_options o;
  o.min_count = min_count;
  o.rule = rule.metadata;
  o.window_start = window.start;
  o.window_end = window.end;
  return persist_over(std::move(o));
}

}  // namespace k8snetio
