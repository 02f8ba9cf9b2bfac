// docs/library.md, "The lifecycle of an engine": points from the program's own source go into a
// detector fed live; each window's findings come out through take_closed() as soon as the
// watermark passes it; the state is saved and restored halfway; finish() hands out the rest.
// The core component alone (k8snetio::core): no file, no reader, no writer.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/engine/detector.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>

namespace k = k8snetio;

constexpr std::int64_t t0 = 1'700'000'000;

// [points] An hour of two checkout pods, both directions, a point per 10 s; from bucket
// `burst_from` on, x2k9p sends 50 times its usual bytes for 8 buckets. A point's strings are
// views: here literals, which live for ever.
std::vector<k::metric_point> hour(std::int64_t start, int burst_from) {
  std::vector<k::metric_point> points;
  for (int i = 0; i < 360; ++i) {
    const double t = static_cast<double>(start + 10 * i) + 0.5;
    for (const char* pod : {"checkout-7d4b9c8f6d-x2k9p", "checkout-7d4b9c8f6d-q8w2e"}) {
      const bool burst =
          std::string_view(pod).ends_with("x2k9p") && i >= burst_from && i < burst_from + 8;
      const double bytes = (20'000 + 500 * (i % 5)) * (burst ? 50 : 1);
      //                 time, value, metric name,         cluster, pod, node,     direction
      points.push_back({t, bytes, k::default_metric_name, "prod", pod, "node-1", "transmit"});
      points.push_back({t, bytes / 2, k::default_metric_name, "prod", pod, "node-1", "receive"});
    }
  }
  return points;
}
// [points]

int main() {
  // [baseline] The baseline table: learned from yesterday's points (B1–B6) and kept in a
  // variable, since the detector holds a reference to it (a temporary does not compile).
  const k::baseline_result<2> learned = k::build_network_io_baseline(hour(t0 - 3600, -100));
  const k::baseline_table<2>& table = learned.table;
  // [baseline]

  // [engine] Live: a bucket is final 30 s after it ends (S1.3), findings per 10-minute window.
  k::detection_options options;
  options.span.allowed_lateness = 30;
  options.window_seconds = 600;
  k::detector engine(k::anomalous_network_io, table, options);
  // [engine]

  std::size_t findings = 0;
  const auto on_finding = [&findings](const k::finding& f) {
    ++findings;
    std::printf("%s %s: %llu anomalous buckets in [%lld, %lld)\n", f.pod.c_str(), f.service.c_str(),
                static_cast<unsigned long long>(f.count), static_cast<long long>(f.window_start),
                static_cast<long long>(f.window_end));
  };

  // [lifecycle]
  const std::vector<k::metric_point> today = hour(t0, 100);
  for (std::size_t i = 0; i < today.size(); ++i) {
    if (const k::add_outcome used = engine.add(today[i]); !used)
      std::printf("point %zu not used: %s\n", i, std::string(k::to_string(used.reason)).c_str());
    for (const k::finding& f : engine.take_closed()) on_finding(f);  // closed windows only
    if (i == today.size() / 2) {
      // S4: the whole state as bytes; a new engine with the same rule and options goes on.
      const std::string state = engine.save_state();
      k::detector restored(k::anomalous_network_io, table, options);
      if (const auto restored_ok = restored.restore_state(state); !restored_ok)
        std::printf("%s\n", restored_ok.error().what().c_str());  // the engine goes on as it was
      else
        engine = std::move(restored);
    }
  }
  const k::detection_result rest = engine.finish();  // the input has ended: every window closes
  for (const k::finding& f : rest.findings) on_finding(f);
  // [lifecycle]
  return findings == 1 ? 0 : 1;
}
