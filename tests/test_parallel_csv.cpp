// io/input/parallel_csv.hpp: one metrics_csv file parsed on several threads gives what one
// metrics_csv_reader gives reading it in order (spec I1; D1.4 and B3 need the order): the same
// points in the same order, the same report with the same line numbers, the same error. Files
// are random, with the cases that make cutting at line ends hard: newlines inside quotes,
// escaped quotes, CRLF, blank lines, defective rows, long lines, no newline at the end.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/parallel_csv.hpp>
#include <k8snetio/stages/span_aggregator.hpp>

#include "csv_support.hpp"
#include "support.hpp"

namespace test_parallel_csv {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

using k8snetio::test::read_in_order;
using k8snetio::test::read_outcome;
using k8snetio::test::read_parallel;
using k8snetio::test::temp_file;

/// csv_support's require_same, and the same bytes read (after an error, `bytes` counts what
/// was fed, which depends on how the input was cut).
void require_same_and_bytes(const read_outcome& a, const read_outcome& b) {
  k8snetio::test::require_same(a, b);
  if (!a.error) REQUIRE(a.report.bytes == b.report.bytes);
}

/// A random metrics_csv file: mostly plain rows, and every kind of trouble now and then.
std::string random_file(std::mt19937_64& rng, std::size_t rows) {
  std::uniform_int_distribution<int> pct(0, 99);
  std::string text;
  if (pct(rng) < 30) text += "\n\n";  // blank lines before the header
  text +=
      "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  const char* eol = pct(rng) < 20 ? "\r\n" : "\n";
  for (std::size_t i = 0; i < rows; ++i) {
    const int kind = pct(rng);
    const std::string t = std::to_string(1'700'000'000 + static_cast<int>(i / 4) * 10);
    const std::string pod = "svc-" + std::to_string(i % 7) + "-abc12-x" + std::to_string(i % 3);
    const std::string dir = i % 2 ? "transmit" : "receive";
    const std::string value = std::to_string(static_cast<double>(i % 1000) / 7.0);
    std::string row;
    if (kind < 70) {
      row = t + ",k8s.pod.network.io," + value + ",prod," + pod + ",node-1," + dir;
    } else if (kind < 76) {  // a pod name with a newline and an escaped quote inside quotes
      row = t + ",k8s.pod.network.io," + value + ",prod,\"" + pod + "\n\"\"q\"\"\",node-1," + dir;
    } else if (kind < 79) {  // a quoted field with several newlines: a cut may land inside
      row = t + ",k8s.pod.network.io," + value + ",\"pr\nod\n\",\"" + pod + "\",node-1," + dir;
    } else if (kind < 82) {
      row = t + ",other.metric," + value + ",prod," + pod + ",node-1," + dir;
    } else if (kind < 85) {
      row = t + ",k8s.pod.network.io,abc,prod," + pod + ",node-1," + dir;
    } else if (kind < 88) {
      row = t + ",k8s.pod.network.io," + value + ",prod";
    } else if (kind < 90) {
      row = t + ",k8s.pod.network.io," + value + ",prod,,node-1," + dir;
    } else if (kind < 92) {
      row = "";              // a blank line
    } else if (kind < 94) {  // a long line
      row = t + ",k8s.pod.network.io," + value + ",prod," + pod + std::string(300, 'z') +
            ",node-1," + dir;
    } else if (kind < 95) {
      row = t + ",k8s.pod.network.io," + value + ",\"prod\"x,\"" + pod + "\",node-1," + dir;
    } else {
      row = t + ",k8s.pod.network.io,nan,prod," + pod + ",node-1," + dir;
    }
    text += row;
    if (i + 1 < rows || pct(rng) < 80) text += eol;
  }
  if (pct(rng) < 5) text += "1700000000,k8s.pod.network.io,1,prod,\"unterminated";
  return text;
}

}  // namespace

TEST_CASE("I1 parallel: random files read on 1 to 4 threads, cut anywhere, equal one reader") {
  std::mt19937_64 rng(20261128);
  std::uniform_int_distribution<std::size_t> rows(0, 400);
  std::uniform_int_distribution<std::size_t> segment(64, 2048);
  std::uniform_int_distribution<unsigned> threads(1, 4);
  int fell_back = 0;
  int parallel_runs = 0;
  for (int round = 0; round < 300; ++round) {
    const std::string text = random_file(rng, rows(rng));
    const temp_file file(text);
    reader_options o;
    o.strict = round % 4 == 3;
    if (round % 5 == 4) o.default_cluster = "fallback";
    parallel_read_options p;
    p.threads = threads(rng);
    p.segment_bytes = segment(rng);
    p.segments_ahead = round % 3;  // 0: the default window
    INFO("round " << round << ", " << text.size() << " bytes, " << p.threads << " threads, "
                  << p.segment_bytes << "-byte segments, strict " << o.strict);
    const read_outcome parallel = read_parallel(file.path, o, p);
    require_same_and_bytes(parallel, read_in_order(text, file.path, o));
    fell_back += parallel.fell_back;
    parallel_runs += p.threads > 1 && text.size() >= 2 * p.segment_bytes;
  }
  // The cases meant to be exercised were: cuts inside quotes, and many parallel reads.
  CHECK(fell_back > 0);
  CHECK(parallel_runs > 100);
}

TEST_CASE("I1 parallel: a cut inside a quoted field falls back to reading in order") {
  // 200 plain rows, then one whose quoted pod name spans many lines across the first cut.
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  for (int i = 0; i < 20; ++i) text += "1700000000,1,prod,api-7d4b9c8f6d-x2x9p,node-1,transmit\n";
  text += "1700000010,2,prod,\"" + std::string(50, '\n') + "quoted\",node-1,receive\n";
  for (int i = 0; i < 200; ++i) text += "1700000020,3,prod,api-7d4b9c8f6d-x2x9p,node-1,transmit\n";
  const temp_file file(text);
  parallel_read_options p;
  p.threads = 2;
  p.segment_bytes = 1140;  // the first cut lands among the quoted newlines (1119–1169)
  const read_outcome parallel = read_parallel(file.path, {}, p);
  CHECK(parallel.fell_back);
  require_same_and_bytes(parallel, read_in_order(text, file.path, {}));
  REQUIRE(parallel.points.size() == 221);
  CHECK(parallel.points[20].pod == std::string(50, '\n') + "quoted");
}

TEST_CASE("I1 parallel: strict mode stops at the first defect with its line in the file") {
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  for (int i = 0; i < 3000; ++i)
    text += i == 2500 ? "1700000000,oops,prod,p-1,node-1,transmit\n"
                      : "1700000000,1,prod,p-1,node-1,transmit\n";
  const temp_file file(text);
  reader_options o;
  o.strict = true;
  parallel_read_options p;
  p.threads = 3;
  p.segment_bytes = 4096;
  const read_outcome parallel = read_parallel(file.path, o, p);
  REQUIRE(parallel.error);
  // The header is line 1: row i is on line i + 2.
  CHECK_THAT(*parallel.error, Catch::Contains(file.path + ":2502:"));
  CHECK(parallel.points.size() == 2500);
  require_same_and_bytes(parallel, read_in_order(text, file.path, o));
}

TEST_CASE("I1 parallel: `after` sees the bytes so far and may stop the read") {
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  for (int i = 0; i < 4000; ++i) text += "1700000000,1,prod,p-1,node-1,transmit\n";
  const temp_file file(text);
  parallel_read_options p;
  p.threads = 2;
  p.segment_bytes = 8192;
  parallel_metrics_csv_reader reader(file.path, {}, p);
  std::vector<std::uint64_t> seen;
  std::uint64_t points = 0;
  auto r = reader.read([&](const metric_point&) { ++points; },
                       [&](const read_report& so_far) {
                         seen.push_back(so_far.bytes);
                         return seen.size() < 3;
                       });
  REQUIRE(r);
  CHECK(reader.threads_used() == 2);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] < seen[1]);
  CHECK(seen[1] < seen[2]);
  CHECK(seen[2] < text.size());
  CHECK(points == reader.report().points);
  CHECK(points < 4000);
}

