// What a reader did with its input: rows read, points produced, and every skipped row counted
// by reason, with the first few named as file:line: reason. Nothing is dropped silently.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace k8snetio::io {

/// Why a row or point was skipped. Stable ids: users grep for the names in `to_string`.
enum class skip_reason : std::uint8_t {
  bad_syntax,         ///< malformed CSV/JSON (unterminated quote, bad JSON, …)
  short_row,          ///< fewer fields than the header
  long_row,           ///< I1.5: more fields than the header (an unquoted "1,000"?)
  missing_field,      ///< a required field (time, value) is absent or empty
  bad_number,         ///< a time or value that does not parse as a number
  non_finite,         ///< NaN or ±inf (D1.2)
  missing_dimension,  ///< one of the four dimensions absent or empty (D1.1)
  other_metric,       ///< a point of another metric: not an error, but still counted
  counter_reset,      ///< OTLP cumulative counter went down or restarted (I3): no delta
  first_of_series,    ///< OTLP cumulative: the first point of a series yields no delta (I3)
  late,               ///< older than the aggregator's allowed lateness
  time_out_of_range,  ///< I1.4: not a plausible epoch time in seconds (milliseconds, say)
  no_recorded_value,  ///< I3.2: an OTLP point flagged NO_RECORDED_VALUE: no value to use
  too_many_series,    ///< S5.1: a new OTLP cumulative series beyond reader_options::otlp_max_series
  count_              // keep last
};

inline constexpr std::size_t skip_reason_count = static_cast<std::size_t>(skip_reason::count_);

constexpr std::string_view to_string(skip_reason r) noexcept {
  constexpr std::array<std::string_view, skip_reason_count> names = {
      "bad syntax",        "short row",
      "long row",          "missing field",
      "bad number",        "non-finite value",
      "missing dimension", "other metric",
      "counter reset",     "first point of a cumulative series",
      "late point",        "time out of range",
      "no recorded value", "too many series"};
  auto i = static_cast<std::size_t>(r);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

/// Whether a skip reason is a defect of the input (counts against --strict) or expected.
constexpr bool is_error(skip_reason r) noexcept {
  switch (r) {
    case skip_reason::other_metric:
    case skip_reason::counter_reset:
    case skip_reason::first_of_series:
    case skip_reason::no_recorded_value: return false;
    default: return true;
  }
}

/// The four dimensions of D1.1, as the readers name them in missing_dimension skips.
inline constexpr std::array<std::string_view, 4> dimension_names = {
    "k8s.cluster.name", "k8s.pod.name", "k8s.node.name", "direction"};

/// What supplies a dimension that the input lacks (I3.1): the option, or the collector's
/// processor. For the summary: "no k8s.node.name: 94 points; set reader_options::default_node or …"
/// (library.md A6: the option by its library name; the program names its flag).
constexpr std::string_view missing_dimension_hint(std::size_t dimension) noexcept {
  switch (dimension) {
    case 0:
      return "set reader_options::default_cluster or add the k8sattributes or resource processor";
    case 1: return "the points are not per pod (only pod metrics can be read)";
    case 2: return "set reader_options::default_node or add the k8sattributes processor";
    case 3: return "the metric needs a direction (or network.io.direction) attribute";
    default: return "";
  }
}

/// One named problem: where and why.
struct input_problem {
  std::string file;
  std::uint64_t line = 0;  ///< 1-based; 0 when not known
  skip_reason reason{};
  std::string detail;  ///< e.g. the field name or the offending text, short

  std::string to_string() const {
    auto what = detail.empty() ? std::string(io::to_string(reason))
                               : fmt::format("{}: {}", io::to_string(reason), detail);
    return line ? fmt::format("{}:{}: {}", file, line, what) : fmt::format("{}: {}", file, what);
  }
};

/// Counters a reader fills. `examples` keeps the first `max_examples` defects (is_error).
struct read_report {
  std::uint64_t rows_read = 0;  ///< rows / data points seen
  std::uint64_t points = 0;     ///< points handed on
  std::uint64_t bytes = 0;      ///< input bytes consumed
  std::array<std::uint64_t, skip_reason_count> skipped{};
  std::vector<input_problem> examples;
  std::size_t max_examples = 5;
  /// missing_dimension skips by dimension, in dimension_names' order.
  std::array<std::uint64_t, dimension_names.size()> missing_dimensions{};

  void skip(std::string_view file, std::uint64_t line, skip_reason r,
            std::string_view detail = {}) {
    ++skipped[static_cast<std::size_t>(r)];
    if (r == skip_reason::missing_dimension)
      for (std::size_t d = 0; d < dimension_names.size(); ++d)
        if (detail == dimension_names[d]) ++missing_dimensions[d];
    // Only defects are named: expected skips (other metrics, first points) would crowd them out.
    if (is_error(r) && examples.size() < max_examples)
      examples.push_back({std::string(file), line, r, std::string(detail)});
  }
  std::uint64_t skipped_total() const noexcept {
    std::uint64_t n = 0;
    for (auto c : skipped) n += c;
    return n;
  }
  std::uint64_t count(skip_reason r) const noexcept { return skipped[static_cast<std::size_t>(r)]; }

  /// One line per dimension that points lacked after every fallback, with what would
  /// supply it: "no k8s.node.name: 94 points; set --default-node or add the k8sattributes
  /// processor" (I3.1). Empty when no point lacked one.
  std::vector<std::string> hints() const {
    std::vector<std::string> out;
    for (std::size_t d = 0; d < dimension_names.size(); ++d)
      if (missing_dimensions[d] != 0)
        out.push_back(fmt::format("no {}: {} point{}; {}", dimension_names[d],
                                  missing_dimensions[d], missing_dimensions[d] == 1 ? "" : "s",
                                  missing_dimension_hint(d)));
    return out;
  }

  read_report& operator+=(const read_report& o) {
    rows_read += o.rows_read;
    points += o.points;
    bytes += o.bytes;
    for (std::size_t i = 0; i < skip_reason_count; ++i) skipped[i] += o.skipped[i];
    for (std::size_t d = 0; d < dimension_names.size(); ++d)
      missing_dimensions[d] += o.missing_dimensions[d];
    for (const auto& e : o.examples)
      if (examples.size() < max_examples) examples.push_back(e);
    return *this;
  }
};

}  // namespace k8snetio::io
