// The harness of the metrics_csv readers' tests (spec I1): what one reader gives reading a
// text in order, what the parallel reader gives reading a file, and the check that the two
// are the same: the points (every field, I3.3 context included), the error and the report.
// Apart from support.hpp, which most test files include, so that they need not parse the
// readers.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/parallel_csv.hpp>

#include "support.hpp"

namespace k8snetio::test {

/// All records of a CSV text as the tokenizer gives them, fed whole (chunk 0) or in chunks of
/// `chunk` bytes: each record's line and syntax, then its fields joined by '|'.
inline std::vector<std::string> records_of(
    std::string_view text, std::size_t chunk,
    std::size_t max_record = io::default_max_csv_record_bytes) {
  std::vector<std::string> out;
  io::csv_record_stream stream(max_record);
  auto handler = [&](const io::csv_record& r) {
    std::string s = std::to_string(r.line) + ":" + std::string(to_string(r.syntax)) +
                    (r.blank ? ":blank" : "") + ":";
    for (std::size_t i = 0; i < r.fields.size(); ++i)
      s += (i ? "|" : "") + std::string(r.fields[i]);
    out.push_back(std::move(s));
    return true;
  };
  if (chunk == 0) {
    stream.feed(text, handler);
  } else {
    for (std::size_t pos = 0; pos < text.size(); pos += chunk)
      stream.feed(text.substr(pos, chunk), handler);
  }
  stream.finish(handler);
  return out;
}

/// What a read gave: its points, its report and its error (if any); for a parallel read, also
/// how many threads it used and whether it fell back to reading in order.
struct read_outcome {
  std::vector<full_point> points;
  io::read_report report;
  std::optional<std::string> error;
  unsigned threads_used = 0;
  bool fell_back = false;
};

/// The reference: one reader over the whole text, in order.
inline read_outcome read_in_order(std::string_view text, const std::string& name,
                                  const io::reader_options& o) {
  io::metrics_csv_reader reader(name, o);
  reader.report().max_examples = 1000;
  read_outcome out;
  auto r = reader.read(text, [&](const metric_point& p) { out.points.push_back(own_all(p)); });
  out.report = reader.report();
  if (!r) out.error = r.error().what();
  return out;
}

/// The file at `path` read by the parallel reader.
inline read_outcome read_parallel(const std::string& path, const io::reader_options& o,
                                  io::parallel_read_options p) {
  io::parallel_metrics_csv_reader reader(path, o, p);
  reader.set_max_examples(1000);
  read_outcome out;
  auto r = reader.read([&](const metric_point& pt) { out.points.push_back(own_all(pt)); });
  out.report = reader.report();
  if (!r) out.error = r.error().what();
  out.threads_used = reader.threads_used();
  out.fell_back = reader.fell_back();
  return out;
}

/// The same error, points in the same order, and the same counts and examples (with their line
/// numbers) in the report. The bytes read are the caller's to compare: after an error they
/// depend on how the input was cut.
inline void require_same(const read_outcome& a, const read_outcome& b) {
  REQUIRE(a.error == b.error);
  REQUIRE(a.points.size() == b.points.size());
  for (std::size_t i = 0; i < a.points.size(); ++i) {
    INFO("point " << i);
    REQUIRE(a.points[i] == b.points[i]);
  }
  REQUIRE(a.report.rows_read == b.report.rows_read);
  REQUIRE(a.report.points == b.report.points);
  REQUIRE(a.report.skipped == b.report.skipped);
  REQUIRE(a.report.examples.size() == b.report.examples.size());
  for (std::size_t i = 0; i < a.report.examples.size(); ++i) {
    INFO("example " << i);
    REQUIRE(a.report.examples[i].to_string() == b.report.examples[i].to_string());
  }
}

}  // namespace k8snetio::test