TEST_CASE("I1 parallel: lines too long to cut at are read in order, in bounded memory") {
  // 3 MiB without a line end, among ordinary rows: longer than a record may be (1 MiB), so
  // the reader in order counts it as bad syntax; the cuts near it cannot find a line start.
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  for (int i = 0; i < 2000; ++i) text += "1700000000,1,prod,p-1,node-1,transmit\n";
  text += std::string(3u << 20, 'x') + "\n";
  for (int i = 0; i < 2000; ++i) text += "1700000010,2,prod,p-2,node-1,receive\n";
  const temp_file file(text);
  for (std::size_t segment : {std::size_t{64} << 10, std::size_t{1} << 20}) {
    INFO(segment << "-byte segments");
    parallel_read_options p;
    p.threads = 2;
    p.segment_bytes = segment;
    const read_outcome parallel = read_parallel(file.path, {}, p);
    CHECK(parallel.fell_back);
    require_same_and_bytes(parallel, read_in_order(text, file.path, {}));
    CHECK(parallel.points.size() == 4000);
    CHECK(parallel.report.count(skip_reason::bad_syntax) == 1);
  }
}

TEST_CASE("I1 I3.4 parallel: a FIFO, gzip, zstd and small files are read in order") {
  const std::string text =
      "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n"
      "1700000000,1,prod,p-1,node-1,transmit\n";
  const temp_file file(text);
  parallel_read_options p;
  p.threads = 4;
  parallel_metrics_csv_reader reader(file.path, {}, p);
  std::uint64_t points = 0;
  REQUIRE(reader.read([&](const metric_point&) { ++points; }));
  CHECK(points == 1);
  CHECK(reader.threads_used() == 1);

  // Gzip: even when large, one reader inflates it in order.
  std::string big = text;
  for (int i = 0; i < 20000; ++i) big += "1700000000,1,prod,p-1,node-1,transmit\n";
  const k8snetio::test::temp_dir dir;
  const std::string gz = dir.file("big.csv.gz");
  {
    gzFile f = gzopen(gz.c_str(), "wb1");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, big.data(), static_cast<unsigned>(big.size())) ==
            static_cast<int>(big.size()));
    REQUIRE(gzclose(f) == Z_OK);
  }
  p.segment_bytes = 4096;
  parallel_metrics_csv_reader gzipped(gz, {}, p);
  points = 0;
  REQUIRE(gzipped.read([&](const metric_point&) { ++points; }));
  CHECK(points == 20001);
  CHECK(gzipped.threads_used() == 1);

  // zstd likewise (I3.4): compression_of() is the one check, shared with input_source.
  const std::string zst = dir.file("big.csv");  // no extension: the content says what it is
  {
    std::string frame(ZSTD_compressBound(big.size()), '\0');
    const std::size_t n = ZSTD_compress(frame.data(), frame.size(), big.data(), big.size(), 1);
    REQUIRE_FALSE(ZSTD_isError(n));
    std::ofstream(zst, std::ios::binary).write(frame.data(), static_cast<std::streamsize>(n));
  }
  parallel_metrics_csv_reader zstd_read(zst, {}, p);
  points = 0;
  REQUIRE(zstd_read.read([&](const metric_point&) { ++points; }));
  CHECK(points == 20001);
  CHECK(zstd_read.threads_used() == 1);

  // A FIFO is never opened twice: what the writer sends is all read.
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] {  // no Catch2 assertions off the test's thread
    std::ofstream out(fifo, std::ios::binary);
    out.write(big.data(), static_cast<std::streamsize>(big.size()));
  });
  parallel_metrics_csv_reader piped(fifo, {}, p);
  points = 0;
  const auto piped_read = piped.read([&](const metric_point&) { ++points; });
  writer.join();
  REQUIRE(piped_read);
  CHECK(points == 20001);
  CHECK(piped.threads_used() == 1);

  parallel_metrics_csv_reader missing(file.path + ".missing", {}, p);
  auto r = missing.read([](const metric_point&) {});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == error_code::cannot_open);
}

