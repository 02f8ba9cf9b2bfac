// B1–B6 — BaselineBuilder: `stats avg(…) stdev(…) count latest(_time) as last_seen by key`.
// Per key and measure it keeps mergeable moments, in Splunk's numerics (plain sums in input
// order, B3) or a stable method (Welford, merged with Chan's formula); it never holds the rows,
// so a 30-day input needs memory only for its keys. R5 is the same builder fed ratio rows.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <range/v3/range/concepts.hpp>

#include "../detail/pipe.hpp"
#include "direction_pivot.hpp"
#include "kernel/baseline_builder.hpp"

namespace k8snetio {

/// Adaptor: `service_rows | build_baseline(rule)` → the rule's baseline_table<N> (B1–B6; for a
/// rule with a per-service baseline, R5: the pivot across pods and the rule's step first).
/// Eager. The engine form, from metric points in any order, is build_baseline(rule, points).
template <std::size_t N>
auto build_baseline(const rule_definition<N>& rule, baseline_options options = {}) {
  return detail::make_stage([rule, options]<ranges::input_range R>(R&& rows) {
    static_assert(std::convertible_to<ranges::range_reference_t<R>, const service_row&>,
                  "build_baseline: the input must be a range of k8snetio::service_row");
    baseline_builder<N> builder(rule.measures, options);
    if (!rule.baseline_per_service) {
      for (const service_row& r : rows) builder.add(r, rule.measure_of);
      return builder.table();
    }
    direction_pivot<N> pivot(rule.measure_of, pivot_grouping::per_service);
    for (const service_row& r : rows) pivot.add(r);
    std::string key;
    pivot.finish([&](measure_row<N> row) {
      if (rule.derive) rule.derive(row);
      make_key(key, row.cluster, row.service);
      builder.add(key, row.time, row.values);
    });
    return builder.table();
  });
}

}  // namespace k8snetio
