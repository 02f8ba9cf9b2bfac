// `k8s-netio simulate` (synthetic metrics as metrics_csv, HEC events or OTLP JSON in the
// shape a real collector writes: simulated_formats.hpp) and `k8s-netio demo` (a day of
// traffic → baseline → the next hour with incidents → findings). Every format and shape
// carries the same samples, so `detect` finds the same things in all of them.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/k8snetio.hpp>

#include "cli_support.hpp"
#include "commands.hpp"
#include "simulated_formats.hpp"
#include "simulator.hpp"

namespace k8snetio_cli {
namespace {

constexpr std::string_view metric_name = k8snetio::default_metric_name;
static_assert(metric_name == simulated_metric);

/// Buffers text and hands it to the output in large writes.
class buffered_output {
 public:
  explicit buffered_output(output_file& out) : out_(out) { text_.reserve(limit + 4096); }
  std::string& text() { return text_; }
  void maybe_flush() {
    if (text_.size() >= limit) flush();
  }
  void flush() {
    out_.write(text_);
    text_.clear();
  }

 private:
  static constexpr std::size_t limit = std::size_t{1} << 20;
  output_file& out_;
  std::string text_;
};

std::vector<incident_kind> incident_kinds(const std::vector<std::string>& names) {
  std::vector<incident_kind> kinds;
  for (const auto& n : names) {
    if (n == "exfil")
      kinds.push_back(incident_kind::exfiltration);
    else if (n == "blip")
      kinds.push_back(incident_kind::blip);
  }
  return kinds;
}

std::size_t count_clusters(const simulator& sim) {
  std::vector<std::string_view> seen;
  for (const auto& p : sim.pods())
    if (std::find(seen.begin(), seen.end(), p.cluster) == seen.end()) seen.push_back(p.cluster);
  return seen.size();
}

/// "exfiltration: cluster prod-eu, node node-2, pod checkout-…, direction transmit ×20,
/// 12 buckets [1700006700, 1700006820)"
std::string describe_incident(const simulator& sim, const injected_incident& in) {
  const simulated_pod& pod = sim.pods()[in.pod];
  return fmt::format("{}: cluster {}, node {}, pod {}, direction {} ×{}, {} buckets [{}, {})",
                     to_string(in.kind), pod.cluster, pod.node, pod.name, in.direction, in.factor,
                     in.buckets, in.first_bucket, in.end());
}

}  // namespace

int run_simulate(const simulate_command_options& o) {
  simulation_options so;
  so.pods = o.pods;
  so.hours = o.hours;
  so.seed = o.seed;
  so.start = o.start;
  so.incidents = incident_kinds(o.incidents);
  const simulator sim(so);

  output_file out;
  std::string error;
  if (!out.open(o.output, error)) {
    fmt::print(stderr, "k8s-netio: error: {}\n", error);
    return exit_failure;
  }
  buffered_output buffer(out);
  std::uint64_t samples = 0;
  progress_line progress;
  const std::uint64_t expected =
      static_cast<std::uint64_t>(sim.intervals()) * sim.samples_per_interval();
  const auto tick = [&] {
    ++samples;
    if ((samples & 0xffff) == 0) progress.update_count(samples, expected, "samples");
    buffer.maybe_flush();
  };

  if (o.format == "csv") {
    write_csv_header(buffer.text());
    sim.run([&](const simulated_sample& s) {
      append_csv_sample(buffer.text(), sim.pods()[s.pod], s);
      tick();
    });
  } else if (o.format == "hec") {
    sim.run([&](const simulated_sample& s) {
      append_hec_sample(buffer.text(), sim.pods()[s.pod], s);
      tick();
    });
  } else {
    otlp_writer otlp(sim, parse_otlp_shape(o.otlp_shape).value_or(otlp_shape::processed));
    otlp.prime(buffer.text());
    sim.run([&](const simulated_sample& s) {
      otlp.add(buffer.text(), s);
      tick();
    });
    otlp.flush(buffer.text());
  }
  buffer.flush();
  progress.clear();
  if (!out.close(error)) {
    fmt::print(stderr, "k8s-netio: error: {}\n", error);
    return exit_failure;
  }

  fmt::print(stderr,
             "k8s-netio: simulated {} pods on {} nodes in {} cluster{}, {} intervals of 10 s "
             "[{}, {}): {} samples ({}, seed {})\n",
             sim.pods().size(), sim.nodes(), count_clusters(sim),
             count_clusters(sim) == 1 ? "" : "s",
             with_commas(static_cast<std::uint64_t>(sim.intervals())), so.start, sim.end(),
             with_commas(samples), o.format, so.seed);
  if (sim.incidents().empty()) fmt::print(stderr, "k8s-netio: injected no incidents\n");
  for (const auto& in : sim.incidents())
    fmt::print(stderr, "k8s-netio: injected {}\n", describe_incident(sim, in));
  if (o.format == "otlp" && o.otlp_shape == "raw-kubeletstats") {
    // I3.1: the plain receiver knows its node (from the node resource) but not its cluster.
    if (count_clusters(sim) == 1)
      fmt::print(stderr,
                 "k8s-netio: the raw kubeletstats shape names no cluster: read it with "
                 "--default-cluster {}\n",
                 sim.pods().front().cluster);
    else
      fmt::print(stderr,
                 "k8s-netio: the raw kubeletstats shape names no cluster, and this fleet spans {} "
                 "clusters whose node names repeat: a real collector runs per cluster, so "
                 "simulate at most 7 pods (one cluster) and read with --default-cluster {}\n",
                 count_clusters(sim), sim.pods().front().cluster);
  }
  return exit_ok;
}

int run_demo() {
  const auto started = std::chrono::steady_clock::now();
  simulation_options so;
  so.pods = 60;
  so.hours = 25;
  so.seed = 2023;
  so.incidents = {incident_kind::exfiltration, incident_kind::blip};
  const simulator sim(so);
  const std::int64_t split_ms = (so.start + 24 * 3600) * 1000;

  const auto point_of = [&sim](const simulated_sample& s) {
    const simulated_pod& pod = sim.pods()[s.pod];
    k8snetio::metric_point p;
    p.time = static_cast<double>(s.time_ms) / 1000.0;
    p.value = static_cast<double>(s.bytes);
    p.metric_name = metric_name;
    p.cluster = pod.cluster;
    p.pod = pod.name;
    p.node = pod.node;
    p.direction = simulated_directions[s.direction];
    return p;
  };

  // One pass: the first day feeds the baseline as it is simulated; the next hour is kept.
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io);
  std::vector<simulated_sample> next_hour;
  next_hour.reserve(360 * sim.samples_per_interval());
  sim.run([&](const simulated_sample& s) {
    if (s.time_ms < split_ms)
      runner.add(point_of(s));
    else
      next_hour.push_back(s);
  });
  const auto baseline = runner.finish();

