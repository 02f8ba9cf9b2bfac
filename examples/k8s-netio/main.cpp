// k8s-netio: the detection "Kubernetes Anomalous Inbound Outbound Network IO" (and its ratio
// sibling) over the data users have — Splunk metrics_csv, HEC metric events, OTLP JSON — with
// no Splunk needed. This file is the command line: options, validation, exit codes.
//
//   k8s-netio baseline [options] INPUT...               the baseline lookup table (B6)
//   k8s-netio detect --baseline FILE [options] INPUT... findings (jsonl, csv, table, hec, ocsf)
//   k8s-netio simulate [options]                        synthetic metrics with incidents
//   k8s-netio demo                                      the whole job on simulated data
//
// Exit codes: 0 success (findings or not); 1 runtime or input error (unreadable file, bad
// baseline, --strict failure, write failure); 2 usage error (bad option or value).
// Standard output carries results only; messages, progress and the summary go to stderr.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <k8snetio/stages/pcre2_service_normalizer.hpp>
#include <k8snetio/version.hpp>

#include "cli_support.hpp"
#include "commands.hpp"
#include "consume_command.hpp"
#include "serve_command.hpp"

namespace {

using namespace k8snetio_cli;

/// More parsing threads than this only cost memory: the stages run on one.
constexpr std::uint64_t max_threads = 64;

/// A CLI11 check for durations: 3600, 60s, 10m, 1h, 1d.
CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return parse_duration(text)
                   ? std::string()
                   : "'" + text + "' is not a duration (e.g. 10, 60s, 10m, 1h, 1d)";
      },
      "DURATION", "duration");
}

CLI::Validator finite_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(text, x) || !std::isfinite(x))
          return "'" + text + "' is not a finite number";
        return {};
      },
      "NUMBER", "finite");
}

CLI::Validator positive_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(text, x) || !std::isfinite(x) || !(x > 0))
          return "'" + text + "' is not a positive number";
        return {};
      },
      "POSITIVE", "positive");
}

/// A whole number in [min, max], written in digits only: "-1" is refused, not wrapped around.
CLI::Validator whole_number_validator(std::uint64_t min, std::uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const std::string range = max == std::numeric_limits<std::uint64_t>::max()
                                      ? fmt::format("a whole number, {} or more", min)
                                      : fmt::format("a whole number from {} to {}", min, max);
        if (text.empty() || text.size() > 20 ||
            text.find_first_not_of("0123456789") != std::string::npos)
          return fmt::format("'{}' is not {}", text, range);
        std::uint64_t n = 0;
        for (char c : text) {
          if (n > (std::numeric_limits<std::uint64_t>::max() - (c - '0')) / 10)
            return fmt::format("'{}' is not {}", text, range);
          n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (n < min || n > max) return fmt::format("'{}' is not {}", text, range);
        return {};
      },
      "INTEGER", "whole number");
}

/// A finite number in [min, max]: nan and inf are refused with the range in the message.
CLI::Validator finite_range_validator(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(text, x) || !std::isfinite(x) || x < min || x > max)
          return fmt::format("'{}' is not a number from {} to {}", text, min, max);
        return {};
      },
      "NUMBER", "finite range");
}

/// The options baseline and detect share. Durations are read as text and converted later.
struct common_texts {
  std::string span = "10s";
};

