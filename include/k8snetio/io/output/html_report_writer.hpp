// A report for people (spec O5): one self-contained HTML page — inline CSS and SVG, no script,
// nothing fetched — with the run's summary, the findings ordered by their largest z-score, and
// a chart per finding drawn from its data, never from texts: the pod's values per bucket across
// the window (finding::series, when the detector kept them) with its anomalous buckets
// (finding::measures) marked.
// Declarations; the bodies are in html_report_writer-inl.hpp (writers_mode.hpp, library.md A4).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <k8snetio/io/output/writers_mode.hpp>
#include <k8snetio/model/finding.hpp>

namespace k8snetio::io {

/// What the report says about the run besides the findings (the CLI fills it in).
struct html_report_context {
  std::string input_summary;  ///< points read, used and skipped, as the summary line says it
  std::optional<std::int64_t> window_start, window_end;  ///< the search window, if known
  std::uint64_t unbaselined = 0;                         ///< D5.4: keys seen with no baseline row
  std::vector<std::string> unbaselined_first;            ///< the first few of them
  std::uint64_t suppressed = 0;    ///< D8.1: findings the allowlist suppressed
  double sigma = 4;                ///< k of avg + k·stdev (D6.2)
  std::int64_t span_seconds = 10;  ///< D1.3, for the axis' unit
};

/// The findings in the report's order: largest z-score first (a finding without a finite one
/// last), ties in their given order.
std::vector<const finding*> findings_by_largest_z(std::span<const finding> findings);

/// O5: the whole page.
void write_html_report(std::string& out, std::span<const finding> findings,
                       const html_report_context& ctx = {});

}  // namespace k8snetio::io

#if !defined(K8SNETIO_COMPILED_IO)
#include <k8snetio/io/output/html_report_writer-inl.hpp>
#endif
