// The definitions of findings_writer.hpp's writers (library.md A4): included by that header
// unless K8SNETIO_COMPILED_IO, and compiled once by src/compiled_io.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/output/html_report_writer-inl.hpp>  // detail::chart_measures, clock_utc
#include <k8snetio/io/output/html_report_writer.hpp>
#include <k8snetio/io/output/json_escape.hpp>
#include <k8snetio/io/output/risk_event_writer-inl.hpp>  // detail::append_live_fields
#include <k8snetio/io/output/risk_event_writer.hpp>
#include <k8snetio/io/output/utc_time.hpp>
#include <k8snetio/model/finding.hpp>
#include <k8snetio/model/spl_values.hpp>
#include <k8snetio/version.hpp>

namespace k8snetio::io {

// ---------------------------------------------------------------------------------------------
// Formats

K8SNETIO_IO_INLINE result<output_format> parse_output_format(std::string_view name) {
  if (name == "jsonl" || name == "json" || name == "ndjson") return output_format::jsonl;
  if (name == "csv") return output_format::csv;
  if (name == "table") return output_format::table;
  if (name == "hec") return output_format::hec;
  if (name == "ocsf") return output_format::ocsf;
  if (name == "risk") return output_format::risk;
  if (name == "html") return output_format::html;
  return make_error(error_code::bad_option, "", 0,
                    fmt::format("unknown output format '{}' (expected jsonl, csv, table, hec, "
                                "risk, ocsf or html)",
                                name),
                    "format");
}

// ---------------------------------------------------------------------------------------------
// The measures of the anomaly texts, from the finding's data (O4, library.md A8)

namespace detail {

inline spl_number finite_or_null(spl_number v) noexcept {
  return v && std::isfinite(*v) ? v : std::nullopt;
}

inline anomaly_measurement measurement_of(const anomalous_measure& m) {
  anomaly_measurement a;
  a.measure = m.measure;
  a.observed_text = spl::format_number(m.value);                         // F1, as D6.3 prints {V}
  a.z_score_text = m.z ? spl::format_round2(*m.z) : std::string("inf");  // F2; D6.4
  a.avg_text = m.avg_text;
  a.stdev_text = m.stdev_text;
  a.observed = finite_or_null(m.value);
  a.avg = finite_or_null(m.avg);
  a.stdev = finite_or_null(m.stdev);
  a.z_score = m.z ? finite_or_null(spl::round2(*m.z)) : std::nullopt;  // the printed value
  return a;
}

}  // namespace detail

K8SNETIO_IO_INLINE std::vector<anomaly_measurement> anomaly_measurements(const finding& f) {
  struct bucket {
    std::string key;  // the text without the rule's infix, which orders as the text does
    std::vector<anomaly_measurement> parts;
  };
  std::vector<bucket> buckets;
  for (std::size_t i = 0; i < f.measures.size();) {
    bucket b;
    std::size_t j = i;
    for (; j < f.measures.size() && f.measures[j].time == f.measures[i].time; ++j) {
      anomaly_measurement a = detail::measurement_of(f.measures[j]);
      if (j != i) b.key += ", ";
      b.key += fmt::format("{}\x01{} Standard Deviations. {}={} avg_{}={} 'stdev_{}'={}", a.measure,
                           a.z_score_text, a.measure, a.observed_text, a.measure, a.avg_text,
                           a.measure, a.stdev_text);
      b.parts.push_back(std::move(a));
    }
    buckets.push_back(std::move(b));
    i = j;
  }
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const bucket& a, const bucket& b) { return a.key < b.key; });
  std::vector<anomaly_measurement> out;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (i && buckets[i].key == buckets[i - 1].key) continue;  // the same text (D7.1: distinct)
    out.insert(out.end(), std::make_move_iterator(buckets[i].parts.begin()),
               std::make_move_iterator(buckets[i].parts.end()));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the formats

namespace detail {

inline const rule_metadata& rule_of(const finding& f) noexcept {
  return f.rule ? *f.rule : anomalous_network_io_rule;
}

/// 64-bit FNV-1a.
struct fnv1a64 {
  std::uint64_t hash = 14695981039346656037ULL;
  void add(std::string_view bytes) noexcept {
    for (const char ch : bytes) {
      hash ^= static_cast<unsigned char>(ch);
      hash *= 1099511628211ULL;
    }
  }
};

template <class T>
void append_number_or_null(std::string& out, const std::optional<T>& v) {
  if (v)
    fmt::format_to(std::back_inserter(out), "{}", *v);
  else
    out += "null";
}

/// `"key":` with the key escaped.
inline void append_json_key(std::string& out, std::string_view key) {
  append_json_string(out, key);
  out += ':';
}

}  // namespace detail

