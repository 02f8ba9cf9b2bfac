// The fast paths under the metrics_csv readers (spec I1, I1.2, I3.3; issue 27): the
// tokenizer's 32-bytes-at-a-time path against a plain reference tokenizer, records ending at
// every offset around its blocks; and the parallel reader's compact points (offsets into the
// segment, fields not in the text copied once), which must give every field of every point,
// context included, exactly as one reader in order gives it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/parallel_csv.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>

#include "csv_support.hpp"
#include "support.hpp"

namespace test_csv_fast_paths {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

using k8snetio::test::full_point;
using k8snetio::test::read_in_order;
using k8snetio::test::read_outcome;
using k8snetio::test::read_parallel;
using k8snetio::test::records_of;
using k8snetio::test::require_same;
using k8snetio::test::temp_file;

/// RFC 4180 for well-formed text (every quoted field closed, no stray quote), written plainly
/// and independently of the tokenizer: what its fast and general paths must both give.
std::vector<std::string> reference_records(std::string_view text) {
  std::vector<std::string> out;
  std::uint64_t line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::uint64_t start_line = line;
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;  // the current field
    for (;;) {
      quoted = i < text.size() && text[i] == '"';
      if (quoted) {
        for (++i;; ++i) {
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              ++i;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i];
        }
        if (i < text.size() && text[i] == '\r') ++i;  // well formed: a line end follows
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n') field += text[i++];
        // A '\r' just before the line end (or the end of the text) is the line end's.
        if (!field.empty() && field.back() == '\r' && (i == text.size() || text[i] == '\n'))
          field.pop_back();
      }
      if (i < text.size() && text[i] == ',') {
        fields.push_back(field);
        field.clear();
        ++i;
        continue;
      }
      fields.push_back(field);
      if (i < text.size()) ++i;  // the '\n'
      ++line;
      break;
    }
    const bool blank = fields.size() == 1 && fields[0].empty() && !quoted;
    std::string s = std::to_string(start_line) + ":well formed" + (blank ? ":blank" : "") + ":";
    for (std::size_t k = 0; k < fields.size(); ++k) s += (k ? "|" : "") + fields[k];
    out.push_back(std::move(s));
  }
  return out;
}

/// A random well-formed field: plain text, empty, or quoted with commas, doubled quotes, line
/// ends inside.
std::string random_field(std::mt19937_64& rng) {
  const int kind = static_cast<int>(rng() % 10);
  const std::size_t length = rng() % 40;
  std::string f;
  if (kind < 6) {
    for (std::size_t k = 0; k < length; ++k) f += static_cast<char>('a' + rng() % 26);
    return f;
  }
  if (kind < 7) return f;  // empty
  f = "\"";
  const std::string_view inside = "ab,\n\r\"";
  for (std::size_t k = 0; k < length; ++k) {
    const char c = inside[rng() % inside.size()];
    f += c;
    if (c == '"') f += '"';
  }
  return f + "\"";
}

}  // namespace

TEST_CASE(
    "I1 tokenizer: records ending at every offset around its 32-byte blocks agree with a "
    "plain reference, whole and in chunks",
    "[I1][csv]") {
  // Records of every length from 0 to 100 bytes (so the line end falls at every offset of
  // the first three blocks, and just before and after each block's end), with "\n" or "\r\n",
  // a quote in the last field or none, and the last record with or without a line end.
  for (std::size_t length = 0; length <= 100; ++length) {
    for (const std::string_view eol : {std::string_view("\n"), std::string_view("\r\n")}) {
      for (int quote = 0; quote < 3; ++quote) {
        std::string record;
        for (std::size_t k = 0; k < length; ++k) record += k % 7 == 6 ? ',' : 'x';
        if (quote == 1) record += ",\"\"";  // an empty quoted field last
        if (quote == 2) record = "\"" + record + ",\r\n\"\"\"";
        for (const bool final_eol : {true, false}) {
          std::string text = record + std::string(eol) + record + std::string(eol) + record;
          if (final_eol) text += eol;
          INFO("text: " << text);
          const auto expected = reference_records(text);
          REQUIRE(records_of(text, 0) == expected);
          for (const std::size_t chunk : {1u, 31u, 32u, 33u})
            REQUIRE(records_of(text, chunk) == expected);
        }
      }
    }
  }
}

TEST_CASE(
    "I1 tokenizer: random well-formed CSV (quotes, CRLF, empty fields, no final newline) "
    "agrees with a plain reference, whole and in chunks",
    "[I1][csv]") {
  std::mt19937_64 rng(27);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const std::size_t records = rng() % 12;
    for (std::size_t r = 0; r < records; ++r) {
      const std::size_t fields = 1 + rng() % 9;
      for (std::size_t f = 0; f < fields; ++f) text += (f ? "," : "") + random_field(rng);
      if (r + 1 < records || rng() % 2) text += rng() % 3 ? "\n" : "\r\n";
    }
    INFO("text: " << text);
    const auto expected = reference_records(text);
    REQUIRE(records_of(text, 0) == expected);
    for (const std::size_t chunk : {1u, 5u, 32u, 64u}) REQUIRE(records_of(text, chunk) == expected);
  }
}

