// `k8s-netio baseline` and `k8s-netio detect`: metric inputs streamed through the library's
// push APIs (baseline_runner::add, detector::add), results to stdout or -o, one summary line on
// stderr.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/k8snetio.hpp>
#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/engine/detector.hpp>

#include "cli_support.hpp"
#include "commands.hpp"
#include "metric_inputs.hpp"

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;

const k8snetio::rule_definition<2>& rule_named(std::string_view name) {
  return name == "ratio" ? k8snetio::network_io_ratio : k8snetio::anomalous_network_io;
}

input_options make_input_options(const common_options& o) {
  input_options in;
  in.reader.metric_name = o.metric;
  in.reader.strict = o.strict;
  in.reader.default_cluster = o.default_cluster;
  in.reader.otlp_counter = o.otlp_counter == "rate"  ? io::otlp_counter_mode::rate
                           : o.otlp_counter == "raw" ? io::otlp_counter_mode::raw
                                                     : io::otlp_counter_mode::delta;
  if (!o.input_format.empty()) in.forced_format = io::parse_input_format(o.input_format);
  in.earliest = o.earliest;
  in.latest = o.latest;
  in.threads = o.threads;
  return in;
}

int fail(const std::string& message) {
  fmt::print(stderr, "k8s-netio: error: {}\n", message);
  return exit_failure;
}

int fail(const io::input_error& error) { return fail(error.what()); }

/// An aggregator's drop under --strict: the readers name file:line themselves; a point the
/// aggregator refuses (late, or non-finite in a way the reader let through) is named here.
std::optional<io::input_error> strict_drop(const k8snetio::aggregation_stats& before,
                                           const k8snetio::aggregation_stats& after,
                                           const std::string& file) {
  std::string reason;
  if (after.late != before.late)
    reason =
        "late point: its bucket was already folded (the input is not in time order; "
        "use --lateness SECONDS or --unordered)";
  else if (after.missing_dimension != before.missing_dimension)
    reason = "missing dimension";
  else if (after.non_finite != before.non_finite)
    reason = "non-finite value";
  if (reason.empty()) return std::nullopt;
  return io::input_error{io::error_code::bad_row, file, 0, 0, {}, std::move(reason)};
}

/// Reads the inputs into a push API (baseline_runner or detector): every point goes to
/// `engine.add`; under --strict the first point the engine refuses ends the read.
template <class Engine>
io::result<void> read_into(Engine& engine, const common_options& o, run_summary& summary) {
  std::optional<io::input_error> abort;
  const auto sink = [&](const k8snetio::metric_point& p) {
    if (!o.strict) {
      engine.add(p);
      return;
    }
    const auto before = engine.stats();
    if (!engine.add(p) && !abort)
      abort = strict_drop(before, engine.stats(), summary.current_input);
  };
  auto read = read_metric_inputs(o.inputs, make_input_options(o), summary, sink, abort);
  summary.aggregation = engine.stats();
  return read;
}

void print_summary(const run_summary& summary) {
  fmt::print(stderr, "k8s-netio: {}\n", summary.line());
}

}  // namespace

int run_baseline(const baseline_command_options& o) {
  const auto& rule = rule_named(o.rule);
  k8snetio::baseline_run_options options;
  options.span.span_seconds = o.span;
  options.span.metric_name = o.metric;
  options.span.allowed_lateness =
      o.unordered ? std::nullopt : std::optional<std::int64_t>(o.lateness);
  options.service_pattern = o.service_pattern;
  options.numerics.numerics = o.numerics == "stable" ? k8snetio::baseline_numerics::stable
                                                     : k8snetio::baseline_numerics::splunk;
  k8snetio::baseline_runner<2> runner(rule, options);

  output_file out;
  std::string error;
  if (!out.open(o.output, error)) return fail(error);

  run_summary summary;
  if (auto read = read_into(runner, o, summary); !read) return fail(read.error());

  auto result = runner.finish();
  summary.aggregation = result.stats;
  std::string text;
  io::write_baseline_csv(text, result.table);
  out.write(text);
  if (!out.close(error)) return fail(error);
  print_summary(summary);
  if (result.stats.late)
    fmt::print(stderr,
               "k8s-netio: warning: {} points came after their bucket was folded: the input is "
               "not in time order; rerun with --lateness SECONDS or --unordered\n",
               with_commas(result.stats.late));
  fmt::print(stderr, "k8s-netio: wrote a baseline of {} key{} ({} rule)\n",
             with_commas(result.table.size()), result.table.size() == 1 ? "" : "s", o.rule);
  return exit_ok;
}

