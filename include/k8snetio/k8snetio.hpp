// k8snetio: the Splunk ES detection "Kubernetes Anomalous Inbound Outbound Network IO", its
// sibling ratio rule and their baselines, as composable C++20 stages. The one header to include.
#pragma once

#include "error.hpp"  // A6: the one error type
#include "version.hpp"

// The input, the stages in pipeline order, and the output.
#include "model/baseline_table.hpp"  // D5's store, B6
#include "model/finding.hpp"         // §7
#include "model/metric_point.hpp"
#include "stages/baseline_builder.hpp"       // B1–B6
#include "stages/baseline_lookup.hpp"        // D5
#include "stages/direction_pivot.hpp"        // D3, D4
#include "stages/network_io_ratio_step.hpp"  // R1
#include "stages/persistence_filter.hpp"     // D7, D8
#include "stages/service_normalizer.hpp"     // D2
#include "stages/sigma_anomaly_scorer.hpp"   // D6
#include "stages/span_aggregator.hpp"        // D1

// The rules: the stages configured and run end to end.
#include "engine/baseline_learner.hpp"  // L8, K6: the rolling baseline of a live stream
#include "engine/rolling_baseline.hpp"  // S6: per-day baseline state
#include "rules/anomalous_network_io.hpp"
#include "rules/network_io_ratio.hpp"
