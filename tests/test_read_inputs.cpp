// Tests of read_inputs, every metric input of a run in one call (spec "Inputs": I1–I3 recognised
// or forced, I3.4 gzip and zstd, several files with OTLP series continuing across them, the time
// range, the baseline table refused, errors naming file and line, the sink stopping the read,
// progress).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include "k8snetio/engine/baseline_runner.hpp"
#include "k8snetio/io/input/read_exactly.hpp"
#include "k8snetio/io/input/read_inputs.hpp"
#include "k8snetio/rules/anomalous_network_io.hpp"
#include "support.hpp"

namespace test_read_inputs {

namespace {

using namespace k8snetio::io;

using k8snetio::metric_point;
using k8snetio::test::fixture_path;
using k8snetio::test::owned_point;
using k8snetio::test::read_fixture;
using k8snetio::test::temp_dir;
using k8snetio::test::write_file;
using collector = k8snetio::test::point_collector;

/// What one reader of `format` gives for the whole fixture, read directly.
std::vector<owned_point> read_directly(input_format format, std::string_view fixture) {
  const std::string text = read_fixture(fixture);
  collector sink;
  result<void> r;
  if (format == input_format::metrics_csv) {
    metrics_csv_reader reader{std::string(fixture)};
    r = reader.read(text, sink);
  } else if (format == input_format::hec_json) {
    hec_reader reader;
    r = reader.read(text, sink);
  } else {
    otlp_reader reader;
    r = reader.read(text, sink);
  }
  REQUIRE(r);
  return sink.points;
}

std::string gzipped(std::string_view bytes) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string zstd_frame(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

struct read_outcome {
  std::vector<owned_point> points;
  result<read_summary> summary;
};

read_outcome read(const std::vector<std::string>& paths, const input_options& options = {}) {
  collector sink;
  auto summary = read_inputs(paths, options, sink);
  return {std::move(sink.points), std::move(summary)};
}

}  // namespace

TEST_CASE("I1 read_inputs recognises every format") {
  const auto csv = read_directly(input_format::metrics_csv, "metrics_small.csv");
  const auto hec = read_directly(input_format::hec_json, "hec_small.jsonl");
  const auto otlp = read_directly(input_format::otlp_json, "otlp_small.jsonl");
  REQUIRE_FALSE(csv.empty());
  REQUIRE_FALSE(hec.empty());
  REQUIRE_FALSE(otlp.empty());

  CHECK(read({fixture_path("metrics_small.csv")}).points == csv);
  CHECK(read({fixture_path("hec_small.jsonl")}).points == hec);
  CHECK(read({fixture_path("otlp_small.jsonl")}).points == otlp);

  // All three in one call, in the order given.
  auto all = read({fixture_path("metrics_small.csv"), fixture_path("hec_small.jsonl"),
                   fixture_path("otlp_small.jsonl")});
  REQUIRE(all.summary);
  std::vector<owned_point> expected = csv;
  expected.insert(expected.end(), hec.begin(), hec.end());
  expected.insert(expected.end(), otlp.begin(), otlp.end());
  CHECK(all.points == expected);
  CHECK(all.summary->inputs == 3);
  CHECK(all.summary->report.points == expected.size());
  CHECK(all.summary->outside_range == 0);
  CHECK_FALSE(all.summary->stopped);

  // The shapes real exports have (tests/test_real_shapes.cpp).
  struct shape {
    input_format format;
    const char* fixture;
  };
  for (const shape s : {shape{input_format::metrics_csv, "metrics_splunk_export_iso.csv"},
                        shape{input_format::metrics_csv, "metrics_multi_measurement.csv"},
                        shape{input_format::hec_json, "hec_exporter.jsonl"},
                        shape{input_format::otlp_json, "otlp_chart.jsonl"},
                        shape{input_format::otlp_json, "otlp_raw_kubeletstats.jsonl"}}) {
    INFO(s.fixture);
    CHECK(read({fixture_path(s.fixture)}).points == read_directly(s.format, s.fixture));
  }
}

TEST_CASE("I1 read_inputs: a forced format is used, a forced baseline refused") {
  const std::string hec = fixture_path("hec_small.jsonl");
  input_options options;
  options.format = input_format::hec_json;
  CHECK(read({hec}, options).points == read_directly(input_format::hec_json, "hec_small.jsonl"));

  options.format = input_format::metrics_csv;  // JSON read as CSV: no usable header
  auto as_csv = read({hec}, options);
  REQUIRE_FALSE(as_csv.summary);
  CHECK(as_csv.summary.error().code == error_code::bad_header);
  CHECK(as_csv.summary.error().file == hec);

  options.format = input_format::baseline_csv;
  auto as_baseline = read({hec}, options);
  REQUIRE_FALSE(as_baseline.summary);
  CHECK(as_baseline.summary.error().code == error_code::unknown_format);
}

TEST_CASE("I3.4 read_inputs reads gzip and zstd whatever the name") {
  temp_dir dir;
  write_file(dir.file("m.csv"), gzipped(read_fixture("metrics_small.csv")));
  write_file(dir.file("h.gz"), gzipped(read_fixture("hec_small.jsonl")));
  write_file(dir.file("o.jsonl.zst"), zstd_frame(read_fixture("otlp_small.jsonl")));

  CHECK(read({dir.file("m.csv")}).points ==
        read_directly(input_format::metrics_csv, "metrics_small.csv"));
  CHECK(read({dir.file("h.gz")}).points ==
        read_directly(input_format::hec_json, "hec_small.jsonl"));
  CHECK(read({dir.file("o.jsonl.zst")}).points ==
        read_directly(input_format::otlp_json, "otlp_small.jsonl"));
}

TEST_CASE("I3 read_inputs: OTLP series continue across files") {
  const std::string text = read_fixture("otlp_small.jsonl");
  const auto cut = text.find('\n') + 1;  // after line 1: every network series' first point
  temp_dir dir;
  write_file(dir.file("a.jsonl"), text.substr(0, cut));
  write_file(dir.file("b.jsonl.gz"), gzipped(text.substr(cut)));

  auto both = read({dir.file("a.jsonl"), dir.file("b.jsonl.gz")});
  REQUIRE(both.summary);
  CHECK(both.points == read_directly(input_format::otlp_json, "otlp_small.jsonl"));
  CHECK(both.summary->report.count(skip_reason::first_of_series) == 2);
  // The first point of file 2 is a delta from file 1's last counter.
  REQUIRE_FALSE(both.points.empty());
  CHECK(both.points.front().value == 10000);
  CHECK(both.points.front().direction == "transmit");
  // Read alone, file 2 has no base for its first two points.
  auto alone = read({dir.file("b.jsonl.gz")});
  REQUIRE(alone.summary);
  CHECK(alone.points.size() + 2 == both.points.size());
  CHECK(alone.points.front() != both.points.front());
}

TEST_CASE("I1 read_inputs counts points outside earliest and latest") {
  const std::string path = fixture_path("metrics_small.csv");
  const auto all = read_directly(input_format::metrics_csv, "metrics_small.csv");
  REQUIRE(all.size() >= 3);
  input_options options;
  options.earliest = all[1].time;    // inclusive
  options.latest = all.back().time;  // exclusive
  std::vector<owned_point> inside;
  for (const auto& p : all)
    if (p.time >= *options.earliest && p.time < *options.latest) inside.push_back(p);
  REQUIRE(inside.size() < all.size());
  REQUIRE_FALSE(inside.empty());

  auto r = read({path}, options);
  REQUIRE(r.summary);
  CHECK(r.points == inside);
  CHECK(r.summary->outside_range == all.size() - inside.size());
  CHECK(r.summary->report.points == all.size());  // the readers handed them all on
}

TEST_CASE("I4 read_inputs refuses a baseline table, naming the file") {
  const std::string table = fixture_path("cli_baseline.csv");
  auto r = read({fixture_path("metrics_small.csv"), table});
  REQUIRE_FALSE(r.summary);
  CHECK(r.summary.error().code == error_code::unknown_format);
  CHECK(r.summary.error().file == table);
  CHECK_THAT(r.summary.error().what(), Catch::Contains("this is a baseline table, not metrics"));
}

TEST_CASE("I1 read_inputs: an error names file and line") {
  input_options strict;
  strict.reader.strict = true;
  for (unsigned threads : {0u, 1u}) {
    strict.parallel.threads = threads;
    const std::string path = fixture_path("metrics_malformed.csv");
    auto r = read({fixture_path("metrics_small.csv"), path}, strict);
    REQUIRE_FALSE(r.summary);
    CHECK(r.summary.error().code == error_code::bad_row);
    CHECK(r.summary.error().file == path);
    CHECK(r.summary.error().line == 3);
  }
  auto missing = read({fixture_path("no_such_file.csv")});
  REQUIRE_FALSE(missing.summary);
  CHECK(missing.summary.error().code == error_code::cannot_open);
  CHECK(missing.summary.error().file == fixture_path("no_such_file.csv"));
}

TEST_CASE("I1 read_inputs: the sink stops the read or ends it with an error") {
  const std::vector<std::string> two = {fixture_path("hec_small.jsonl"),
                                        fixture_path("metrics_small.csv")};
  SECTION("false stops after the current chunk; later inputs are not opened") {
    std::size_t seen = 0;
    auto r = read_inputs(two, {}, [&seen](const metric_point&) { return ++seen < 2; });
    REQUIRE(r);
    CHECK(r->stopped);
    CHECK(seen == 2);
    CHECK(r->inputs == 1);
  }
  SECTION("an error naming no file is given the input being read") {
    std::size_t seen = 0;
    auto r = read_inputs(two, {}, [&seen](const metric_point&) -> result<void> {
      if (++seen < 3) return {};
      return make_error(error_code::bad_row, "", 0, "refused by the sink");
    });
    REQUIRE_FALSE(r);
    CHECK(seen == 3);
    CHECK(r.error().file == two[0]);
    CHECK(r.error().what() == "[k8snetio.error.111] " + two[0] + ": refused by the sink");
  }
  SECTION("an error naming a file keeps it") {
    auto r = read_inputs(two, {}, [](const metric_point&) -> result<void> {
      return make_error(error_code::bad_row, "elsewhere", 7, "no");
    });
    REQUIRE_FALSE(r);
    CHECK(r.error().file == "elsewhere");
    CHECK(r.error().line == 7);
  }
}

TEST_CASE("I1 read_inputs feeds a push engine") {
  k8snetio::baseline_runner<2> runner(k8snetio::anomalous_network_io, {});
  auto r = read_inputs({fixture_path("metrics_small.csv"), fixture_path("otlp_small.jsonl")}, {},
                       runner);
  REQUIRE(r);
  CHECK(runner.stats().points_in == r->report.points);
  CHECK(runner.stats().aggregated > 0);
}

TEST_CASE("I1 read_inputs: progress bytes and rows grow up to the total") {
  temp_dir dir;
  write_file(dir.file("h.gz"), gzipped(read_fixture("hec_small.jsonl")));
  const std::vector<std::string> paths = {fixture_path("metrics_small.csv"), dir.file("h.gz"),
                                          fixture_path("otlp_small.jsonl")};
  const auto total = total_input_bytes(paths);
  REQUIRE(total);
  std::vector<input_progress> seen;
  std::vector<std::string> names;
  input_options options;
  options.progress = [&](const input_progress& p) {
    seen.push_back(p);
    names.emplace_back(p.input);
  };
  collector sink;
  auto r = read_inputs(paths, options, sink);
  REQUIRE(r);
  REQUIRE(seen.size() >= paths.size());
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].bytes >= seen[i - 1].bytes);
    CHECK(seen[i].rows >= seen[i - 1].rows);
  }
  for (const auto& p : seen) CHECK(p.total_bytes == total);
  CHECK(seen.back().bytes == *total);
  CHECK(seen.back().rows == r->report.rows_read);
  CHECK(names.front() == paths.front());
  CHECK(names.back() == paths.back());
}

