// Every metric input of a run in one call (spec "Inputs", I1–I3, I3.4, I3.5): files or standard
// input
// ("-"), gzip or zstd, each one's format recognised from its content or forced, read in order
// into a sink or a push engine, with OTLP series continuing from one file to the next (a
// rotated file continues the previous one). Memory stays flat whatever the inputs' size.
//
//     k8snetio::detector detect(k8snetio::anomalous_network_io, table, {});
//     auto read = k8snetio::io::read_inputs({"a.csv", "b.jsonl.zst"}, {}, detect);
//     if (!read) … read.error().what() …;   // else read->report, read->outside_range
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/io/input/parallel_csv.hpp>
#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio::io {

/// Where read_inputs is, for a progress display: called after every chunk (or parsed segment).
struct input_progress {
  std::uint64_t bytes = 0;                   ///< of all inputs so far, as stored (compressed)
  std::optional<std::uint64_t> total_bytes;  ///< their sum, when every input is a regular file
  std::uint64_t rows = 0;                    ///< rows (data points) read so far
  /// The input being read: its path, or "<stdin>" (a view valid during the call).
  std::string_view input;
};

struct input_options {
  /// What every reader is told (metric name, strict mode, default dimensions, time unit, …).
  reader_options reader;
  /// The format of every input; nullopt: recognised from each one's first bytes.
  std::optional<input_format> format;
  /// Points before `earliest` (inclusive) or from `latest` (exclusive) on are counted in
  /// read_summary::outside_range and not handed on.
  std::optional<double> earliest;
  std::optional<double> latest;
  /// How a metrics_csv input that is an uncompressed regular file is parsed: `threads` 0 is one
  /// per core (at most parallel_read_options::default_max_threads), 1 reads it in order. The
  /// points reach the sink in file order, on the calling thread, whatever the threads.
  parallel_read_options parallel;
  /// Set: standard input is also written here as it is read, so that the same points can be
  /// read a second time from this file (S1.2: a second pass over unordered input).
  std::FILE* spool = nullptr;
  /// Called after every chunk: bytes and rows so far. Empty: none.
  std::function<void(const input_progress&)> progress;
};

/// What read_inputs read: the readers' reports summed over the inputs.
struct read_summary {
  read_report report;
  std::size_t inputs = 0;           ///< inputs opened and read (the last one perhaps in part)
  std::uint64_t outside_range = 0;  ///< points before earliest or from latest on
  bool stopped = false;             ///< the sink returned false: the rest was not read
};

/// What read_inputs hands points to: a callable taking `const metric_point&` (the point's
/// strings live only during the call) or a push engine (anything with `add(const
/// metric_point&)`: detector, baseline_runner). A callable returns void; or bool, false to stop
/// reading (read_summary::stopped); or result<void>, an error to end the read with it (an error
/// naming no file is given the input being read). The read stops at the end of the chunk.
template <class Sink>
concept metric_input_sink = std::invocable<Sink&, const metric_point&> ||
    requires(Sink& engine, const metric_point& p) {
  engine.add(p);
};

/// The sum of the inputs' sizes when every one is a regular file ("-" is not).
inline std::optional<std::uint64_t> total_input_bytes(const std::vector<std::string>& paths) {
  std::uint64_t total = 0;
  for (const auto& path : paths) {
    struct stat st {};
    if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    total += static_cast<std::uint64_t>(st.st_size);
  }
  return total;
}

namespace detail {

/// Hands a point to the user's sink and remembers whether it asked to stop.
template <class Sink>
class stoppable_sink {
 public:
  explicit stoppable_sink(Sink& sink) : sink_(sink) {}

  void operator()(const metric_point& p) {
    if (stopped_ || error_) return;
    if constexpr (std::invocable<Sink&, const metric_point&>) {
      using returned = std::invoke_result_t<Sink&, const metric_point&>;
      if constexpr (std::is_void_v<returned>) {
        std::invoke(sink_, p);
      } else if constexpr (std::is_same_v<std::remove_cvref_t<returned>, result<void>>) {
        if (auto r = std::invoke(sink_, p); !r) error_ = std::move(r.error());
      } else {
        static_assert(std::is_convertible_v<returned, bool>,
                      "a read_inputs sink returns void, bool (false: stop) or result<void>");
        if (!static_cast<bool>(std::invoke(sink_, p))) stopped_ = true;
      }
    } else {
      (void)sink_.add(p);  // an engine counts what it drops itself (stats())
    }
  }

  bool stopped() const noexcept { return stopped_; }
  bool should_end() const noexcept { return stopped_ || error_.has_value(); }
  /// The sink's error, given `input` as its file when it names none.
  tl::unexpected<input_error> error(std::string_view input) const {
    input_error e = *error_;
    if (e.file.empty()) e.file = std::string(input);
    return tl::unexpected(std::move(e));
  }
  bool has_error() const noexcept { return error_.has_value(); }

 private:
  Sink& sink_;
  bool stopped_ = false;
  std::optional<input_error> error_;
};

}  // namespace detail

