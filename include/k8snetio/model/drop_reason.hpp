// Why a point or row was not used: one reason type from the engines to the run summary, so that
// `--strict` and the summary name the reason instead of guessing it from counters.
#pragma once

#include <cstdint>
#include <string_view>

namespace k8snetio {

enum class drop_reason : std::uint8_t {
  none,                   ///< used
  other_metric,           ///< not the metric the rule reads
  missing_dimension,      ///< D1.1
  non_finite,             ///< D1.2: the value (or the time) is NaN or infinite
  time_out_of_range,      ///< a finite time outside ±9e15 s: it has no bucket
  late,                   ///< S1.3 (live): its bucket was complete when it came
  out_of_order,           ///< S1: its group was folded already (streaming attempt only)
  memory_limit,           ///< S1.1: holding this input needs more than the memory limit
  service_pattern_limit,  ///< D2.4: the user pattern hit its match limit on this pod name
  series_limit,           ///< S5.1: one more series than span_options::max_series allows
  unmapped_direction,     ///< library.md A1.4: its direction feeds none of the rule's measures
};

constexpr std::string_view to_string(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::none: return "used";
    case drop_reason::other_metric: return "other metric";
    case drop_reason::missing_dimension: return "missing dimension";
    case drop_reason::non_finite: return "non-finite value";
    case drop_reason::time_out_of_range: return "time out of range";
    case drop_reason::late: return "late point";
    case drop_reason::out_of_order: return "out of order";
    case drop_reason::memory_limit: return "memory limit";
    case drop_reason::service_pattern_limit: return "service pattern limit";
    case drop_reason::series_limit: return "series limit";
    case drop_reason::unmapped_direction: return "unmapped direction";
  }
  return "unknown";
}

/// What an engine's `add` says about one point: used, or the reason it was not. Tests as a
/// bool (`if (!engine.add(p))`), so code that only needs "used or not" stays as it was.
struct add_outcome {
  drop_reason reason = drop_reason::none;
  constexpr operator bool() const noexcept { return reason == drop_reason::none; }  // NOLINT
};

}  // namespace k8snetio
