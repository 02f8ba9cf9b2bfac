// Spec "Inputs": .gz read transparently, "-" reads standard input, the format recognised from
// the content or named by --input-format. The .gz files are made here, in a temporary folder.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>

#include "support.hpp"

namespace test_input_source {

using namespace k8snetio;
using namespace k8snetio::io;
namespace fs = std::filesystem;

namespace {

using k8snetio::test::fixture_path;
using k8snetio::test::read_file;
using k8snetio::test::temp_dir;
using k8snetio::test::write_file;

/// Append one gzip member holding `bytes` to `path` ("wb" starts the file, "ab" appends).
void write_gzip_member(const std::string& path, std::string_view bytes, const char* mode) {
  gzFile f = gzopen(path.c_str(), mode);
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

struct read_back {
  std::string bytes;
  std::vector<std::uint64_t> progress;
  std::optional<std::uint64_t> total;
  std::optional<input_error> error;
};

read_back read_all(const std::string& path, std::size_t chunk_bytes) {
  read_back out;
  auto r = for_each_chunk(
      path,
      [&](std::string_view chunk, std::uint64_t done, std::optional<std::uint64_t> total) {
        out.bytes.append(chunk);
        out.progress.push_back(done);
        out.total = total;
      },
      chunk_bytes);
  if (!r) out.error = r.error();
  return out;
}

/// `bytes` as one zstd frame (what the collector's file exporter writes with compression: zstd).
std::string zstd_frame(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

/// Text of about `n` bytes that does not compress to nothing.
std::string sample_text(std::size_t n) {
  std::mt19937 rng(3);
  std::string s;
  while (s.size() < n)
    s += std::to_string(1700000000 + s.size()) + ",k8s.pod.network.io," + std::to_string(rng()) +
         ",prod-eu,node-15,checkout-7d4b9c8f6d-k2lpx,transmit\n";
  return s;
}

}  // namespace

TEST_CASE("Inputs: a file is delivered in full chunks with progress", "[inputs]") {
  temp_dir dir;
  const std::string text = sample_text(10000);
  write_file(dir.file("m.csv"), text);
  const auto r = read_all(dir.file("m.csv"), 4096);
  REQUIRE_FALSE(r.error);
  REQUIRE(r.bytes == text);
  REQUIRE(r.progress.size() == (text.size() + 4095) / 4096);
  REQUIRE(r.progress.front() == 4096);
  REQUIRE(r.progress.back() == text.size());
  REQUIRE(r.total == text.size());
}

TEST_CASE("Inputs: a gzipped file is read transparently whatever its name", "[inputs]") {
  temp_dir dir;
  const std::string text = sample_text(300000);
  write_gzip_member(dir.file("m.csv.gz"), text, "wb");
  write_gzip_member(dir.file("no-extension"), text, "wb");
  for (const auto* name : {"m.csv.gz", "no-extension"}) {
    const auto r = read_all(dir.file(name), 65536);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.bytes == text);
    // Progress counts the compressed bytes, so it ends at the file's size.
    REQUIRE(r.total == fs::file_size(dir.file(name)));
    REQUIRE(r.progress.back() == *r.total);
  }
  auto in = input_source::open(dir.file("m.csv.gz"));
  REQUIRE(in);
  auto first = in->next();
  REQUIRE(first);
  REQUIRE(in->gzipped());
  REQUIRE(first->size() == text.size());  // one 4 MiB chunk holds it all
}

TEST_CASE("Inputs: concatenated gzip members read as one stream", "[inputs]") {
  temp_dir dir;
  const std::string a = sample_text(5000);
  const std::string b = "tail,of,the,second,member\n";
  write_gzip_member(dir.file("two.gz"), a, "wb");
  write_gzip_member(dir.file("two.gz"), b, "ab");
  write_gzip_member(dir.file("two.gz"), "", "ab");  // an empty member in between is fine
  write_gzip_member(dir.file("two.gz"), a, "ab");
  for (std::size_t chunk : {64u, 1000u, 1u << 22}) {
    const auto r = read_all(dir.file("two.gz"), chunk);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.bytes == a + b + a);
  }
}

TEST_CASE("Inputs: a corrupt or truncated .gz is read_failed naming the file", "[inputs]") {
  temp_dir dir;
  const std::string text = sample_text(50000);
  write_gzip_member(dir.file("good.gz"), text, "wb");
  const std::string gz = read_file(dir.file("good.gz"));

  write_file(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
  const auto cut = read_all(dir.file("cut.gz"), 4096);
  REQUIRE(cut.error);
  REQUIRE(cut.error->code == error_code::read_failed);
  REQUIRE(cut.error->file == dir.file("cut.gz"));
  REQUIRE(cut.error->message == "truncated gzip data: the stream ends mid-member");
  REQUIRE(text.starts_with(cut.bytes));  // what came before the cut was delivered

  std::string bad = gz;
  for (std::size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  write_file(dir.file("bad.gz"), bad);
  const auto corrupt = read_all(dir.file("bad.gz"), 4096);
  REQUIRE(corrupt.error);
  REQUIRE(corrupt.error->code == error_code::read_failed);
  REQUIRE(corrupt.error->what().starts_with("[k8snetio.error.101] " + dir.file("bad.gz") +
                                            ": corrupt gzip data"));

  write_file(dir.file("magic-only.gz"), "\x1f\x8b");
  REQUIRE(read_all(dir.file("magic-only.gz"), 4096).error->code == error_code::read_failed);
}

TEST_CASE("Inputs: a missing file or a folder is cannot_open naming it", "[inputs]") {
  temp_dir dir;
  const auto missing = read_all(dir.file("nope.csv"), 4096);
  REQUIRE(missing.error);
  REQUIRE(missing.error->code == error_code::cannot_open);
  REQUIRE(missing.error->what() == "[k8snetio.error.100] " + dir.file("nope.csv") +
                                       ": cannot open: No such file or directory");
  const auto folder = read_all(dir.path.string(), 4096);
  REQUIRE(folder.error);
  REQUIRE(folder.error->code == error_code::cannot_open);
}

TEST_CASE("Inputs: an empty file has no chunks", "[inputs]") {
  temp_dir dir;
  write_file(dir.file("empty.csv"), "");
  const auto r = read_all(dir.file("empty.csv"), 4096);
  REQUIRE_FALSE(r.error);
  REQUIRE(r.bytes.empty());
  REQUIRE(r.progress.empty());
}

TEST_CASE("Inputs: - reads standard input, gzipped or not", "[inputs]") {
  temp_dir dir;
  const std::string text = sample_text(20000);
  write_gzip_member(dir.file("in.gz"), text, "wb");
  for (const auto& path : {fixture_path("metrics_small.csv"), dir.file("in.gz")}) {
    // Stand the file in for standard input for the time of the read.
    const int saved = ::dup(STDIN_FILENO);
    const int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::dup2(fd, STDIN_FILENO) == STDIN_FILENO);
    ::close(fd);
    const auto r = read_all("-", 1000);
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.bytes == (path == dir.file("in.gz") ? text : read_file(path)));
  }
  {  // a file that something before us read in part: the rest of it, not a shrink
    const std::string path = fixture_path("metrics_small.csv");
    const int saved = ::dup(STDIN_FILENO);
    const int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::lseek(fd, 100, SEEK_SET) == 100);
    REQUIRE(::dup2(fd, STDIN_FILENO) == STDIN_FILENO);
    ::close(fd);
    const auto r = read_all("-", 1000);
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    REQUIRE_FALSE(r.error);
    CHECK(r.bytes == read_file(path).substr(100));
  }
  auto in = input_source::open("-");
  REQUIRE(in);
  REQUIRE(in->name() == "<stdin>");
}