namespace {

/// Whether the baseline's header names any avg_/stdev_ column of the rule: a table built for
/// the other rule would otherwise load as all nulls and silently find nothing.
bool header_names_rule_columns(std::string_view text, const k8snetio::measure_set<2>& measures) {
  io::csv_tokenizer tokenizer;
  std::size_t pos = 0;
  while (tokenizer.parse(text.substr(pos), true) == io::csv_tokenizer::status::record) {
    const io::csv_record header = tokenizer.record();
    pos += tokenizer.consumed();
    if (header.blank) continue;
    for (std::string_view name : header.fields) {
      for (std::string_view prefix : {"avg_", "stdev_"})
        if (name.starts_with(prefix) && measures.index_of(name.substr(prefix.size()))) return true;
    }
    return false;
  }
  return false;
}

}  // namespace

int run_detect(const detect_command_options& o) {
  const auto& rule = rule_named(o.rule);

  // The baseline first: a bad table ends the run before any input is read.
  auto whole = io::read_whole_input(o.baseline);
  if (!whole) return fail(whole.error());
  const auto& [baseline_name, baseline_text] = *whole;
  auto table = io::read_baseline_csv<2>(baseline_text, baseline_name, *rule.measures);
  if (!table) return fail(table.error());
  if (table->size() > 0 && !header_names_rule_columns(baseline_text, *rule.measures))
    return fail(fmt::format(
        "{}: the baseline table has none of the {} rule's columns (avg_{}, stdev_{}, …); was it "
        "built with another --rule?",
        baseline_name, o.rule, rule.measures->names[0], rule.measures->names[0]));

  k8snetio::detection_options options;
  options.span.span_seconds = o.span;
  options.span.metric_name = o.metric;
  options.service_pattern = o.service_pattern;
  options.scoring.sigma = o.sigma;
  options.scoring.order = o.measure_order == "table" ? k8snetio::measure_order::table
                                                     : k8snetio::measure_order::lexicographic;
  options.scoring.zero_stdev = o.zero_stdev == "inf" ? k8snetio::zero_stdev_policy::print_inf
                                                     : k8snetio::zero_stdev_policy::drop_row;
  options.min_count = o.min_count;
  options.window_seconds = o.window;
  k8snetio::detector<2, k8snetio::baseline_table<2>> detector(rule, *table, options);

  const auto format = io::parse_output_format(o.format);
  if (!format) return fail(format.error());

  output_file out;
  std::string error;
  if (!out.open(o.output, error)) return fail(error);

  run_summary summary;
  if (auto read = read_into(detector, o, summary); !read) return fail(read.error());

  auto result = detector.finish();
  summary.aggregation = result.stats;
  std::string text;
  io::write_findings(text, result.findings, *format);
  out.write(text);
  if (!out.close(error)) return fail(error);
  print_summary(summary);
  fmt::print(stderr, "k8s-netio: {} finding{} ({} rule, baseline of {} key{})\n",
             with_commas(result.findings.size()), result.findings.size() == 1 ? "" : "s", o.rule,
             with_commas(table->size()), table->size() == 1 ? "" : "s");
  return exit_ok;
}

}  // namespace k8snetio_cli
