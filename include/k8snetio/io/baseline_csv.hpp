// The baseline lookup table as CSV (spec I4, B6, R5, D5.3, D5.5, S5.2): read in chunks with
// columns taken by header name in any order, extra columns ignored and empty cells null, each
// cell keeping its text (F3), unusable rows refused with their line; written with the rule's
// columns in B6/R5 order, rows sorted by key.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/number.hpp>
#include <k8snetio/model/baseline_table.hpp>
#include <k8snetio/model/measure_set.hpp>
#include <k8snetio/model/spl_values.hpp>

namespace k8snetio::io {

namespace detail {

inline constexpr std::size_t no_column = static_cast<std::size_t>(-1);

/// Where each baseline field is in the file's header (no_column when absent).
template <std::size_t N>
struct baseline_columns {
  std::size_t key = no_column;
  std::array<std::size_t, N> avg{};
  std::array<std::size_t, N> stdev{};
  std::size_t count = no_column;
  std::size_t last_seen = no_column;
  std::size_t fields = 0;

  baseline_columns() {
    avg.fill(no_column);
    stdev.fill(no_column);
  }
};

/// Resolves the header. Duplicate column names: the first wins, as in the metrics reader.
template <std::size_t N>
baseline_columns<N> resolve_baseline_header(std::span<const std::string_view> header,
                                            const measure_set<N>& measures) {
  baseline_columns<N> c;
  c.fields = header.size();
  const auto take = [](std::size_t& slot, std::size_t i) {
    if (slot == no_column) slot = i;
  };
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string_view name = header[i];
    if (name == "key")
      take(c.key, i);
    else if (name == "count")
      take(c.count, i);
    else if (name == "last_seen")
      take(c.last_seen, i);
    else if (name.starts_with("avg_")) {
      if (auto m = measures.index_of(name.substr(4))) take(c.avg[*m], i);
    } else if (name.starts_with("stdev_")) {
      if (auto m = measures.index_of(name.substr(6))) take(c.stdev[*m], i);
    }
  }
  return c;
}

/// D6.1's "table" order: the measures as the header lists their stdev_* columns; measures
/// without a stdev_* column (all null) follow in the rule's column order.
template <std::size_t N>
std::array<std::size_t, N> stdev_order_of(const baseline_columns<N>& c,
                                          const measure_set<N>& measures) {
  std::array<std::size_t, N> order = measures.column_order;
  std::stable_sort(order.begin(), order.end(), [&c](std::size_t a, std::size_t b) {
    return c.stdev[a] < c.stdev[b];  // no_column is the largest size_t: absent ones go last
  });
  return order;
}

}  // namespace detail

/// Reads a baseline lookup table (I4), fed in chunks, so that a table is never held as text
/// (S5.2). `file` names it in errors; without `measures`, the main rule's table
/// (network_io_measures).
///
///     baseline_csv_reader<2> reader("base.csv");
///     for (each chunk) if (auto r = reader.feed(chunk); !r) return r;
///     auto table = reader.finish();
///
/// - The header (the first non-blank record) names the columns, in any order: `key` is
///   required (else bad_header); `avg_<m>` and `stdev_<m>` for each measure name `m` of
///   `measures` (the ratio rule's names hold a colon: `avg_inbound:outbound`), at least one of
///   them (else no_baseline_columns: a table the rule cannot use); a measure column that is
///   absent makes all its cells null; `count` and `last_seen` are read when present; other
///   columns (Splunk's `__mv_*`, say) are ignored. A UTF-8 byte order mark, CRLF and RFC 4180
///   quoting are fine.
/// - An empty cell is null (D5.2). A number cell keeps its own text (F3).
/// - Strict about what it cannot use, rather than reading it as null: a non-empty cell that
///   is not a finite number (io::parse_number: no spaces, no leading '+') is
///   bad_baseline_cell; so is a `count` that is not a non-negative integer or a `last_seen`
///   that is not a finite number (it is floored to whole seconds). A row with another field
///   count than the header, or malformed quoting, is bad_row.
/// - D5.5: a negative stdev, or a key without ':', is bad_baseline_row with the row's line.
/// - A key seen twice is duplicate_key, naming the key and both lines (D5.3).
/// - Blank lines are skipped (a chunk of nothing but line ends at memory speed).
/// The table's stdev_column_order is the header's order of the stdev_* columns (D6.1).
template <std::size_t N = 2>
class baseline_csv_reader {
 public:
  /// `measures` must outlive the table (baseline_table keeps a pointer to it).
  explicit baseline_csv_reader(std::string file,
                               const measure_set<N>& measures = network_io_measures)
      : file_(std::move(file)), measures_(measures), table_(measures) {}

