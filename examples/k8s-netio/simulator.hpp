// Deterministic synthetic k8s.pod.network.io traffic for `k8s-netio simulate` and `demo`:
// clusters, nodes, deployments, daemonsets and statefulsets, both directions, one or two
// interfaces, a daily rhythm and bounded noise, with injected incidents (a persistent
// exfiltration burst that must alert, a short blip that must not).
//
// The fleet (clusters, nodes, pod names, services, traffic levels, scrape phases) comes from
// `fleet_seed` alone, never from `seed`: the seed varies only the traffic's noise and where the
// incidents fall, so a day simulated with one seed is a baseline for an hour simulated with
// another (the README's quick start). The same seeds give the same bytes on every platform:
// std::mt19937_64 is fully specified by the standard, and everything drawn from it uses explicit
// arithmetic here (no std::uniform_*_distribution, whose output differs between standard libraries,
// and no libm sin, whose last bit may). Values are whole bytes, so CSV, HEC and OTLP carry them
// exactly.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace k8snetio_cli {

/// Explicit, portable draws from a std::mt19937_64.
class portable_random {
 public:
  explicit portable_random(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t bits() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits: exact in any IEEE double arithmetic.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), unbiased (rejection of the top partial range).
  std::uint64_t below(std::uint64_t n) {
    if (n <= 1) return 0;
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    for (;;) {
      const std::uint64_t x = engine_();
      if (x < limit) return x % n;
    }
  }
  /// Bounded, bell-shaped noise in [-1, 1]: the mean of four uniforms, centred and scaled
  /// (Irwin–Hall; standard deviation 1/sqrt(12) ≈ 0.29). Bounded on purpose: normal traffic
  /// can then never cross the detection's threshold (see simulator::noise_amplitude).
  double bell() { return (uniform() + uniform() + uniform() + uniform()) * 0.5 - 1.0; }

 private:
  std::mt19937_64 engine_;
};

/// sin(x) from + − × ÷ only (range reduction, then a Taylor series to x^19), so that the
/// rhythm is the same on every platform; accurate to ~1e-15 on [-π, π].
inline double portable_sin(double x) {
  constexpr double pi = 3.14159265358979323846;
  constexpr double two_pi = 2 * pi;
  const double turns = x / two_pi;
  double whole = static_cast<double>(static_cast<std::int64_t>(turns));
  if (whole > turns) whole -= 1;  // floor for negative x
  x -= whole * two_pi;            // [0, 2π)
  if (x > pi) x -= two_pi;        // (-π, π]
  const double x2 = x * x;
  double term = x;
  double sum = x;
  for (int n = 1; n <= 9; ++n) {
    term = -term * x2 / static_cast<double>((2 * n) * (2 * n + 1));
    sum += term;
  }
  return sum;
}

enum class workload_kind { deployment, daemonset, statefulset };

constexpr std::string_view to_string(workload_kind k) noexcept {
  switch (k) {
    case workload_kind::deployment: return "deployment";
    case workload_kind::daemonset: return "daemonset";
    case workload_kind::statefulset: return "statefulset";
  }
  return "workload";
}

enum class incident_kind { exfiltration, blip };

constexpr std::string_view to_string(incident_kind k) noexcept {
  return k == incident_kind::exfiltration ? "exfiltration" : "blip";
}

struct simulation_options {
  std::size_t pods = 60;
  double hours = 1;                       ///< whole intervals are simulated: ceil(hours·360)
  std::uint64_t seed = 1;                 ///< the noise and the incidents' places
  std::uint64_t fleet_seed = 2023;        ///< the fleet: the same for every `seed`
  std::int64_t start = 1699920000;        ///< 2023-11-14T00:00:00Z, a midnight
  std::int64_t interval_seconds = 10;     ///< the collector's reporting interval
  std::vector<incident_kind> incidents;   ///< injected into the last hour, in this order
  double exfiltration_factor = 20;        ///< transmit × this during an incident
  std::size_t exfiltration_buckets = 12;  ///< two minutes: persists past the D7 threshold
  std::size_t blip_buckets = 3;           ///< too short to alert (count 3 <= 5)
};