K8SNETIO_IO_INLINE std::string finding_uid(const finding& f) { return finding_id(f); }

// ---------------------------------------------------------------------------------------------
// O1 — JSON Lines

K8SNETIO_IO_INLINE void append_finding_json(std::string& out, const finding& f) {
  const rule_metadata& rule = detail::rule_of(f);
  const auto string_field = [&out](std::string_view key, std::string_view value) {
    detail::append_json_key(out, key);
    append_json_string(out, value);
    out += ',';
  };
  out += '{';
  string_field("k8s.cluster.name", f.cluster);
  string_field("host", f.host);
  string_field("k8s.pod.name", f.pod);
  string_field("k8s.service", f.service);
  detail::append_finding_members(out, f);
  out += ',';
  string_field("search_name", rule.name);
  string_field("rule_id", rule.id);
  out += "\"mitre_attack_id\":[";
  if (!rule.mitre_attack_id.empty()) append_json_string(out, rule.mitre_attack_id);
  out += "],";
  string_field("risk_object", f.host);
  string_field("risk_object_type", rule.risk_object_type);
  fmt::format_to(std::back_inserter(out), "\"risk_score\":{},", rule.risk_score);
  detail::append_json_key(out, "risk_message");
  append_json_string(out, f.risk_message());
  detail::append_live_fields(out, f);
  out += '}';
}

K8SNETIO_IO_INLINE void write_findings_jsonl(std::string& out, std::span<const finding> findings) {
  for (const auto& f : findings) {
    append_finding_json(out, f);
    out += '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// O2 — CSV

K8SNETIO_IO_INLINE void append_findings_csv_header(std::string& out) {
  out +=
      "k8s.cluster.name,host,k8s.pod.name,k8s.service,count,anomalies,window_start,window_end,"
      "search_name,rule_id,mitre_attack_id,risk_object,risk_object_type,risk_score,"
      "risk_message\n";
}

K8SNETIO_IO_INLINE void append_finding_csv(std::string& out, const finding& f, bool formula_guard) {
  const rule_metadata& rule = detail::rule_of(f);
  std::string anomalies;
  for (std::size_t i = 0; i < f.anomalies.size(); ++i) {
    if (i) anomalies += '\n';
    anomalies += f.anomalies[i];
  }
  const auto cell = [&out, formula_guard](std::string_view text) {
    detail::append_text_cell(out, text, formula_guard);
    out += ',';
  };
  cell(f.cluster);
  cell(f.host);
  cell(f.pod);
  cell(f.service);
  fmt::format_to(std::back_inserter(out), "{},", f.count);
  cell(anomalies);
  fmt::format_to(std::back_inserter(out), "{},{},", f.window_start, f.window_end);
  cell(rule.name);
  cell(rule.id);
  cell(rule.mitre_attack_id);
  cell(f.host);
  cell(rule.risk_object_type);
  fmt::format_to(std::back_inserter(out), "{},", rule.risk_score);
  detail::append_text_cell(out, f.risk_message(), formula_guard);
  out += '\n';
}

K8SNETIO_IO_INLINE void write_findings_csv(std::string& out, std::span<const finding> findings,
                                           bool formula_guard) {
  append_findings_csv_header(out);
  for (const auto& f : findings) append_finding_csv(out, f, formula_guard);
}

// ---------------------------------------------------------------------------------------------
// O2 — the terminal table

namespace detail {

/// Text safe for a terminal (O6.3): io::terminal_text, which shows control characters and the
/// bidirectional controls as escapes, so a hostile pod name can neither send escape sequences
/// nor reorder what the table shows.
inline std::string terminal_safe(std::string_view text) { return terminal_text(text); }

/// Columns a (terminal_safe) UTF-8 text takes: one per code point.
inline std::size_t display_width(std::string_view text) noexcept {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  }));
}

/// The byte offset where `text`'s first `columns` code points end.
inline std::size_t offset_of_column(std::string_view text, std::size_t columns) noexcept {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && seen++ == columns) break;
  }
  return i;
}

