// The definitions of risk_event_writer.hpp's writers (library.md A4): included by that header
// unless K8SNETIO_COMPILED_IO, and compiled once by src/compiled_io.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <k8snetio/io/output/json_escape.hpp>
#include <k8snetio/io/output/risk_event_writer.hpp>
#include <k8snetio/model/finding.hpp>

namespace k8snetio::io {

namespace detail {
/// L12, K3: a finding written live (it has a status) carries `"status"` and its stable id
/// `"finding_id"` (O4's uid), so that a consumer can tell a provisional finding from the final
/// one and drop the rare duplicate a crash may leave. Batch findings (no status) get neither.
inline void append_live_fields(std::string& out, const finding& f) {
  if (f.status == finding_status::none) return;
  out += ",\"status\":";
  append_json_string(out, to_string(f.status));
  out += ",\"finding_id\":";
  append_json_string(out, finding_id(f));
}

/// The finding's own members after its names, as the JSON line and the risk event both write
/// them: the I3.3 context (when known), count, anomalies and window, without a trailing comma.
inline void append_finding_members(std::string& out, const finding& f) {
  const auto string_field = [&out](std::string_view key, std::string_view value) {
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
    out += ',';
  };
  if (!f.namespace_name.empty()) string_field("k8s.namespace.name", f.namespace_name);
  if (!f.pod_uid.empty()) string_field("k8s.pod.uid", f.pod_uid);
  fmt::format_to(std::back_inserter(out), "\"count\":{},\"anomalies\":[", f.count);
  for (std::size_t i = 0; i < f.anomalies.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, f.anomalies[i]);
  }
  fmt::format_to(std::back_inserter(out), "],\"window_start\":{},\"window_end\":{}", f.window_start,
                 f.window_end);
}
}  // namespace detail

namespace detail {

/// `"key":["value"]`, or `"key":[]` when the value is empty (a multivalue field in ES).
inline void append_multivalue(std::string& out, std::string_view key, std::string_view value) {
  append_json_string(out, key);
  out += ":[";
  if (!value.empty()) append_json_string(out, value);
  out += ']';
}

}  // namespace detail

K8SNETIO_IO_INLINE std::string escu_search_name(const rule_metadata& rule) {
  return fmt::format("ESCU - {} - Rule", rule.name);
}

K8SNETIO_IO_INLINE void append_finding_risk_event(std::string& out, const finding& f,
                                                  std::string_view index) {
  const rule_metadata& rule = f.rule ? *f.rule : anomalous_network_io_rule;
  const std::string search_name = escu_search_name(rule);
  const auto string_field = [&out](std::string_view key, std::string_view value) {
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
    out += ',';
  };
  const auto multivalue = [&out](std::string_view key, std::string_view value) {
    detail::append_multivalue(out, key, value);
    out += ',';
  };
  fmt::format_to(std::back_inserter(out), "{{\"time\":{},", f.window_end);
  string_field("host", f.host);
  string_field("source", search_name);
  string_field("sourcetype", "stash");
  string_field("index", index.empty() ? default_risk_index : index);
  out += "\"event\":{";
  string_field("search_name", search_name);
  string_field("risk_object", f.host);
  string_field("risk_object_type", rule.risk_object_type);
  fmt::format_to(std::back_inserter(out), "\"risk_score\":{},", rule.risk_score);
  string_field("risk_message", f.risk_message());
  string_field("rule_id", rule.id);
  multivalue("annotations.mitre_attack", rule.mitre_attack_id);
  multivalue("annotations.mitre_attack.mitre_technique_id", rule.mitre_attack_id);
  multivalue("annotations.mitre_attack.mitre_technique", rule.mitre_technique);
  multivalue("annotations.mitre_attack.mitre_tactic_id", rule.mitre_tactic_id);
  multivalue("annotations.mitre_attack.mitre_tactic", rule.mitre_tactic);
  multivalue("analyticstories", rule.analytic_story);
  string_field("k8s.cluster.name", f.cluster);
  string_field("k8s.pod.name", f.pod);
  string_field("k8s.service", f.service);
  detail::append_finding_members(out, f);
  detail::append_live_fields(out, f);  // L12: status and finding_id, live only
  out += "}}";
}

K8SNETIO_IO_INLINE void write_findings_risk(std::string& out, std::span<const finding> findings,
                                            std::string_view index) {
  for (const auto& f : findings) {
    append_finding_risk_event(out, f, index);
    out += '\n';
  }
}

}  // namespace k8snetio::io