/// One pod of the simulated fleet.
struct simulated_pod {
  std::string cluster;
  std::string node;
  std::string name;
  std::string namespace_name;
  std::string uid;  ///< k8s.pod.uid, a UUID as the API server writes it
  std::string workload;
  workload_kind kind{};
  std::size_t interfaces = 1;    ///< eth0, and eth1 when 2
  double eth1_share = 0;         ///< the part of the traffic on eth1
  std::array<double, 2> base{};  ///< bytes per interval at the rhythm's mean: [receive, transmit]
  double rhythm_amplitude = 0;   ///< relative swing of the daily sinusoid
  double rhythm_peak = 0;        ///< second of the day of the peak
  std::size_t node_index = 0;
};

struct injected_incident {
  incident_kind kind{};
  std::size_t pod = 0;  ///< index into simulator::pods()
  std::string_view direction = "transmit";
  std::int64_t first_bucket = 0;  ///< epoch seconds of the first interval
  std::size_t buckets = 0;
  double factor = 1;

  std::int64_t end() const { return first_bucket + static_cast<std::int64_t>(buckets) * 10; }
};

/// One sample: a counter delta of one pod, interface and direction over one interval.
struct simulated_sample {
  std::int64_t time_ms = 0;  ///< epoch milliseconds (interval start + the node's scrape phase)
  std::size_t pod = 0;
  std::size_t interface = 0;  ///< 0 = eth0, 1 = eth1
  std::size_t direction = 0;  ///< 0 = receive, 1 = transmit
  std::uint64_t bytes = 0;
};

inline constexpr std::array<std::string_view, 2> simulated_directions = {"receive", "transmit"};
inline constexpr std::array<std::string_view, 2> simulated_interfaces = {"eth0", "eth1"};

class simulator {
 public:
  /// Noise is ±noise_amplitude around the rhythm. With amplitudes ≥ 0.25 and pod weights
  /// within ±5 %, the worst normal value (1.05 · 1.15 · (1 + A)) stays below a whole-day
  /// baseline's avg + 4·stdev (≥ 1 + 2.8·A): a day of normal traffic never alerts.
  static constexpr double noise_amplitude = 0.15;

  explicit simulator(simulation_options options) : options_(std::move(options)) {
    if (options_.pods < 1) throw std::invalid_argument("simulate: --pods must be at least 1");
    if (!(options_.hours > 0)) throw std::invalid_argument("simulate: --hours must be positive");
    if (options_.interval_seconds != 10)
      throw std::invalid_argument("simulate: the interval is 10 seconds");
    const double intervals = options_.hours * 3600.0 / 10.0;
    intervals_ = static_cast<std::int64_t>(intervals);
    if (static_cast<double>(intervals_) < intervals) ++intervals_;
    build_fleet();
    place_incidents();
  }

  const simulation_options& options() const noexcept { return options_; }
  const std::vector<simulated_pod>& pods() const noexcept { return pods_; }
  const std::vector<injected_incident>& incidents() const noexcept { return incidents_; }
  std::int64_t intervals() const noexcept { return intervals_; }
  std::int64_t end() const noexcept { return options_.start + intervals_ * 10; }
  /// The scrape phase of each node, in milliseconds after the interval start.
  std::int64_t node_phase_ms(std::size_t node_index) const { return node_phase_ms_[node_index]; }
  std::size_t nodes() const noexcept { return node_phase_ms_.size(); }
  /// The order run() visits the pods in within an interval.
  const std::vector<std::size_t>& pod_order() const noexcept { return pod_order_; }