TEST_CASE("Inputs: the chunk callback may stop the read with an error", "[inputs]") {
  int calls = 0;
  auto r = for_each_chunk(
      fixture_path("metrics_small.csv"),
      [&](std::string_view, std::uint64_t, std::optional<std::uint64_t>) -> result<void> {
        ++calls;
        return make_error(error_code::bad_row, "x", 1, "stop");
      },
      64);
  REQUIRE_FALSE(r);
  REQUIRE(r.error().message == "stop");
  REQUIRE(calls == 1);
}

TEST_CASE("I1 a gzipped metrics_csv reads as the plain file does", "[inputs][I1]") {
  temp_dir dir;
  const std::string text = read_file(fixture_path("metrics_malformed.csv"));
  write_gzip_member(dir.file("m.csv.gz"), text, "wb");

  auto points_of = [](const std::string& path, std::size_t chunk) {
    metrics_csv_reader reader("m.csv");
    std::vector<std::string> points;
    auto sink = [&](const metric_point& p) {
      points.push_back(
          fmt::format("{}|{}|{}|{}|{}|{}", p.time, p.value, p.cluster, p.pod, p.node, p.direction));
    };
    auto r = for_each_chunk(
        path,
        [&](std::string_view c, std::uint64_t, std::optional<std::uint64_t>) {
          return reader.feed(c, sink);
        },
        chunk);
    REQUIRE(r);
    REQUIRE(reader.finish(sink));
    return std::pair(points, reader.report().skipped);
  };
  const auto plain = points_of(fixture_path("metrics_malformed.csv"), 1 << 20);
  REQUIRE(plain.first.size() == 2);
  REQUIRE(points_of(dir.file("m.csv.gz"), 64) == plain);
  REQUIRE(points_of(dir.file("m.csv.gz"), 1 << 20) == plain);
}

