// Reader of Splunk metrics_csv exports (spec I1): columns taken by header name, every row
// checked (D1.1 dimensions, D1.2 finite values, I1.5 row length) and every skip counted in a
// read_report. Also the shapes real exports have: ISO 8601 `_time` (I1.1), the
// multiple-measurement `metric_name:<name>` columns (I1.2), a byte order mark (I1.3), epoch
// values in another unit (I1.4) and the newer `network.io.direction` (I1.6).
// Input arrives in chunks of any size; nothing is allocated per row.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/model/metric_point.hpp>

// The reasons a row is skipped are formatted out of line, away from the hot path.
#if defined(__GNUC__) && !defined(K8SNETIO_COLD)
#define K8SNETIO_COLD [[gnu::cold, gnu::noinline]]
#elif !defined(K8SNETIO_COLD)
#define K8SNETIO_COLD
#endif

namespace k8snetio::io {

/// Reads one metrics_csv input, fed in chunks:
///
///     metrics_csv_reader reader("metrics.csv", options);
///     for (each chunk) if (auto r = reader.feed(chunk, sink); !r) return r;
///     auto r = reader.finish(sink);   // then reader.report()
///
/// Rows that cannot be points are skipped and counted by reason (with `strict`, a defect ends
/// the read with error_code::bad_row instead). A header without a time column, without
/// `_value` or `metric_name:<name>` columns, or without a dimension column that no option
/// supplies (I1.5) is error_code::bad_header naming the column; a column named twice is
/// error_code::duplicate_column. After an error every call returns that error again.
class metrics_csv_reader {
 public:
  explicit metrics_csv_reader(std::string file, reader_options options = {})
      : file_(std::move(file)), options_(std::move(options)) {}

  /// Hand the points of every row that `chunk` completes to `sink`.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> feed(std::string_view chunk, Sink&& sink);

  /// The input has ended: the last row, and the check that there was a header.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> finish(Sink&& sink);

  /// A whole input at once: feed then finish.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> read(std::string_view whole, Sink&& sink) {
    if (auto fed = feed(whole, sink); !fed) return fed;
    return finish(sink);
  }

  /// Whether the header has been read (the columns are known).
  bool has_header() const noexcept { return have_header_; }

  /// For reading a later part of the same input on its own (io/input/parallel_csv.hpp): a reader
  /// with this one's header and options, an empty report, and lines numbered from
  /// `first_line`. Feed it from a record boundary.
  metrics_csv_reader continuation(std::uint64_t first_line = 1) const {
    metrics_csv_reader next(file_, options_);
    next.report_.max_examples = report_.max_examples;
    next.columns_ = columns_;
    next.header_fields_ = header_fields_;
    next.have_header_ = have_header_;
    next.csv_.set_line(first_line);
    return next;
  }

  /// Whether the input fed so far ended at a record boundary (see csv_record_stream).
  bool at_record_boundary() const noexcept { return csv_.at_record_boundary(); }
  /// The line where the next record starts.
  std::uint64_t next_line() const noexcept { return csv_.line(); }

  const read_report& report() const noexcept { return report_; }
  read_report& report() noexcept { return report_; }
  const std::string& file() const noexcept { return file_; }
  const reader_options& options() const noexcept { return options_; }

 private:
  static constexpr std::size_t absent = static_cast<std::size_t>(-1);
  static constexpr std::string_view measure_prefix = "metric_name:";

  /// Column indices, resolved once from the header.
  struct columns {
    std::size_t time = absent;           ///< metric_timestamp, else _time
    std::size_t fallback_time = absent;  ///< _time when metric_timestamp is there too
    std::size_t metric_name = absent;
    std::size_t value = absent;
    std::array<std::size_t, 4> dimensions{absent, absent, absent, absent};  ///< as dimension_names
    std::size_t newer_direction = absent;  ///< network.io.direction (I1.6)
    std::size_t namespace_name = absent;   ///< k8s.namespace.name (I3.3)
    std::size_t pod_uid = absent;          ///< k8s.pod.uid (I3.3)
    std::vector<std::size_t> measures;     ///< `metric_name:<name>` columns (I1.2)
    std::size_t count = 0;                 ///< fields in the header
  };

