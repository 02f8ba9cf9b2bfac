// A3: a user's program against the core component alone (k8snetio::core: range-v3 and
// tl-expected). It learns a baseline from in-memory points, streams the next hour's points into
// the detector and checks the one finding the data holds. Built by the ctest cases
// A3.find_package_core (installed package, the other components' dependencies made unfindable)
// and A3.add_subdirectory_core; on k8snetio::compiled by A4.find_package_compiled and
// A4.add_subdirectory_compiled; and timed by benchmarks/compile_time.sh (A4).
#include <cstdio>
#include <string>
#include <vector>

#include <k8snetio/engine/detector.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>

#include "two_pods.hpp"

namespace k = k8snetio;

int main() {
  // An hour of steady traffic for the baseline, then an hour in which web-x2k9p sends 100 times
  // its usual bytes for 8 buckets.
  const std::vector<k::metric_point> history = two_pods_hour(1'700'000'000, false);
  const std::vector<k::metric_point> today = two_pods_hour(1'700'003'600, true);
  const auto baseline = k::build_network_io_baseline(history);
  k::detector detect(k::anomalous_network_io, baseline.table, {});
  for (const k::metric_point& p : today) detect.add(p);
  const k::detection_result result = detect.finish();
  for (const k::finding& f : result.findings)
    std::printf("%s %s count=%llu window=[%lld, %lld)\n", f.pod.c_str(), f.service.c_str(),
                static_cast<unsigned long long>(f.count), static_cast<long long>(f.window_start),
                static_cast<long long>(f.window_end));
  const bool expected = result.findings.size() == 1 && result.findings[0].pod == "web-x2k9p" &&
                        result.findings[0].service == "web" && result.findings[0].count == 8;
  if (!expected) std::puts("core consumer: expected one finding for web-x2k9p with count 8");
  return expected ? 0 : 1;
}