TEST_CASE("Inputs: the format is recognised from the content", "[inputs]") {
  CHECK(detect_format("metric_timestamp,metric_name,_value,k8s.cluster.name\n1,m,2,c\n") ==
        input_format::metrics_csv);
  CHECK(detect_format("\"_time\",\"_value\"\r\n") == input_format::metrics_csv);
  CHECK(detect_format("key,avg_outbound_network_io,avg_inbound_network_io,count\n") ==
        input_format::baseline_csv);
  CHECK(detect_format("\xEF\xBB\xBF\n\"key\",\"count\",last_seen") == input_format::baseline_csv);
  CHECK(detect_format("key,_value\n") == input_format::metrics_csv);
  CHECK(
      detect_format(
          R"({"time":1700000010,"event":"metric","fields":{"metric_name":"k8s.pod.network.io","_value":1}})") ==
      input_format::hec_json);
  CHECK(detect_format("\xEF\xBB\xBF  \n {\"resourceMetrics\":[{\"resource\":{}}]}") ==
        input_format::otlp_json);
  CHECK(detect_format("{\"time\":1}\n{\"resourceMetrics\":[]}\n") == input_format::otlp_json);
  CHECK(detect_format("") == input_format::metrics_csv);
}

TEST_CASE("Inputs: --input-format names a format", "[inputs]") {
  CHECK(parse_input_format("csv") == input_format::metrics_csv);
  CHECK(parse_input_format("hec") == input_format::hec_json);
  CHECK(parse_input_format("otlp") == input_format::otlp_json);
  CHECK(parse_input_format("baseline") == input_format::baseline_csv);
  CHECK(parse_input_format("json") == std::nullopt);
  CHECK(parse_input_format("CSV") == std::nullopt);
  for (auto f : {input_format::metrics_csv, input_format::hec_json, input_format::otlp_json,
                 input_format::baseline_csv})
    CHECK(parse_input_format(to_string(f)) == f);
}

// ---- I3.4 zstd, S5.2 size caps -------------------------------------------------------------

TEST_CASE("I3.4 compression is recognised from the magic alone", "[inputs][I3.4]") {
  CHECK(compression_of("\x1f\x8b\x08") == compression::gzip);
  CHECK(compression_of("\x28\xb5\x2f\xfd\x00") == compression::zstd);
  CHECK(compression_of("\x28\xb5\x2f") == compression::none);  // too short to be a frame
  CHECK(compression_of("metric_timestamp,_value") == compression::none);
  CHECK(compression_of("") == compression::none);
}

TEST_CASE("I3.4 a zstd file is read transparently whatever its name", "[inputs][I3.4]") {
  temp_dir dir;
  const std::string text = sample_text(300000);
  write_file(dir.file("metrics.json.zst"), zstd_frame(text));
  write_file(dir.file("metrics.json"), zstd_frame(text));
  for (const auto* name : {"metrics.json.zst", "metrics.json"}) {
    for (std::size_t chunk : {64u, 4096u, 1u << 22}) {
      const auto r = read_all(dir.file(name), chunk);
      REQUIRE_FALSE(r.error);
      REQUIRE(r.bytes == text);
      REQUIRE(r.progress.back() == fs::file_size(dir.file(name)));  // compressed bytes
    }
  }
  auto in = input_source::open(dir.file("metrics.json"));
  REQUIRE(in);
  REQUIRE(in->next());
  CHECK(in->compression() == compression::zstd);
  CHECK_FALSE(in->gzipped());
}