  [[nodiscard]] result<void> feed(std::string_view chunk) {
    if (error_) return tl::unexpected(*error_);
    if (columns_ && stream_.at_record_boundary() && !chunk.empty() && chunk.back() == '\n') {
      // A run of blank lines (a gzip of newlines, say) costs a count, not a parse per line.
      if (const auto lines = detail::count_if_only_line_ends(chunk); lines >= 0) {
        stream_.set_line(stream_.line() + static_cast<std::uint64_t>(lines));
        return {};
      }
    }
    auto handler = [this](const csv_record& record) { return on_record(record); };
    stream_.feed(chunk, handler);
    if (error_) return tl::unexpected(*error_);
    return {};
  }

  [[nodiscard]] result<baseline_table<N>> finish() {
    if (error_) return tl::unexpected(*error_);
    auto handler = [this](const csv_record& record) { return on_record(record); };
    stream_.finish(handler);
    if (error_) return tl::unexpected(*error_);
    if (!columns_)
      return make_error(error_code::bad_header, file_, 0, "the input has no header row");
    return std::move(table_);
  }

 private:
  bool fail(tl::unexpected<input_error> e) {
    error_ = std::move(e).value();
    return false;
  }

  bool on_record(const csv_record& record) {
    using detail::no_column;
    const auto row_or_header = columns_ ? error_code::bad_row : error_code::bad_header;
    if (record.fields.empty())  // unterminated quote or too long
      return fail(make_error(row_or_header, file_, record.line,
                             fmt::format("malformed CSV: {}", to_string(record.syntax))));
    if (!columns_ && !is_csv_header(record)) return true;
    if (record.blank) return true;
    if (record.syntax != csv_syntax::ok)
      return fail(make_error(row_or_header, file_, record.line,
                             fmt::format("malformed CSV: {}", to_string(record.syntax))));
    if (!columns_) return on_header(record);

    const auto& c = *columns_;
    if (record.fields.size() != c.fields)
      return fail(make_error(
          error_code::bad_row, file_, record.line,
          fmt::format("the row has {} fields, the header {}", record.fields.size(), c.fields)));
    const auto bad_cell = [&](std::size_t column, std::string_view what) {
      return fail(make_error(error_code::bad_baseline_cell, file_, record.line,
                             fmt::format("'{}' is not {}", record.fields[column], what),
                             header_[column]));
    };

    const std::string_view key = record.fields[c.key];
    if (key.find(':') == std::string_view::npos)
      return fail(make_error(error_code::bad_baseline_row, file_, record.line,
                             fmt::format("the key '{}' has no ':' (keys are cluster:service)", key),
                             header_[c.key]));

    baseline_entry<N> entry;
    for (std::size_t m = 0; m < N; ++m) {
      for (auto [column, cell] :
           {std::pair{c.avg[m], &entry.avg[m]}, std::pair{c.stdev[m], &entry.stdev[m]}}) {
        if (column == no_column) continue;
        const std::string_view raw = record.fields[column];
        if (raw.empty()) continue;  // D5.2: null
        double value = 0;
        if (parse_number(raw, value) != number_status::ok || !std::isfinite(value))
          return bad_cell(column, "a finite number");
        cell->value = value;
        cell->text = std::string(raw);  // F3
      }
      if (entry.stdev[m].value && *entry.stdev[m].value < 0)
        return fail(make_error(error_code::bad_baseline_row, file_, record.line,
                               fmt::format("negative stdev '{}' for key '{}' (every bucket "
                                           "would be anomalous)",
                                           entry.stdev[m].text, key),
                               header_[c.stdev[m]]));
    }
    if (c.count != no_column && !record.fields[c.count].empty()) {
      std::uint64_t count = 0;
      if (parse_integer(record.fields[c.count], count) != number_status::ok)
        return bad_cell(c.count, "a non-negative integer");
      entry.count = count;
    }
    if (c.last_seen != no_column && !record.fields[c.last_seen].empty()) {
      double seconds = 0;
      if (parse_number(record.fields[c.last_seen], seconds) != number_status::ok ||
          !std::isfinite(seconds) || std::fabs(seconds) >= 9.2e18)
        return bad_cell(c.last_seen, "a time in epoch seconds");
      entry.last_seen = static_cast<std::int64_t>(std::floor(seconds));
    }

    std::string owned_key(key);
    if (!table_.insert(owned_key, std::move(entry))) {
      const auto& rows = table_.rows();
      const auto first = std::find_if(
          rows.begin(), rows.end(), [&owned_key](const auto& row) { return row.key == owned_key; });
      const auto first_line = row_lines_[static_cast<std::size_t>(first - rows.begin())];
      return fail(make_error(
          error_code::duplicate_key, file_, record.line,
          fmt::format("duplicate key '{}' (lines {} and {})", owned_key, first_line, record.line),
          header_[c.key]));
    }
    row_lines_.push_back(record.line);
    return true;
  }

