// D1 — SpanAggregator: `mstats avg(k8s.pod.network.io) as io by cluster pod node direction
// span=10s`. Points become one row per (cluster, pod, node, direction, bucket) whose `io` is the
// plain mean of the group's points in input order (D1.1–D1.5). A group-by that closes its groups
// in one of three ways: at `finish` (any order; memory grows with the input, under a limit), per
// series (a group closes when its series moves on: time-major and series-major input stream in
// flat memory, and a point for a closed group is refused as out of order, never merged), or by
// an event-time watermark with an allowed lateness (the live feed, S1.3). Groups are always
// emitted in first-appearance order, so downstream sums keep input order (D1.4, B3).
// The hot path: a series is found by comparing the point with the series that came next last
// time (inputs repeat their order), else by one probe of a flat hash table; a time-ordered
// input finds its group without any lookup (each series knows its newest group).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <range/v3/range/access.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/view/interface.hpp>

#include "../detail/pipe.hpp"
#include "kernel/span_aggregator.hpp"

namespace k8snetio {

/// The D1 rows of a whole input with the aggregator that owns their strings. A view: copies
/// share the rows, so it can flow on through lazy stages and keep the strings alive.
class span_table : public ranges::view_interface<span_table> {
 public:
  span_table() = default;
  explicit span_table(span_options options)
      : state_(std::make_shared<state>(state{span_aggregator(std::move(options)), {}})) {}

  span_aggregator& aggregator() { return state_->aggregator; }
  const aggregation_stats& stats() const { return state_->aggregator.stats(); }
  std::vector<span_row>& rows() { return state_->rows; }

  const span_row* begin() const { return state_ ? state_->rows.data() : nullptr; }
  const span_row* end() const {
    return state_ ? state_->rows.data() + state_->rows.size() : nullptr;
  }

 private:
  struct state {
    span_aggregator aggregator;
    std::vector<span_row> rows;
  };
  std::shared_ptr<state> state_;
};

/// Adaptor: `points | aggregate_spans(options)` → span_table. Eager (a group-by): it reads the
/// whole range before it yields its first row.
inline auto aggregate_spans(span_options options = {}) {
  return detail::make_stage([options = std::move(options)]<ranges::input_range R>(R&& points) {
    static_assert(std::convertible_to<ranges::range_reference_t<R>, const metric_point&>,
                  "aggregate_spans: the input must be a range of k8snetio::metric_point");
    span_table table(options);
    auto& agg = table.aggregator();
    auto& rows = table.rows();
    for (const metric_point& p : points) agg.add(p);
    agg.finish([&rows](const span_row& r) { rows.push_back(r); });
    return table;
  });
}

}  // namespace k8snetio
