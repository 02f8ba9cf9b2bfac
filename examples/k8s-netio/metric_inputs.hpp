// Reads the metric inputs of a run (files, or "-" for standard input; gzip or not) chunk by
// chunk, recognises each one's format (or takes --input-format), feeds the matching reader,
// and hands every point inside [earliest, latest) to a sink: memory stays flat whatever the
// inputs' size. Skips are counted in a run_summary; a progress line shows on a terminal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/io/input/parallel_csv.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/model/metric_point.hpp>

#include "cli_support.hpp"

namespace k8snetio_cli {

struct input_options {
  k8snetio::io::reader_options reader;
  std::optional<k8snetio::io::input_format> forced_format;  ///< --input-format
  std::optional<double> earliest;                           ///< inclusive
  std::optional<double> latest;                             ///< exclusive
  unsigned threads = 0;  ///< parsing threads for a metrics_csv file (0: one per core)
  /// Set: standard input is also written here as it is read, so that a second pass (S1.2) can
  /// read the same points again from this file.
  std::FILE* spool = nullptr;
};

/// The sum of the inputs' sizes when every one is a regular file (for the progress line).
inline std::optional<std::uint64_t> total_input_bytes(const std::vector<std::string>& paths) {
  std::uint64_t total = 0;
  for (const auto& path : paths) {
    struct stat st {};
    if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    total += static_cast<std::uint64_t>(st.st_size);
  }
  return total;
}

/// Reads `paths` in order. `sink(const metric_point&)` gets the points in range; it may set
/// `abort` to end the read with that error (for --strict checks after the reader's own).
template <class Sink>
k8snetio::io::result<void> read_metric_inputs(const std::vector<std::string>& paths,
                                              const input_options& options, run_summary& summary,
                                              Sink&& sink,
                                              std::optional<k8snetio::io::input_error>& abort) {
  namespace io = k8snetio::io;
  progress_line progress(total_input_bytes(paths));
  // One JSON reader of each kind for all inputs: OTLP series state carries across files
  // (a rotated file continues the previous one).
  io::hec_reader hec(options.reader);
  io::otlp_reader otlp(options.reader);
  std::uint64_t bytes_before = 0;
  std::uint64_t rows_before = 0;

  const auto in_range = [&](const k8snetio::metric_point& p) {
    if ((options.earliest && p.time < *options.earliest) ||
        (options.latest && p.time >= *options.latest)) {
      ++summary.outside_range;
      return;
    }
    sink(p);
  };

  for (const std::string& path : paths) {
    auto in = io::input_source::open(path);
    if (!in) return tl::unexpected(in.error());
    auto first = in->next();
    if (!first) return tl::unexpected(first.error());
    const io::input_format format = options.forced_format.value_or(io::detect_format(*first));
    if (format == io::input_format::baseline_csv)
      return io::make_error(io::error_code::unknown_format, in->name(), 0,
                            "this is a baseline table, not metrics (pass it with --baseline, or "
                            "force a format with --input-format)");
    ++summary.inputs;
    summary.current_input = in->name();

    const auto read_all = [&](auto& reader, auto rows_so_far) -> io::result<void> {
      std::string_view chunk = *first;
      const bool spooling = options.spool && path == "-";
      while (!chunk.empty()) {
        if (spooling && std::fwrite(chunk.data(), 1, chunk.size(), options.spool) != chunk.size())
          return io::make_error(io::error_code::read_failed, "standard input", 0,
                                "cannot keep a copy of standard input for a second pass (disk "
                                "full?)");
        if (auto fed = reader.feed(chunk, in_range); !fed) return fed;
        if (abort) return tl::unexpected(*abort);
        progress.update(bytes_before + in->bytes_read(), rows_before + rows_so_far());
        auto next = in->next();
        if (!next) return tl::unexpected(next.error());
        chunk = *next;
      }
      if (auto done = reader.finish(in_range); !done) return done;
      if (abort) return tl::unexpected(*abort);
      return {};
    };

    io::result<void> outcome;
    io::read_report report;
    std::uint64_t input_bytes = 0;  // of the file as stored
    switch (format) {
      case io::input_format::metrics_csv: {
        if (path != "-" && in->total_bytes() && in->compression() == io::compression::none && options.threads != 1) {
          // A regular file (opened again by path): parsed on several threads, the points
          // still in file order.
          io::parallel_read_options parallel;
          parallel.threads = options.threads;
          io::parallel_metrics_csv_reader reader(path, options.reader, parallel);
          outcome = reader.read(in_range, [&](const io::read_report& so_far) {
            progress.update(bytes_before + so_far.bytes, rows_before + so_far.rows_read);
            return !abort;
          });
          if (outcome && abort) outcome = tl::unexpected(*abort);
          report = reader.report();
          input_bytes = report.bytes;
          break;
        }
        io::metrics_csv_reader reader(in->name(), options.reader);
        outcome = read_all(reader, [&reader] { return reader.report().rows_read; });
        report = reader.report();
        break;
      }
      case io::input_format::hec_json:
        hec.start_file(in->name());
        outcome = read_all(hec, [&hec] { return hec.report().rows_read; });
        report = hec.take_report();
        break;
      case io::input_format::otlp_json:
      case io::input_format::baseline_csv:
        otlp.start_file(in->name());
        outcome = read_all(otlp, [&otlp] { return otlp.report().rows_read; });
        report = otlp.take_report();
        break;
    }
    rows_before += report.rows_read;
    summary.report += report;
    bytes_before += input_bytes ? input_bytes : in->bytes_read();
    if (!outcome) return outcome;
  }
  return {};
}

}  // namespace k8snetio_cli
