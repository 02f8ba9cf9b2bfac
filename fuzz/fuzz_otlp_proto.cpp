// libFuzzer target of the OTLP protobuf reader (spec I3.5). The first byte chooses the options
// and a chunk size; the rest is one request, and also the content of a framed file. Besides
// the sanitizers it checks: a request is all or nothing (refused: no point, no series, one
// row); every row is a point or a counted skip; the request framed twice in a file (in chunks
// of any size) gives what feed_protobuf gives for it twice.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/input/otlp_protobuf.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>

namespace {

namespace io = k8snetio::io;

struct owned_point {
  double time, value;
  std::string text;
  bool operator==(const owned_point&) const = default;
};

struct collect {
  std::vector<owned_point>* out;
  void operator()(const k8snetio::metric_point& p) const {
    std::string s;
    for (auto part :
         {p.metric_name, p.cluster, p.pod, p.node, p.direction, p.namespace_name, p.pod_uid}) {
      s.append(part);
      s.push_back('\x1f');
    }
    out->push_back({p.time, p.value, std::move(s)});
  }
};

std::string frame(std::string_view message) {
  const auto n = static_cast<std::uint32_t>(message.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  out.append(message);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view request(reinterpret_cast<const char*>(data + 1), size - 1);

  io::reader_options options;
  options.strict = (control & 1) != 0;
  options.otlp_counter = static_cast<io::otlp_counter_mode>(((control >> 1) & 3) % 3);
  if (control & 8) options.default_cluster = "fuzz-cluster";
  if (control & 16) options.default_node = "fuzz-node";
  const std::size_t chunk = 1 + static_cast<std::size_t>(control >> 5) * 7;

  // One request, twice: all or nothing each time.
  io::otlp_reader direct("fuzz", options);
  std::vector<owned_point> direct_points;
  bool direct_ok = true;
  for (int round = 0; round < 2 && direct_ok; ++round) {
    const auto before_points = direct_points.size();
    const auto before_series = direct.series_count();
    const auto before = direct.report();
    direct_ok = static_cast<bool>(direct.feed_protobuf(request, collect{&direct_points}));
    const auto& after = direct.report();
    if (after.count(io::skip_reason::bad_syntax) != before.count(io::skip_reason::bad_syntax)) {
      if (direct_points.size() != before_points || direct.series_count() != before_series ||
          after.rows_read != before.rows_read + 1)
        __builtin_trap();
    }
    if (direct_ok && after.rows_read != after.points + after.skipped_total()) __builtin_trap();
  }

  // The same request framed twice in a file, read whole and in chunks. A request that looks
  // like JSON or zstd is read as what it looks like in a frame, so only the rest compares.
  if (io::looks_like_otlp_json(request) || request.starts_with(io::detail::zstd_frame_magic))
    return 0;
  const std::string file = frame(request) + frame(request);
  for (std::size_t step : {file.size() + 1, chunk}) {
    io::otlp_reader framed("fuzz", options);
    std::vector<owned_point> points;
    bool ok = true;
    for (std::size_t at = 0; at < file.size() && ok; at += step)
      ok = static_cast<bool>(
          framed.feed_frames(std::string_view(file).substr(at, step), collect{&points}));
    if (ok) ok = static_cast<bool>(framed.finish_frames(collect{&points}));
    if (ok != direct_ok || !(points == direct_points) ||
        framed.report().rows_read != direct.report().rows_read ||
        framed.report().skipped != direct.report().skipped)
      __builtin_trap();
  }
  return 0;
}