  /// Hands every sample to `sink` in time order (within an interval: by scrape phase, then pod,
  /// interface, direction). The normal traffic depends only on the seed, never on the
  /// incidents or on how many hours are asked for.
  template <class Sink>
  void run(Sink&& sink) const {
    portable_random noise(options_.seed ^ 0x6e6f697365ull);  // "noise"
    simulated_sample s;
    for (std::int64_t i = 0; i < intervals_; ++i) {
      const std::int64_t bucket = options_.start + i * 10;
      const double second_of_day = static_cast<double>(((bucket % 86400) + 86400) % 86400);
      for (std::size_t p : pod_order_) {
        const simulated_pod& pod = pods_[p];
        s.pod = p;
        s.time_ms = bucket * 1000 + node_phase_ms_[pod.node_index];
        const double rhythm = 1 + pod.rhythm_amplitude *
                                      portable_sin(2 * 3.14159265358979323846 *
                                                       (second_of_day - pod.rhythm_peak) / 86400.0 +
                                                   3.14159265358979323846 / 2);
        for (std::size_t d = 0; d < 2; ++d) {
          double value = pod.base[d] * rhythm * (1 + noise_amplitude * noise.bell());
          value *= incident_factor(p, d, bucket);
          for (std::size_t f = 0; f < pod.interfaces; ++f) {
            const double share = pod.interfaces == 1 ? 1.0
                                 : f == 0            ? 1 - pod.eth1_share
                                                     : pod.eth1_share;
            s.interface = f;
            s.direction = d;
            s.bytes = static_cast<std::uint64_t>(value * share + 0.5);
            sink(std::as_const(s));
          }
        }
      }
    }
  }

  /// Samples per interval (for sizes and progress).
  std::size_t samples_per_interval() const {
    std::size_t n = 0;
    for (const auto& p : pods_) n += 2 * p.interfaces;
    return n;
  }

  /// "exfiltration from prod-eu/node-2/checkout-7d4b9c8f6d-x2k9p (transmit ×20, 12 intervals
  /// from 1700006700)"
  std::string describe(const injected_incident& in) const {
    const simulated_pod& pod = pods_[in.pod];
    return fmt::format("{} from {}/{}/{} ({} ×{}, {} intervals of 10 s from {})",
                       to_string(in.kind), pod.cluster, pod.node, pod.name, in.direction, in.factor,
                       in.buckets, in.first_bucket);
  }

 private:
  double incident_factor(std::size_t pod, std::size_t direction, std::int64_t bucket) const {
    double f = 1;
    for (const auto& in : incidents_)
      if (in.pod == pod && direction == 1 && bucket >= in.first_bucket && bucket < in.end())
        f *= in.factor;
    return f;
  }