  bool on_header(const csv_record& record) {
    using detail::no_column;
    auto c = detail::resolve_baseline_header<N>(record.fields, measures_);
    if (c.key == no_column)
      return fail(make_error(error_code::bad_header, file_, record.line,
                             "the baseline table's header has no 'key' column", "key"));
    const bool any_measure =
        std::any_of(c.avg.begin(), c.avg.end(), [](std::size_t i) { return i != no_column; }) ||
        std::any_of(c.stdev.begin(), c.stdev.end(), [](std::size_t i) { return i != no_column; });
    if (!any_measure)
      return fail(make_error(
          error_code::no_baseline_columns, file_, record.line,
          fmt::format(
              "the baseline table has none of the rule's columns (avg_{0}, stdev_{0}, …); was it "
              "built for another rule?",
              measures_.names[measures_.column_order[0]])));
    header_.assign(record.fields.begin(), record.fields.end());
    table_.set_stdev_column_order(detail::stdev_order_of(c, measures_));
    columns_ = c;
    return true;
  }

  std::string file_;
  measure_set<N> measures_;
  baseline_table<N> table_;
  csv_record_stream stream_;
  std::vector<std::uint64_t> row_lines_;  ///< the line of each row, in insertion order
  std::vector<std::string> header_;
  std::optional<detail::baseline_columns<N>> columns_;
  std::optional<input_error> error_;
};

/// Reads a whole baseline table held in `text` (see baseline_csv_reader).
template <std::size_t N = 2>
[[nodiscard]] result<baseline_table<N>> read_baseline_csv(
    std::string_view text, std::string_view file,
    const measure_set<N>& measures = network_io_measures) {
  baseline_csv_reader<N> reader(std::string(file), measures);
  if (auto r = reader.feed(text); !r) return tl::unexpected(r.error());
  return reader.finish();
}

/// Reads a baseline table from an open input not yet read from, to its end, chunk by chunk. More
/// than `max_bytes` of text (after decompression: a bomb, or a file of nothing but newlines) is
/// input_too_large, found as soon as the limit is passed.
template <std::size_t N = 2>
[[nodiscard]] result<baseline_table<N>> load_baseline_csv(
    input_source& in, const measure_set<N>& measures = network_io_measures,
    std::uint64_t max_bytes = default_max_input_bytes) {
  baseline_csv_reader<N> reader(in.name(), measures);
  for (;;) {
    auto chunk = in.next();
    if (!chunk) return tl::unexpected(chunk.error());
    if (chunk->empty()) return reader.finish();
    if (in.bytes_out() > max_bytes) return input_too_large(in, max_bytes);
    if (auto r = reader.feed(*chunk); !r) return tl::unexpected(r.error());
  }
}

/// Reads a baseline table from a file ("-": standard input; gzip or zstd recognised from the
/// content), as above.
template <std::size_t N = 2>
[[nodiscard]] result<baseline_table<N>> load_baseline_csv(
    std::string path, const measure_set<N>& measures = network_io_measures,
    std::uint64_t max_bytes = default_max_input_bytes) {
  auto in = input_source::open(std::move(path));
  if (!in) return tl::unexpected(in.error());
  return load_baseline_csv<N>(*in, measures, max_bytes);
}

/// Writes a baseline table as CSV (B6, R5): the header `key`, `avg_<m>` for each measure in
/// the rule's column order, `stdev_<m>` likewise, `count`, `last_seen`; one row per key
/// sorted by key (byte order) whatever the table's order; a number cell as its text (F1 when
/// the builder made it, the file's own text when read: F3), null as an empty cell; a key
/// holding a comma, quote or line end quoted (RFC 4180). Lines end in "\n".
template <std::size_t N>
void write_baseline_csv(std::string& out, const baseline_table<N>& table) {
  const measure_set<N>& measures = table.measures();
  out += "key";
  for (const char* prefix : {",avg_", ",stdev_"})
    for (std::size_t m : measures.column_order) {
      out += prefix;
      out += measures.names[m];
    }
  out += ",count,last_seen\n";

  const auto& rows = table.rows();
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&rows](std::size_t a, std::size_t b) { return rows[a].key < rows[b].key; });

  const auto append_cell = [&out](const baseline_cell& cell) {
    out += ',';
    if (!cell.value) return;
    if (cell.text.empty())
      spl::append_number(out, *cell.value);  // a cell made without text
    else
      detail::append_csv_field(out, cell.text);
  };
  for (std::size_t i : order) {
    const auto& row = rows[i];
    detail::append_csv_field(out, row.key);
    for (std::size_t m : measures.column_order) append_cell(row.entry.avg[m]);
    for (std::size_t m : measures.column_order) append_cell(row.entry.stdev[m]);
    out += ',';
    if (row.entry.count) fmt::format_to(std::back_inserter(out), "{}", *row.entry.count);
    out += ',';
    if (row.entry.last_seen) fmt::format_to(std::back_inserter(out), "{}", *row.entry.last_seen);
    out += '\n';
  }
}

template <std::size_t N>
std::string write_baseline_csv(const baseline_table<N>& table) {
  std::string out;
  write_baseline_csv(out, table);
  return out;
}

template <std::size_t N>
void write_baseline_csv(std::ostream& out, const baseline_table<N>& table) {
  std::string text;
  write_baseline_csv(text, table);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace k8snetio::io
