// L0: one outcome for every point a live service receives: accepted, or rejected / ignored by a
// named reason. The readers' skip_reason and the engines' drop_reason both map onto it, so the
// ingest report, the run summary and /metrics name a point's fate with one spelling.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/model/drop_reason.hpp>

namespace k8snetio::service {

/// What became of one point. Stable: the labels in `label` are what /metrics and logs print.
enum class point_outcome : std::uint8_t {
  accepted,           ///< handed to the engine and used
  first_of_series,    ///< OTLP cumulative: the first point yields no delta (counts accepted, L7)
  counter_reset,      ///< OTLP cumulative: restarted counter, the new base (counts accepted)
  other_metric,       ///< ignored: a point of another metric
  no_recorded_value,  ///< ignored: OTLP NO_RECORDED_VALUE flag (I3.2)
  bad_syntax,         ///< rejected: the payload (or this event) is not well formed
  short_row,          ///< rejected
  long_row,           ///< rejected
  missing_field,      ///< rejected: time or value absent
  bad_number,         ///< rejected
  non_finite_value,   ///< rejected: D1.2
  missing_dimension,  ///< rejected: D1.1
  time_out_of_range,  ///< rejected: I1.4
  late,               ///< rejected: S1.3, its bucket was complete when it came
  future_time,        ///< rejected: S1.4, ahead of the receiver's clock by more than max-future
  out_of_order,       ///< rejected: S1 (streaming attempt only)
  memory_limit,       ///< rejected: S1.1
  service_pattern_limit,  ///< rejected: D2.4
  series_limit,           ///< rejected: S5.1, beyond the cardinality cap
  unmapped_direction,     ///< rejected: library.md A1.4, its direction feeds no measure
  count_                  // keep last
};

inline constexpr std::size_t point_outcome_count = static_cast<std::size_t>(point_outcome::count_);

/// How an outcome counts: accepted (used), ignored (not for this rule) or rejected (a defect).
enum class outcome_class : std::uint8_t { accepted, ignored, rejected };

constexpr outcome_class class_of(point_outcome o) noexcept {
  switch (o) {
    case point_outcome::accepted:
    case point_outcome::first_of_series:
    case point_outcome::counter_reset: return outcome_class::accepted;
    case point_outcome::other_metric:
    case point_outcome::no_recorded_value: return outcome_class::ignored;
    default: return outcome_class::rejected;
  }
}

/// The one spelling of each outcome (Prometheus label values: [a-z_]).
constexpr std::string_view label(point_outcome o) noexcept {
  constexpr std::array<std::string_view, point_outcome_count> names = {
      "accepted",          "first_of_series",
      "counter_reset",     "other_metric",
      "no_recorded_value", "bad_syntax",
      "short_row",         "long_row",
      "missing_field",     "bad_number",
      "non_finite_value",  "missing_dimension",
      "time_out_of_range", "late",
      "future_time",       "out_of_order",
      "memory_limit",      "service_pattern_limit",
      "series_limit",      "unmapped_direction"};
  const auto i = static_cast<std::size_t>(o);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

constexpr point_outcome outcome_of(io::skip_reason r) noexcept {
  switch (r) {
    case io::skip_reason::bad_syntax: return point_outcome::bad_syntax;
    case io::skip_reason::short_row: return point_outcome::short_row;
    case io::skip_reason::long_row: return point_outcome::long_row;
    case io::skip_reason::missing_field: return point_outcome::missing_field;
    case io::skip_reason::bad_number: return point_outcome::bad_number;
    case io::skip_reason::non_finite: return point_outcome::non_finite_value;
    case io::skip_reason::missing_dimension: return point_outcome::missing_dimension;
    case io::skip_reason::other_metric: return point_outcome::other_metric;
    case io::skip_reason::counter_reset: return point_outcome::counter_reset;
    case io::skip_reason::first_of_series: return point_outcome::first_of_series;
    case io::skip_reason::late: return point_outcome::late;
    case io::skip_reason::time_out_of_range: return point_outcome::time_out_of_range;
    case io::skip_reason::no_recorded_value: return point_outcome::no_recorded_value;
    case io::skip_reason::too_many_series: return point_outcome::series_limit;  // S5.1
    case io::skip_reason::count_: break;
  }
  return point_outcome::bad_syntax;
}

constexpr point_outcome outcome_of(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::none: return point_outcome::accepted;
    case drop_reason::other_metric: return point_outcome::other_metric;
    case drop_reason::missing_dimension: return point_outcome::missing_dimension;
    case drop_reason::non_finite: return point_outcome::non_finite_value;
    case drop_reason::time_out_of_range: return point_outcome::time_out_of_range;
    case drop_reason::late: return point_outcome::late;
    case drop_reason::out_of_order: return point_outcome::out_of_order;
    case drop_reason::memory_limit: return point_outcome::memory_limit;
    case drop_reason::service_pattern_limit: return point_outcome::service_pattern_limit;
    case drop_reason::series_limit: return point_outcome::series_limit;
    case drop_reason::unmapped_direction: return point_outcome::unmapped_direction;
  }
  return point_outcome::out_of_order;
}

/// Points counted by outcome.
struct outcome_counts {
  std::array<std::uint64_t, point_outcome_count> n{};

  void add(point_outcome o, std::uint64_t k = 1) noexcept { n[static_cast<std::size_t>(o)] += k; }
  std::uint64_t operator[](point_outcome o) const noexcept {
    return n[static_cast<std::size_t>(o)];
  }
  std::uint64_t total(outcome_class c) const noexcept {
    std::uint64_t t = 0;
    for (std::size_t i = 0; i < n.size(); ++i)
      if (class_of(static_cast<point_outcome>(i)) == c) t += n[i];
    return t;
  }
  std::uint64_t accepted() const noexcept { return total(outcome_class::accepted); }
  std::uint64_t ignored() const noexcept { return total(outcome_class::ignored); }
  std::uint64_t rejected() const noexcept { return total(outcome_class::rejected); }
  outcome_counts& operator+=(const outcome_counts& o) noexcept {
    for (std::size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
    return *this;
  }
};

}  // namespace k8snetio::service
