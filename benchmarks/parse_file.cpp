// A bare parse of metrics_csv files: what `k8s-netio baseline` reads, read the same way
// (io::parallel_metrics_csv_reader, on the same threads) into a sink that only sums, so that
// compare_duckdb.sh can put the baseline's time next to the time reading alone takes.
//
//     parse_file [--threads N] FILE...      # prints points, rows and a checksum
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/input/parallel_csv.hpp>

int main(int argc, char** argv) {
  namespace io = k8snetio::io;
  io::parallel_read_options parallel;
  parallel.group_series = false;  // reading only: no work done for the stages
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--threads" && i + 1 < argc)
      parallel.threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else
      files.emplace_back(arg);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: parse_file [--threads N] FILE...\n");
    return 2;
  }
  double sum = 0;
  std::size_t bytes = 0;
  for (const std::string& file : files) {
    io::parallel_metrics_csv_reader reader(file, {}, parallel);
    auto read = reader.read([&](const k8snetio::metric_point& p) {
      sum += p.value + p.time;
      bytes += p.cluster.size() + p.pod.size() + p.node.size() + p.direction.size();
    });
    if (!read) {
      std::fprintf(stderr, "parse_file: %s\n", read.error().what().c_str());
      return 1;
    }
    std::printf("%s: %llu rows, %llu points, %u threads, checksum %.17g %zu\n", file.c_str(),
                static_cast<unsigned long long>(reader.report().rows_read),
                static_cast<unsigned long long>(reader.report().points), reader.threads_used(), sum,
                bytes);
  }
  return 0;
}
