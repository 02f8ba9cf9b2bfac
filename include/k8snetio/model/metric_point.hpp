// The input of the detection: one metric point (spec §2). Points borrow their strings;
// the span aggregator interns what it keeps, so a reader may reuse its buffers per point.
#pragma once

#include <string_view>

namespace k8snetio {

/// The metric the rules read unless told otherwise (spec §2).
inline constexpr std::string_view default_metric_name = "k8s.pod.network.io";

/// One metric point with the four dimensions that matter. An empty view means the dimension
/// is absent (D1.1 treats absent and empty alike). An empty `metric_name` means "the point is
/// the metric" (a metrics_csv export without a metric_name column, spec I1).
struct metric_point {
  double time = 0;   ///< seconds since the Unix epoch, fractional allowed
  double value = 0;  ///< the measurement; non-finite values are rejected by D1.2
  std::string_view metric_name;
  std::string_view cluster;    ///< k8s.cluster.name
  std::string_view pod;        ///< k8s.pod.name
  std::string_view node;       ///< k8s.node.name
  std::string_view direction;  ///< direction ("transmit", "receive", or anything else)
  // I3.3: context carried into findings when the input has it, never used for grouping.
  // Initialised here, so that positional initialisers of the seven fields above stay valid.
  std::string_view namespace_name = {};  ///< k8s.namespace.name; empty when unknown
  std::string_view pod_uid = {};         ///< k8s.pod.uid; empty when unknown
};

}  // namespace k8snetio
