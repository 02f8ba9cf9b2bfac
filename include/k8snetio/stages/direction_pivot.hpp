// D3 — DirectionPivot: `stats avg(eval(if(direction="transmit", io, null()))) as
// outbound_network_io avg(eval(if(direction="receive", …))) as inbound_network_io by cluster node
// pod service _time`, and the per-service pivot of R5. D4's key is made where it is used.
// A group-by: it reads all of its input before it yields the first row.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <range/v3/range/concepts.hpp>

#include "../detail/materialized.hpp"
#include "../detail/pipe.hpp"
#include "kernel/direction_pivot.hpp"

namespace k8snetio {

/// The pivot's result: its rows, and the measures of the rule that made them, so that the
/// lookup that follows can refuse a baseline table of another rule (library.md A1.1).
template <std::size_t N>
class pivoted_rows_view : public detail::materialized<measure_row<N>> {
 public:
  pivoted_rows_view() = default;
  pivoted_rows_view(detail::materialized<measure_row<N>> rows,
                    std::shared_ptr<const measure_set<N>> measures)
      : detail::materialized<measure_row<N>>(std::move(rows)), measures_(std::move(measures)) {}

  /// The rule's measures; null for a pivot made with a caller's direction mapping alone.
  const measure_set<N>* rule_measures() const noexcept { return measures_.get(); }

 private:
  std::shared_ptr<const measure_set<N>> measures_;
};

namespace detail {

/// The eager pivot of a range of service rows, then `derive` on each row when it is set.
template <std::size_t N, class MeasureOf, class R>
auto pivoted_rows(R&& rows, const MeasureOf& measure_of, pivot_grouping grouping,
                  const derive_fn<N>& derive) {
  static_assert(std::convertible_to<ranges::range_reference_t<R>, const service_row&>,
                "pivot_direction: the input must be a range of k8snetio::service_row "
                "(pipe it through normalize_service() first)");
  auto [keep, source] = hold(std::forward<R>(rows));
  direction_pivot<N, MeasureOf> pivot(measure_of, grouping);
  for (const service_row& r : *source) pivot.add(r);
  std::vector<measure_row<N>> out;
  out.reserve(pivot.size());
  pivot.finish([&](const measure_row<N>& r) {
    out.push_back(r);
    if (derive) derive(out.back());
  });
  return materialized<measure_row<N>>(std::move(out), std::move(keep));
}

}  // namespace detail

/// Adaptor: `service_rows | pivot_direction(rule)` → a view of the rule's measure_row<N>: its
/// directions pivoted (D3, or per service for R5's baseline) and its per-row step applied (R1).
/// Eager (a group-by).
template <std::size_t N>
auto pivot_direction(const rule_definition<N>& rule,
                     pivot_grouping grouping = pivot_grouping::per_pod) {
  return detail::make_stage([measure_of = rule.measure_of, derive = rule.derive, grouping,
                             measures = rule.measures]<ranges::input_range R>(R&& rows) {
    return pivoted_rows_view<N>(
        detail::pivoted_rows<N>(std::forward<R>(rows), measure_of, grouping, derive), measures);
  });
}

/// Adaptor with a direction mapping of the caller's: `pivot_direction<N>(mapping, grouping)`,
/// the pivot alone (no per-row step).
template <std::size_t N, class MeasureOf>
requires direction_mapping<MeasureOf, N>
auto pivot_direction(MeasureOf measure_of, pivot_grouping grouping = pivot_grouping::per_pod) {
  return detail::make_stage([measure_of, grouping]<ranges::input_range R>(R&& rows) {
    return detail::pivoted_rows<N>(std::forward<R>(rows), measure_of, grouping, derive_fn<N>{});
  });
}

}  // namespace k8snetio
