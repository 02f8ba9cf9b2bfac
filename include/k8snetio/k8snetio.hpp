// k8snetio: the Splunk ES detection "Kubernetes Anomalous Inbound Outbound Network IO", its
// sibling ratio rule and their baselines, as composable C++20 stages. The one header to include.
#pragma once

#include "version.hpp"

// The input, the stages in pipeline order, and the output.
#include "metric_point.hpp"
#include "span_aggregator.hpp"       // D1
#include "service_normalizer.hpp"    // D2
#include "direction_pivot.hpp"       // D3, D4
#include "baseline_table.hpp"        // D5's store, B6
#include "baseline_lookup.hpp"       // D5
#include "sigma_anomaly_scorer.hpp"  // D6
#include "persistence_filter.hpp"    // D7, D8
#include "baseline_builder.hpp"      // B1–B6
#include "finding.hpp"               // §7

// The rules: the stages configured and run end to end.
#include "rules/anomalous_network_io.hpp"
#include "rules/network_io_ratio.hpp"
