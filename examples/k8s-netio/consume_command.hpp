// `k8s-netio consume`: the subcommand's declaration, for main.cpp, and its flags and their
// checks, which are not Kafka's (service.md K1–K7).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <tl/expected.hpp>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/service/live_options.hpp>

#include "cli_support.hpp"

namespace k8snetio_cli {

/// The consume subcommand added to `app`; `run()` runs it once parsed (its options live with it).
struct consume_command {
  CLI::App* command = nullptr;
  std::function<int()> run;
};

consume_command add_consume_command(CLI::App& app);

/// K1: what `consume` is given.
struct consume_options {
  std::string brokers;
  std::string topic;
  std::string group = "k8s-netio";
  std::string baseline;
  std::string input_format = "otlp";
  std::string state_topic;
  std::string output_topic;
  std::string output;
  std::string format = "jsonl";
  std::vector<std::string> properties;  // -X name=value
  std::string rule = "io";
  std::string checkpoint = "5s";
  k8snetio::service::live_options live;  ///< L0: the same options, defaults and checks as serve
  live_flag_texts texts;
  std::string hec_index;
  std::string metrics_listen;  ///< K1: HOST:PORT of the L4 /metrics and /healthz
  std::string baseline_state;  ///< K6: per-partition per-day baseline states, one folder each
};

/// K1: the flags of `consume`, into `o`.
inline void add_consume_flags(CLI::App& cmd, consume_options& o) {
  cmd.add_option("--brokers", o.brokers, "Bootstrap brokers, HOST:PORT[,…]")->required();
  cmd.add_option("--topic", o.topic, "Topic of OTLP JSON (or HEC) messages")->required();
  cmd.add_option("--group", o.group, "Consumer group id");
  cmd.add_option("--baseline", o.baseline, "Baseline table (from `k8s-netio baseline`)")
      ->required();
  cmd.add_option("--input-format", o.input_format,
                 "otlp (protobuf or JSON, told apart by content), otlp-proto, otlp-json or hec")
      ->check(CLI::IsMember({"otlp", "otlp-proto", "otlp-json", "hec"}))
      ->capture_default_str();
  cmd.add_option("--state-topic", o.state_topic,
                 "Compacted topic of partition states (default <group>.k8snetio-state)");
  cmd.add_option("--output-topic", o.output_topic, "Topic for findings, keyed by finding id");
  cmd.add_option("-o,--output", o.output,
                 "Findings file: line formats appended and fsynced as windows close, before the "
                 "offsets are committed; other formats written atomically at exit");
  cmd.add_option("--format", o.format, "jsonl, csv, table, hec, risk, ocsf or html");
  cmd.add_option("-X", o.properties, "A librdkafka property, name=value (repeatable)");
  cmd.add_option("--rule", o.rule, "io or ratio")->check(CLI::IsMember({"io", "ratio"}));
  cmd.add_option("--checkpoint-interval", o.checkpoint,
                 "Save states and commit offsets this often, e.g. 5s");
  add_live_flags(cmd, o.live, o.texts, false);
  cmd.add_option("--metrics-listen", o.metrics_listen,
                 "Serve the L4 /metrics (Prometheus text) and /healthz on HOST:PORT (port 0: any "
                 "free port, named on standard error)");
  cmd.add_option("--baseline-state", o.baseline_state,
                 "K6: keep each partition's per-day baseline state and write its complete UTC "
                 "days to DIR/TOPIC-PARTITION/ (combine them with `baseline --merge DIR/*`)");
  cmd.add_option("--hec-index", o.hec_index, "index of --format hec and risk events");
}

/// The output format, or why the flags in `o` do not go together.
inline tl::expected<k8snetio::io::output_format, std::string> check_consume_options(
    const consume_options& o) {
  namespace io = k8snetio::io;
  if (!parse_duration(o.checkpoint))
    return tl::unexpected<std::string>("--checkpoint-interval must be a duration such as 5s");
  const auto format = io::parse_output_format(o.format);
  if (!format) return tl::unexpected(std::string(format.error().what()));
  if (!o.output_topic.empty() && !o.output.empty())
    return tl::unexpected<std::string>("give --output-topic or -o, not both");
  if (!o.output_topic.empty() && *format != io::output_format::jsonl &&
      *format != io::output_format::hec && *format != io::output_format::ocsf &&
      *format != io::output_format::risk)
    return tl::unexpected<std::string>(
        "--output-topic takes one message per finding: use --format jsonl, hec, ocsf or risk");
  if (!o.baseline_state.empty() && 86400 % o.live.span_seconds != 0)
    return tl::unexpected<std::string>(
        fmt::format("--baseline-state keeps one state per UTC day: --span ({} s) must divide a day",
                    o.live.span_seconds));

  return *format;
}

}  // namespace k8snetio_cli
