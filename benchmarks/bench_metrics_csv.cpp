// Throughput of the I1 metrics_csv reader on a fixed, generated corpus (~100 MB, 1000 pods
// over 2 clusters, rows like gen_scale.py writes): from memory, and from a file (plain and
// gzipped) through input_source; next to what bounds it: the bare CSV tokenizer and a memchr
// pass over the same bytes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/parallel_csv.hpp>

namespace {

using namespace k8snetio;

/// The corpus: made once, the same on every run (fixed seed).
const std::string& corpus() {
  static const std::string text = [] {
    constexpr std::size_t target_bytes = 100u << 20;
    const std::vector<std::string> services = {"checkout",  "cart",    "payments", "auth",
                                               "search",    "catalog", "orders",   "shipping",
                                               "inventory", "billing"};
    std::mt19937_64 rng(1);
    const char* hex = "0123456789abcdef";
    const char* alnum = "bcdfghjklmnpqrstvwxz2456789";
    struct pod {
      std::string cluster, ns, node, name;
    };
    std::vector<pod> pods;
    for (int p = 0; p < 1000; ++p) {
      const auto& svc = services[static_cast<std::size_t>(p) % services.size()];
      std::string name = svc + "-";
      for (int i = 0; i < 10; ++i) name += hex[rng() % 16];
      name += "-";
      for (int i = 0; i < 5; ++i) name += alnum[rng() % 27];
      pods.push_back({p % 2 ? "prod-us" : "prod-eu", "ns-" + svc,
                      fmt::format("ip-10-{}-{}-{}.ec2.internal", p % 2, rng() % 4, rng() % 250 + 4),
                      name});
    }
    std::string out =
        "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.namespace.name,k8s.node.name,"
        "k8s.pod.name,direction,interface\n";
    out.reserve(target_bytes + 4096);
    for (std::uint64_t t = 1700000000000; out.size() < target_bytes; t += 10000) {
      for (const auto& p : pods) {
        for (const char* direction : {"transmit", "receive"}) {
          fmt::format_to(std::back_inserter(out),
                         "{}.{:03},k8s.pod.network.io,{},{},{},{},{},{},eth0\n", t / 1000,
                         (t + rng() % 1000) % 1000, rng() % 5000000, p.cluster, p.ns, p.node,
                         p.name, direction);
        }
      }
    }
    return out;
  }();
  return text;
}

void report_throughput(benchmark::State& state, std::uint64_t rows) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpus().size()));
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["MB"] = static_cast<double>(corpus().size()) / 1e6;
}

/// The reader over the corpus held in memory in one piece; the sink sums the values.
void metrics_csv_read_whole(benchmark::State& state) {
  const std::string& text = corpus();
  std::uint64_t points = 0;
  for (auto _ : state) {
    io::metrics_csv_reader reader("bench.csv");
    double sum = 0;
    auto r = reader.read(text, [&](const metric_point& p) { sum += p.value; });
    if (!r || reader.report().skipped_total() != 0)
      state.SkipWithError("the corpus did not read cleanly");
    benchmark::DoNotOptimize(sum);
    points = reader.report().points;
  }
  report_throughput(state, points);
}
BENCHMARK(metrics_csv_read_whole)->Unit(benchmark::kMillisecond)->MinTime(2.0);

/// The same in 4 MiB chunks, as input_source delivers a file: records across chunk ends
/// go through the carry buffer.
void metrics_csv_read_4mib_chunks(benchmark::State& state) {
  const std::string_view text = corpus();
  constexpr std::size_t chunk = 4u << 20;
  std::uint64_t points = 0;
  for (auto _ : state) {
    io::metrics_csv_reader reader("bench.csv");
    double sum = 0;
    auto sink = [&](const metric_point& p) { sum += p.value; };
    for (std::size_t pos = 0; pos < text.size(); pos += chunk)
      if (!reader.feed(text.substr(pos, chunk), sink)) state.SkipWithError("feed failed");
    if (!reader.finish(sink)) state.SkipWithError("finish failed");
    benchmark::DoNotOptimize(sum);
    points = reader.report().points;
  }
  report_throughput(state, points);
}
BENCHMARK(metrics_csv_read_4mib_chunks)->Unit(benchmark::kMillisecond)->MinTime(2.0);

