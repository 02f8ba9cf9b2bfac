// L0: the live service as a library layer: options, decoding, one outcome per point, the live
// detector with its state store and findings sink, and the /metrics exposition. No transport:
// `k8s-netio serve` (HTTP) and `consume` (Kafka) are adapters over it; so can be any program.
#pragma once

#include <k8snetio/service/decode.hpp>
#include <k8snetio/service/findings_sink.hpp>
#include <k8snetio/service/live_baseline.hpp>
#include <k8snetio/service/live_detector.hpp>
#include <k8snetio/service/live_options.hpp>
#include <k8snetio/service/metrics.hpp>
#include <k8snetio/service/outcome.hpp>
#include <k8snetio/service/state_store.hpp>