/// Appends `text` wrapped at spaces to `width` columns: the first line after `first`, the
/// others after `rest` (both of the same width). A word longer than a line is cut.
inline void append_wrapped(std::string& out, std::string_view text, std::string_view first,
                           std::string_view rest, std::size_t width) {
  const std::size_t indent = display_width(first);
  const std::size_t room = width > indent + 20 ? width - indent : 20;
  out += first;
  std::size_t used = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end + 1;
    while (true) {
      const std::size_t w = display_width(word);
      const std::size_t needed = used ? w + 1 : w;
      if (used + needed <= room) {
        if (used) out += ' ';
        out += word;
        used += needed;
        break;
      }
      if (used) {  // start a new line and try again
        out += '\n';
        out += rest;
        used = 0;
        continue;
      }
      const std::size_t cut = offset_of_column(word, room);  // longer than a line
      out += word.substr(0, cut);
      out += '\n';
      out += rest;
      word.remove_prefix(cut);
    }
  }
  out += '\n';
}

/// `text` cut to `columns` code points, the last one "…", when it is longer.
inline std::string elided(std::string text, std::size_t columns) {
  if (columns == 0 || display_width(text) <= columns) return text;
  text.resize(offset_of_column(text, columns - 1));
  text += "\xE2\x80\xA6";  // …
  return text;
}

inline void append_padded(std::string& out, std::string_view text, std::size_t width) {
  out += text;
  const std::size_t w = display_width(text);
  if (w < width) out.append(width - w, ' ');
}

}  // namespace detail

K8SNETIO_IO_INLINE void write_findings_table(std::string& out, std::span<const finding> findings,
                                             const table_options& options) {
  if (findings.empty()) {
    out += "No findings.\n";
    return;
  }
  struct cells {
    std::string cluster, host, pod, service;
  };
  std::vector<cells> rows;
  rows.reserve(findings.size());
  std::array<std::size_t, 3> widths{};
  for (const auto& f : findings) {
    const auto name = [&options](std::string_view text) {
      return detail::elided(detail::terminal_safe(text), options.max_name_width);
    };
    rows.push_back({name(f.cluster), name(f.host), name(f.pod), "(" + name(f.service) + ")"});
    widths[0] = std::max(widths[0], detail::display_width(rows.back().cluster));
    widths[1] = std::max(widths[1], detail::display_width(rows.back().host));
    widths[2] = std::max(widths[2], detail::display_width(rows.back().pod));
  }
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const finding& f = findings[i];
    if (i) out += '\n';
    detail::append_padded(out, rows[i].cluster, widths[0] + 2);
    detail::append_padded(out, rows[i].host, widths[1] + 2);
    detail::append_padded(out, rows[i].pod, widths[2] + 2);
    out += rows[i].service;
    out += '\n';
    fmt::format_to(std::back_inserter(out), "  {} anomalous bucket{}, window {} \xE2\x80\x93 {}\n",
                   f.count, f.count == 1 ? "" : "s", detail::format_utc(f.window_start),
                   detail::format_utc(f.window_end));
    if (f.measures.empty()) {  // no structured data (findings built by hand): the texts
      for (const auto& text : f.anomalies)
        detail::append_wrapped(out, detail::terminal_safe(text), "  - ", "    ", options.width);
      continue;
    }
    // Per measure, at a glance: its largest z (with that bucket's value and the baseline) and
    // the UTC times of its anomalous buckets; the texts stay in the other formats.
    for (const auto& m : detail::chart_measures(f)) {
      const anomalous_measure* top = nullptr;
      for (const auto* p : m.points)
        if (p->z && (!top || !top->z || *p->z > *top->z)) top = p;
      if (!top) top = m.points.front();
      std::string line = fmt::format(
          "{}: largest z {} at {} (value {}, avg {}, stdev {}); {} anomalous bucket{} at",
          detail::terminal_safe(m.name),
          top->z ? fmt::format("{:.2f}", *top->z) : std::string("null"),
          detail::clock_utc(top->time), top->value,
          top->avg_text.empty() ? std::string("null") : detail::terminal_safe(top->avg_text),
          top->stdev_text.empty() ? std::string("null") : detail::terminal_safe(top->stdev_text),
          m.points.size(), m.points.size() == 1 ? "" : "s");
      for (const auto* p : m.points) {
        line += ' ';
        line += detail::clock_utc(p->time);
      }
      detail::append_wrapped(out, line, "  - ", "    ", options.width);
    }
  }
  fmt::format_to(std::back_inserter(out), "\n{} finding{}.\n", findings.size(),
                 findings.size() == 1 ? "" : "s");
}