TEST_CASE("I3.4 concatenated zstd frames read as one stream", "[inputs][I3.4]") {
  temp_dir dir;
  const std::string a = sample_text(5000);
  const std::string b = "tail,of,the,second,frame\n";
  write_file(dir.file("two.zst"), zstd_frame(a) + zstd_frame(b) + zstd_frame("") + zstd_frame(a));
  for (std::size_t chunk : {64u, 1000u, 1u << 22}) {
    const auto r = read_all(dir.file("two.zst"), chunk);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.bytes == a + b + a);
  }
}

TEST_CASE("I3.4 a truncated or corrupt zstd file is read_failed naming the file",
          "[inputs][I3.4]") {
  temp_dir dir;
  const std::string frame = zstd_frame(sample_text(50000));
  write_file(dir.file("cut.zst"), frame.substr(0, frame.size() / 2));
  auto cut = read_all(dir.file("cut.zst"), 4096);
  REQUIRE(cut.error);
  CHECK(cut.error->code == error_code::read_failed);
  CHECK(cut.error->file == dir.file("cut.zst"));
  CHECK(cut.error->message.find("truncated zstd") != std::string::npos);

  std::string bad = frame;
  for (std::size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  write_file(dir.file("bad.zst"), bad);
  auto corrupt = read_all(dir.file("bad.zst"), 4096);
  REQUIRE(corrupt.error);
  CHECK(corrupt.error->code == error_code::read_failed);
}

TEST_CASE("I3.4 a zstd OTLP file is recognised and read like the plain one", "[inputs][I3.4]") {
  temp_dir dir;
  const std::string text = read_file(fixture_path("otlp_small.jsonl"));
  write_file(dir.file("otlp"), zstd_frame(text));
  const auto whole = read_whole_input(dir.file("otlp"));
  REQUIRE(whole);
  CHECK(whole->text == text);
  CHECK(detect_format(whole->text) == input_format::otlp_json);
}

TEST_CASE("I3.4 a zstd or gzip baseline table loads (--baseline)", "[inputs][I3.4][I4]") {
  temp_dir dir;
  const std::string table =
      "key,avg_inbound_network_io,avg_outbound_network_io,stdev_inbound_network_io,"
      "stdev_outbound_network_io\nprod:checkout,1,2,3,4\n";
  write_file(dir.file("base.zst"), zstd_frame(table));
  write_gzip_member(dir.file("base.gz"), table, "wb");
  for (const auto* name : {"base.zst", "base.gz"}) {
    const auto loaded = load_baseline_csv(dir.file(name));
    INFO((loaded ? std::string() : loaded.error().what()));
    REQUIRE(loaded);
    CHECK(loaded->size() == 1);
  }
}

TEST_CASE("S5.2 an input larger than its cap is refused as soon as the cap is passed",
          "[inputs][S5.2]") {
  temp_dir dir;
  // A gzip of newlines: a few KB that would inflate to many MB.
  {
    gzFile f = gzopen(dir.file("newlines.gz").c_str(), "wb9");
    REQUIRE(f != nullptr);
    const std::string block(1 << 20, '\n');
    for (int i = 0; i < 64; ++i)
      REQUIRE(gzwrite(f, block.data(), static_cast<unsigned>(block.size())) ==
              static_cast<int>(block.size()));
    REQUIRE(gzclose(f) == Z_OK);
  }
  const std::uint64_t cap = std::uint64_t{8} << 20;
  const auto whole = read_whole_input(dir.file("newlines.gz"), cap);
  REQUIRE_FALSE(whole);
  CHECK(whole.error().code == error_code::input_too_large);
  CHECK(whole.error().message.find("larger than 8388608 bytes once decompressed (gzip") !=
        std::string::npos);

  const auto table = load_baseline_csv(dir.file("newlines.gz"), network_io_measures, cap);
  REQUIRE_FALSE(table);
  CHECK(table.error().code == error_code::input_too_large);

  write_file(dir.file("plain.csv"), std::string(100, 'x'));
  CHECK_FALSE(read_whole_input(dir.file("plain.csv"), 99));
  CHECK(read_whole_input(dir.file("plain.csv"), 100));
}

TEST_CASE("S1 I3.4 a plain regular file is mapped; gzip and pipes are read with read(2)",
          "[inputs][I3.4]") {
  temp_dir dir;
  const std::string text = sample_text(300000);
  write_file(dir.file("m.csv"), text);
  write_gzip_member(dir.file("m.csv.gz"), text, "wb");
  const auto r = read_all(dir.file("m.csv"), 65536);
  REQUIRE_FALSE(r.error);
  CHECK(r.bytes == text);
  CHECK(r.progress.back() == text.size());
  auto plain = input_source::open(dir.file("m.csv"), 65536);
  REQUIRE(plain);
  REQUIRE(plain->next());
  CHECK(plain->mapped() == mapped_file::available());
  auto gz = input_source::open(dir.file("m.csv.gz"), 65536);
  REQUIRE(gz);
  REQUIRE(gz->next());
  CHECK_FALSE(gz->mapped());
  CHECK(gz->gzipped());
  auto empty_file = input_source::open((write_file(dir.file("empty"), ""), dir.file("empty")));
  REQUIRE(empty_file);
  auto none = empty_file->next();
  REQUIRE(none);
  CHECK(none->empty());
  CHECK_FALSE(empty_file->mapped());
}

TEST_CASE("S1 a file that shrinks while it is read is read_failed, not a crash", "[inputs]") {
  if (!mapped_file::available()) {
    WARN(
        "files are not mapped here (SIGBUS is a sanitizer's): the read(2) path's shrink is "
        "tested by the compressed and standard-input cases");
    return;
  }
  temp_dir dir;
  const std::string text = sample_text(256 * 1024);
  const std::string path = dir.file("m.csv");
  {  // shrinks between two chunks: the next one is an error
    write_file(path, text);
    auto in = input_source::open(path, 4096);
    REQUIRE(in);
    REQUIRE(in->next());
    REQUIRE(in->mapped());
    REQUIRE(::truncate(path.c_str(), 8192) == 0);
    auto second = in->next();
    REQUIRE(second);
    CHECK(*second == std::string_view(text).substr(4096, 4096));
    auto third = in->next();
    REQUIRE_FALSE(third);
    CHECK(third.error().code == error_code::read_failed);
    CHECK_THAT(third.error().what(), Catch::Contains("changed size while being read"));
  }
  {  // shrinks under a chunk handed out: its missing pages read as zeros, then the error
    write_file(path, text);
    auto in = input_source::open(path, 128 * 1024);
    REQUIRE(in);
    auto first = in->next();
    REQUIRE(first);
    REQUIRE(::truncate(path.c_str(), 0) == 0);
    std::size_t zeros = 0;
    for (char c : *first) zeros += c == '\0';
    CHECK(zeros == first->size());
    auto next = in->next();
    REQUIRE_FALSE(next);
    CHECK(next.error().code == error_code::read_failed);
  }
  {  // grows: what it gains after it was opened is read too, as before
    write_file(path, text);
    auto in = input_source::open(path, 65536);
    REQUIRE(in);
    std::string back;
    auto chunk = in->next();
    REQUIRE(chunk);
    back.append(*chunk);
    {
      std::FILE* f = std::fopen(path.c_str(), "ab");
      REQUIRE(f != nullptr);
      std::fputs("tail,row\n", f);
      std::fclose(f);
    }
    for (;;) {
      chunk = in->next();
      REQUIRE(chunk);
      if (chunk->empty()) break;
      back.append(*chunk);
    }
    CHECK(back == text + "tail,row\n");
  }
}

TEST_CASE("S1 I3.4 a compressed file cut at a member's end while it is read is read_failed",
          "[inputs][I3.4]") {
  // Read with read(2) (as every file is where mapping is unavailable): the end comes before
  // the size the file had when opened. The gzip stream itself ends cleanly there, so only the
  // size tells that the second member was lost.
  temp_dir dir;
  const std::string path = dir.file("m.csv.gz");
  write_gzip_member(path, sample_text(300000), "wb");
  const auto first_member = static_cast<off_t>(fs::file_size(path));
  write_gzip_member(path, sample_text(200000), "ab");
  auto in = input_source::open(path, 4096);
  REQUIRE(in);
  REQUIRE(in->next());
  REQUIRE_FALSE(in->mapped());
  REQUIRE(::truncate(path.c_str(), first_member) == 0);
  std::optional<input_error> error;
  for (;;) {
    auto chunk = in->next();
    if (!chunk) {
      error = chunk.error();
      break;
    }
    if (chunk->empty()) break;
  }
  REQUIRE(error);
  CHECK(error->code == error_code::read_failed);
  CHECK_THAT(error->what(), Catch::Contains("changed size while being read"));
}

TEST_CASE("S1 standard input from a file read in part that shrinks is read_failed", "[inputs]") {
  temp_dir dir;
  const std::string text = sample_text(20000);
  const std::string path = dir.file("m.csv");
  write_file(path, text);
  const int saved = ::dup(STDIN_FILENO);
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::lseek(fd, 100, SEEK_SET) == 100);
  REQUIRE(::dup2(fd, STDIN_FILENO) == STDIN_FILENO);
  ::close(fd);
  std::optional<input_error> error;
  std::string back;
  {
    auto in = input_source::open("-", 1000);
    if (in) {
      auto first = in->next();
      if (first) back.append(*first);
      if (::truncate(path.c_str(), 5000) == 0) {
        for (;;) {
          auto chunk = in->next();
          if (!chunk) {
            error = chunk.error();
            break;
          }
          if (chunk->empty()) break;
          back.append(*chunk);
        }
      }
    }
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  // What it handed out before the error: the file from where standard input stood.
  CHECK(back.size() >= 1000);
  CHECK(back.size() <= 4900);
  CHECK(text.compare(100, back.size(), back) == 0);
  REQUIRE(error);
  CHECK(error->code == error_code::read_failed);
  CHECK_THAT(error->what(), Catch::Contains("changed size while being read"));
}

TEST_CASE("S1 a file whose size says more than it holds (/sys) is read, not a shrink", "[inputs]") {
  // sysfs gives its regular files a size of a page whatever they hold.
  for (const char* path : {"/sys/kernel/mm/transparent_hugepage/enabled", "/sys/class/net/lo/mtu",
                           "/sys/kernel/mm/transparent_hugepage/defrag"}) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    const std::string held = read_file(path);
    if (held.empty() || held.size() >= fs::file_size(path, ec)) continue;
    const auto r = read_all(path, 4096);
    REQUIRE_FALSE(r.error);
    CHECK(r.bytes == held);
    return;
  }
  WARN("no /sys file here whose size is more than it holds: nothing to read");
}