/// Reads `paths` in order ("-": standard input) into `sink`. The first error ends the read:
/// an input that cannot be opened or read, one that is a baseline table, a reader's error under
/// reader_options::strict, or the sink's own; it names the file and, where there is one, the
/// line.
template <metric_input_sink Sink>
[[nodiscard]] result<read_summary> read_inputs(const std::vector<std::string>& paths,
                                               const input_options& options, Sink&& sink) {
  read_summary summary;
  detail::stoppable_sink<std::remove_reference_t<Sink>> to_sink(sink);
  const std::optional<std::uint64_t> total =
      options.progress ? total_input_bytes(paths) : std::nullopt;
  // One JSON reader of each kind for all inputs: OTLP series state carries across files.
  hec_reader hec(options.reader);
  otlp_reader otlp(options.reader);
  std::uint64_t bytes_before = 0;
  std::uint64_t rows_before = 0;
  std::string_view current;

  const auto progress = [&](std::uint64_t bytes, std::uint64_t rows) {
    if (options.progress)
      options.progress({bytes_before + bytes, total, rows_before + rows, current});
  };
  const auto in_range = [&](const metric_point& p) {
    if (to_sink.should_end()) return;
    if ((options.earliest && p.time < *options.earliest) ||
        (options.latest && p.time >= *options.latest)) {
      ++summary.outside_range;
      return;
    }
    to_sink(p);
  };

  for (const std::string& path : paths) {
    auto in = input_source::open(path);
    if (!in) return tl::unexpected(in.error());
    auto first = in->next();
    if (!first) return tl::unexpected(first.error());
    // I3.5: the file exporter's `format: proto` framing is OTLP whether recognised or forced.
    const bool proto_frames = (!options.format || *options.format == input_format::otlp_json) &&
                              looks_like_otlp_proto_frames(*first);
    const input_format format =
        proto_frames ? input_format::otlp_json : options.format.value_or(detect_format(*first));
    if (format == input_format::baseline_csv)
      return make_error(error_code::unknown_format, in->name(), 0,
                        "this is a baseline table, not metrics (load it with load_baseline_csv, "
                        "or force a format with input_options::format)");
    ++summary.inputs;
    current = in->name();

    const auto read_all = [&](auto& reader, auto rows_so_far) -> result<void> {
      std::string_view chunk = *first;
      const bool spooling = options.spool && path == "-";
      while (!chunk.empty()) {
        if (spooling && std::fwrite(chunk.data(), 1, chunk.size(), options.spool) != chunk.size())
          return make_error(error_code::read_failed, "standard input", 0,
                            "cannot keep a copy of standard input for a second pass (disk "
                            "full?)");
        if (auto fed = reader.feed(chunk, in_range); !fed) return fed;
        if (to_sink.should_end()) return {};
        progress(in->bytes_read(), rows_so_far());
        auto next = in->next();
        if (!next) return tl::unexpected(next.error());
        chunk = *next;
      }
      return reader.finish(in_range);
    };

    result<void> outcome;
    read_report report;
    std::uint64_t input_bytes = 0;  // of the file as stored
    switch (format) {
      case input_format::metrics_csv: {
        if (path != "-" && in->total_bytes() && in->compression() == compression::none &&
            options.parallel.threads != 1) {
          // A regular file (opened again by path): parsed on several threads, the points
          // still in file order.
          parallel_metrics_csv_reader reader(path, options.reader, options.parallel);
          outcome = reader.read(in_range, [&](const read_report& so_far) {
            progress(so_far.bytes, so_far.rows_read);
            return !to_sink.should_end();
          });
          report = reader.report();
          input_bytes = report.bytes;
          break;
        }
        metrics_csv_reader reader(in->name(), options.reader);
        outcome = read_all(reader, [&reader] { return reader.report().rows_read; });
        report = reader.report();
        break;
      }
      case input_format::hec_json:
        hec.start_file(in->name());
        outcome = read_all(hec, [&hec] { return hec.report().rows_read; });
        report = hec.take_report();
        break;
      case input_format::otlp_json:
      case input_format::baseline_csv:
        otlp.start_file(in->name());
        if (proto_frames) {
          struct framed {
            otlp_reader& reader;
            result<void> feed(std::string_view chunk, decltype(in_range)& sink) {
              return reader.feed_frames(chunk, sink);
            }
            result<void> finish(decltype(in_range)& sink) { return reader.finish_frames(sink); }
          } frames{otlp};
          outcome = read_all(frames, [&otlp] { return otlp.report().rows_read; });
          report = otlp.take_report();
          break;
        }
        outcome = read_all(otlp, [&otlp] { return otlp.report().rows_read; });
        report = otlp.take_report();
        break;
    }
    rows_before += report.rows_read;
    summary.report += report;
    bytes_before += input_bytes ? input_bytes : in->bytes_read();
    if (!outcome) return tl::unexpected(std::move(outcome.error()));
    if (to_sink.has_error()) return to_sink.error(in->name());
    if (to_sink.stopped()) {
      summary.stopped = true;
      return summary;
    }
  }
  return summary;
}

}  // namespace k8snetio::io