void add_common_options(CLI::App& cmd, common_options& o, common_texts& texts) {
  cmd.add_option("INPUT", o.inputs,
                 "Metric inputs: Splunk metrics_csv, HEC metric events or OTLP JSON, recognised "
                 "from the content; '-' is standard input; .gz is read transparently")
      ->required()
      ->type_name("FILE");
  cmd.add_option("--rule", o.rule, "The rule: io (inbound/outbound network IO) or ratio")
      ->check(CLI::IsMember({"io", "ratio"}))
      ->capture_default_str();
  cmd.add_option("--span", texts.span, "Aggregation span (D1): 10, 10s, 1m, …")
      ->check(duration_validator())
      ->capture_default_str();
  cmd.add_option("--earliest", o.earliest,
                 "Skip points before this time (epoch seconds, inclusive)")
      ->check(finite_validator());
  cmd.add_option("--latest", o.latest, "Skip points at or after this time (epoch seconds)")
      ->check(finite_validator());
  cmd.add_flag("--strict", o.strict,
               "Stop at the first malformed row with exit code 1, naming file:line: reason");
  cmd.add_option("--input-format", o.input_format,
                 "Force the input format instead of recognising it: csv, hec, otlp")
      ->check(CLI::IsMember({"csv", "hec", "otlp"}));
  cmd.add_option("--otlp-counter", o.otlp_counter,
                 "What an OTLP cumulative counter becomes: delta, rate (per second) or raw")
      ->check(CLI::IsMember({"delta", "rate", "raw"}))
      ->capture_default_str();
  cmd.add_option("--default-cluster", o.default_cluster,
                 "k8s.cluster.name for points that have none (OTLP from kubeletstats)");
  cmd.add_option("--time-unit", o.time_unit,
                 "Unit of epoch times in CSV and HEC input: s, ms, us or ns (I1.4); a time "
                 "that looks like another unit than this is refused, never misread")
      ->check(CLI::IsMember({"s", "ms", "us", "ns"}))
      ->capture_default_str();
  cmd.add_option("--default-node", o.default_node,
                 "k8s.node.name for points that have none after every other source (I3.1)");
  cmd.add_option("--metric", o.metric, "The metric to read")->capture_default_str();
  cmd.add_option("--service-pattern", o.service_pattern,
                 "PCRE2 pattern (Splunk's regex syntax) whose matches are removed from pod names "
                 "to make the service (D2.2); a name on which it exceeds Splunk's match or depth "
                 "limit is skipped and counted (D2.4); default: the rule's "
                 "-\\w{5}$|-[abcdef0-9]{8,10}-\\w{5}$");
  cmd.add_flag("--unordered", o.unordered,
               "Hold every bucket from the start instead of streaming first (any order is "
               "exact without it: an input in neither time nor series order is read twice)");
  cmd.add_option("--max-memory", o.max_memory,
                 "MiB that held buckets may take (S1.1); an input that needs more stops with an "
                 "error, never a partial answer")
      ->check(whole_number_validator(1, std::uint64_t{1} << 30))
      ->capture_default_str();
  cmd.add_option("--max-series", o.max_series,
                 "Series (cluster, pod, node, direction) held at once (S5.1); points of more are "
                 "refused, counted and warned about (a series idle for an hour is released)")
      ->check(whole_number_validator(1, std::uint64_t{1} << 32))
      ->capture_default_str();
  cmd.add_option("-o,--output", o.output, "Write to FILE instead of standard output")
      ->type_name("FILE");
  cmd.add_option("--threads", o.threads,
                 "Threads parsing a metrics_csv file (0: one per core, up to 4; at most 64); the "
                 "stages run in input order on one, so the output does not depend on it")
      ->check(whole_number_validator(0, max_threads))
      ->capture_default_str();
}

/// Durations and cross-option checks that CLI11 cannot express; throws usage_error.
void finish_common(common_options& o, const common_texts& texts) {
  o.span = *parse_duration(texts.span);
  if (o.earliest && o.latest && !(*o.earliest < *o.latest))
    throw usage_error("--earliest must be before --latest");
  if (o.service_pattern) {  // D2.4: a bad pattern is a usage error, before any input is read
    if (auto made = k8snetio::pcre2_service_normalizer::create(*o.service_pattern); !made) {
      std::string_view why = made.error();
      if (why.starts_with("k8snetio: ")) why.remove_prefix(10);
      throw usage_error(fmt::format("--service-pattern: {}", why));
    }
  }
}