TEST_CASE("I1 read_inputs: a CSV file parsed on threads gives the points of one reader") {
  std::string text =
      "metric_timestamp,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,direction\n";
  for (int i = 0; i < 3000; ++i)
    text += fmt::format("{},{},prod,node-{},pod-{},{}\n", 1700000000 + i, i, i % 7, i % 13,
                        i % 2 ? "receive" : "transmit");
  temp_dir dir;
  write_file(dir.file("m.csv"), text);
  const std::vector<std::string> paths = {dir.file("m.csv")};
  input_options in_order;
  in_order.parallel.threads = 1;
  input_options threaded;
  threaded.parallel = {.threads = 3, .segment_bytes = 4096};
  const auto one = read(paths, in_order);
  REQUIRE(one.points.size() == 3000);
  CHECK(read(paths, threaded).points == one.points);

  SECTION("the sink stops it") {
    std::size_t seen = 0;
    auto r = read_inputs(paths, threaded, [&seen](const metric_point&) { return ++seen < 100; });
    REQUIRE(r);
    CHECK(r->stopped);
    CHECK(seen == 100);
  }
  SECTION("the sink's error ends it, naming the file") {
    auto r = read_inputs(paths, threaded, [](const metric_point& p) -> result<void> {
      if (p.value < 2500) return {};
      return make_error(error_code::bad_row, "", 0, "enough");
    });
    REQUIRE_FALSE(r);
    CHECK(r.error().file == paths[0]);
  }
  SECTION("a bad row near the end is named at its line") {
    write_file(dir.file("m.csv"), text + "1,2,3\n");
    threaded.reader.strict = true;
    auto r = read(paths, threaded);
    REQUIRE_FALSE(r.summary);
    CHECK(r.summary.error().line == 3002);
    CHECK(r.points.size() == 3000);
  }
}

