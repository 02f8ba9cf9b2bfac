// libFuzzer target of the OTLP JSON reader (spec I3). The first byte chooses the options and a
// chunk size; the rest is the input. Besides the sanitizers, it checks two properties: feeding
// in chunks gives exactly what one read gives, and every row is a point or a counted skip.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/otlp_reader.hpp>

namespace {

using namespace k8snetio;

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

outcome run(std::string_view text, const io::reader_options& options, std::size_t chunk,
            bool small_limit) {
  io::otlp_reader reader("fuzz", options);
  if (small_limit) reader.limit_line_bytes(256);
  outcome out;
  auto sink = [&](const metric_point& p) {
    std::string s;
    for (auto part : {p.metric_name, p.cluster, p.pod, p.node, p.direction}) {
      s.append(part);
      s.push_back('\x1f');
    }
    out.points.push_back({p.time, p.value, std::move(s)});
  };
  // Half the input as one file and the rest as another: state must carry across files.
  auto half = text.size() / 2;
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  io::reader_options options;
  options.strict = (control & 1) != 0;
  options.otlp_counter = static_cast<io::otlp_counter_mode>(((control >> 1) & 3) % 3);
  if (control & 8) options.default_cluster = "fuzz-cluster";
  const bool small_limit = (control >> 4) == 15;
  const std::size_t chunk = 1 + (control >> 4) * 5;

  auto whole = run(text, options, text.size() + 1, small_limit);
  auto chunked = run(text, options, chunk, small_limit);
  if (!(whole.points == chunked.points) || whole.ok != chunked.ok ||
      whole.report.rows_read != chunked.report.rows_read ||
      whole.report.skipped != chunked.report.skipped)
    __builtin_trap();
  if (whole.ok && whole.report.rows_read != whole.report.points + whole.report.skipped_total())
    __builtin_trap();
  return 0;
}