  static std::string pick_suffix(portable_random& r, std::size_t n) {
    // Kubernetes' own alphabet for generated names (no vowels, no 0/1/3).
    constexpr std::string_view alphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[r.below(alphabet.size())];
    return s;
  }
  static std::string pick_hex(portable_random& r, std::size_t n) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += hex[r.below(16)];
    return s;
  }

  static std::string pick_uid(portable_random& r) {
    std::string u = pick_hex(r, 32);
    for (std::size_t at : {8u, 13u, 18u, 23u}) u.insert(at, 1, '-');
    return u;
  }

  void build_fleet() {
    portable_random r(options_.fleet_seed);
    portable_random uids(options_.fleet_seed ^ 0x756964ull);  // "uid": the levels stay as they were
    const std::size_t pods = options_.pods;
    static constexpr std::array<std::string_view, 3> cluster_names = {"prod-eu", "prod-us",
                                                                      "staging"};
    const std::size_t clusters = pods >= 24 ? 3 : pods >= 8 ? 2 : 1;
    const std::size_t nodes_per_cluster =
        std::max<std::size_t>(2, (pods + 8 * clusters - 1) / (8 * clusters));
    struct catalog_entry {
      std::string_view name, ns;
    };
    static constexpr std::array<catalog_entry, 16> deployments = {{
        {"checkout", "shop"},
        {"cart", "shop"},
        {"payments", "shop"},
        {"frontend", "web"},
        {"catalog", "shop"},
        {"search", "web"},
        {"recommendations", "web"},
        {"auth", "identity"},
        {"orders", "shop"},
        {"shipping", "shop"},
        {"notifications", "comms"},
        {"api-gateway", "edge"},
        {"inventory", "shop"},
        {"currency", "shop"},
        {"ad-server", "web"},
        {"email", "comms"},
    }};
    static constexpr std::array<catalog_entry, 4> daemonsets = {{{"kube-proxy", "kube-system"},
                                                                 {"fluent-bit", "logging"},
                                                                 {"node-exporter", "monitoring"},
                                                                 {"calico-node", "kube-system"}}};
    static constexpr std::array<catalog_entry, 4> statefulsets = {
        {{"redis", "shop"}, {"postgres", "shop"}, {"kafka", "streaming"}, {"etcd", "infra"}}};

    // Nodes: a scrape phase each (whole milliseconds within 1–9 s of the interval), so the
    // timestamps look real yet never sit on a bucket edge.
    for (std::size_t c = 0; c < clusters; ++c)
      for (std::size_t n = 0; n < nodes_per_cluster; ++n)
        node_phase_ms_.push_back(1000 + static_cast<std::int64_t>(r.below(8000)));

    // Workloads round-robin over the clusters, kinds in a fixed cycle, until the pods run out.
    static constexpr std::array<workload_kind, 6> cycle = {
        workload_kind::deployment, workload_kind::deployment,  workload_kind::daemonset,
        workload_kind::deployment, workload_kind::statefulset, workload_kind::deployment};
    std::array<std::array<std::size_t, 3>, 3> used{};  // [cluster][kind] catalog position
    std::size_t w = 0;
    while (pods_.size() < pods) {
      const std::size_t c = w % clusters;
      const workload_kind kind = cycle[(w / clusters) % cycle.size()];
      ++w;
      const std::size_t k = static_cast<std::size_t>(kind);
      const std::size_t slot = used[c][k]++;
      const auto pick = [&](const auto& list) {
        const catalog_entry& e = list[slot % list.size()];
        std::string name(e.name);
        if (slot >= list.size()) name += fmt::format("-{}", slot / list.size() + 1);
        return std::pair{name, std::string(e.ns)};
      };
      auto [name, ns] = kind == workload_kind::deployment  ? pick(deployments)
                        : kind == workload_kind::daemonset ? pick(daemonsets)
                                                           : pick(statefulsets);
      // The workload's profile; its pods share it, each with a weight within ±5 %.
      std::array<double, 2> base{};
      for (double& b : base) b = 2e4 * (1 + 99 * r.uniform() * r.uniform());  // 20 kB – 2 MB
      const double amplitude = r.uniform(0.25, 0.45);
      const double peak = r.uniform(12, 18) * 3600;  // afternoon peak, quiet small hours
      const std::size_t interfaces = kind == workload_kind::statefulset ? 2 : 1;
      const double eth1_share = interfaces == 2 ? r.uniform(0.1, 0.3) : 0;
      const std::string hash = pick_hex(r, 9 + r.below(2));
      const std::size_t node0 = c * nodes_per_cluster;
      std::size_t replicas = kind == workload_kind::daemonset     ? nodes_per_cluster
                             : kind == workload_kind::statefulset ? 2 + r.below(2)
                                                                  : 1 + r.below(4);
      replicas = std::min(replicas, pods - pods_.size());
      const std::size_t first_node = r.below(nodes_per_cluster);
      for (std::size_t i = 0; i < replicas; ++i) {
        simulated_pod p;
        p.cluster = std::string(cluster_names[c]);
        p.node_index =
            node0 + (kind == workload_kind::daemonset ? i : (first_node + i) % nodes_per_cluster);
        p.node = fmt::format("node-{}", p.node_index - node0 + 1);
        p.kind = kind;
        p.workload = name;
        p.namespace_name = ns;
        p.uid = pick_uid(uids);
        switch (kind) {
          case workload_kind::deployment:
            p.name = fmt::format("{}-{}-{}", name, hash, pick_suffix(r, 5));
            break;
          case workload_kind::daemonset:
            p.name = fmt::format("{}-{}", name, pick_suffix(r, 5));
            break;
          case workload_kind::statefulset:
            p.name = fmt::format("{}-{}", name, i);  // a service of its own (D2.1)
            break;
        }
        const double weight = r.uniform(0.95, 1.05);
        p.base = {base[0] * weight, base[1] * weight};
        p.rhythm_amplitude = amplitude;
        p.rhythm_peak = peak;
        p.interfaces = interfaces;
        p.eth1_share = eth1_share;
        pods_.push_back(std::move(p));
      }
    }
    // Emission order within an interval: by the node's scrape phase, so the output is in time
    // order (the baseline folds buckets as it goes), then by node (a node's pods together).
    pod_order_.resize(pods_.size());
    for (std::size_t i = 0; i < pod_order_.size(); ++i) pod_order_[i] = i;
    std::stable_sort(pod_order_.begin(), pod_order_.end(), [this](std::size_t a, std::size_t b) {
      const std::size_t na = pods_[a].node_index, nb = pods_[b].node_index;
      return std::pair(node_phase_ms_[na], na) < std::pair(node_phase_ms_[nb], nb);
    });
  }

  void place_incidents() {
    if (options_.incidents.empty()) return;
    // A stream of its own: incidents never change the normal traffic of a seed.
    portable_random r(options_.seed ^ 0x696e636964656e74ull);  // "incident"
    const std::int64_t last_hour_intervals = std::min<std::int64_t>(intervals_, 360);
    const std::int64_t last_hour = options_.start + (intervals_ - last_hour_intervals) * 10;
    // Exfiltration prefers deployment pods of the first cluster; blips any other pod.
    std::vector<std::size_t> taken;
    for (incident_kind kind : options_.incidents) {
      std::vector<std::size_t> candidates;
      for (std::size_t i = 0; i < pods_.size(); ++i) {
        if (std::find(taken.begin(), taken.end(), i) != taken.end()) continue;
        const bool same_workload_taken =
            std::any_of(taken.begin(), taken.end(), [&](std::size_t t) {
              return pods_[t].cluster == pods_[i].cluster && pods_[t].workload == pods_[i].workload;
            });
        if (same_workload_taken) continue;
        if (kind == incident_kind::exfiltration &&
            (pods_[i].kind != workload_kind::deployment || pods_[i].cluster != pods_[0].cluster))
          continue;
        candidates.push_back(i);
      }
      if (candidates.empty())
        for (std::size_t i = 0; i < pods_.size(); ++i)
          if (std::find(taken.begin(), taken.end(), i) == taken.end()) candidates.push_back(i);
      if (candidates.empty()) throw std::invalid_argument("simulate: more incidents than pods");
      const std::size_t pod = candidates[r.below(candidates.size())];
      taken.push_back(pod);
      injected_incident in;
      in.kind = kind;
      in.pod = pod;
      in.factor = options_.exfiltration_factor;
      in.buckets = kind == incident_kind::exfiltration ? options_.exfiltration_buckets
                                                       : options_.blip_buckets;
      in.buckets = std::min<std::size_t>(in.buckets, static_cast<std::size_t>(last_hour_intervals));
      const auto room = static_cast<std::uint64_t>(last_hour_intervals) - in.buckets;
      in.first_bucket = last_hour + static_cast<std::int64_t>(r.below(room + 1)) * 10;
      incidents_.push_back(in);
    }
  }

  simulation_options options_;
  std::int64_t intervals_ = 0;
  std::vector<simulated_pod> pods_;
  std::vector<std::size_t> pod_order_;
  std::vector<std::int64_t> node_phase_ms_;
  std::vector<injected_incident> incidents_;
};

}  // namespace k8snetio_cli