TEST_CASE(
    "I1 I3.3 parallel: compact points give every field, context and defaults included, as "
    "one reader in order",
    "[I1][I3.3][parallel]") {
  // Fields in the text (offsets), fields unescaped from doubled quotes and defaults from the
  // options (copied once per segment), empty cells, on cuts of every kind.
  std::mt19937_64 rng(2712);
  for (int round = 0; round < 60; ++round) {
    std::string text =
        "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.namespace.name,k8s.node.name,"
        "k8s.pod.name,k8s.pod.uid,direction\n";
    const std::size_t rows = 50 + rng() % 400;
    for (std::size_t i = 0; i < rows; ++i) {
      const int kind = static_cast<int>(rng() % 10);
      const std::string t = std::to_string(1'700'000'000 + i) + "." + std::to_string(rng() % 1000);
      const std::string pod = "api-" + std::to_string(i % 5) + "-x" + std::to_string(i % 3);
      const std::string ns = kind == 0   ? ""
                             : kind == 1 ? "\"n\"\"s\""
                                         : "ns-" + std::to_string(i % 4);
      const std::string uid = kind == 2 ? "\"u,\"\"id\"" : kind == 3 ? "" : "uid-" + pod;
      const std::string cluster = kind == 4 ? "" : kind == 5 ? "\"c\"\"1\"" : "prod";
      const std::string node = kind == 6 ? "" : "node-" + std::to_string(i % 2);
      const std::string quoted_pod = kind == 7 ? "\"" + pod + "\"\"q\"" : pod;
      text += t + ",k8s.pod.network.io," + std::to_string(rng() % 100000) + "," + cluster + "," +
              ns + "," + node + "," + quoted_pod + "," + uid + "," +
              (i % 2 ? "transmit" : "receive") + (rng() % 9 == 0 ? "\r\n" : "\n");
    }
    const temp_file file(text);
    reader_options o;
    if (round % 2 == 0) o.default_cluster = "fallback-cluster";
    if (round % 3 == 0) o.default_node = "fallback-node";
    parallel_read_options p;
    p.threads = 2 + static_cast<unsigned>(round % 3);
    p.segment_bytes = 64 + rng() % 2048;
    p.group_series = round % 2 == 1;
    INFO("round " << round << ", " << text.size() << " bytes, segments of " << p.segment_bytes);
    const read_outcome parallel = read_parallel(file.path, o, p);
    const read_outcome reference = read_in_order(text, file.path, o);
    require_same(parallel, reference);
    CHECK(parallel.threads_used > 1);
    // The cases meant to be exercised were: context, unescaped fields and defaults.
    bool unescaped = false, context = false, defaulted = false;
    for (const full_point& pt : reference.points) {
      unescaped = unescaped || pt.pod_uid == "u,\"id" || pt.namespace_name == "n\"s";
      context = context || !pt.namespace_name.empty();
      defaulted = defaulted || pt.cluster == "fallback-cluster";
    }
    CHECK(unescaped);
    CHECK(context);
    CHECK(defaulted == (round % 2 == 0));
  }
}

TEST_CASE(
    "I1.2 parallel: metric_name:<name> columns (the metric named by the header) as one "
    "reader in order",
    "[I1][I1.2][parallel]") {
  std::string text =
      "_time,metric_name:k8s.pod.network.io,metric_name:other.metric,k8s.cluster.name,"
      "k8s.pod.name,k8s.node.name,direction\n";
  for (int i = 0; i < 3000; ++i)
    text += "2023-11-14T22:13:" + std::to_string(10 + i % 40) + ".000+00:00," +
            (i % 4 == 0 ? "" : std::to_string(i)) + "," + std::to_string(i * 2) + ",prod,p-" +
            std::to_string(i % 9) + ",node-1," + (i % 2 ? "transmit" : "receive") + "\n";
  const temp_file file(text);
  parallel_read_options p;
  p.threads = 3;
  p.segment_bytes = 4096;
  const read_outcome parallel = read_parallel(file.path, {}, p);
  const read_outcome reference = read_in_order(text, file.path, {});
  require_same(parallel, reference);
  CHECK(parallel.threads_used == 3);
  REQUIRE(reference.points.size() == 2250);
  CHECK(reference.points[0].metric_name == "k8s.pod.network.io");
}

TEST_CASE(
    "A1.4 B1 parallel: with series grouped on the parsing threads the baseline runner counts "
    "every point of an unmapped direction, as when reading in order",
    "[A1.4][parallel]") {
  // Directions the rule maps and two it does not, in series that repeat per bucket, so that
  // the runner's answer kept per series of a segment is used again and again.
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  std::mt19937_64 rng(14);
  const std::vector<std::string> directions = {"transmit", "receive", "tx", "other"};
  for (int bucket = 0; bucket < 40; ++bucket)
    for (int pod = 0; pod < 60; ++pod)
      for (const std::string& dir : directions)
        if (rng() % 8 != 0 && (dir.size() > 5 || pod % 7 == 0))
          text += std::to_string(1'700'000'000 + bucket * 10 + static_cast<int>(rng() % 10)) + "," +
                  std::to_string(rng() % 5000) + ",prod,api-" + std::to_string(pod) + ",node-1," +
                  dir + "\n";
  const temp_file file(text);
  const auto run = [&](const parallel_read_options& p) {
    baseline_runner<2> runner(anomalous_network_io);
    parallel_metrics_csv_reader reader(file.path, {}, p);
    REQUIRE(reader.read([&](const metric_point& pt) { runner.add(pt); }));
    auto result = runner.finish();
    return std::tuple(io::write_baseline_csv(result.table), result.unmapped_direction,
                      result.unmapped_directions);
  };
  parallel_read_options in_order;
  in_order.threads = 1;
  const auto reference = run(in_order);
  REQUIRE(std::get<1>(reference) > 100);
  REQUIRE(std::get<2>(reference).size() == 2);
  for (const std::size_t segment : {std::size_t{64}, std::size_t{3000}, std::size_t{40000}}) {
    parallel_read_options p;
    p.threads = 2;
    p.segment_bytes = segment;
    p.group_series = true;
    INFO(segment << "-byte segments");
    CHECK(run(p) == reference);
  }
}

}  // namespace test_csv_fast_paths