TEST_CASE("L6 Inputs: observe_stored sees each byte of the file as stored, once, in order",
          "[inputs][L6]") {
  temp_dir dir;
  const std::string text = sample_text(300000);
  bool mapped = false;
  const auto observed_read = [&mapped](const std::string& path, std::size_t chunk_bytes,
                                       const std::string& appended) {
    auto in = input_source::open(path, chunk_bytes);
    REQUIRE(in);
    std::string seen;
    std::size_t calls = 0;
    in->observe_stored([&](std::string_view bytes) {
      seen.append(bytes);
      ++calls;
    });
    std::string out;
    for (bool first = true;; first = false) {
      auto chunk = in->next();
      REQUIRE(chunk);
      if (first) mapped = in->mapped();
      if (chunk->empty()) break;
      out.append(*chunk);
      if (first && !appended.empty()) {
        std::FILE* f = std::fopen(path.c_str(), "ab");
        REQUIRE(f != nullptr);
        REQUIRE(std::fwrite(appended.data(), 1, appended.size(), f) == appended.size());
        std::fclose(f);
      }
    }
    CHECK(calls > 1);
    return std::pair{seen, out};
  };
  SECTION("a plain file, mapped, and what it gains after it was opened") {
    const std::string path = dir.file("m.csv");
    write_file(path, text);
    const auto [seen, out] = observed_read(path, 4096, "tail,row\n");
    CHECK(mapped == mapped_file::available());
    CHECK(out == text + "tail,row\n");
    CHECK(seen == read_file(path));
  }
  SECTION("gzip: the compressed bytes, not the text") {
    const std::string path = dir.file("m.csv.gz");
    write_gzip_member(path, text, "wb");
    const auto [seen, out] = observed_read(path, 4096, "");
    CHECK(out == text);
    CHECK(seen == read_file(path));
  }
  SECTION("zstd: the compressed bytes, not the text") {
    const std::string path = dir.file("m.csv.zst");
    write_file(path, zstd_frame(text));
    const auto [seen, out] = observed_read(path, 4096, "");
    CHECK(out == text);
    CHECK(seen == read_file(path));
  }
}

}  // namespace test_input_source
