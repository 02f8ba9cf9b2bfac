// L4: the Prometheus text exposition of the live service, transport-free: the detector's
// counters (live_detector::render_metrics) and the requests by endpoint and status with their
// duration histogram (request_metrics), which any transport records into.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace k8snetio::service {

/// Requests by endpoint and status, and the request duration histogram. Thread-safe.
class request_metrics {
 public:
  static constexpr std::array<double, 12> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,   0.25,   0.5,   1,    2.5};
  void record(const std::string& endpoint, int status, double seconds) {
    std::lock_guard lock(mutex_);
    ++requests_[{endpoint, status}];
    for (std::size_t i = 0; i < bounds.size(); ++i)
      if (seconds <= bounds[i]) ++buckets_[i];
    ++count_;
    sum_ += seconds;
  }
  void render(std::string& out) const {
    std::lock_guard lock(mutex_);
    out +=
        "# HELP k8snetio_requests_total Requests by endpoint and status.\n"
        "# TYPE k8snetio_requests_total counter\n";
    for (const auto& [key, n] : requests_)
      out += fmt::format("k8snetio_requests_total{{path=\"{}\",status=\"{}\"}} {}\n", key.first,
                         key.second, n);
    out +=
        "# HELP k8snetio_request_duration_seconds Time to handle a request.\n"
        "# TYPE k8snetio_request_duration_seconds histogram\n";
    for (std::size_t i = 0; i < bounds.size(); ++i)
      out += fmt::format("k8snetio_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", bounds[i],
                         buckets_[i]);
    out += fmt::format("k8snetio_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", count_);
    out += fmt::format("k8snetio_request_duration_seconds_sum {}\n", sum_);
    out += fmt::format("k8snetio_request_duration_seconds_count {}\n", count_);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::array<std::uint64_t, bounds.size()> buckets_{};
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace k8snetio::service
