// A finding of a rule (spec §7, D8): the pod, how many anomalous buckets it had in the window,
// the distinct anomaly texts, the window, and the rule's metadata with its risk attribution.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../detail/to_text.hpp"

namespace k8snetio {

/// What a rule is, as Splunk ES knows it (spec §7, R4), and what its detection YAML in
/// splunk/security_content adds (library.md A8): every output format renders its rule from these
/// fields alone, so a user's own rule gets complete OCSF and ES risk output. An empty field is
/// left out (OCSF) or an empty multivalue (ES risk).
struct rule_metadata {
  std::string_view name;                 ///< search_name
  std::string_view id;                   ///< rule_id (the ES analytic's uuid)
  std::string_view mitre_attack_id;      ///< "T1204"
  std::string_view risk_object_type;     ///< "system"
  int risk_score = 0;                    ///< 20
  std::string_view risk_message_prefix;  ///< risk_message = prefix + host
  std::string_view mitre_technique{};    ///< the ATT&CK name of mitre_attack_id: "User Execution"
  std::string_view mitre_tactic_id{};    ///< its tactic: "TA0002"
  std::string_view mitre_tactic{};       ///< the tactic's name: "Execution"
  std::string_view analytic_story{};     ///< ES's analytic story

  std::string risk_message(std::string_view host) const {
    return detail::concat(risk_message_prefix, host);
  }
  friend bool operator==(const rule_metadata&, const rule_metadata&) = default;
};

/// A copy of `metadata` whose texts live as long as the returned pointer (and its copies).
inline std::shared_ptr<const rule_metadata> own_rule_metadata(const rule_metadata& metadata) {
  struct owned {
    std::array<std::string, 9> text;
    rule_metadata view;
  };
  auto o = std::make_shared<owned>();
  o->text = {std::string(metadata.name),
             std::string(metadata.id),
             std::string(metadata.mitre_attack_id),
             std::string(metadata.risk_object_type),
             std::string(metadata.risk_message_prefix),
             std::string(metadata.mitre_technique),
             std::string(metadata.mitre_tactic_id),
             std::string(metadata.mitre_tactic),
             std::string(metadata.analytic_story)};
  o->view = {o->text[0], o->text[1], o->text[2], o->text[3], metadata.risk_score,
             o->text[4], o->text[5], o->text[6], o->text[7], o->text[8]};
  return std::shared_ptr<const rule_metadata>(o, &o->view);
}

/// "Kubernetes Anomalous Inbound Outbound Network IO" (spec §1, §7).
inline constexpr rule_metadata anomalous_network_io_rule{
    "Kubernetes Anomalous Inbound Outbound Network IO",
    "4f3b0c97-657e-4547-a89a-9a50c656e3cd",
    "T1204",
    "system",
    20,
    "Kubernetes Anomalous Inbound Outbound Network IO from container on host ",
    "User Execution",
    "TA0002",
    "Execution",
    "Abnormal Kubernetes Behavior using Splunk Infrastructure Monitoring"};

/// "Kubernetes Anomalous Inbound to Outbound Network IO Ratio" (spec §9, R4).
inline constexpr rule_metadata network_io_ratio_rule{
    "Kubernetes Anomalous Inbound to Outbound Network IO Ratio",
    "9d8f6e3f-39df-46d8-a9d4-96173edc501f",
    "T1204",
    "system",
    20,
    "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host ",
    "User Execution",
    "TA0002",
    "Execution",
    "Abnormal Kubernetes Behavior using Splunk Infrastructure Monitoring"};

/// One anomalous measure of one bucket: D6.3's numbers as data (the anomaly text is rendered
/// from the same values). The baseline cells keep their own text (F3).
struct anomalous_measure {
  std::int64_t time = 0;  ///< bucket start, epoch seconds
  std::string measure;    ///< e.g. "outbound_network_io"
  double value = 0;       ///< the pivoted (or derived) value
  std::optional<double> avg, stdev;
  std::string avg_text, stdev_text;
  std::optional<double> z;  ///< (value − avg) / stdev; null when stdev is 0 (D6.4)
  friend bool operator==(const anomalous_measure&, const anomalous_measure&) = default;
};

/// One measure of a finding_series: the pod's value in each bucket, and its service's baseline.
struct measure_series {
  std::string measure;                        ///< e.g. "outbound_network_io"
  std::optional<double> avg, stdev;           ///< the service's baseline (D5); null when empty
  std::vector<std::optional<double>> values;  ///< one per finding_series::times; null: no value
  friend bool operator==(const measure_series&, const measure_series&) = default;
};

/// O5: the pod's pivoted value (D3, after R1) of every measure of the rule in every bucket of the
/// window in which it had a row, normal buckets included: what its chart draws. Kept only when
/// detection_options::keep_finding_series is on.
struct finding_series {
  std::vector<std::int64_t> times;       ///< bucket starts, ascending
  std::vector<measure_series> measures;  ///< in the rule's measure order
  friend bool operator==(const finding_series&, const finding_series&) = default;
};

/// S3, L12: with early alerts a pod's finding is first provisional (the moment its count passes
/// the threshold), then final (when its window closes). A live service marks every finding it
/// writes: final, provisional, or partial (L6: the window was still open at a shutdown with no
/// state to keep it). Batch findings have no status (none), and their output no status field.
enum class finding_status { none, provisional, final, partial };

/// The L12 spelling of a status ("" for none).
constexpr std::string_view to_string(finding_status s) noexcept {
  switch (s) {
    case finding_status::none: return "";
    case finding_status::provisional: return "provisional";
    case finding_status::final: return "final";
    case finding_status::partial: return "partial";
  }
  return "";
}

/// One finding: a (cluster, node, pod, service) group whose anomalous-bucket count passed the
/// persistence threshold (D7.2), with fields named as the SPL renames them (D8).
struct finding {
  std::string cluster;                 ///< k8s.cluster.name
  std::string host;                    ///< k8s.node.name, renamed host (D8)
  std::string pod;                     ///< k8s.pod.name
  std::string service;                 ///< k8s.service (D8)
  std::uint64_t count = 0;             ///< anomalous buckets in the window (D7.1)
  std::vector<std::string> anomalies;  ///< distinct texts, byte order (D7.1)
  std::int64_t window_start = 0;       ///< epoch seconds, inclusive
  std::int64_t window_end = 0;         ///< epoch seconds, exclusive
  /// The rule that found it, shared with its rule_definition (the finding may outlive the rule).
  /// A finding made by hand names the main rule until told otherwise (not owned: a constant).
  std::shared_ptr<const rule_metadata> rule{std::shared_ptr<const rule_metadata>(),
                                            &anomalous_network_io_rule};
  /// Every anomalous measure of the counted buckets, by time then visiting order (D6.1): what
  /// charts and risk scores are drawn from. Not part of ==, which compares what SPL returns.
  std::vector<anomalous_measure> measures{};
  finding_status status = finding_status::none;  ///< S3; not part of ==
  /// I3.3: k8s.namespace.name and k8s.pod.uid when the input had them (context, never part of
  /// the grouping or of ==); empty otherwise.
  std::string namespace_name{}, pod_uid{};
  /// O5: the pod's values per bucket across the window, when the detector kept them
  /// (detection_options::keep_finding_series); not part of ==.
  std::optional<finding_series> series{};