/// The corpus written once to a temporary file, plain or gzipped (level 6, as gzip does),
/// removed at exit.
struct corpus_file {
  std::string path;
  explicit corpus_file(bool gzip) {
    path = (std::filesystem::temp_directory_path() /
            fmt::format("k8snetio-bench-{}.csv{}", ::getpid(), gzip ? ".gz" : ""))
               .string();
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb6");
      gzwrite(f, corpus().data(), static_cast<unsigned>(corpus().size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(corpus().data(), static_cast<std::streamsize>(corpus().size()));
    }
  }
  ~corpus_file() { std::filesystem::remove(path); }
};

void read_file(benchmark::State& state, const corpus_file& file) {
  std::uint64_t points = 0;
  for (auto _ : state) {
    io::metrics_csv_reader reader(file.path);
    double sum = 0;
    auto sink = [&](const metric_point& p) { sum += p.value; };
    auto r = io::for_each_chunk(
        file.path, [&](std::string_view chunk, std::uint64_t, std::optional<std::uint64_t>) {
          return reader.feed(chunk, sink);
        });
    if (!r || !reader.finish(sink)) state.SkipWithError("the file did not read cleanly");
    benchmark::DoNotOptimize(sum);
    points = reader.report().points;
  }
  report_throughput(state, points);  // bytes of CSV, whatever the file's size
}

/// From a file in the page cache, in input_source's 4 MiB chunks: read(2) adds one copy.
void metrics_csv_from_file(benchmark::State& state) {
  static const corpus_file file(false);
  read_file(state, file);
}
BENCHMARK(metrics_csv_from_file)->Unit(benchmark::kMillisecond)->MinTime(2.0);

/// From a file with parallel_metrics_csv_reader on 1, 2, … threads (the argument), the sink on
/// the calling thread as in k8s-netio. Wall-clock rates: the point is to use more than one CPU.
void metrics_csv_parallel_file(benchmark::State& state) {
  static const corpus_file file(false);
  io::parallel_read_options options;
  options.threads = static_cast<unsigned>(state.range(0));
  std::uint64_t points = 0;
  // One reader for all the iterations, as for one large file: its segment buffers are
  // allocated (and their pages faulted in) on the first read only.
  io::parallel_metrics_csv_reader reader(file.path, {}, options);
  for (auto _ : state) {
    double sum = 0;
    auto r = reader.read([&](const metric_point& p) { sum += p.value; });
    if (!r || reader.report().skipped_total() != 0 || reader.threads_used() != options.threads)
      state.SkipWithError("the file did not read cleanly on the threads asked for");
    benchmark::DoNotOptimize(sum);
    points = reader.report().points;
  }
  report_throughput(state, points);
}
BENCHMARK(metrics_csv_parallel_file)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

/// From a gzipped file: zlib's inflate comes first and bounds it.
void metrics_csv_from_gzip_file(benchmark::State& state) {
  static const corpus_file file(true);
  read_file(state, file);
}
BENCHMARK(metrics_csv_from_gzip_file)->Unit(benchmark::kMillisecond)->MinTime(2.0);

/// Only the tokenizer: records and fields, no numbers, no checks.
void csv_tokenize_only(benchmark::State& state) {
  const std::string& text = corpus();
  std::uint64_t records = 0;
  for (auto _ : state) {
    io::csv_record_stream stream;
    std::uint64_t fields = 0;
    records = 0;
    auto handler = [&](const io::csv_record& r) {
      fields += r.fields.size();
      ++records;
      return true;
    };
    stream.feed(text, handler);
    stream.finish(handler);
    benchmark::DoNotOptimize(fields);
  }
  report_throughput(state, records);
}
BENCHMARK(csv_tokenize_only)->Unit(benchmark::kMillisecond)->MinTime(2.0);

/// A floor: finding every line end with memchr, touching each byte once.
void memchr_line_ends(benchmark::State& state) {
  const std::string& text = corpus();
  std::uint64_t lines = 0;
  for (auto _ : state) {
    lines = 0;
    const char* p = text.data();
    const char* const e = p + text.size();
    while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(e - p))))) {
      ++lines;
      ++p;
    }
    benchmark::DoNotOptimize(lines);
  }
  report_throughput(state, lines);
}
BENCHMARK(memchr_line_ends)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
