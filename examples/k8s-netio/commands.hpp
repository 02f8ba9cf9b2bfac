// The subcommands of k8s-netio, each a function from its parsed options to an exit code
// (see cli_support.hpp). main.cpp parses the command line into these structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <k8snetio/model/metric_point.hpp>

namespace k8snetio_cli {

/// Options that baseline and detect share.
struct common_options {
  std::vector<std::string> inputs;  ///< "-" is standard input
  std::string rule = "io";          ///< io | ratio
  std::int64_t span = 10;           ///< D1.3, seconds
  std::optional<double> earliest;   ///< epoch seconds, inclusive
  std::optional<double> latest;     ///< epoch seconds, exclusive
  bool strict = false;
  std::string input_format;  ///< empty: recognised from the content
  std::string otlp_counter = "delta";
  std::string default_cluster;
  std::string default_node;     ///< I3.1: k8s.node.name when no other source has it
  std::string time_unit = "s";  ///< I1.4: the unit of epoch times (s, ms, us, ns)
  std::string metric = std::string(k8snetio::default_metric_name);
  std::optional<std::string> service_pattern;  ///< D2.2
  std::string output;                          ///< empty or "-": standard output
  bool unordered = false;           ///< hold every bucket from the start (no streaming attempt)
  std::uint64_t max_memory = 4096;  ///< MiB for held buckets (S1.1); over it: a clear error
  std::uint64_t max_series = std::uint64_t{1} << 22;  ///< S5.1: series held at once
  unsigned threads = 0;  ///< parsing threads for metrics_csv files; 0: all cores
};

struct baseline_command_options : common_options {
  std::string numerics = "splunk";
  std::string state;               ///< S6: the directory of per-day states (empty: none)
  std::vector<std::string> add;    ///< S6: inputs whose days are added to --state
  bool replace = false;            ///< S6: a day already in --state is replaced, not refused
  std::int64_t horizon = 30;       ///< S6: days kept, back from the newest day held
  std::vector<std::string> merge;  ///< S4.1, K6: state directories or day files to combine
};

struct detect_command_options : common_options {
  std::string baseline;
  double sigma = 4;
  std::uint64_t min_count = 5;
  std::optional<std::int64_t> window;
  std::string format = "jsonl";
  std::string measure_order = "lexicographic";
  std::string zero_stdev = "drop";
  bool csv_raw = false;     ///< O6.5: no formula guard in --format csv
  std::string hec_index;    ///< O3: the HEC envelope's index (empty: none)
  std::string allowlist;    ///< D8.1: suppress findings matching a line of FILE
  std::string unbaselined;  ///< D5.4: write keys without a baseline row to FILE
};

struct simulate_command_options {
  std::size_t pods = 60;
  double hours = 1;
  std::uint64_t seed = 1;
  std::int64_t start = 1699920000;
  std::vector<std::string> incidents;  ///< exfil | blip | none, repeatable
  std::string format = "csv";
  std::string otlp_shape = "processed";  ///< raw-kubeletstats | processed | chart
  std::string output;
};

int run_baseline(const baseline_command_options& options);
int run_detect(const detect_command_options& options);
int run_simulate(const simulate_command_options& options);
int run_demo();

}  // namespace k8snetio_cli