namespace {

/// Whether this process maps files (not where a sanitizer keeps SIGBUS for itself).
bool maps_files() { return mapped_file::available(); }

/// What a span aggregator makes of a file read in parallel: rows, each with its series id.
struct aggregated {
  std::vector<std::string> rows;
  aggregation_stats stats;
  std::string state;  ///< S4: the aggregator's saved state before finish
};

aggregated aggregate(const std::string& path, parallel_read_options p, span_options s) {
  span_aggregator agg(s);
  aggregated out;
  const auto emit = [&](const span_row& r, std::uint32_t series) {
    out.rows.push_back(std::string(r.cluster) + "|" + std::string(r.pod) + "|" +
                       std::string(r.node) + "|" + std::string(r.direction) + "|" +
                       std::to_string(r.time) + "|" + std::to_string(r.io) + "|" +
                       std::to_string(series));
  };
  parallel_metrics_csv_reader reader(path, {}, p);
  REQUIRE(reader.read([&](const metric_point& pt) {
    agg.add(pt);
    agg.emit_closed(emit);
  }));
  k8snetio::detail::snapshot_writer w;
  agg.save(w);
  out.state = w.bytes();
  agg.finish(emit);
  out.stats = agg.stats();
  return out;
}

}  // namespace

TEST_CASE("S1 I1 parallel: a file read in segments or mapped gives the points of one reader") {
  // The segments are read with pread (2 and 3 threads); one thread reads through input_source,
  // mapped where files are mapped in this process.
  std::mt19937_64 rng(27);
  const std::string text = random_file(rng, 3000);
  const temp_file file(text);
  if (!maps_files()) WARN("files are not mapped here (SIGBUS is a sanitizer's): read(2) only");
  // The reference reads a pipe-like copy: the same bytes through one reader in memory.
  const read_outcome reference = read_in_order(text, file.path, {});
  for (unsigned threads : {1u, 2u, 3u}) {
    parallel_read_options p;
    p.threads = threads;
    p.segment_bytes = 4096;
    INFO(threads << " threads");
    require_same_and_bytes(read_parallel(file.path, {}, p), reference);
  }
  // input_source's chunks (the one-thread path) are the file's bytes.
  auto in = input_source::open(file.path, 4096);
  REQUIRE(in);
  REQUIRE(in->next()->size() == 4096);
  CHECK(in->mapped() == maps_files());
  in = input_source::open(file.path, 4096);
  REQUIRE(in);
  std::string back;
  for (;;) {
    auto chunk = in->next();
    REQUIRE(chunk);
    if (chunk->empty()) break;
    back.append(*chunk);
  }
  CHECK(back == text);
}

