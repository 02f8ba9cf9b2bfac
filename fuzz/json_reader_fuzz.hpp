// The body shared by the JSON readers' libFuzzer targets (fuzz_hec.cpp, fuzz_otlp.cpp). The
// first byte chooses the options and a chunk size; the rest is the input, read as two files
// (state must carry across files). Besides the sanitizers, it checks two properties: feeding
// in chunks gives exactly what one read gives, and every row is a point or a counted skip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio_fuzz {

namespace io = k8snetio::io;

struct owned_point {
  double time, value;
  std::string text;  // metric name and dimensions, joined
  bool operator==(const owned_point&) const = default;
};

struct outcome {
  std::vector<owned_point> points;
  io::read_report report;
  bool ok = true;
};

/// Reads `text` with a Reader("fuzz", options) in chunks of `chunk` bytes; `limit(reader)`
/// lowers its size limit when `small_limit`.
template <class Reader, class Limit>
outcome run(std::string_view text, const io::reader_options& options, std::size_t chunk,
            bool small_limit, Limit limit) {
  Reader reader("fuzz", options);
  if (small_limit) limit(reader);
  outcome out;
  auto sink = [&](const k8snetio::metric_point& p) {
    std::string s;
    for (auto part : {p.metric_name, p.cluster, p.pod, p.node, p.direction}) {
      s.append(part);
      s.push_back('\x1f');
    }
    out.points.push_back({p.time, p.value, std::move(s)});
  };
  const auto half = text.size() / 2;
  for (auto part : {text.substr(0, half), text.substr(half)}) {
    for (std::size_t at = 0; at < part.size() && out.ok; at += chunk)
      out.ok = static_cast<bool>(reader.feed(part.substr(at, chunk), sink));
    if (out.ok) out.ok = static_cast<bool>(reader.finish(sink));
    if (!out.ok) break;
    reader.start_file("fuzz-2");
  }
  out.report = reader.report();
  return out;
}

/// LLVMFuzzerTestOneInput's body for a JSON reader.
template <class Reader, class Limit>
int fuzz_json_reader(const std::uint8_t* data, std::size_t size, Limit limit) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  io::reader_options options;
  options.strict = (control & 1) != 0;
  options.otlp_counter = static_cast<io::otlp_counter_mode>(((control >> 1) & 3) % 3);
  if (control & 8) options.default_cluster = "fuzz-cluster";
  const bool small_limit = (control >> 4) == 15;
  const std::size_t chunk = 1 + (control >> 4) * 5;

  auto whole = run<Reader>(text, options, text.size() + 1, small_limit, limit);
  auto chunked = run<Reader>(text, options, chunk, small_limit, limit);
  if (!(whole.points == chunked.points) || whole.ok != chunked.ok ||
      whole.report.rows_read != chunked.report.rows_read ||
      whole.report.skipped != chunked.report.skipped)
    __builtin_trap();
  if (whole.ok && whole.report.rows_read != whole.report.points + whole.report.skipped_total())
    __builtin_trap();
  return 0;
}

}  // namespace k8snetio_fuzz