  k8snetio::detector<2, k8snetio::baseline_table<2>> detector(k8snetio::anomalous_network_io,
                                                              baseline.table, {});
  for (const auto& s : next_hour) detector.add(point_of(s));
  const auto result = detector.finish();

  const k8snetio::scorer_options scoring;
  const k8snetio::detection_options defaults;
  fmt::print(
      "Built a baseline of {} services from {} points of one simulated day; scanned the next "
      "hour ({} points) for pods above avg + {}·stdev in more than {} buckets.\n",
      baseline.table.size(), with_commas(baseline.stats.points_in), with_commas(next_hour.size()),
      scoring.sigma, defaults.min_count);
  std::string injected = "Injected: ";
  bool found_exfiltration = true;
  bool blip_alerted = false;
  for (std::size_t i = 0; i < sim.incidents().size(); ++i) {
    const auto& in = sim.incidents()[i];
    const simulated_pod& pod = sim.pods()[in.pod];
    const bool found = std::any_of(result.findings.begin(), result.findings.end(),
                                   [&](const k8snetio::finding& f) { return f.pod == pod.name; });
    if (i) injected += "; ";
    if (in.kind == incident_kind::exfiltration) {
      found_exfiltration = found_exfiltration && found;
      injected += fmt::format("exfiltration from {}/{}/{} ({} ×{} for {} buckets)", pod.cluster,
                              pod.node, pod.name, in.direction, in.factor, in.buckets);
    } else {
      blip_alerted = blip_alerted || found;
      injected += fmt::format("a short blip on {}/{}/{} ({} buckets, should not alert)",
                              pod.cluster, pod.node, pod.name, in.buckets);
    }
  }
  fmt::print("{}.\n\n", injected);
  std::string table;
  k8snetio::io::write_findings_table(table, result.findings);
  fmt::print("{}", table);
  std::fflush(stdout);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr, "k8s-netio: demo took {:.2f} s\n", seconds);
  if (!found_exfiltration || blip_alerted) {
    fmt::print(stderr, "k8s-netio: error: the demo {}\n",
               !found_exfiltration ? "missed the injected exfiltration"
                                   : "reported the blip, which should not alert");
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace k8snetio_cli