TEST_CASE("S1 I1 parallel: an empty file, and a last record without a line end at a page end") {
  {
    const temp_file empty("");
    parallel_read_options p;
    p.threads = 2;
    p.segment_bytes = 64;
    require_same_and_bytes(read_parallel(empty.path, {}, p), read_in_order("", empty.path, {}));
  }
  // Exactly two pages, the last byte the end of a record with no newline after it: the reader
  // must stop at the mapping's end, not look past it.
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  const std::string row = "1700000000,1,prod,p-1,node-1,transmit\n";
  while (text.size() + row.size() < 8192 - 40) text += row;
  std::string last = "1700000010,2,prod,p-2,node-1,receive";
  last += std::string(8192 - text.size() - last.size(), 'x');  // a long direction
  text += last;
  REQUIRE(text.size() == 8192);
  const temp_file file(text);
  for (unsigned threads : {1u, 2u}) {
    parallel_read_options p;
    p.threads = threads;
    p.segment_bytes = 1024;
    INFO(threads << " threads");
    const read_outcome parallel = read_parallel(file.path, {}, p);
    require_same_and_bytes(parallel, read_in_order(text, file.path, {}));
    REQUIRE_FALSE(parallel.points.empty());
    CHECK(parallel.points.back().direction == last.substr(last.find("receive")));
  }
}

TEST_CASE("S1 I1 parallel: a file that shrinks while it is read is an error, not a crash") {
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  for (int i = 0; i < 20000; ++i) text += "1700000000,1,prod,p-1,node-1,transmit\n";
  struct outcome {
    result<void> r;
    std::uint64_t points = 0;
  };
  // Reads a copy of `text` in segments of `step` bytes; after the first segment is handed on,
  // the file is cut to `new_size`: segments ahead may be read already, others not yet.
  const auto read_shrinking = [&text](unsigned threads, std::size_t step, std::size_t new_size) {
    const temp_file file(text);
    parallel_read_options p;
    p.threads = threads;
    p.segment_bytes = step;
    parallel_metrics_csv_reader reader(file.path, {}, p);
    outcome out;
    int segments = 0;
    out.r =
        reader.read([&](const metric_point&) { ++out.points; },
                    [&](const read_report&) {
                      if (++segments == 1)
                        REQUIRE(::truncate(file.path.c_str(), static_cast<off_t>(new_size)) == 0);
                      return true;
                    });
    return out;
  };
  for (unsigned threads : {2u, 3u}) {
    INFO(threads << " threads");
    // All but its first page gone: the cuts after it are not found.
    const outcome gone = read_shrinking(threads, 8192, 4096);
    REQUIRE_FALSE(gone.r);
    CHECK(gone.r.error().code == error_code::read_failed);
    CHECK_THAT(gone.r.error().what(), Catch::Contains("changed size while being read"));
    CHECK(gone.points < 20000);
    // Shorter by ten records only: the cut into the last segment is still found, and reading
    // that segment comes back short. Every row before that cut was handed on (rows of 38 bytes
    // after the header), and none of the last segment, which is no longer what was cut.
    const std::size_t step = 65536;
    const outcome shorter = read_shrinking(threads, step, text.size() - 380);
    REQUIRE_FALSE(shorter.r);
    CHECK(shorter.r.error().code == error_code::read_failed);
    CHECK_THAT(shorter.r.error().what(), Catch::Contains("changed size while being read"));
    const std::size_t body = text.size() - 20000 * 38;
    const std::size_t last_cut = (text.size() - body - 1) / step * step;
    CHECK(shorter.points == (last_cut + 37) / 38);
  }
}