// ---------------------------------------------------------------------------------------------
// O3 — Splunk HEC events

K8SNETIO_IO_INLINE void append_finding_hec(std::string& out, const finding& f,
                                           std::string_view index) {
  fmt::format_to(std::back_inserter(out), "{{\"time\":{},\"event\":", f.window_end);
  append_finding_json(out, f);
  out += ",\"sourcetype\":\"k8snetio:finding\",\"source\":";
  append_json_string(out, detail::rule_of(f).name);
  out += ",\"host\":";
  append_json_string(out, f.host);
  if (!index.empty()) {
    out += ",\"index\":";
    append_json_string(out, index);
  }
  out += '}';
}

K8SNETIO_IO_INLINE void write_findings_hec(std::string& out, std::span<const finding> findings,
                                           std::string_view index) {
  for (const auto& f : findings) {
    append_finding_hec(out, f, index);
    out += '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// O4 — OCSF Detection Finding

K8SNETIO_IO_INLINE void append_finding_ocsf(std::string& out, const finding& f) {
  const rule_metadata& rule = detail::rule_of(f);
  const auto it = std::back_inserter(out);
  const auto string_member = [&out](std::string_view key, std::string_view value) {
    detail::append_json_key(out, key);
    append_json_string(out, value);
  };
  fmt::format_to(it,
                 "{{\"class_uid\":2004,\"class_name\":\"Detection Finding\",\"category_uid\":2,"
                 "\"category_name\":\"Findings\",\"activity_id\":1,\"activity_name\":\"Create\","
                 "\"type_uid\":200401,\"type_name\":\"Detection Finding: Create\","
                 "\"severity_id\":2,\"severity\":\"Low\",\"time\":{},\"count\":{},",
                 f.window_end * 1000, f.count);
  fmt::format_to(it, "\"metadata\":{{\"version\":\"{}\",\"product\":{{", ocsf_schema_version);
  string_member("name", "k8snetio");
  out += ',';
  string_member("vendor_name", "k8snetio");
  out += ',';
  string_member("version", version_string);
  out += "}},\"finding_info\":{";
  string_member("uid", finding_uid(f));
  out += ',';
  string_member("title", rule.name);
  out += ",\"analytic\":{";
  string_member("name", rule.name);
  out += ',';
  string_member("uid", rule.id);
  out += ",\"type_id\":3,\"type\":\"Statistical\"},\"attacks\":[";
  if (!rule.mitre_attack_id.empty()) {  // A8: the ATT&CK names are the rule's
    out += "{\"technique\":{";
    string_member("uid", rule.mitre_attack_id);
    if (!rule.mitre_technique.empty()) {
      out += ',';
      string_member("name", rule.mitre_technique);
    }
    if (!rule.mitre_tactic_id.empty()) {
      out += "},\"tactic\":{";
      string_member("uid", rule.mitre_tactic_id);
      if (!rule.mitre_tactic.empty()) {
        out += ',';
        string_member("name", rule.mitre_tactic);
      }
    }
    out += "}}";
  }
  fmt::format_to(it, "],\"first_seen_time\":{},\"last_seen_time\":{}}},", f.window_start * 1000,
                 f.window_end * 1000);
  out += "\"resources\":[{";
  string_member("name", f.pod);
  out += ",\"type\":\"k8s.pod\",";
  string_member("hostname", f.host);
  if (!f.namespace_name.empty()) {  // I3.3
    out += ',';
    string_member("namespace", f.namespace_name);
  }
  if (!f.pod_uid.empty()) {
    out += ',';
    string_member("uid", f.pod_uid);
  }
  out += ",\"labels\":[";
  append_json_string(out, "k8s.cluster.name=" + f.cluster);
  out += ',';
  append_json_string(out, "k8s.service=" + f.service);
  out += "]}],";
  fmt::format_to(it, "\"risk_score\":{},", rule.risk_score);
  string_member("message", f.risk_message());

  // Every measure of every text (from the finding's data, A8), and the measures in order of
  // first appearance.
  const std::vector<anomaly_measurement> measured = anomaly_measurements(f);
  std::vector<std::string_view> measures;
  for (const auto& a : measured)
    if (std::find(measures.begin(), measures.end(), a.measure) == measures.end())
      measures.push_back(a.measure);

  // Distinct texts of one measure's field, in order of first appearance.
  const auto distinct = [&measured](std::string_view m, std::string anomaly_measurement::*field) {
    std::vector<std::string_view> values;
    for (const auto& a : measured)
      if (a.measure == m && std::find(values.begin(), values.end(), a.*field) == values.end())
        values.push_back(a.*field);
    return values;
  };
  const auto observations = [&out](const std::vector<std::string_view>& values) {
    out += "\"observations\":[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) out += ',';
      out += "{\"value\":";
      append_json_string(out, values[i]);
      out += '}';
    }
    out += ']';
  };
  out += ",\"anomaly_analyses\":[";
  for (std::size_t i = 0; i < measures.size(); ++i) {
    const std::string_view m = measures[i];
    if (i) out += ',';
    out += "{\"analysis_targets\":[{";
    string_member("name", f.pod);
    out += ",\"type\":\"k8s.pod\"}],\"anomalies\":[{";
    string_member("observation_parameter", m);
    out += ",\"observation_type\":\"Deviation Analysis\",";
    observations(distinct(m, &anomaly_measurement::observed_text));
    out += "}],\"baselines\":[{";
    string_member("observation_parameter", fmt::format("avg_{}", m));
    out += ',';
    observations(distinct(m, &anomaly_measurement::avg_text));
    out += "},{";
    string_member("observation_parameter", fmt::format("stdev_{}", m));
    out += ',';
    observations(distinct(m, &anomaly_measurement::stdev_text));
    out += "}]}";
  }
  out += "],\"unmapped\":{";
  string_member("k8s.cluster.name", f.cluster);
  out += ',';
  string_member("k8s.service", f.service);
  out += ",\"anomalies\":[";
  for (std::size_t i = 0; i < f.anomalies.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, f.anomalies[i]);
  }
  out += "],\"anomaly_scores\":[";
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const auto& a = measured[i];
    if (i) out += ',';
    out += '{';
    string_member("measure", a.measure);
    out += ",\"observed\":";
    detail::append_number_or_null(out, a.observed);
    out += ",\"baseline\":{\"avg\":";
    detail::append_number_or_null(out, a.avg);
    out += ",\"stdev\":";
    detail::append_number_or_null(out, a.stdev);
    out += "},\"z_score\":";
    detail::append_number_or_null(out, a.z_score);
    out += '}';
  }
  out += ']';
  if (f.status != finding_status::none) {
    out += ",\"status\":";
    append_json_string(out, to_string(f.status));
  }
  out += "}}";
}

