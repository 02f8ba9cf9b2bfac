// The baseline lookup table as CSV (spec I4, B6, R5, D5.3): read with columns taken by header
// name in any order, extra columns ignored and empty cells null, each cell keeping its text
// (F3); written with the rule's columns in B6/R5 order, rows sorted by key.
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

#include <k8snetio/model/baseline_table.hpp>
#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/input_source.hpp>
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

/// Reads a baseline lookup table (I4). `text` is the whole file; `file` names it in errors;
/// without `measures`, the main rule's table (network_io_measures).
///
/// - The header names the columns, in any order: `key` is required (else bad_header);
///   `avg_<m>` and `stdev_<m>` for each measure name `m` of `measures` (the ratio rule's names
///   hold a colon: `avg_inbound:outbound`); a measure column that is absent makes all its
///   cells null; `count` and `last_seen` are read when present; other columns (Splunk's
///   `__mv_*`, say) are ignored. A UTF-8 byte order mark, CRLF and RFC 4180 quoting are fine.
/// - An empty cell is null (D5.2). A number cell keeps its own text (F3).
/// - Strict about what it cannot use, rather than reading it as null: a non-empty cell that
///   is not a finite number (`from_chars` grammar: no spaces, no leading '+') is
///   bad_baseline_cell; so is a `count` that is not a non-negative integer or a `last_seen`
///   that is not a finite number (it is floored to whole seconds). A row with another field
///   count than the header, or malformed quoting, is bad_row.
/// - A key seen twice is duplicate_key, naming the key and both lines (D5.3).
/// - Blank lines are skipped. An empty key is kept (it can never match: keys hold a ':').
/// The table's stdev_column_order is the header's order of the stdev_* columns (D6.1).
template <std::size_t N = 2>
result<baseline_table<N>> read_baseline_csv(std::string_view text, std::string_view file,
                                            const measure_set<N>& measures = network_io_measures) {
  using detail::no_column;
  baseline_table<N> table(measures);
  std::vector<std::uint64_t> row_lines;  // the line of each row, in insertion order
  std::vector<std::string> header;
  std::optional<detail::baseline_columns<N>> columns;
  csv_tokenizer tokenizer;
  // A UTF-8 byte order mark, as spreadsheets write it: dropped before tokenizing, so that a
  // quoted first header cell after it is not taken for a stray quote.
  std::size_t pos = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;

  for (;;) {
    const auto status = tokenizer.parse(text.substr(pos), true);
    if (status == csv_tokenizer::status::end) break;
    const auto row_or_header = columns ? error_code::bad_row : error_code::bad_header;
    if (status != csv_tokenizer::status::record)  // unterminated quote or too long
      return make_error(
          row_or_header, file, tokenizer.line(),
          fmt::format("malformed CSV: {}", to_string(status == csv_tokenizer::status::too_long
                                                         ? csv_syntax::record_too_long
                                                         : csv_syntax::unterminated_quote)));
    pos += tokenizer.consumed();
    const csv_record record = tokenizer.record();
    if (record.blank) continue;
    if (record.syntax != csv_syntax::ok)
      return make_error(row_or_header, file, record.line,
                        fmt::format("malformed CSV: {}", to_string(record.syntax)));

    if (!columns) {
      columns = detail::resolve_baseline_header<N>(record.fields, measures);
      if (columns->key == no_column)
        return make_error(error_code::bad_header, file, record.line,
                          "the baseline table's header has no 'key' column", "key");
      header.assign(record.fields.begin(), record.fields.end());
      table.set_stdev_column_order(detail::stdev_order_of(*columns, measures));
      continue;
    }

    const auto& c = *columns;
    if (record.fields.size() != c.fields)
      return make_error(
          error_code::bad_row, file, record.line,
          fmt::format("the row has {} fields, the header {}", record.fields.size(), c.fields));
    const auto bad_cell = [&](std::size_t column, std::string_view what) {
      return make_error(error_code::bad_baseline_cell, file, record.line,
                        fmt::format("'{}' is not {}", record.fields[column], what), header[column]);
    };

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
    }
    if (c.count != no_column && !record.fields[c.count].empty()) {
      const std::string_view raw = record.fields[c.count];
      std::uint64_t count = 0;
      const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), count);
      if (ec != std::errc{} || end != raw.data() + raw.size())
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

    std::string key(record.fields[c.key]);
    if (!table.insert(key, std::move(entry))) {
      const auto& rows = table.rows();
      const auto first = std::find_if(rows.begin(), rows.end(),
                                      [&key](const auto& row) { return row.key == key; });
      const auto first_line = row_lines[static_cast<std::size_t>(first - rows.begin())];
      return make_error(
          error_code::duplicate_key, file, record.line,
          fmt::format("duplicate key '{}' (lines {} and {})", key, first_line, record.line),
          header[c.key]);
    }
    row_lines.push_back(record.line);
  }
  if (!columns) return make_error(error_code::bad_header, file, 0, "the input has no header row");
  return table;
}

/// Reads a baseline table from a file ("-": standard input; gzip recognised from the content).
template <std::size_t N = 2>
result<baseline_table<N>> load_baseline_csv(std::string path,
                                            const measure_set<N>& measures = network_io_measures) {
  auto whole = read_whole_input(std::move(path));
  if (!whole) return tl::unexpected(whole.error());
  return read_baseline_csv<N>(whole->text, whole->name, measures);
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