namespace {

/// A CSV of `buckets` buckets of three pods, both directions: rows time-major, or in an order
/// that is neither time- nor series-major (each bucket's rows with the next bucket's between).
std::string io_csv(int buckets, bool shuffled) {
  std::vector<std::string> rows;
  for (int b = 0; b < buckets; ++b)
    for (const char* pod : {"web-aaaaa", "web-bbbbb", "api-ccccc"})
      for (const char* direction : {"transmit", "receive"})
        rows.push_back(fmt::format("{},k8s.pod.network.io,{},prod,node-1,{},{}\n",
                                   1700000000 + 10 * b + 1, 1000 + (b * 37 + pod[5]) % 101, pod,
                                   direction));
  if (shuffled)  // the second half first: every series goes back in time once
    std::rotate(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(rows.size() / 2),
                rows.end());
  std::string text =
      "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,"
      "direction\n";
  for (const auto& r : rows) text += r;
  return text;
}

}  // namespace

TEST_CASE("S1 read_inputs_exactly: any order gives the table of the ordered input") {
  temp_dir dir;
  const std::string ordered = dir.file("ordered.csv"), shuffled = dir.file("shuffled.csv");
  write_file(ordered, io_csv(120, false));
  write_file(shuffled, io_csv(120, true));
  const auto make = [](k8snetio::group_closing closing) {
    k8snetio::baseline_run_options options;
    options.span.closing = closing;
    return std::make_unique<k8snetio::baseline_runner<2>>(k8snetio::anomalous_network_io, options);
  };
  auto in_order = read_inputs_exactly<k8snetio::baseline_runner<2>>({ordered}, {}, make);
  REQUIRE(in_order);
  CHECK_FALSE(in_order->second_pass);
  auto any_order = read_inputs_exactly<k8snetio::baseline_runner<2>>({shuffled}, {}, make);
  REQUIRE(any_order);
  CHECK(any_order->second_pass);  // the streaming pass could not be exact
  CHECK(any_order->summary.report.points == in_order->summary.report.points);
  const auto expected = in_order->engine->finish();
  const auto got = any_order->engine->finish();
  CHECK(expected.table.size() == 2);  // prod:web and prod:api
  CHECK(got.table.rows() == expected.table.rows());

  // Held from the start: one pass, the same table.
  auto held = read_inputs_exactly<k8snetio::baseline_runner<2>>({shuffled}, {}, make, true);
  REQUIRE(held);
  CHECK_FALSE(held->second_pass);
  CHECK(held->engine->finish().table.rows() == expected.table.rows());
}

TEST_CASE("S1.1 read_inputs_exactly: holding more groups than allowed is a coded error") {
  temp_dir dir;
  const std::string shuffled = dir.file("shuffled.csv");
  write_file(shuffled, io_csv(120, true));
  auto read = read_inputs_exactly<k8snetio::baseline_runner<2>>(
      {shuffled}, {}, [](k8snetio::group_closing closing) {
        k8snetio::baseline_run_options options;
        options.span.closing = closing;
        options.span.max_open_groups = 4;
        return std::make_unique<k8snetio::baseline_runner<2>>(k8snetio::anomalous_network_io,
                                                              options);
      });
  REQUIRE_FALSE(read);
  CHECK(read.error().code == error_code::memory_limit);
  CHECK(read.error().file == shuffled);
  CHECK(read.error().what().starts_with("[k8snetio.error.104] "));
  CHECK(read.error().message.find("max_open_groups") != std::string::npos);
  CHECK(read.error().message.find("--") == std::string::npos);  // A6: no CLI flag
}

}  // namespace test_read_inputs