  /// The largest z-score of the finding's anomalous measures (null when none is finite).
  std::optional<double> largest_z() const {
    std::optional<double> best;
    for (const auto& m : measures)
      if (m.z && (!best || *m.z > *best)) best = m.z;
    return best;
  }

  /// §7: the rule's risk message for the finding's host (empty when the finding has no rule).
  std::string risk_message() const { return rule ? rule->risk_message(host) : std::string(); }
  friend bool operator==(const finding& a, const finding& b) {
    return a.cluster == b.cluster && a.host == b.host && a.pod == b.pod && a.service == b.service &&
           a.count == b.count && a.anomalies == b.anomalies && a.window_start == b.window_start &&
           a.window_end == b.window_end &&
           (a.rule == b.rule || (a.rule && b.rule && *a.rule == *b.rule));
  }
};

/// O4's finding_info.uid, K3: FNV-1a 64 of rule id, cluster, node, pod and window start (joined
/// by U+001F), as 16 lowercase hex digits. The same finding of a rerun, a replay or a restart
/// gets the same id, whatever its status.
inline std::string finding_id(const finding& f) {
  std::uint64_t h = 14695981039346656037ULL;
  const auto add = [&h](std::string_view bytes) {
    for (const char ch : bytes) {
      h ^= static_cast<unsigned char>(ch);
      h *= 1099511628211ULL;
    }
  };
  const auto field = [&add](std::string_view s) {
    add(s);
    add("\x1f");
  };
  field(f.rule ? f.rule->id : anomalous_network_io_rule.id);
  field(f.cluster);
  field(f.host);
  field(f.pod);
  add(detail::concat(f.window_start));
  std::string id;
  detail::append_hex(id, h, 16);
  return id;
}

}  // namespace k8snetio