/// Which of baseline's modes the options ask for (a table of INPUT, --state [--add], --merge),
/// and the options that only make sense in one of them. Throws usage_error.
void check_baseline_modes(baseline_command_options& o, bool horizon_given) {
  const bool state = !o.state.empty(), merge = !o.merge.empty();
  if (state && merge)
    throw usage_error(
        "--state and --merge are two modes: --merge combines states into a table, "
        "--state keeps one");
  if (!o.add.empty() && !state) throw usage_error("--add needs --state DIR to add to");
  if (o.replace && o.add.empty()) throw usage_error("--replace applies to --add");
  if (horizon_given && !state && !merge)
    throw usage_error("--horizon applies to --state and --merge");
  if ((state || merge) && !o.inputs.empty())
    throw usage_error(state ? "with --state, give the metric inputs with --add FILE"
                            : "--merge takes states, not metric inputs: give them after --merge");
  if (!state && !merge && o.inputs.empty())
    throw usage_error("INPUT is required (or --state DIR, or --merge STATE...)");
  if (state && 86400 % o.span != 0)
    throw usage_error(fmt::format(
        "--state keeps one state per UTC day: --span ({} s) must divide a day", o.span));
  if (!o.add.empty()) o.inputs = o.add;  // read as inputs, and checked against -o below
}

/// O6.2 for baseline and detect: -o (and detect's --unbaselined) must not be an input, the
/// baseline or the allowlist.
void check_output_is_no_input(const common_options& o, const std::string* baseline = nullptr,
                              const std::string* allowlist = nullptr,
                              const std::string* unbaselined = nullptr) {
  std::vector<std::pair<std::string_view, std::string>> inputs;
  for (const auto& input : o.inputs) inputs.emplace_back("the input", input);
  if (baseline) inputs.emplace_back("the --baseline", *baseline);
  if (allowlist && !allowlist->empty()) inputs.emplace_back("the --allowlist", *allowlist);
  if (auto collision = output_collision(o.output, "-o", inputs)) throw usage_error(*collision);
  if (unbaselined && !unbaselined->empty() && *unbaselined != "-")
    if (auto collision = output_collision(*unbaselined, "--unbaselined", inputs))
      throw usage_error(*collision);
}

}  // namespace

