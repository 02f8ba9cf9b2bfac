// The simulator's samples written as each real input shape (spec I1, I2, I3, I3.1): Splunk
// metrics_csv; the events the Splunk HEC exporter sends; and the OpenTelemetry Collector's
// file-exporter output of the kubeletstats receiver in three shapes: raw (the plain receiver:
// pod resources with only uid, name and namespace, and a node resource in the same request),
// processed (after the k8sattributes processor: node and cluster on every resource) and chart
// (as the Splunk OpenTelemetry Collector chart writes it: every attribute on the data points,
// an empty resource, no startTimeUnixNano).
//
// Every shape carries the same samples: CSV and HEC the per-interval byte counts as they are,
// OTLP the cumulative counters whose consecutive differences are those counts (with one
// priming scrape before the first interval, since the first point of a counter yields no
// delta). So the readers give the same points from each (the raw shape needs
// --default-cluster, which the plain receiver cannot know).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "simulator.hpp"

namespace k8snetio_cli {

inline constexpr std::string_view simulated_metric = "k8s.pod.network.io";

/// The shape of the collector's output that `simulate --format otlp --otlp-shape` writes.
enum class otlp_shape { raw_kubeletstats, processed, chart };

constexpr std::optional<otlp_shape> parse_otlp_shape(std::string_view name) noexcept {
  if (name == "raw-kubeletstats") return otlp_shape::raw_kubeletstats;
  if (name == "processed") return otlp_shape::processed;
  if (name == "chart") return otlp_shape::chart;
  return std::nullopt;
}

/// "1700000010.123": epoch seconds with the milliseconds, as the samples have them.
inline void append_seconds(std::string& out, std::int64_t time_ms) {
  fmt::format_to(std::back_inserter(out), "{}.{:03}", time_ms / 1000, time_ms % 1000);
}

// ---- metrics_csv (I1) ------------------------------------------------------------------------

inline void write_csv_header(std::string& out) {
  out +=
      "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,"
      "k8s.namespace.name,direction,interface\n";
}

inline void append_csv_sample(std::string& out, const simulated_pod& pod,
                              const simulated_sample& s) {
  append_seconds(out, s.time_ms);
  fmt::format_to(std::back_inserter(out), ",{},{},{},{},{},{},{},{}\n", simulated_metric, s.bytes,
                 pod.cluster, pod.node, pod.name, pod.namespace_name,
                 simulated_directions[s.direction], simulated_interfaces[s.interface]);
}

// ---- HEC metric events (I2), as the Splunk HEC exporter writes them
// ------------------------------ The exporter marshals every event with sorted keys (so `event`
// comes first and `time` last), `time` as seconds rounded to the millisecond and written as the
// shortest decimal, the resource and point attributes as `fields`, each metric as
// "metric_name:<name>" with a `metric_type`, and (with use_multi_metric_format) the metrics of one
// resource, time and attribute set merged into one event: daemonset pods here carry
// k8s.pod.network.errors too. The staging cluster speaks the newer semantic conventions, as in the
// OTLP shapes.

inline void append_hec_sample(std::string& out, const simulated_pod& pod,
                              const simulated_sample& s) {
  const bool new_conventions = pod.cluster == "staging";
  std::string bytes = fmt::format("{}", s.bytes);
  std::vector<std::pair<std::string_view, std::string_view>> fields = {
      {new_conventions ? "network.io.direction" : "direction", simulated_directions[s.direction]},
      {new_conventions ? "network.interface.name" : "interface", simulated_interfaces[s.interface]},
      {"k8s.cluster.name", pod.cluster},
      {"k8s.namespace.name", pod.namespace_name},
      {"k8s.node.name", pod.node},
      {"k8s.pod.name", pod.name},
      {"k8s.pod.uid", pod.uid},
      {"metric_name:k8s.pod.network.io", bytes},
      {"metric_type", "Sum"},
  };
  if (pod.kind == workload_kind::daemonset)
    fields.emplace_back("metric_name:k8s.pod.network.errors", "0");
  std::sort(fields.begin(), fields.end());
  out += "{\"event\":\"metric\",\"fields\":{";
  bool first = true;
  for (const auto& [key, value] : fields) {
    if (!first) out += ',';
    first = false;
    if (key.starts_with("metric_name:"))  // a number
      fmt::format_to(std::back_inserter(out), "\"{}\":{}", key, value);
    else
      fmt::format_to(std::back_inserter(out), "\"{}\":\"{}\"", key, value);
  }
  out += "},\"host\":\"unknown\",\"time\":";  // no host.name resource attribute: "unknown"
  fmt::format_to(std::back_inserter(out), "{}", s.time_ms / 1000);
  if (const std::int64_t ms = s.time_ms % 1000; ms != 0) {
    std::string frac = fmt::format("{:03}", ms);
    while (frac.back() == '0') frac.pop_back();
    out += '.';
    out += frac;
  }
  out += "}\n";
}

// ---- OTLP JSON (I3, I3.1) --------------------------------------------------------------------
// One line per scrape of a node (as the collector's file exporter batches it), with one
// cumulative monotonic Sum data point per pod, interface and direction. The staging cluster
// speaks the newer semantic conventions (network.interface.name, network.io.direction).

class otlp_writer {
 public:
  otlp_writer(const simulator& sim, otlp_shape shape) : sim_(sim), shape_(shape) {
    portable_random r(sim.options().seed ^ 0x636f756e746572ull);  // "counter"
    const auto& pods = sim.pods();
    counters_.resize(pods.size() * 4);
    for (auto& c : counters_) c = r.below(std::uint64_t{10'000'000'000});
    pod_start_ns_.resize(pods.size());
    for (auto& t : pod_start_ns_) {
      const auto start = sim.options().start - 600 - static_cast<std::int64_t>(r.below(7 * 86400));
      t = static_cast<std::uint64_t>(std::max<std::int64_t>(start, 0)) * 1'000'000'000ull;
    }
  }

  /// The scrape before the first interval: the counters as they stand.
  void prime(std::string& out) {
    const std::int64_t base_ms = (sim_.options().start - 10) * 1000;
    for (std::size_t p : sim_.pod_order()) {
      const std::size_t node = sim_.pods()[p].node_index;
      const std::int64_t time_ms = base_ms + sim_.node_phase_ms(node);
      if (!group_.empty() && (time_ms != group_time_ms_ || node != group_node_)) flush(out);
      group_time_ms_ = time_ms;
      group_node_ = node;
      if (group_.empty() || group_.back() != p) group_.push_back(p);
    }
    flush(out);
  }

  void add(std::string& out, const simulated_sample& s) {
    const std::size_t node = sim_.pods()[s.pod].node_index;
    if (!group_.empty() && (s.time_ms != group_time_ms_ || node != group_node_)) flush(out);
    group_time_ms_ = s.time_ms;
    group_node_ = node;
    counters_[s.pod * 4 + s.interface * 2 + s.direction] += s.bytes;
    if (group_.empty() || group_.back() != s.pod) group_.push_back(s.pod);
  }

  /// Writes the line of the node scrape gathered so far.
  void flush(std::string& out) {
    if (group_.empty()) return;
    out += "{\"resourceMetrics\":[";
    switch (shape_) {
      case otlp_shape::processed: write_processed(out); break;
      case otlp_shape::raw_kubeletstats: write_raw(out); break;
      case otlp_shape::chart: write_chart(out); break;
    }
    out += "]}\n";
    group_.clear();
  }

 private:
  static constexpr std::string_view scope =
      "{\"scope\":{\"name\":\"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/"
      "kubeletstatsreceiver\",\"version\":\"0.88.0\"},\"metrics\":[";

  std::uint64_t time_ns() const {
    return static_cast<std::uint64_t>(group_time_ms_) * 1'000'000ull;
  }

  static void attribute(std::string& out, std::string_view key, std::string_view value,
                        bool comma) {
    fmt::format_to(std::back_inserter(out),
                   "{}{{\"key\":\"{}\",\"value\":{{\"stringValue\":\"{}\"}}}}", comma ? "," : "",
                   key, value);
  }

  /// The data points of one pod: one per interface and direction.
  void pod_points(std::string& out, std::size_t p, bool with_pod_attributes, bool with_start,
                  bool& first) const {
    const simulated_pod& pod = sim_.pods()[p];
    const bool new_conventions = pod.cluster == "staging";
    for (std::size_t f = 0; f < pod.interfaces; ++f)
      for (std::size_t d = 0; d < 2; ++d) {
        if (!first) out += ',';
        first = false;
        out += "{\"attributes\":[";
        if (with_pod_attributes) {  // the chart's order: sorted by key
          attribute(out, "k8s.cluster.name", pod.cluster, false);
          attribute(out, "k8s.namespace.name", pod.namespace_name, true);
          attribute(out, "k8s.node.name", pod.node, true);
          attribute(out, "k8s.pod.name", pod.name, true);
          attribute(out, "k8s.pod.uid", pod.uid, true);
        }
        attribute(out, new_conventions ? "network.interface.name" : "interface",
                  simulated_interfaces[f], with_pod_attributes);
        attribute(out, new_conventions ? "network.io.direction" : "direction",
                  simulated_directions[d], true);
        out += "],";
        if (with_start)
          fmt::format_to(std::back_inserter(out), "\"startTimeUnixNano\":\"{}\",",
                         pod_start_ns_[p]);
        fmt::format_to(std::back_inserter(out), "\"timeUnixNano\":\"{}\",\"asInt\":\"{}\"}}",
                       time_ns(), counters_[p * 4 + f * 2 + d]);
      }
  }

  void pod_metric(std::string& out, std::size_t p, bool with_pod_attributes,
                  bool with_start) const {
    out += "{\"name\":\"";
    out += simulated_metric;
    out += "\",\"description\":\"Network bytes\",\"unit\":\"By\",\"sum\":{\"dataPoints\":[";
    bool first = true;
    pod_points(out, p, with_pod_attributes, with_start, first);
    out += "],\"aggregationTemporality\":2,\"isMonotonic\":true}}";
  }

  // After the k8sattributes processor: a resource per pod naming its cluster and node.
  void write_processed(std::string& out) const {
    for (std::size_t i = 0; i < group_.size(); ++i) {
      const simulated_pod& pod = sim_.pods()[group_[i]];
      if (i) out += ',';
      out += "{\"resource\":{\"attributes\":[";
      attribute(out, "k8s.cluster.name", pod.cluster, false);
      attribute(out, "k8s.node.name", pod.node, true);
      attribute(out, "k8s.namespace.name", pod.namespace_name, true);
      attribute(out, "k8s.pod.name", pod.name, true);
      attribute(out, "k8s.pod.uid", pod.uid, true);
      out += "]},\"scopeMetrics\":[";
      out += scope;
      pod_metric(out, group_[i], false, true);
      out += "]}]}";
    }
  }

  // The plain receiver: the node's resource (k8s.node.name and node metrics) first, then a
  // resource per pod with only its uid, name and namespace: no node, no cluster.
  void write_raw(std::string& out) const {
    const simulated_pod& first_pod = sim_.pods()[group_.front()];
    std::array<std::uint64_t, 2> node_bytes{};  // the node's own counters: its pods' sums
    for (std::size_t p : group_)
      for (std::size_t k = 0; k < 4; ++k) node_bytes[k % 2] += counters_[p * 4 + k];
    out += "{\"resource\":{\"attributes\":[";
    attribute(out, "k8s.node.name", first_pod.node, false);
    out += "]},\"scopeMetrics\":[";
    out += scope;
    out +=
        "{\"name\":\"k8s.node.network.io\",\"description\":\"Node network bytes\",\"unit\":"
        "\"By\",\"sum\":{\"dataPoints\":[";
    for (std::size_t d = 0; d < 2; ++d) {
      if (d) out += ',';
      out += "{\"attributes\":[";
      attribute(out, "interface", "eth0", false);
      attribute(out, "direction", simulated_directions[d], true);
      fmt::format_to(
          std::back_inserter(out),
          "],\"startTimeUnixNano\":\"{}\",\"timeUnixNano\":\"{}\",\"asInt\":\"{}\"}}",
          static_cast<std::uint64_t>(std::max<std::int64_t>(sim_.options().start - 30 * 86400, 0)) *
              1'000'000'000ull,
          time_ns(), node_bytes[d]);
    }
    out += "],\"aggregationTemporality\":2,\"isMonotonic\":true}}]}]}";
    for (std::size_t p : group_) {
      const simulated_pod& pod = sim_.pods()[p];
      out += ",{\"resource\":{\"attributes\":[";
      attribute(out, "k8s.pod.uid", pod.uid, false);
      attribute(out, "k8s.pod.name", pod.name, true);
      attribute(out, "k8s.namespace.name", pod.namespace_name, true);
      out += "]},\"scopeMetrics\":[";
      out += scope;
      pod_metric(out, p, false, true);
      out += "]}]}";
    }
  }

  // The chart: one empty resource, every attribute on the data points, no start time.
  void write_chart(std::string& out) const {
    out += "{\"resource\":{},\"scopeMetrics\":[{\"scope\":{},\"metrics\":[{\"name\":\"";
    out += simulated_metric;
    out += "\",\"unit\":\"By\",\"sum\":{\"dataPoints\":[";
    bool first = true;
    for (std::size_t p : group_) pod_points(out, p, true, false, first);
    out += "],\"aggregationTemporality\":2,\"isMonotonic\":true}}]}]}";
  }

  const simulator& sim_;
  otlp_shape shape_;
  std::vector<std::uint64_t> counters_;  ///< [pod][interface][direction]
  std::vector<std::uint64_t> pod_start_ns_;
  std::vector<std::size_t> group_;
  std::int64_t group_time_ms_ = 0;
  std::size_t group_node_ = 0;
};

}  // namespace k8snetio_cli
