// "Kubernetes Anomalous Inbound Outbound Network IO" and "Baseline Of Kubernetes Container
// Network IO" (spec §1–§8): the shared stages configured with the two `…_network_io` measures.
#pragma once

#include <ranges>
#include <utility>

#include "../engine/baseline_runner.hpp"
#include "../engine/detector.hpp"
#include "../model/measure_set.hpp"
#include "../model/rule_definition.hpp"

namespace k8snetio {

/// The main rule (a value like any user's rule; its texts are copies of the constants above).
inline const rule_definition<2> anomalous_network_io = [] {
  rule_definition<2> rule{network_io_measures, anomalous_network_io_rule, &network_io_measure_of};
  rule.one_direction_per_measure = true;  // receive → inbound, transmit → outbound
  return rule;
}();

/// One call: the main rule's findings over a range of metric points.
template <std::ranges::input_range Points, baseline_source<2> Baseline>
detection_result detect_anomalous_network_io(Points&& points, const Baseline& baseline,
                                             detection_options options = {}) {
  return detect(anomalous_network_io, std::forward<Points>(points), baseline, std::move(options));
}

/// One call: the main rule's baseline table (B1–B6) over a range of metric points.
template <std::ranges::input_range Points>
baseline_result<2> build_network_io_baseline(Points&& points, baseline_run_options options = {}) {
  return build_baseline(anomalous_network_io, std::forward<Points>(points), std::move(options));
}

}  // namespace k8snetio
