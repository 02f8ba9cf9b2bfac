// The points of the consumer programs (core_consumer.cpp, writer_consumer.cpp): two pods of
// service "web" sending and receiving for an hour in 10-second steps; with `burst`, web-x2k9p
// sends and receives 100 times its usual bytes for 8 buckets from the 100th on. And
// writer_consumer.cpp's detection: a baseline of a steady hour, the detector over a burst hour.
#pragma once

#include <string_view>
#include <vector>

#include <k8snetio/engine/detector.hpp>
#include <k8snetio/model/metric_point.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>

inline std::vector<k8snetio::metric_point> two_pods_hour(double start, bool burst) {
  std::vector<k8snetio::metric_point> points;
  for (int i = 0; i < 360; ++i) {
    const double t = start + 10.0 * i;
    for (const char* pod : {"web-abcde", "web-x2k9p"}) {
      const bool high = burst && std::string_view(pod) == "web-x2k9p" && i >= 100 && i < 108;
      const double v = (1000 + (i % 7) * 10) * (high ? 100 : 1);
      for (const char* dir : {"transmit", "receive"})
        points.push_back({t, v, k8snetio::default_metric_name, "c1", pod, "node-1", dir});
    }
  }
  return points;
}

inline k8snetio::detection_result detect_burst_in_two_pods() {
  const auto baseline = k8snetio::build_network_io_baseline(two_pods_hour(1'700'000'000, false));
  k8snetio::detector detect(k8snetio::anomalous_network_io, baseline.table, {});
  for (const k8snetio::metric_point& p : two_pods_hour(1'700'003'600, true)) detect.add(p);
  return detect.finish();
}