int main(int argc, char** argv) {
  make_standard_error_safe();                          // O6.4
  k8snetio::io::remove_temporary_outputs_on_signal();  // O6.1: SIGINT, SIGTERM, SIGHUP
  CLI::App app{
      "k8s-netio: the Splunk ES detection \"Kubernetes Anomalous Inbound Outbound Network IO\" "
      "over Splunk metrics_csv, HEC metric events or OTLP JSON, no Splunk needed.",
      "k8s-netio"};
  app.set_version_flag("--version", k8snetio::version_string);
  app.require_subcommand(1);
  app.footer(std::string(exit_codes_help));
  app.fallthrough(false);

  // baseline
  baseline_command_options base;
  common_texts base_texts;
  CLI::App* baseline_cmd = app.add_subcommand(
      "baseline", "Build the baseline lookup table (spec B6) from metrics; CSV to stdout or -o");
  add_common_options(*baseline_cmd, base, base_texts);
  baseline_cmd
      ->add_option("--numerics", base.numerics,
                   "splunk (bit parity with Splunk's stdev) or stable (Welford)")
      ->check(CLI::IsMember({"splunk", "stable"}))
      ->capture_default_str();
  // S6 and S4.1: a rolling baseline kept per day in a directory, and merging partial states.
  baseline_cmd->get_option("INPUT")->required(false);
  baseline_cmd
      ->add_option("--state", base.state,
                   "Rolling baseline (S6): the directory of per-day states (one file per UTC "
                   "day, YYYY-MM-DD.k8snetio-day); created by the first --add. Without --add, "
                   "writes the table of the days it holds")
      ->type_name("DIR");
  baseline_cmd
      ->add_option("--add", base.add,
                   "With --state: read these metric inputs, store each UTC day they cover in "
                   "DIR, drop the days past --horizon, write the table of the days kept. A day "
                   "DIR already holds is refused unless --replace")
      ->type_name("FILE");
  baseline_cmd->add_flag("--replace", base.replace,
                         "With --add: replace the days DIR already holds with the input's");
  CLI::Option* horizon_option =
      baseline_cmd
          ->add_option("--horizon", base.horizon,
                       "With --state or --merge: the days kept, counted back from the newest "
                       "day held, that day included (30: the ESCU search's -30d@d)")
          ->check(whole_number_validator(1, 36600))
          ->type_name("DAYS")
          ->capture_default_str();
  baseline_cmd
      ->add_option("--merge", base.merge,
                   "Combine partial states (K6, S4.1) into one table: each STATE a --state "
                   "directory or one day file; the same day in several is added up (shards of "
                   "disjoint series; for --rule ratio each shard must hold whole services)")
      ->type_name("STATE");
  baseline_cmd->footer(
      "Rolling baseline (S6):\n"
      "  k8s-netio baseline --state DIR --add day.csv -o baseline.csv\n"
      "  k8s-netio baseline --state DIR -o baseline.csv          (the table of DIR's days)\n"
      "  k8s-netio baseline --merge DIR1 DIR2 -o baseline.csv     (K6: partial states)\n"
      "--rule, --span, --metric, --service-pattern and --numerics must be those the state was "
      "built with; a state of other settings is refused, naming both.\n\n" +
      std::string(exit_codes_help));

  // detect
  detect_command_options det;
  common_texts det_texts;
  std::string window_text;
  CLI::App* detect_cmd = app.add_subcommand(
      "detect", "Run the detection against a baseline table; findings to stdout or -o");
  detect_cmd->add_option("-b,--baseline", det.baseline, "The baseline lookup table (CSV, I4)")
      ->required()
      ->type_name("FILE");
  add_common_options(*detect_cmd, det, det_texts);
  detect_cmd->add_option("--sigma", det.sigma, "k in value > avg + k * stdev (D6.2)")
      ->check(positive_validator())
      ->capture_default_str();
  detect_cmd
      ->add_option("--min-count", det.min_count,
                   "A pod is a finding with more than this many anomalous buckets (D7.2)")
      ->check(whole_number_validator(0, std::numeric_limits<std::uint64_t>::max()))
      ->capture_default_str();
  detect_cmd
      ->add_option("--window", window_text,
                   "Split the input into epoch-aligned windows of this length (D9): 1h, 3600, …")
      ->check(duration_validator());
  detect_cmd
      ->add_option("--format", det.format,
                   "Output: jsonl (default, for machines), csv, table (for people), hec, risk "
                   "(Splunk ES risk events), ocsf, html (a report with a chart per finding)")
      ->check(CLI::IsMember({"jsonl", "csv", "table", "hec", "risk", "ocsf", "html"}))
      ->capture_default_str();
  detect_cmd
      ->add_option("--measure-order", det.measure_order,
                   "Order of the anomaly texts (D6.1): lexicographic or table")
      ->check(CLI::IsMember({"lexicographic", "table"}))
      ->capture_default_str();
  detect_cmd
      ->add_option("--zero-stdev", det.zero_stdev,
                   "A zero stdev with a value above average (D6.4): drop the row (as Splunk) or "
                   "inf")
      ->check(CLI::IsMember({"drop", "inf"}))
      ->capture_default_str();
  detect_cmd->add_flag("--csv-raw", det.csv_raw,
                       "--format csv: write cells as they are, without the guard against "
                       "spreadsheet formulas (O6.5)");
  detect_cmd->add_option(
      "--hec-index", det.hec_index,
      "--format hec/risk: the index field of each HEC envelope (O3; risk events go to risk "
      "without it, O3.1)");
  detect_cmd
      ->add_option("--allowlist", det.allowlist,
                   "Suppress findings that match a line of FILE: field=glob ... (D8.1)")
      ->type_name("FILE");
  detect_cmd
      ->add_option("--unbaselined", det.unbaselined,
                   "Write the keys seen with no baseline row (cold start, D5.4) to FILE")
      ->type_name("FILE");
  detect_cmd->footer(std::string(exit_codes_help));

  // simulate
  simulate_command_options sim;
  CLI::App* simulate_cmd = app.add_subcommand(
      "simulate",
      "Write deterministic synthetic metrics (deployments, daemonsets, statefulsets; both "
      "directions; a daily rhythm) with injected incidents in the last hour");
  simulate_cmd->add_option("--pods", sim.pods, "Number of pods")
      ->check(whole_number_validator(1, 100000))
      ->capture_default_str();
  simulate_cmd->add_option("--hours", sim.hours, "Hours of traffic (10 s intervals)")
      ->check(finite_range_validator(0.01, 24.0 * 366))
      ->capture_default_str();
  simulate_cmd->add_option("--seed", sim.seed, "Random seed: the same seed, the same output")
      ->check(whole_number_validator(0, std::numeric_limits<std::uint64_t>::max()))
      ->capture_default_str();
  simulate_cmd->add_option("--start", sim.start, "Start time, epoch seconds")
      ->check(whole_number_validator(0, 4102444800))
      ->capture_default_str();
  simulate_cmd
      ->add_option("--incident", sim.incidents,
                   "Inject an incident into the last hour: exfil (a persistent transmit burst "
                   "that must alert), blip (3 intervals, must not alert) or none; repeatable")
      ->check(CLI::IsMember({"exfil", "blip", "none"}))
      ->type_name("KIND");
  simulate_cmd->add_option("--format", sim.format, "Output format: csv, hec or otlp")
      ->check(CLI::IsMember({"csv", "hec", "otlp"}))
      ->capture_default_str();
  simulate_cmd
      ->add_option("--otlp-shape", sim.otlp_shape,
                   "With --format otlp, the shape of a real collector's output: "
                   "raw-kubeletstats, processed (k8sattributes) or chart")
      ->check(CLI::IsMember({"raw-kubeletstats", "processed", "chart"}))
      ->capture_default_str();
  simulate_cmd->add_option("-o,--output", sim.output, "Write to FILE instead of standard output")
      ->type_name("FILE");
  simulate_cmd->footer(std::string(exit_codes_help));

  // serve (serve_command.cpp)
  auto serve = add_serve_command(app);

  // consume (consume_command.cpp)
  auto consume = add_consume_command(app);

  // demo
  CLI::App* demo_cmd = app.add_subcommand(
      "demo",
      "Simulate a day of traffic, build the baseline, inject an exfiltration into the next "
      "hour, detect it, and print the findings");
  demo_cmd->footer(std::string(exit_codes_help));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the error and a hint
    return code == 0 ? exit_ok : exit_usage;
  }

  try {
    if (*baseline_cmd) {
      finish_common(base, base_texts);
      check_baseline_modes(base, horizon_option->count() > 0);
      check_output_is_no_input(base);
      std::vector<std::pair<std::string_view, std::string>> states;
      for (const auto& m : base.merge) states.emplace_back("a --merge state", m);
      if (auto collision = output_collision(base.output, "-o", states))
        throw usage_error(*collision);
      return run_baseline(base);
    }
    if (*detect_cmd) {
      finish_common(det, det_texts);
      if (!window_text.empty()) {
        det.window = *parse_duration(window_text);
        if (*det.window % det.span != 0)
          throw usage_error(fmt::format("--window ({} s) must be a multiple of --span ({} s)",
                                        *det.window, det.span));
      }
      check_output_is_no_input(det, &det.baseline, &det.allowlist, &det.unbaselined);
      if (!det.unbaselined.empty() && det.unbaselined == det.output && det.output != "-")
        throw usage_error("--unbaselined and -o name the same file");
      return run_detect(det);
    }
    if (*serve.command) return serve.run();
    if (*consume.command) return consume.run();
    if (*simulate_cmd) return run_simulate(sim);
    if (*demo_cmd) return run_demo();
  } catch (const usage_error& e) {
    print_diagnostic("k8s-netio: error: {}\nRun with --help for more information.\n",
                     quoted_for_diagnostic(e.what()));
    return exit_usage;
  } catch (const std::exception& e) {
    print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(e.what()));
    return exit_failure;
  }
  return exit_usage;
}