  template <class Sink>
  bool on_record(const csv_record& record, Sink& sink);
  bool on_header(const csv_record& record);
  template <class Sink>
  bool on_row(const csv_record& record, Sink& sink);
  template <class Sink>
  bool emit(std::uint64_t line, const std::string_view* f, double time,
            std::string_view value_column, std::string_view value_text,
            std::string_view metric_name, Sink& sink);
  /// Count a skipped row. False when `strict` makes it the end of the read.
  /// Count a skipped row; `cell` is the offending text, if any. False when `strict` makes
  /// it the end of the read. Cold: formats text only for the rows the report names.
  bool reject(std::uint64_t line, skip_reason reason, std::string_view column,
              std::string_view cell = {}, std::size_t field_count = 0);
  /// A number cell failed parse_number or is not finite: which, counted.
  bool reject_number(std::uint64_t line, std::string_view column, std::string_view cell,
                     number_status status);
  bool fail(input_error error) {
    error_ = std::move(error);
    return false;
  }
  result<void> outcome() const {
    if (error_) return tl::unexpected(*error_);
    return {};
  }

  std::string file_;
  reader_options options_;
  read_report report_;
  csv_record_stream csv_;
  columns columns_;
  std::vector<std::string> header_fields_;
  bool have_header_ = false;
  std::optional<input_error> error_;
};

template <metric_point_sink Sink>
result<void> metrics_csv_reader::feed(std::string_view chunk, Sink&& sink) {
  if (error_) return outcome();
  report_.bytes += chunk.size();
  auto handler = [this, &sink](const csv_record& record) { return on_record(record, sink); };
  csv_.feed(chunk, handler);
  return outcome();
}

template <metric_point_sink Sink>
result<void> metrics_csv_reader::finish(Sink&& sink) {
  if (error_) return outcome();
  auto handler = [this, &sink](const csv_record& record) { return on_record(record, sink); };
  csv_.finish(handler);
  if (!error_ && !have_header_)
    fail(input_error{error_code::bad_header, file_, 0, 0, {}, "the input has no header row"});
  return outcome();
}

template <class Sink>
bool metrics_csv_reader::on_record(const csv_record& record, Sink& sink) {
  if (have_header_) [[likely]]
    return on_row(record, sink);
  return on_header(record);
}

inline bool metrics_csv_reader::on_header(const csv_record& record) {
  if (!is_csv_header(record)) return true;  // blank lines before the header are no rows
  const auto header_error = [&](std::string_view column, std::string message) {
    return fail(input_error{error_code::bad_header, file_, record.line, 0, std::string(column),
                            std::move(message)});
  };
  if (record.syntax != csv_syntax::ok)
    return header_error(
        {}, fmt::format("the header row is malformed CSV ({})", to_string(record.syntax)));
  header_fields_.assign(record.fields.begin(), record.fields.end());
  {
    std::vector<std::string_view> sorted(header_fields_.begin(), header_fields_.end());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end(),
                                          [](auto a, auto b) { return a == b && !a.empty(); });
    if (twice != sorted.end())
      return fail(input_error{error_code::duplicate_column, file_, record.line, 0,
                              std::string(*twice),
                              fmt::format("the header names the column '{}' twice", *twice)});
  }
  columns c;
  c.count = header_fields_.size();
  std::size_t metric_timestamp = absent;
  std::size_t underscore_time = absent;
  for (std::size_t i = 0; i < header_fields_.size(); ++i) {
    const std::string_view name = header_fields_[i];
    if (name == "metric_timestamp")
      metric_timestamp = i;
    else if (name == "_time")
      underscore_time = i;
    else if (name == "metric_name")
      c.metric_name = i;
    else if (name == "_value")
      c.value = i;
    else if (name == "network.io.direction")
      c.newer_direction = i;
    else if (name == "k8s.namespace.name")
      c.namespace_name = i;
    else if (name == "k8s.pod.uid")
      c.pod_uid = i;
    else if (name.starts_with(measure_prefix))
      c.measures.push_back(i);
    else
      for (std::size_t d = 0; d < dimension_names.size(); ++d)
        if (name == dimension_names[d]) c.dimensions[d] = i;
  }
  if (metric_timestamp != absent) {
    c.time = metric_timestamp;
    c.fallback_time = underscore_time;
  } else {
    c.time = underscore_time;
  }
  if (c.time == absent)
    return header_error("metric_timestamp",
                        "the header has neither a 'metric_timestamp' nor a '_time' column");
  if (c.value == absent && c.measures.empty())
    return header_error("_value",
                        "the header has no '_value' column and no 'metric_name:<name>' column");
  // I1.5: a dimension no option can supply would skip every row; say so at once.
  const std::array<bool, 4> supplied = {!options_.default_cluster.empty(), false,
                                        !options_.default_node.empty(),
                                        c.newer_direction != absent};
  for (std::size_t d = 0; d < dimension_names.size(); ++d)
    if (c.dimensions[d] == absent && !supplied[d])
      return header_error(dimension_names[d],
                          fmt::format("the header has no '{}' column{}", dimension_names[d],
                                      d == 0   ? " (or set reader_options::default_cluster)"
                                      : d == 2 ? " (or set reader_options::default_node)"
                                      : d == 3 ? " (nor 'network.io.direction')"
                                               : ""));
  columns_ = std::move(c);
  have_header_ = true;
  return true;
}

