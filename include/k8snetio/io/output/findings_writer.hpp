// Writers of findings (spec §7, O1–O5): JSON Lines for machines, CSV and an aligned terminal
// table for people, Splunk HEC events and ES risk events (risk_event_writer.hpp), OCSF Detection
// Findings (class 2004), and an HTML report (html_report_writer.hpp). Keys come out in a fixed
// order, so the same findings always give the same bytes. This header is the entry point. It
// declares the writers; their bodies (findings_writer-inl.hpp) come with it header-only, or
// compiled once from k8snetio::compiled_io (library.md A4, writers_mode.hpp).
#pragma once

#include <cstddef>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/output/html_report_writer.hpp>
#include <k8snetio/io/output/json_escape.hpp>
#include <k8snetio/io/output/risk_event_writer.hpp>
#include <k8snetio/io/output/writers_mode.hpp>
#include <k8snetio/model/finding.hpp>
#include <k8snetio/model/spl_values.hpp>

namespace k8snetio::io {

enum class output_format {
  jsonl,  ///< O1: one JSON object per line
  csv,    ///< O2: RFC 4180 CSV, multivalue fields joined by "\n" in one quoted cell
  table,  ///< O2: aligned blocks for a terminal, at most 100 columns where it can
  hec,    ///< O3: Splunk HEC event envelopes, one per line
  ocsf,   ///< O4: OCSF 1.5.0 Detection Findings, one per line
  risk,   ///< O3.1: Splunk ES risk events as HEC envelopes, one per line
  html,   ///< O5: one self-contained HTML report
};

constexpr std::string_view to_string(output_format f) noexcept {
  switch (f) {
    case output_format::jsonl: return "jsonl";
    case output_format::csv: return "csv";
    case output_format::table: return "table";
    case output_format::hec: return "hec";
    case output_format::ocsf: return "ocsf";
    case output_format::risk: return "risk";
    case output_format::html: return "html";
  }
  return "unknown";
}

/// "jsonl" (or "json", "ndjson"), "csv", "table", "hec", "ocsf", "risk", "html"; anything
/// else is bad_option.
result<output_format> parse_output_format(std::string_view name);

/// O2's terminal table.
struct table_options {
  std::size_t width = 100;          ///< wrap anomaly texts to this many columns
  std::size_t max_name_width = 64;  ///< longer cluster/host/pod/service names are cut with "…"
};

/// What the writers may be told besides the format.
struct findings_write_options {
  bool csv_formula_guard = true;  ///< O6.5: neutralise cells a spreadsheet would run
  std::string hec_index;  ///< O3, O3.1: the envelope's index (empty: none for hec, risk for risk)
  table_options table;
  html_report_context report;  ///< O5: the run's summary for the HTML report
};

/// One measure of one of a finding's anomaly texts, rendered from its anomalous_measure (never
/// read back from the text): the texts as the D6.3/R3 template prints them
/// (`{m}<infix>{Z} Standard Deviations. {m}={V} avg_{m}={A} 'stdev_{m}'={S}`) and the numbers,
/// null where the text's number is not a finite one (a z-score printed `inf` under D6.4).
struct anomaly_measurement {
  std::string measure;
  spl_number observed, avg, stdev, z_score;
  std::string observed_text, avg_text, stdev_text, z_score_text;  ///< as the text has them (F3)
  friend bool operator==(const anomaly_measurement&, const anomaly_measurement&) = default;
};

/// Every measure of every anomaly text of `f`, the texts in the order f.anomalies holds them
/// (distinct, byte order), each text's measures in its order: f.measures grouped by bucket, a
/// bucket whose text another bucket already gave left out. The texts' order is found from the
/// same parts the texts are made of (the rule's infix between a measure's name and its z-score
/// does not change it unless one measure's name starts another's).
std::vector<anomaly_measurement> anomaly_measurements(const finding& f);

/// O4's finding_info.uid (k8snetio::finding_id). The same finding of a rerun gets the same uid.
std::string finding_uid(const finding& f);

/// Appends one finding as a JSON object (no line end). Keys, in this order:
/// k8s.cluster.name, host, k8s.pod.name, k8s.service, count, anomalies, window_start,
/// window_end, search_name, rule_id, mitre_attack_id, risk_object, risk_object_type,
/// risk_score, risk_message; after k8s.service, k8s.namespace.name and k8s.pod.uid when the
/// input had them (I3.3: context, absent otherwise).
void append_finding_json(std::string& out, const finding& f);

/// O1: one object per finding, each on its own line ("\n").
void write_findings_jsonl(std::string& out, std::span<const finding> findings);

/// O2's header: the O1 keys, in O1's order.
void append_findings_csv_header(std::string& out);

/// O2: one finding as a CSV row (with its "\n"). Multivalue fields (anomalies,
/// mitre_attack_id) are joined by "\n" inside one quoted cell, as Splunk exports them. With
/// `formula_guard` (O6.5, the default), text cells that start with =, +, -, @, tab or CR are
/// written as '…, quoted; numbers are never changed.
void append_finding_csv(std::string& out, const finding& f, bool formula_guard = true);

/// O2: the header, then one row per finding (the header alone when there are none); O6.5's
/// guard unless `formula_guard` is false (--csv-raw).
void write_findings_csv(std::string& out, std::span<const finding> findings,
                        bool formula_guard = true);

/// O2 for people: per finding a block — a header line with cluster, host, pod and (service)
/// aligned across the findings; an indented line with the count and the window in UTC; then
/// per anomalous measure "  - m: largest z Z at HH:MM:SS (value V, avg A, stdev S); n
/// anomalous buckets at HH:MM:SS …" (UTC)
/// (a finding without structured measures lists its anomaly texts instead), wrapped at
/// `options.width` columns — blocks separated by a
/// blank line, and a last line counting them. "No findings." when there are none. Control
/// characters in the data are shown escaped, never sent to the terminal; names longer than
/// `options.max_name_width` are cut with "…", so one long name cannot widen every row.
void write_findings_table(std::string& out, std::span<const finding> findings,
                          const table_options& options = {});

/// Appends one HEC event: {"time":window_end,"event":{O1},"sourcetype":"k8snetio:finding",
/// "source":<rule name>,"host":<the finding's host>} and "index" when `index` is not empty
/// (no line end).
void append_finding_hec(std::string& out, const finding& f, std::string_view index = {});

/// O3: one event per line, ready to POST to /services/collector/event.
void write_findings_hec(std::string& out, std::span<const finding> findings,
                        std::string_view index = {});

/// The OCSF schema version O4 follows.
inline constexpr std::string_view ocsf_schema_version = "1.5.0";

/// Appends one finding as an OCSF Detection Finding (class 2004, no line end). Keys in order:
/// class_uid 2004, class_name, category_uid 2, category_name, activity_id 1 (Create),
/// activity_name, type_uid 200401, type_name, severity_id 2 (Low), severity, time (window end,
/// ms), count, metadata {version, product {name, vendor_name, version}}, finding_info {uid
/// (finding_uid), title (rule name), analytic {name, uid (rule id), type_id 3, type
/// "Statistical"}, attacks, first_seen_time, last_seen_time (the window, ms)}, resources
/// [{name pod, type "k8s.pod", hostname host, labels ["k8s.cluster.name=…",
/// "k8s.service=…"]}], risk_score, message (risk_message), anomaly_analyses, unmapped.
///
/// anomaly_analyses follows the schema's anomaly_analysis object: one per measure that the
/// texts name (in order of first appearance), with analysis_targets [{name pod, type
/// "k8s.pod"}], anomalies [{observation_parameter m, observation_type "Deviation Analysis",
/// observations [{value V}…]}] and baselines [{observation_parameter "avg_m", observations
/// [{value A}]}, {observation_parameter "stdev_m", …}] — values as the texts print them (the
/// schema's observation value is a string). The numbers, per text and measure, are in
/// unmapped.anomaly_scores as {measure, observed, baseline {avg, stdev}, z_score} (the z-score
/// as the text rounds it; null where the text's number is not finite), beside the fields OCSF
/// has no place for: k8s.cluster.name, k8s.service, anomalies (the texts). All of it is
/// rendered from the finding's data (finding::measures, anomaly_measurements), none read back
/// from the texts (library.md A8): a finding without measures has no anomaly analyses.
void append_finding_ocsf(std::string& out, const finding& f);

/// O4: one Detection Finding per line.
void write_findings_ocsf(std::string& out, std::span<const finding> findings);

void write_findings(std::string& out, std::span<const finding> findings, output_format format,
                    const findings_write_options& options);

/// The default options: O6.5's guard on, no HEC index.
void write_findings(std::string& out, std::span<const finding> findings, output_format format);

std::string write_findings(std::span<const finding> findings, output_format format);

void write_findings(std::ostream& out, std::span<const finding> findings, output_format format);

namespace detail {

// Also used by unbaselined_csv.hpp, so here in both modes (no fmt).
/// O6.5: whether a spreadsheet would take the cell for a formula (OWASP's list).
constexpr bool starts_like_formula(std::string_view cell) noexcept {
  if (cell.empty()) return false;
  switch (cell.front()) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r': return true;
    default: return false;
  }
}

/// A text cell of the findings CSV: with the guard, a cell that starts like a formula gets a
/// leading `'` and is quoted, as OWASP recommends, so a spreadsheet shows it as text.
inline void append_text_cell(std::string& out, std::string_view cell, bool formula_guard) {
  if (!formula_guard || !starts_like_formula(cell)) {
    append_csv_field(out, cell);
    return;
  }
  out += "\"'";
  for (char ch : cell) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

}  // namespace detail

}  // namespace k8snetio::io

#if !defined(K8SNETIO_COMPILED_IO)
#include <k8snetio/io/output/findings_writer-inl.hpp>
#endif
