// libFuzzer target for the I1 metrics_csv reader and the CSV tokenizer under it. Besides
// memory errors (run with ASan/UBSan) it checks one property: the points and the report do
// not depend on how the input is split into chunks.
//
//   flags="-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude"
//   clang++-14 $flags fuzz/fuzz_metrics_csv.cpp -lfmt -o /tmp/fz
//   cp -r fuzz/corpus/fuzz_metrics_csv /tmp/corpus && /tmp/fz -max_total_time=30 /tmp/corpus
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>

namespace {

using namespace k8snetio;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

/// Everything a read produced, as text, so that two reads compare with ==.
struct transcript {
  std::vector<std::string> lines;
  bool operator==(const transcript&) const = default;
};

transcript read_in_pieces(std::string_view data, const std::vector<std::size_t>& cuts,
                          bool strict) {
  io::reader_options options;
  options.strict = strict;
  io::metrics_csv_reader reader("fuzz.csv", options);
  reader.report().max_examples = 50;
  transcript t;
  auto sink = [&](const metric_point& p) {
    FUZZ_CHECK(!p.cluster.empty() && !p.pod.empty() && !p.node.empty() && !p.direction.empty());
    FUZZ_CHECK(std::isfinite(p.time) && std::isfinite(p.value));
    t.lines.push_back(fmt::format("{}|{}|{}|{}|{}|{}|{}", p.time, p.value, p.metric_name, p.cluster,
                                  p.pod, p.node, p.direction));
  };
  io::result<void> r;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    if (!r) break;
    r = reader.feed(data.substr(pos, cut - pos), sink);
    pos = cut;
  }
  if (r) r = reader.feed(data.substr(pos), sink);
  if (r) r = reader.finish(sink);
  const auto& rep = reader.report();
  FUZZ_CHECK(rep.bytes <= data.size());
  FUZZ_CHECK(rep.points == t.lines.size());
  if (r) {
    FUZZ_CHECK(rep.bytes == data.size());
    FUZZ_CHECK(rep.rows_read == rep.points + rep.skipped_total());
  }
  t.lines.push_back(r ? std::string("ok") : r.error().what());
  t.lines.push_back(fmt::format("rows {} points {} skipped {}", rep.rows_read, rep.points,
                                fmt::join(rep.skipped, ",")));
  for (const auto& e : rep.examples) t.lines.push_back(e.to_string());
  return t;
}

transcript records_in_pieces(std::string_view data, std::size_t chunk, std::size_t max_record) {
  io::csv_record_stream stream(max_record);
  transcript t;
  auto handler = [&](const io::csv_record& r) {
    std::string s = fmt::format("{}:{}:{}:", r.line, io::to_string(r.syntax), r.blank);
    for (auto f : r.fields) s += fmt::format("[{}]", f);
    t.lines.push_back(std::move(s));
    return true;
  };
  for (std::size_t pos = 0; pos < data.size(); pos += chunk)
    stream.feed(data.substr(pos, chunk), handler);
  stream.finish(handler);
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  (void)io::detect_format(data);

  // The first byte picks the split, so the fuzzer can steer it; the data is all of the input.
  const std::size_t cut = size == 0 ? 0 : bytes[0] % (size + 1);
  const bool strict = size > 1 && (bytes[1] & 1);
  const auto whole = read_in_pieces(data, {}, strict);
  FUZZ_CHECK(read_in_pieces(data, {cut}, strict) == whole);
  if (size > 2) {
    const std::size_t second = cut + (size - cut) / 2;
    FUZZ_CHECK(read_in_pieces(data, {cut / 2, second}, strict) == whole);
  }

  // The tokenizer alone, with a small record limit so that too-long records and the resync
  // after them are reached too.
  if (size <= 4096) {
    const std::size_t max_record = 8 + (size > 2 ? bytes[2] % 64 : 0);
    const auto records = records_in_pieces(data, size + 1, max_record);
    FUZZ_CHECK(records_in_pieces(data, 1 + cut % 17, max_record) == records);
  }
  return 0;
}