namespace detail {
/// An offending cell as it goes into a message: quoted, and cut if long.
inline std::string quote_cell(std::string_view cell) {
  constexpr std::size_t max_shown = 40;
  if (cell.size() <= max_shown) return fmt::format("'{}'", cell);
  return fmt::format("'{}…'", cell.substr(0, max_shown));
}
}  // namespace detail

K8SNETIO_COLD inline bool metrics_csv_reader::reject(std::uint64_t line, skip_reason reason,
                                                     std::string_view column, std::string_view cell,
                                                     std::size_t field_count) {
  const bool ends_read = options_.strict && is_error(reason);
  // The report decides which skips it names; text is formatted only for those (and for the
  // error that ends a strict read), so a file of other metrics allocates nothing per row.
  const std::size_t named_before = report_.examples.size();
  report_.skip(file_, line, reason);
  const bool named = report_.examples.size() > named_before;
  if (!named && !ends_read) return true;
  std::string text;
  switch (reason) {
    case skip_reason::short_row:
    case skip_reason::long_row:
      text = fmt::format("{} of the header's {} fields", field_count, columns_.count);
      break;
    case skip_reason::time_out_of_range: {
      double read = 0;
      const auto unit =
          parse_number(cell, read) == number_status::ok ? likely_time_unit(read) : std::nullopt;
      text = unit && options_.epoch_unit == time_unit::seconds
                 ? fmt::format("{}={}: looks like epoch {}; set reader_options::epoch_unit to {}",
                               column, detail::quote_cell(cell), unit_word(*unit), to_string(*unit))
                 : fmt::format("{}={}: not an epoch time in {}", column, detail::quote_cell(cell),
                               unit_word(options_.epoch_unit));
      break;
    }
    case skip_reason::bad_number:
    case skip_reason::non_finite:
      text = fmt::format("{}={}", column, detail::quote_cell(cell));
      break;
    case skip_reason::other_metric:
    case skip_reason::bad_syntax: text = std::string(cell); break;
    default: text = std::string(column); break;
  }
  if (named) report_.examples.back().detail = text;
  if (!ends_read) return true;
  return fail(input_error{error_code::bad_row, file_, line, 0, std::string(column),
                          fmt::format("{}: {}", to_string(reason), text)});
}

K8SNETIO_COLD inline bool metrics_csv_reader::reject_number(std::uint64_t line,
                                                            std::string_view column,
                                                            std::string_view cell,
                                                            number_status status) {
  if (status == number_status::ok) return reject(line, skip_reason::non_finite, column, cell);
  return reject(line, skip_reason::bad_number, column, cell);
}