TEST_CASE("S1 I1 parallel: a file that shrinks while the rest is read in order is an error") {
  // The first cut lands inside a quoted field, so the whole file is read by one reader in order
  // (in 4 MiB chunks, input_source::default_chunk_bytes); after its first chunk the file loses
  // ten records: the next chunk comes back short.
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  text += "1700000010,2,prod,\"" + std::string(50, '\n') + "quoted\",node-1,receive\n";
  const std::size_t rows = 150000;  // 5.7 MB: two chunks
  for (std::size_t i = 0; i < rows; ++i) text += "1700000000,1,prod,p-1,node-1,transmit\n";
  REQUIRE(text.size() > input_source::default_chunk_bytes);
  const temp_file file(text);
  parallel_read_options p;
  p.threads = 2;
  p.segment_bytes = 64;  // the first cut: among the quoted newlines
  parallel_metrics_csv_reader reader(file.path, {}, p);
  std::uint64_t points = 0;
  int chunks = 0;
  auto r = reader.read(
      [&](const metric_point&) { ++points; },
      [&](const read_report&) {
        if (++chunks == 1)
          REQUIRE(::truncate(file.path.c_str(), static_cast<off_t>(text.size() - 380)) == 0);
        return true;
      });
  CHECK(reader.fell_back());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == error_code::read_failed);
  CHECK_THAT(r.error().what(), Catch::Contains("changed size while being read"));
  CHECK(points > 0);  // the first chunk's records
  CHECK(points < rows - 10);
}

TEST_CASE("D1.4 B3 S5 parallel: series grouped on the parsing threads give the same rows and ids") {
  // Thousands of series in repeating order (time-major), most of them replaced every 4
  // buckets (new pods), so that S5 releases the ended ones and gives their ids to new series;
  // segments of every size: the span aggregator must see the same series with the same ids
  // whether the reader grouped the points by series or not.
  std::string text = "_time,_value,k8s.cluster.name,k8s.pod.name,k8s.node.name,direction\n";
  std::mt19937_64 rng(4);
  for (int bucket = 0; bucket < 12; ++bucket)
    for (int pod = 0; pod < 2200; ++pod) {
      const int generation = pod < 1500 ? bucket / 4 : 0;
      for (const char* dir : {"transmit", "receive"})
        if (rng() % 10 != 0)
          text += std::to_string(1'700'000'000 + bucket * 10 + static_cast<int>(rng() % 10)) + "," +
                  std::to_string(rng() % 1000) + ",prod,pod-" + std::to_string(pod) + "-g" +
                  std::to_string(generation) + ",node-" + std::to_string(pod % 3) + "," + dir +
                  "\n";
    }
  const temp_file file(text);
  span_options s;
  s.closing = group_closing::by_series;
  s.idle_seconds = 30;
  parallel_read_options plain;
  plain.threads = 1;
  const aggregated reference = aggregate(file.path, plain, s);
  CHECK(reference.stats.series_released > 0);
  for (std::size_t segment : {std::size_t{64}, std::size_t{700}, std::size_t{50000}}) {
    for (unsigned threads : {2u, 4u}) {
      for (bool grouped : {true, false}) {
        parallel_read_options p;
        p.threads = threads;
        p.segment_bytes = segment;
        p.group_series = grouped;
        INFO(segment << "-byte segments, " << threads << " threads, grouped " << grouped);
        const aggregated got = aggregate(file.path, p, s);
        REQUIRE(got.rows == reference.rows);
        CHECK(got.state == reference.state);  // S4: the same snapshot, byte for byte
        CHECK(got.stats.series_released == reference.stats.series_released);
        CHECK(got.stats.aggregated == reference.stats.aggregated);
      }
    }
  }
}

}  // namespace test_parallel_csv
