// "Kubernetes Anomalous Inbound to Outbound Network IO Ratio" and "Baseline Of Kubernetes
// Container Network IO Ratio" (spec §9, R1–R5): the same stages with the ratio step (R1), the
// ratio measures and text (R3), the rule's metadata (R4) and a per-service baseline pivot (R5).
#pragma once

#include <ranges>
#include <utility>

#include "../engine/baseline_runner.hpp"
#include "../engine/detector.hpp"
#include "../model/measure_set.hpp"
#include "../model/rule_definition.hpp"
#include "../stages/kernel/network_io_ratio_step.hpp"

namespace k8snetio {

/// The sibling rule: the ratio step (R1) and a per-service baseline pivot (R5).
inline const rule_definition<2> network_io_ratio = [] {
  rule_definition<2> rule{network_io_ratio_measures, network_io_ratio_rule, &network_io_measure_of,
                          &to_network_io_ratios, true};
  rule.one_direction_per_measure = true;  // receive and transmit feed the ratios' two inputs
  return rule;
}();

/// One call: the ratio rule's findings over a range of metric points.
template <std::ranges::input_range Points, baseline_source<2> Baseline>
detection_result detect_network_io_ratio(Points&& points, const Baseline& baseline,
                                         detection_options options = {}) {
  return detect(network_io_ratio, std::forward<Points>(points), baseline, std::move(options));
}

/// One call: the ratio baseline table (R5) over a range of metric points.
template <std::ranges::input_range Points>
baseline_result<2> build_network_io_ratio_baseline(Points&& points,
                                                   baseline_run_options options = {}) {
  return build_baseline(network_io_ratio, std::forward<Points>(points), std::move(options));
}

}  // namespace k8snetio