template <class Sink>
bool metrics_csv_reader::on_row(const csv_record& record, Sink& sink) {
  if (record.blank) [[unlikely]]
    return true;  // an empty line is no row
  ++report_.rows_read;
  const std::uint64_t line = record.line;
  if (record.syntax != csv_syntax::ok) [[unlikely]]
    return reject(line, skip_reason::bad_syntax, {}, to_string(record.syntax));
  const columns& c = columns_;
  if (record.fields.size() != c.count) [[unlikely]]
    return reject(line,
                  record.fields.size() < c.count ? skip_reason::short_row : skip_reason::long_row,
                  {}, {}, record.fields.size());
  const std::string_view* const f = record.fields.data();

  std::string_view metric_name;
  if (c.metric_name != absent) {
    metric_name = f[c.metric_name];
    if (metric_name != std::string_view(options_.metric_name)) [[unlikely]]
      return metric_name.empty()
                 ? reject(line, skip_reason::missing_field, "metric_name")
                 : reject(line, skip_reason::other_metric, "metric_name", metric_name);
  }

  std::size_t time_column = c.time;
  if (f[time_column].empty() && c.fallback_time != absent) time_column = c.fallback_time;
  const std::string_view time_text = f[time_column];
  if (time_text.empty()) [[unlikely]]
    return reject(line, skip_reason::missing_field, header_fields_[time_column]);
  double time = 0;
  const time_status time_read = read_time(time_text, options_.epoch_unit, time);
  if (time_read != time_status::ok) [[unlikely]]
    return reject(line,
                  time_read == time_status::out_of_range ? skip_reason::time_out_of_range
                  : time_read == time_status::non_finite ? skip_reason::non_finite
                                                         : skip_reason::bad_number,
                  header_fields_[time_column], time_text);

  if (c.value != absent) [[likely]]
    return emit(line, f, time, "_value", f[c.value], metric_name, sink);
  // I1.2: each `metric_name:<name>` cell is a point of that metric; an empty one is none.
  bool any = false;
  for (const std::size_t m : c.measures) {
    const std::string_view cell = f[m];
    if (cell.empty()) continue;
    if (any) ++report_.rows_read;  // a row is one measurement
    any = true;
    const std::string_view name = std::string_view(header_fields_[m]).substr(measure_prefix.size());
    const bool go_on = name == std::string_view(options_.metric_name)
                           ? emit(line, f, time, header_fields_[m], cell, name, sink)
                           : reject(line, skip_reason::other_metric, header_fields_[m], name);
    if (!go_on) return false;
  }
  return any || reject(line, skip_reason::missing_field, "metric_name:<name>");
}

template <class Sink>
bool metrics_csv_reader::emit(std::uint64_t line, const std::string_view* f, double time,
                              std::string_view value_column, std::string_view value_text,
                              std::string_view metric_name, Sink& sink) {
  const columns& c = columns_;
  if (value_text.empty()) [[unlikely]]
    return reject(line, skip_reason::missing_field, value_column);
  double value = 0;
  const number_status value_status = parse_number(value_text, value);
  if (value_status != number_status::ok || !std::isfinite(value)) [[unlikely]]
    return reject_number(line, value_column, value_text, value_status);

  const auto cell = [f](std::size_t column) {
    return column != absent ? f[column] : std::string_view();
  };
  std::string_view cluster = cell(c.dimensions[0]);
  if (cluster.empty()) cluster = options_.default_cluster;
  const std::string_view pod = cell(c.dimensions[1]);
  std::string_view node = cell(c.dimensions[2]);
  if (node.empty()) node = options_.default_node;
  std::string_view direction = cell(c.dimensions[3]);
  if (direction.empty()) direction = cell(c.newer_direction);
  if (cluster.empty() || pod.empty() || node.empty() || direction.empty()) [[unlikely]] {
    const std::size_t missing = cluster.empty() ? 0 : pod.empty() ? 1 : node.empty() ? 2 : 3;
    return reject(line, skip_reason::missing_dimension, dimension_names[missing]);
  }
  metric_point point{time, value, metric_name, cluster, pod, node, direction};
  point.namespace_name = cell(c.namespace_name);
  point.pod_uid = cell(c.pod_uid);
  std::invoke(sink, point);
  ++report_.points;
  return true;
}

}  // namespace k8snetio::io
