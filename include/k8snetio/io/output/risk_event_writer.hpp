// Splunk Enterprise Security risk events (spec O3.1): what ES's risk action writes to the risk
// index for this rule, as HEC event envelopes, so findings join the Risk data model and the
// risk-based correlation searches that group on risk_object, source and the MITRE annotations.
// Declarations; the bodies are in risk_event_writer-inl.hpp (writers_mode.hpp, library.md A4).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <k8snetio/io/output/json_escape.hpp>
#include <k8snetio/io/output/writers_mode.hpp>
#include <k8snetio/model/finding.hpp>

namespace k8snetio::io {

/// The index ES's risk action writes to; --hec-index replaces it.
inline constexpr std::string_view default_risk_index = "risk";

/// "ESCU - <rule name> - Rule": the saved search name ES gives an ESCU correlation search, and
/// so the search_name and source of every risk event it writes.
std::string escu_search_name(const rule_metadata& rule);

/// Appends one risk event (no line end):
/// {"time":window_end,"host":host,"source":"ESCU - <name> - Rule","sourcetype":"stash",
///  "index":<index or "risk">,"event":{search_name, risk_object (host), risk_object_type
///  ("system"), risk_score, risk_message, rule_id, annotations.mitre_attack,
///  annotations.mitre_attack.mitre_technique_id, …mitre_technique, …mitre_tactic_id,
///  …mitre_tactic, analyticstories, then the finding's own fields: k8s.cluster.name,
///  k8s.pod.name, k8s.service, count, anomalies, window_start, window_end}}.
/// Multivalue fields (the annotations, analyticstories, anomalies) are arrays. The annotations
/// and the story are the rule's (rule_metadata, library.md A8): an empty one is an empty array.
void append_finding_risk_event(std::string& out, const finding& f, std::string_view index = {});

/// O3.1: one risk event per line, ready to POST to /services/collector/event with a token
/// allowed to write to the risk index.
void write_findings_risk(std::string& out, std::span<const finding> findings,
                         std::string_view index = {});

}  // namespace k8snetio::io

#if !defined(K8SNETIO_COMPILED_IO)
#include <k8snetio/io/output/risk_event_writer-inl.hpp>
#endif