K8SNETIO_IO_INLINE void write_findings_ocsf(std::string& out, std::span<const finding> findings) {
  for (const auto& f : findings) {
    append_finding_ocsf(out, f);
    out += '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// Any format

K8SNETIO_IO_INLINE void write_findings(std::string& out, std::span<const finding> findings,
                                       output_format format,
                                       const findings_write_options& options) {
  switch (format) {
    case output_format::jsonl: write_findings_jsonl(out, findings); return;
    case output_format::csv: write_findings_csv(out, findings, options.csv_formula_guard); return;
    case output_format::table: write_findings_table(out, findings, options.table); return;
    case output_format::hec: write_findings_hec(out, findings, options.hec_index); return;
    case output_format::ocsf: write_findings_ocsf(out, findings); return;
    case output_format::risk: write_findings_risk(out, findings, options.hec_index); return;
    case output_format::html: write_html_report(out, findings, options.report); return;
  }
}

K8SNETIO_IO_INLINE void write_findings(std::string& out, std::span<const finding> findings,
                                       output_format format) {
  write_findings(out, findings, format, findings_write_options{});
}

K8SNETIO_IO_INLINE std::string write_findings(std::span<const finding> findings,
                                              output_format format) {
  std::string out;
  write_findings(out, findings, format);
  return out;
}

K8SNETIO_IO_INLINE void write_findings(std::ostream& out, std::span<const finding> findings,
                                       output_format format) {
  const std::string text = write_findings(findings, format);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace k8snetio::io
